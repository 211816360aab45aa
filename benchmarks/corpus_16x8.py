"""Small 16x8 models (int16 activations, int8 weights) made by TensorFlow's own converter, for
tests/data/s16 (issue 15). Runs in the TensorFlow venv, never imports picoml:

    /work/tfvenv/bin/python benchmarks/corpus_16x8.py [out_dir]

Each Keras model is trained for a few steps on a fixed random task (so weights are not the
initializer's), exported at batch 1 and converted with
``supported_ops = [EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]`` twice: with
int16 input and output (``.s16.tflite``) and with the converter's default float interface
(``.s16_fio.tflite``: QUANTIZE float32 → int16 in, DEQUANTIZE out). ``manifest.json`` records
every file's provenance: TensorFlow version, model, interface, ops, tensor dtypes, bytes, sha256;
a conversion that fails is recorded with its first error line, never skipped silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

L = keras.layers
SEED = 15
CALIBRATION = 64
BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


def dense_net() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((20,)),
            L.Dense(32, activation="relu"),
            L.Dense(16, activation="tanh"),
            L.Dense(8, activation="sigmoid"),
            L.Dense(4),
            L.Softmax(),
        ]
    )


def small_cnn() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((12, 12, 2)),
            L.Conv2D(8, 3, padding="same", activation="relu"),
            L.DepthwiseConv2D(3, padding="same", depth_multiplier=1, activation="relu6"),
            L.Conv2D(12, 1, activation="relu"),
            L.MaxPooling2D(2),
            L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
            L.AveragePooling2D(3),
            L.Flatten(),
            L.Dense(5),
            L.Softmax(),
        ]
    )


def conv1d_net() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((32, 3)),
            L.Conv1D(8, 5, padding="same", activation="relu"),
            L.Conv1D(8, 3, strides=2, activation="relu"),
            L.Conv1D(6, 3, dilation_rate=2, padding="causal"),
            L.GlobalAveragePooling1D(),
            L.Dense(3),
        ]
    )


def residual_net() -> keras.Model:
    x = keras.Input((8, 8, 4))
    a = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    b = L.Add()([x, a])
    c = L.Conv2D(6, 3, padding="same")(b)
    d = L.Multiply()([c, c])
    e = L.Concatenate()([c, d])
    f = L.GlobalAveragePooling2D()(e)
    return keras.Model(x, L.Dense(3, activation="sigmoid")(f))


MODELS = {
    "dense_net": dense_net,
    "small_cnn": small_cnn,
    "conv1d_net": conv1d_net,
    "residual_net": residual_net,
}


def train(model: keras.Model, rng: np.random.Generator) -> np.ndarray:
    """A few steps of regression onto random targets: weights and biases away from the initializer.
    Returns calibration inputs from the same distribution."""
    shape = model.input_shape[1:]
    xs = rng.standard_normal((256, *shape)).astype(np.float32)
    ys = rng.standard_normal((256, *model.output_shape[1:])).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(xs, ys, epochs=3, batch_size=32, verbose=0)
    return rng.standard_normal((CALIBRATION, *shape)).astype(np.float32)


def convert(model: keras.Model, calib: np.ndarray, int_io: bool) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        model.export(d, verbose=False, input_signature=[tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)])
        conv = tf.lite.TFLiteConverter.from_saved_model(d)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([calib[i : i + 1]] for i in range(len(calib)))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        if int_io:
            conv.inference_input_type = tf.int16
            conv.inference_output_type = tf.int16
        return conv.convert()


def describe(data: bytes) -> dict:
    m = schema.ModelT.InitFromPackedBuf(data, 0)
    sg = m.subgraphs[0]
    ops = []
    for op in sg.operators:
        oc = m.operatorCodes[op.opcodeIndex]
        ops.append(BUILTIN_NAMES.get(max(oc.builtinCode, oc.deprecatedBuiltinCode), "?"))
    dtypes = sorted({TYPE_NAMES.get(t.type, str(t.type)) for t in sg.tensors})

    def io(i: int) -> dict:
        t = sg.tensors[i]
        return {"shape": [int(v) for v in t.shape], "dtype": TYPE_NAMES.get(t.type, str(t.type))}

    return {
        "ops": ops,
        "tensor_dtypes": dtypes,
        "inputs": [io(i) for i in sg.inputs],
        "outputs": [io(i) for i in sg.outputs],
    }


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    entries = []
    for name, make in MODELS.items():
        rng = np.random.default_rng(SEED)
        model = make()
        calib = train(model, rng)
        for int_io, suffix in ((True, "s16"), (False, "s16_fio")):
            fname = f"{name}.{suffix}.tflite"
            row = {"file": fname, "model": name, "interface": "int16" if int_io else "float32"}
            try:
                data = convert(model, calib, int_io)
            except Exception as e:  # recorded, not skipped
                row["error"] = str(e).strip().splitlines()[0][:300]
                entries.append(row)
                continue
            (out / fname).write_bytes(data)
            row.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), **describe(data))
            entries.append(row)
            print(fname, len(data), "bytes", row["ops"])
    manifest = {
        "generator": "benchmarks/corpus_16x8.py",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "seed": SEED,
        "converter": "TFLiteConverter.from_saved_model, Optimize.DEFAULT, representative dataset of "
        f"{CALIBRATION} N(0, 1) samples, EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
        "models": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "tests" / "data" / "s16")
