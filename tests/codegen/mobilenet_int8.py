"""An int8 MobileNetV1 (the MLPerf Tiny visual-wake-words shape: width 0.25, 96x96x3 input, two
classes) with trained-scale weights, quantized the way TFLite's converter quantizes a trained
Keras model. No download: the float weights are drawn to look trained, then quantized.

Trained-looking: He-normal kernels folded with BatchNorm statistics (gamma log-normal around 1,
running variance log-normal, running mean and beta normal), and a few "dead" channels per layer
whose gamma weight decay drove to ~1e-6 while beta stayed: their folded weights are tiny, so
their per-channel weight scale is tiny and the int32 bias b / (input_scale * weight_scale) is
huge (up to 2^30 here; TFLite's AdjustWeightsForBiasScale only steps in near int32's limit).
Those channels are what push a trained model's accumulators past the 2^29 bound of the fast
requantization. Activations are ReLU6 throughout, so every activation tensor has TFLite's
ReLU6 quantization (6/255, -128); the input is an image in [-1, 1) (1/128, 0).
"""

from __future__ import annotations

import numpy as np

from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import default_attrs

RELU6_Q = (6.0 / 255.0, -128)
INPUT_Q = (1.0 / 128.0, 0)
LOGITS_Q = (0.05, 0)
BIAS_CAP = 1 << 30  # largest |int32 bias| kept (the weight scale is raised beyond, as TFLite's converter does)

# (stride, output channels at width 1.0) of the 13 depthwise-separable blocks
BLOCKS = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)] + [(1, 512)] * 5 + [(2, 1024), (1, 1024)]


def _op(op_type: str, inputs: list[Tensor], output: Tensor, name: str, **attrs) -> Op:
    return Op(op_type, inputs, [output], {**default_attrs(op_type), **attrs}, name=name)


def _t(name, shape, q, dtype="int8", data=None, axis=0) -> Tensor:
    scale, zp = q
    return Tensor(name, tuple(shape), dtype, np.atleast_1d(np.float32(scale)), np.atleast_1d(zp), axis, data)


