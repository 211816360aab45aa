"""The conformance corpus's models, as Keras 3 (TensorFlow backend) definitions. TensorFlow only.

Every model is MCU-sized, randomly initialised from a fixed seed (Keras applications with
``weights=None``: nothing is downloaded) and, where its output is a class, trained for a few
epochs on generated class patterns so its argmax depends on the input. ``Spec.exercises`` names
the TFLite ops the model is there for; the ops the converter actually emitted are read back
from the flatbuffer into the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

L = keras.layers
A = keras.applications


@dataclass
class Spec:
    name: str
    group: str  # "application", "op" (single-purpose), "dynamic-batch"
    make: Callable[[], keras.Model] | None  # None: ``module`` makes a tf.Module (SSD)
    inputs: list[tuple[int, ...]]  # shapes without the batch axis
    data: dict = field(default_factory=lambda: {"dist": "normal", "scale": 1.0})
    exercises: list[str] = field(default_factory=list)
    train_epochs: int = 0  # > 0: fit on generated class patterns first
    variable_batch: bool = False
    note: str = ""


class Fn(L.Layer):
    """A layer that applies a TensorFlow function (Keras 3 does not let tf ops see KerasTensors)."""

    def __init__(self, fn, **kw):
        super().__init__(**kw)
        self.fn = fn

    def call(self, *xs):
        return self.fn(*xs)


def op_model(fn, *shapes, pre: bool = False) -> Callable[[], keras.Model]:
    """A single-purpose model: ``fn`` on the inputs (optionally after a 1x1 conv, so the op sees a
    computed tensor with its own quantization rather than the graph input)."""

    def make():
        ins = [keras.Input(s, name=f"in{k}") for k, s in enumerate(shapes)]
        xs = [L.Dense(s[-1], name=f"pre{k}")(x) if pre else x for k, (x, s) in enumerate(zip(ins, shapes, strict=True))]
        out = Fn(fn, name="op")(*xs)
        return keras.Model(ins, out)

    return make


def classifier_head(x, classes: int):
    return L.Dense(classes, activation="softmax", name="logits")(x)


# ---------------------------------------------------------------- applications
def mobilenet_v1():
    return A.MobileNet(input_shape=(96, 96, 3), alpha=0.25, weights=None, classes=10)


def mobilenet_v2():
    return A.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)


def mobilenet_v3(minimalistic: bool):
    def make():
        base = A.MobileNetV3Small(
            input_shape=(96, 96, 3),
            alpha=0.35 if not minimalistic else 0.35,
            minimalistic=minimalistic,
            weights=None,
            include_top=False,
            include_preprocessing=False,
            pooling="avg",
        )
        return keras.Model(base.input, classifier_head(base.output, 10))

    return make


def ds_cnn(channels: int = 64) -> keras.Model:
    """A DS-CNN keyword spotter as in MLPerf Tiny's KWS (49x10 MFCC, 12 classes), 64 channels."""
    x = inp = keras.Input((49, 10, 1))
    x = L.Conv2D(channels, (10, 4), strides=(2, 2), padding="same", use_bias=False)(x)
    x = L.ReLU()(L.BatchNormalization()(x))
    for _ in range(4):
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
        x = L.Conv2D(channels, 1, use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
    x = L.AveragePooling2D((25, 5))(x)
    x = L.Flatten()(x)
    return keras.Model(inp, classifier_head(x, 12))


def resnet8():
    """MLPerf Tiny's ResNet-8 for 32x32 CIFAR-like images."""
    x = inp = keras.Input((32, 32, 3))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same")(x)))
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = L.ReLU()(L.BatchNormalization()(L.Conv2D(filters, 3, strides=stride, padding="same")(x)))
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same")(y))
        if stride != 1:
            x = L.Conv2D(filters, 1, strides=stride)(x)
        x = L.ReLU()(L.Add()([x, y]))
    x = L.Flatten()(L.AveragePooling2D(8)(x))
    return keras.Model(inp, classifier_head(x, 10))


def cnn1d():
    """A 1-D CNN over 128 steps of 3-axis accelerometer data (HAR-like), 6 classes."""
    x = inp = keras.Input((128, 3))
    x = L.Conv1D(16, 5, activation="relu")(x)
    x = L.MaxPooling1D(2)(x)
    x = L.Conv1D(32, 3, strides=2, activation="relu")(x)
    x = L.GlobalAveragePooling1D()(x)
    return keras.Model(inp, classifier_head(x, 6))


def cnn1d_dilated():
    """Causal dilated 1-D convolutions (TCN-like) regressing one value."""
    x = inp = keras.Input((64, 4))
    for d in (1, 2, 4):
        x = L.Conv1D(12, 3, dilation_rate=d, padding="causal", activation="relu")(x)
    x = L.GlobalMaxPooling1D()(x)
    return keras.Model(inp, L.Dense(1)(x))


def fc_autoencoder():
    """A fully connected autoencoder (MLPerf Tiny's anomaly detection, scaled down to 128 features)."""
    x = inp = keras.Input((128,))
    for units in (64, 32, 8, 32, 64):
        x = L.ReLU()(L.BatchNormalization()(L.Dense(units)(x)))
    return keras.Model(inp, L.Dense(128)(x))


def unet():
    """A tiny U-Net: Conv2DTranspose, nearest UpSampling2D and a bilinear resize on the decoder side."""
    inp = keras.Input((32, 32, 3))
    c1 = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    c2 = L.Conv2D(16, 3, padding="same", activation="relu")(L.MaxPooling2D()(c1))
    c3 = L.Conv2D(24, 3, padding="same", activation="relu")(L.MaxPooling2D()(c2))
    u2 = L.Conv2DTranspose(16, 2, strides=2, padding="same")(c3)
    d2 = L.Conv2D(16, 3, padding="same", activation="relu")(L.Concatenate()([u2, c2]))
    u1 = L.UpSampling2D(2, interpolation="nearest")(d2)
    d1 = L.Conv2D(8, 3, padding="same", activation="relu")(L.Concatenate()([u1, c1]))
    side = L.Conv2D(8, 1)(L.Resizing(32, 32, interpolation="bilinear")(c3))
    out = L.Conv2D(1, 1, activation="sigmoid")(L.Add()([d1, side]))
    return keras.Model(inp, out)


def attention():
    """One transformer encoder block: MultiHeadAttention (BATCH_MATMUL), LayerNorm, feed-forward."""
    x = inp = keras.Input((16, 32))
    a = L.MultiHeadAttention(num_heads=2, key_dim=16)(x, x)
    x = L.LayerNormalization()(L.Add()([x, a]))
    f = L.Dense(32)(L.Dense(64, activation="relu")(x))
    x = L.LayerNormalization()(L.Add()([x, f]))
    x = L.GlobalAveragePooling1D()(x)
    return keras.Model(inp, classifier_head(x, 4))


# ---------------------------------------------------------------- SSD-style detector
SSD_INPUT = (64, 64, 3)
SSD_CLASSES = 3  # without background
SSD_ANCHORS_PER_CELL = 2


def ssd_anchors() -> np.ndarray:
    """[y_center, x_center, h, w] anchors of the 8x8 and 4x4 feature maps, 2 per cell."""
    rows = []
    for size in (8, 4):
        for i in range(size):
            for j in range(size):
                for scale in (0.2, 0.35) if size == 8 else (0.5, 0.8):
                    rows.append([(i + 0.5) / size, (j + 0.5) / size, scale, scale])
    return np.asarray(rows, np.float32)


def ssd_backbone() -> keras.Model:
    """Backbone and box/class heads: [1, N, 4] box encodings and [1, N, classes + 1] scores."""
    inp = keras.Input(SSD_INPUT)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)  # 32
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)  # 16
    f1 = L.Conv2D(24, 3, strides=2, padding="same", activation="relu")(x)  # 8
    f2 = L.Conv2D(32, 3, strides=2, padding="same", activation="relu")(f1)  # 4
    boxes, scores = [], []
    for f, cells in ((f1, 64), (f2, 16)):
        b = L.Conv2D(SSD_ANCHORS_PER_CELL * 4, 3, padding="same")(f)
        s = L.Conv2D(SSD_ANCHORS_PER_CELL * (SSD_CLASSES + 1), 3, padding="same")(f)
        boxes.append(L.Reshape((cells * SSD_ANCHORS_PER_CELL, 4))(b))
        scores.append(L.Reshape((cells * SSD_ANCHORS_PER_CELL, SSD_CLASSES + 1))(s))
    box = L.Concatenate(axis=1)(boxes)
    score = L.Activation("sigmoid")(L.Concatenate(axis=1)(scores))
    return keras.Model(inp, [box, score])


