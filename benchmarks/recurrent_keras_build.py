"""Build small Keras LSTM / GRU .tflite models with the official TF converter (run with /work/tfvenv).

    /work/tfvenv/bin/python benchmarks/recurrent_keras_build.py tests/data/recurrent

Writes <kind>_<unroll|loop>_<float|int8>.tflite (fixed weights from seed 0, input (1, 8, 6), 8 units)
and prints the builtin ops each contains (what the converter emits with and without unroll=True).
"""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf


def build(kind: str, unroll: bool):
    tf.keras.utils.set_random_seed(0)
    layer = getattr(tf.keras.layers, kind)(8, unroll=unroll, return_sequences=True)
    inp = tf.keras.Input((8, 6), batch_size=1)
    return tf.keras.Model(inp, tf.keras.layers.Dense(3)(layer(inp)))


def convert(model, int8: bool) -> bytes:
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(1)
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = lambda: ([rng.standard_normal((1, 8, 6)).astype(np.float32)] for _ in range(64))
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c.inference_input_type = tf.int8
        c.inference_output_type = tf.int8
    return c.convert()


def ops_of(blob: bytes) -> list[str]:
    it = tf.lite.Interpreter(model_content=blob)
    return sorted({d["op_name"] for d in it._get_ops_details()})


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for kind in ("LSTM", "GRU"):
        for unroll in (True, False):
            for int8 in (False, True):
                if int8 and not unroll:  # TF 2.21: the int8 conversion of the WHILE loop kills the process
                    continue
                name = f"{kind.lower()}_{'unroll' if unroll else 'loop'}_{'int8' if int8 else 'float'}.tflite"
                try:
                    blob = convert(build(kind, unroll), int8)
                except Exception as e:  # record what the converter refuses
                    print(name, "CONVERTER FAILED:", str(e).splitlines()[0])
                    continue
                print(name, len(blob), "bytes:", ", ".join(ops_of(blob)))
                if unroll:
                    (out / name).write_bytes(blob)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/recurrent"))
