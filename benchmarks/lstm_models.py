"""UNIDIRECTIONAL_SEQUENCE_LSTM test models made by TensorFlow's own converter (issue 15, item 3).

Runs in the TensorFlow venv, with Keras 2 (``tf_keras``), never picoml::

    TF_USE_LEGACY_KERAS=1 /work/tfvenv/bin/python benchmarks/lstm_models.py

TF 2.21's converter fuses a Keras-2 ``LSTM`` layer (its ``api_implements`` defun) into one
UNIDIRECTIONAL_SEQUENCE_LSTM op whose output_state (input 18) and cell_state (input 19) are
variable tensors, zeros at the start; Keras 3 layers are converted to a WHILE loop instead
(``benchmarks/recurrent_keras_build.py``). The converter records ``cell_clip`` 10 and
``time_major`` false. Models (fixed weights from ``set_random_seed``):

- ``lstm_seq``: Input((8, 6), batch 1) -> LSTM(8, return_sequences=True) -> Dense(3);
- ``lstm_last``: Input((5, 4), batch 2) -> LSTM(6) (the last step, a STRIDED_SLICE) -> Dense(2);
- ``lstm_stacked``: Input((6, 5), batch 1) -> LSTM(7, seq) -> LSTM(5) -> Dense(3).

Each as float32, int8 (full-integer PTQ, int8 input/output, 64 standard-normal calibration
sequences: int8 hidden state, int16 cell state, int32 bias and five intermediate tensors) and
16x8 (``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``), which TF 2.21's converter
refuses for this op ("Quantization to 16x8-bit not yet supported": recorded in the manifest's
``refused``, no file). Writes ``tests/data/lstm/*.tflite`` and ``manifest.json`` (TensorFlow
version, converter settings, sizes, sha256, the ops each file holds).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "lstm"


def lstm_seq():
    """Input((8, 6), batch 1) -> LSTM(8, return_sequences=True) -> Dense(3)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 6), batch_size=1)
    y = keras.layers.LSTM(8, return_sequences=True)(inp)
    return keras.Model(inp, keras.layers.Dense(3)(y))


def lstm_last():
    """Input((5, 4), batch 2) -> LSTM(6) (the last step) -> Dense(2)."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((5, 4), batch_size=2)
    y = keras.layers.LSTM(6)(inp)
    return keras.Model(inp, keras.layers.Dense(2)(y))


def lstm_stacked():
    """Input((6, 5), batch 1) -> LSTM(7, return_sequences=True) -> LSTM(5) -> Dense(3)."""
    keras.utils.set_random_seed(2)
    inp = keras.Input((6, 5), batch_size=1)
    y = keras.layers.LSTM(7, return_sequences=True)(inp)
    y = keras.layers.LSTM(5)(y)
    return keras.Model(inp, keras.layers.Dense(3)(y))


MODELS = {"lstm_seq": lstm_seq, "lstm_last": lstm_last, "lstm_stacked": lstm_stacked}
KINDS = {
    "float32": "float32 throughout",
    "int8": "full-integer PTQ (TFLITE_BUILTINS_INT8), int8 input and output",
    "16x8": "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8, int16 input and output",
}


def convert(model, kind: str) -> bytes:
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if kind != "float32":
        shape = tuple(model.inputs[0].shape)
        rng = np.random.default_rng(1)
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = lambda: ([rng.standard_normal(shape).astype(np.float32)] for _ in range(64))
        if kind == "int8":
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            c.inference_input_type = c.inference_output_type = tf.int8
        else:
            c.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            c.inference_input_type = c.inference_output_type = tf.int16
    return c.convert()


def ops_of(blob: bytes) -> list[str]:
    it = tf.lite.Interpreter(model_content=blob)
    return sorted({d["op_name"] for d in it._get_ops_details()})


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {
        "made_by": "benchmarks/lstm_models.py",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "converter": "tf.lite.TFLiteConverter.from_keras_model (Keras 2 via tf_keras, TF_USE_LEGACY_KERAS=1)",
        "kinds": KINDS,
        "models": {},
        "refused": {},
    }
    for name, build in MODELS.items():
        for kind in KINDS:
            try:
                data = convert(build(), kind)
            except Exception as e:  # noqa: BLE001 - record what the converter refuses
                manifest["refused"][f"{name}.{kind}"] = str(e).splitlines()[0]
                print(name, kind, "CONVERTER FAILED:", str(e).splitlines()[0])
                continue
            path = OUT / f"{name}.{kind}.tflite"
            path.write_bytes(data)
            ops = ops_of(data)
            manifest["models"][path.name] = {
                "model": name,
                "kind": kind,
                "doc": " ".join((build.__doc__ or "").split()),
                "ops": ops,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            print(path.name, len(data), ", ".join(ops))
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