def detection_postprocess_signature(max_detections: int = 10) -> str:
    """The ``experimental_implements`` string that the MLIR converter legalises into TFLite's
    custom op TFLite_Detection_PostProcess (what the object-detection API's TF2 export does)."""
    attrs = [
        'name: "TFLite_Detection_PostProcess"',
        f'attr {{ key: "max_detections" value {{ i: {max_detections} }} }}',
        'attr { key: "max_classes_per_detection" value { i: 1 } }',
        'attr { key: "use_regular_nms" value { b: false } }',
        'attr { key: "nms_score_threshold" value { f: 0.300000 } }',
        'attr { key: "nms_iou_threshold" value { f: 0.500000 } }',
        'attr { key: "y_scale" value { f: 10.000000 } }',
        'attr { key: "x_scale" value { f: 10.000000 } }',
        'attr { key: "h_scale" value { f: 5.000000 } }',
        'attr { key: "w_scale" value { f: 5.000000 } }',
        f'attr {{ key: "num_classes" value {{ i: {SSD_CLASSES} }} }}',
    ]
    return " ".join(attrs)


def ssd_export(path: str) -> None:
    """The detector as a SavedModel: the Keras heads, then the (body-less) post-processing function
    that the converter replaces with the custom op. Through Keras's ExportArchive, which freezes the
    Keras variables (a plain tf.Module keeps them as VAR_HANDLE/READ_VARIABLE)."""
    backbone = ssd_backbone()
    anchors = tf.constant(ssd_anchors())

    @tf.function(experimental_implements=detection_postprocess_signature())
    def postprocess(box_encodings, class_predictions, anchors):
        del box_encodings, class_predictions, anchors  # the body never runs in TFLite
        z = tf.constant(0.0)
        return z, z, z, z

    def serve(x):
        box, score = backbone(x)
        boxes, classes, scores, num = postprocess(box, score, anchors)
        return {"boxes": boxes, "classes": classes, "scores": scores, "num_detections": num}

    archive = keras.export.ExportArchive()
    archive.track(backbone)
    archive.add_endpoint("serve", serve, input_signature=[tf.TensorSpec((1,) + SSD_INPUT, tf.float32, name="in0")])
    archive.write_out(path, verbose=False)


