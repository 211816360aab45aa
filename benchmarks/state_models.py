"""Models with state, made by TensorFlow's own converter (issue 15, part 2).

Runs in the TensorFlow venv (``/work/tfvenv/bin/python benchmarks/state_models.py``); imports
TensorFlow, never picoml. Each model is a ``tf.Module`` holding a ``tf.Variable`` that every call
reads and updates, converted with ``experimental_enable_resource_variables = True``: the converter
emits VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE in the main subgraph and a CALL_ONCE of an init
subgraph that assigns the variable's initial value. Writes ``tests/data/state/*.tflite`` and
``tests/data/state/manifest.json`` (provenance: TensorFlow version, what each model computes).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "state"


class Accumulator(tf.Module):
    """y = x + acc; acc <- y (a running sum, initial value 0.5 everywhere)."""

    def __init__(self) -> None:
        super().__init__()
        self.acc = tf.Variable(tf.fill([1, 4], 0.5), name="acc")

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def __call__(self, x):
        y = self.acc + x
        self.acc.assign(y)
        return y


class Ema(tf.Module):
    """An exponential moving average of a dense layer's output: read twice, assigned once."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(15)
        self.w = tf.constant(rng.normal(0, 0.5, (6, 3)).astype(np.float32))
        self.ema = tf.Variable(rng.normal(0, 0.2, (1, 3)).astype(np.float32), name="ema")

    @tf.function(input_signature=[tf.TensorSpec([1, 6], tf.float32)])
    def __call__(self, x):
        h = tf.nn.relu(tf.matmul(x, self.w))
        old = self.ema.read_value()
        new = 0.75 * old + 0.25 * h
        self.ema.assign(new)
        return tf.concat([new, new - old], axis=1)


class Delay(tf.Module):
    """A two-frame delay line: the output is the input of two calls ago (two variables)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = tf.Variable(tf.zeros([1, 8]), name="d1")
        self.b = tf.Variable(tf.ones([1, 8]), name="d2")

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def __call__(self, x):
        y = self.b.read_value()
        self.b.assign(self.a.read_value())
        self.a.assign(x)
        return y * 2.0


MODELS = {"accumulator": Accumulator, "ema": Ema, "delay": Delay}


def convert(module: tf.Module) -> bytes:
    conc = module.__call__.get_concrete_function()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([conc], module)
    conv.experimental_enable_resource_variables = True
    return conv.convert()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {
        "made_by": "benchmarks/state_models.py",
        "tensorflow": tf.__version__,
        "converter": "tf.lite.TFLiteConverter.from_concrete_functions, experimental_enable_resource_variables=True",
        "models": {},
    }
    for name, cls in MODELS.items():
        data = convert(cls())
        path = OUT / f"{name}.float32.tflite"
        path.write_bytes(data)
        manifest["models"][path.name] = {
            "doc": (cls.__doc__ or "").strip(),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        print(path, len(data))
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