class _Builder:
    def __init__(self, rng: np.random.Generator, dead: float):
        self.rng, self.dead = rng, dead
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []

    def folded(self, shape: tuple[int, ...], fan_in: int, channel_axis: int) -> tuple[np.ndarray, np.ndarray]:
        """Float kernel and bias of a conv + BatchNorm pair after folding."""
        rng = self.rng
        c = shape[channel_axis]
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        gamma = rng.lognormal(0.0, 0.3, c)
        dead = rng.random(c) < self.dead
        gamma[dead] = 10.0 ** rng.uniform(-6.5, -5.5, dead.sum())
        std = np.sqrt(rng.lognormal(0.0, 0.5, c) + 1e-3)
        mean = rng.normal(0.0, 0.5, c)
        beta = rng.normal(0.2, 0.5, c)
        beta[dead] = rng.choice([-1, 1], dead.sum()) * rng.uniform(0.5, 2.0, dead.sum())
        k = gamma / std
        fold = k.reshape([-1 if i == channel_axis else 1 for i in range(len(shape))])
        return w * fold, beta - mean * k

    def layer(self, op_type: str, x: Tensor, oc: int, kh: int, stride: int, name: str, **attrs) -> Tensor:
        depthwise = op_type == "DEPTHWISE_CONV_2D"
        ic = x.shape[3]
        shape = (1, kh, kh, oc) if depthwise else (oc, kh, kh, ic)
        axis = 3 if depthwise else 0
        w, b = self.folded(shape, kh * kh * (1 if depthwise else ic), axis)
        sx = float(x.scale[0])
        red = tuple(i for i in range(4) if i != axis)
        sw = np.abs(w).max(axis=red) / 127.0
        sw = np.maximum(sw, np.abs(b) / (np.float32(sx) * BIAS_CAP))  # AdjustWeightsForBiasScale
        sw = sw.astype(np.float32)
        shp = [-1 if i == axis else 1 for i in range(4)]
        wq = np.clip(np.round(w / sw.reshape(shp)), -127, 127).astype(np.int8)
        bias_scale = (np.float32(sx) * sw).astype(np.float32)
        bq = np.round(b / bias_scale.astype(np.float64)).astype(np.int32)
        h = -(-x.shape[1] // stride)
        wt = Tensor(f"{name}/w", shape, "int8", sw, np.zeros(oc, np.int64), axis, wq)
        bt = Tensor(f"{name}/b", (oc,), "int32", bias_scale, np.zeros(oc, np.int64), 0, bq)
        y = _t(f"{name}/y", (1, h, h, oc), RELU6_Q)
        self.tensors += [wt, bt, y]
        self.ops.append(
            _op(
                op_type,
                [x, wt, bt],
                y,
                name,
                padding="SAME",
                stride_h=stride,
                stride_w=stride,
                fused_activation="RELU6",
                **attrs,
            )
        )
        return y


def mobilenet_v1_int8(
    size: int = 96, alpha: float = 0.25, classes: int = 2, seed: int = 0, dead: float = 0.03
) -> Graph:
    """MobileNetV1 at ``alpha`` on a size x size x 3 image: CONV_2D 3x3/2, 13 depthwise-separable
    blocks (DEPTHWISE_CONV_2D 3x3 + CONV_2D 1x1, ReLU6), AVERAGE_POOL_2D over the last map,
    RESHAPE, FULLY_CONNECTED to ``classes`` logits, SOFTMAX."""
    bld = _Builder(np.random.default_rng(seed), dead)
    x = _t("image", (1, size, size, 3), INPUT_Q)
    bld.tensors.append(x)
    h = bld.layer("CONV_2D", x, max(8, int(32 * alpha)), 3, 2, "conv1")
    for i, (stride, c) in enumerate(BLOCKS, 1):
        h = bld.layer("DEPTHWISE_CONV_2D", h, h.shape[3], 3, stride, f"dw{i}", depth_multiplier=1)
        h = bld.layer("CONV_2D", h, max(8, int(c * alpha)), 1, 1, f"pw{i}")
    side, c = h.shape[1], h.shape[3]
    pooled = _t("pool", (1, 1, 1, c), RELU6_Q)
    pool = {"padding": "VALID", "stride_h": 1, "stride_w": 1, "filter_h": side, "filter_w": side}
    bld.ops.append(_op("AVERAGE_POOL_2D", [h], pooled, "pool", **pool))
    flat = _t("flat", (1, c), RELU6_Q)
    shape = Tensor("flat/shape", (2,), "int32", data=np.array([1, c], np.int32))
    bld.ops.append(_op("RESHAPE", [pooled, shape], flat, "flat"))
    rng = bld.rng
    w = rng.normal(0.0, np.sqrt(1.0 / c), (classes, c))
    b = rng.normal(0.0, 0.1, classes)
    sx = np.float32(RELU6_Q[0])
    sw = (np.abs(w).max(axis=1) / 127.0).astype(np.float32)
    wt = Tensor(
        "fc/w", (classes, c), "int8", sw, np.zeros(classes, np.int64), 0, np.round(w / sw[:, None]).astype(np.int8)
    )
    bias_scale = (sx * sw).astype(np.float32)
    bt = Tensor(
        "fc/b",
        (classes,),
        "int32",
        bias_scale,
        np.zeros(classes, np.int64),
        0,
        np.round(b / bias_scale).astype(np.int32),
    )
    logits = _t("logits", (1, classes), LOGITS_Q)
    bld.ops.append(_op("FULLY_CONNECTED", [flat, wt, bt], logits, "fc"))
    probs = _t("probs", (1, classes), (1.0 / 256.0, -128))
    bld.ops.append(_op("SOFTMAX", [logits], probs, "softmax", beta=1.0))
    bld.tensors += [pooled, shape, flat, wt, bt, logits, probs]
    g = Graph(bld.tensors, bld.ops, [x], [probs], name=f"mobilenet_v1_{alpha}_{size}")
    g.validate()
    return g