# ---------------------------------------------------------------- dynamic batch
def vb_cnn():
    x = inp = keras.Input((16, 16, 1))
    x = L.Conv2D(4, 3, strides=2, activation="relu")(x)
    x = L.Flatten()(x)  # Keras 3 Flatten: reshape to (shape[0], -1) -> SHAPE, STRIDED_SLICE, PACK, RESHAPE
    return keras.Model(inp, classifier_head(x, 5))


def vb_mlp():
    x = inp = keras.Input((8, 8))
    x = L.Reshape((64,))(x)
    x = L.Dense(16, activation="relu")(x)
    return keras.Model(inp, L.Reshape((4, 4))(x))


# ---------------------------------------------------------------- single-purpose models
def prelu_model():
    x = inp = keras.Input((8, 8, 4))
    x = L.Conv2D(4, 1)(x)
    x = L.PReLU(alpha_initializer=keras.initializers.RandomUniform(0.05, 0.5, seed=3), shared_axes=[1, 2])(x)
    return keras.Model(inp, x)


def layer_model(layer_fn, shape, pre: bool = True) -> Callable[[], keras.Model]:
    def make():
        x = inp = keras.Input(shape)
        if pre:
            x = L.Dense(shape[-1])(x)
        return keras.Model(inp, layer_fn()(x))

    return make


def _split(x):
    a, b = tf.split(x, 2, axis=-1)
    return [a, b]


def _unpack(x):
    return list(tf.unstack(x, axis=1))


def _where(x, y):
    return tf.where(x > y, x, y * 0.5)


def _gelu(x):
    return tf.nn.gelu(x, approximate=True)


def _cumsum(x):
    return tf.cumsum(x, axis=1)


def specs() -> list[Spec]:
    cls = {"dist": "classes", "noise": 0.8}
    S4 = (8, 8, 4)
    ops = [
        ("strided_slice", op_model(lambda x: x[:, 1:7:2, ::2, 1:3], S4), [S4], ["STRIDED_SLICE"]),
        ("sub", op_model(lambda x, y: x - y, S4, S4), [S4, S4], ["SUB"]),
        ("sub_broadcast", op_model(lambda x: x - tf.constant([0.5, -1.0, 0.25, 2.0]), S4), [S4], ["SUB"]),
        (
            "transpose_conv",
            layer_model(lambda: L.Conv2DTranspose(8, 3, strides=2, padding="same"), S4, pre=False),
            [S4],
            ["TRANSPOSE_CONV"],
        ),
        ("hard_swish", op_model(keras.activations.hard_swish, S4, pre=True), [S4], ["HARD_SWISH"]),
        ("leaky_relu", layer_model(lambda: L.LeakyReLU(negative_slope=0.2), S4), [S4], ["LEAKY_RELU"]),
        (
            "resize_nearest_x2",
            layer_model(lambda: L.UpSampling2D(2, interpolation="nearest"), S4),
            [S4],
            ["RESIZE_NEAREST_NEIGHBOR"],
        ),
        (
            "resize_nearest_half_pixel",
            op_model(lambda x: tf.image.resize(x, (12, 12), method="nearest"), S4),
            [S4],
            ["RESIZE_NEAREST_NEIGHBOR"],
        ),
        (
            "resize_bilinear_x2",
            layer_model(lambda: L.UpSampling2D(2, interpolation="bilinear"), S4),
            [S4],
            ["RESIZE_BILINEAR"],
        ),
        (
            "resize_bilinear_align_corners",
            op_model(lambda x: tf.compat.v1.image.resize_bilinear(x, (13, 11), align_corners=True), S4),
            [S4],
            ["RESIZE_BILINEAR"],
        ),
        ("batch_matmul", op_model(lambda x, y: tf.matmul(x, y), (6, 8), (8, 5)), [(6, 8), (8, 5)], ["BATCH_MATMUL"]),
        (
            "batch_matmul_adj_y",
            op_model(lambda x, y: tf.matmul(x, y, transpose_b=True), (6, 8), (5, 8)),
            [(6, 8), (5, 8)],
            ["BATCH_MATMUL"],
        ),
        ("reduce_max", op_model(lambda x: tf.reduce_max(x, axis=[1, 2]), S4), [S4], ["REDUCE_MAX"]),
        ("reduce_min", op_model(lambda x: tf.reduce_min(x, axis=-1, keepdims=True), S4), [S4], ["REDUCE_MIN"]),
        ("prelu", prelu_model, [S4], ["PRELU"]),
        ("split", op_model(_split, S4), [S4], ["SPLIT"]),
        ("unpack", op_model(_unpack, (3, 8, 4)), [(3, 8, 4)], ["UNPACK"]),
        ("pack", op_model(lambda x, y: tf.stack([x, y], axis=1), (8, 4), (8, 4)), [(8, 4), (8, 4)], ["PACK"]),
        ("transpose", op_model(lambda x: tf.transpose(x, [0, 2, 1, 3]), (6, 8, 4)), [(6, 8, 4)], ["TRANSPOSE"]),
        ("maximum", op_model(lambda x, y: tf.maximum(x, y), S4, S4), [S4, S4], ["MAXIMUM"]),
        ("minimum", op_model(lambda x: tf.minimum(x, 0.5), S4), [S4], ["MINIMUM"]),
        (
            "squared_difference",
            op_model(lambda x, y: tf.math.squared_difference(x, y), S4, S4),
            [S4, S4],
            ["SQUARED_DIFFERENCE"],
        ),
        ("elu", layer_model(lambda: L.ELU(), S4), [S4], ["ELU"]),
        ("abs", op_model(tf.abs, S4, pre=True), [S4], ["ABS"]),
        ("gather", op_model(lambda x: tf.gather(x, [3, 0, 2, 2], axis=1), S4), [S4], ["GATHER"]),
        (
            "arg_max",
            op_model(lambda x: tf.argmax(x, axis=-1, output_type=tf.int32), (8, 10)),
            [(8, 10)],
            ["ARG_MAX"],
        ),
        (
            "arg_min",
            op_model(lambda x: tf.argmin(x, axis=1, output_type=tf.int32), (8, 10)),
            [(8, 10)],
            ["ARG_MIN"],
        ),
        ("sum", op_model(lambda x: tf.reduce_sum(x, axis=[1, 2], keepdims=True), S4), [S4], ["SUM"]),
        ("mean", op_model(lambda x: tf.reduce_mean(x, axis=[1, 2]), S4), [S4], ["MEAN"]),
        ("add_broadcast", op_model(lambda x, y: x + y, S4, (1, 1, 4)), [S4, (1, 1, 4)], ["ADD"]),
        ("mul", op_model(lambda x, y: x * y, S4, S4), [S4, S4], ["MUL"]),
        ("concatenation", op_model(lambda x, y: tf.concat([x, y], axis=2), S4, S4), [S4, S4], ["CONCATENATION"]),
        ("pad", op_model(lambda x: tf.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]]), S4), [S4], ["PAD"]),
        (
            "mirror_pad",
            op_model(lambda x: tf.pad(x, [[0, 0], [1, 1], [2, 2], [0, 0]], mode="REFLECT"), S4),
            [S4],
            ["MIRROR_PAD"],
        ),
        ("softmax", op_model(tf.nn.softmax, (10,), pre=True), [(10,)], ["SOFTMAX"]),
        ("log_softmax", op_model(tf.nn.log_softmax, (10,), pre=True), [(10,)], ["LOG_SOFTMAX"]),
        ("logistic", op_model(tf.sigmoid, S4, pre=True), [S4], ["LOGISTIC"]),
        ("tanh", op_model(tf.tanh, S4, pre=True), [S4], ["TANH"]),
        ("relu6", op_model(tf.nn.relu6, S4), [S4], ["RELU6"]),
        ("relu_n1_to_1", op_model(lambda x: tf.clip_by_value(x, -1.0, 1.0), S4), [S4], ["RELU_N1_TO_1"]),
        ("swish", op_model(tf.nn.silu, S4, pre=True), [S4], ["LOGISTIC", "MUL"]),
        ("gelu", op_model(_gelu, S4, pre=True), [S4], ["GELU"]),
        ("exp", op_model(tf.exp, S4), [S4], ["EXP"]),
        ("rsqrt", op_model(tf.math.rsqrt, S4), [S4], ["RSQRT"]),
        ("sqrt", op_model(tf.sqrt, S4), [S4], ["SQRT"]),
        ("div", op_model(lambda x, y: x / y, S4, S4), [S4, S4], ["DIV"]),
        ("neg", op_model(tf.negative, S4), [S4], ["NEG"]),
        ("square", op_model(tf.square, S4), [S4], ["SQUARE"]),
        ("select", op_model(_where, S4, S4), [S4, S4], ["GREATER", "SELECT_V2"]),
        ("cumsum", op_model(_cumsum, S4), [S4], ["CUMSUM"]),
        (
            "l2_normalization",
            op_model(lambda x: tf.math.l2_normalize(x, axis=-1), S4, pre=True),
            [S4],
            ["L2_NORMALIZATION"],
        ),
        ("space_to_depth", op_model(lambda x: tf.nn.space_to_depth(x, 2), S4), [S4], ["SPACE_TO_DEPTH"]),
        ("depth_to_space", op_model(lambda x: tf.nn.depth_to_space(x, 2), S4), [S4], ["DEPTH_TO_SPACE"]),
        ("max_pool", layer_model(lambda: L.MaxPooling2D(3, strides=2, padding="same"), S4), [S4], ["MAX_POOL_2D"]),
        ("avg_pool", layer_model(lambda: L.AveragePooling2D(2), S4), [S4], ["AVERAGE_POOL_2D"]),
        (
            "conv_dilated",
            layer_model(lambda: L.Conv2D(6, 3, dilation_rate=2, padding="same"), (12, 12, 4), pre=False),
            [(12, 12, 4)],
            ["CONV_2D"],
        ),
        (
            "depthwise_conv_multiplier",
            layer_model(lambda: L.DepthwiseConv2D(3, strides=2, depth_multiplier=2), S4, pre=False),
            [S4],
            ["DEPTHWISE_CONV_2D"],
        ),
        (
            "layer_norm",
            layer_model(lambda: L.LayerNormalization(), (8, 16)),
            [(8, 16)],
            ["MEAN", "SQUARED_DIFFERENCE", "RSQRT"],
        ),
    ]
    out = [
        Spec("mobilenet_v1_025_96", "application", mobilenet_v1, [(96, 96, 3)], {**cls, "classes": 10}, train_epochs=3),
        Spec("mobilenet_v2_035_96", "application", mobilenet_v2, [(96, 96, 3)], {**cls, "classes": 10}, train_epochs=3),
        Spec(
            "mobilenet_v3s_035_96",
            "application",
            mobilenet_v3(False),
            [(96, 96, 3)],
            {**cls, "classes": 10},
            ["HARD_SWISH"],
            train_epochs=3,
        ),
        Spec(
            "mobilenet_v3s_min_035_96",
            "application",
            mobilenet_v3(True),
            [(96, 96, 3)],
            {**cls, "classes": 10},
            train_epochs=3,
        ),
        Spec("ds_cnn_kws", "application", ds_cnn, [(49, 10, 1)], {**cls, "classes": 12}, train_epochs=3),
        Spec("resnet8_cifar", "application", resnet8, [(32, 32, 3)], {**cls, "classes": 10}, train_epochs=3),
        Spec("cnn1d_har", "application", cnn1d, [(128, 3)], {**cls, "classes": 6}, train_epochs=4),
        Spec("cnn1d_dilated_causal", "application", cnn1d_dilated, [(64, 4)]),
        Spec("fc_autoencoder", "application", fc_autoencoder, [(128,)]),
        Spec(
            "unet_tiny",
            "application",
            unet,
            [(32, 32, 3)],
            exercises=["TRANSPOSE_CONV", "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"],
        ),
        Spec(
            "ssd_tiny",
            "application",
            None,
            [SSD_INPUT],
            {"dist": "uniform", "low": -1.0, "high": 1.0},
            ["DETECTION_POSTPROCESS"],
            note="the custom op TFLite_Detection_PostProcess, made by the converter from an "
            "experimental_implements function as the object-detection API's export does",
        ),
        Spec(
            "attention_tiny",
            "application",
            attention,
            [(16, 32)],
            {**cls, "classes": 4},
            ["BATCH_MATMUL", "SOFTMAX"],
            train_epochs=4,
        ),
        Spec(
            "vb_cnn",
            "dynamic-batch",
            vb_cnn,
            [(16, 16, 1)],
            {**cls, "classes": 5},
            ["SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE"],
            train_epochs=3,
            variable_batch=True,
        ),
        Spec(
            "vb_mlp",
            "dynamic-batch",
            vb_mlp,
            [(8, 8)],
            exercises=["SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE"],
            variable_batch=True,
        ),
        Spec(
            "vb_ds_cnn_24",
            "dynamic-batch",
            lambda: ds_cnn(24),
            [(49, 10, 1)],
            {**cls, "classes": 12},
            ["SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE"],
            train_epochs=2,
            variable_batch=True,
        ),
    ]
    positive = {"rsqrt", "sqrt", "div"}
    for name, make, shapes, exercises in ops:
        data = {"dist": "positive", "scale": 2.0} if name in positive else {"dist": "normal", "scale": 2.0}
        out.append(Spec(f"op_{name}", "op", make, [tuple(s) for s in shapes], data, exercises))
    return out
