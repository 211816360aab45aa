"""16x8 vs int8 PTQ side by side (issue 15): error against the float model, weights, arena and
instructions per inference on an emulated core.

    PYTHONPATH=src python benchmarks/bench_16x8.py [--target cortex-m4] [--models kws ds_cnn_kws ...]

Models: the MLPerf Tiny float models in $PICOML_MODELS (kws, ad) and float models of the
conformance corpus (tests/data/conformance). Calibration and test inputs are N(0, 1) (or uniform
over the shipped int8 model's input range for the MLPerf models), 64 and 32 samples. Error: mean
absolute error of the dequantized outputs against the float model, relative to the float
outputs' mean absolute value.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

import picoml
from picoml.flows.verify import verify
from picoml.quantize.ptq import dequantize_output, quantize_input

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "conformance"
MODELS = Path(os.environ.get("PICOML_MODELS", ROOT.parent / "shared" / "models"))


def _path(name: str) -> Path:
    p = MODELS / f"{name}_float.tflite"
    return p if p.is_file() else CORPUS / f"{name}.float32.tflite"


def _inputs(name: str, g, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = g.inputs[0]
    q8 = MODELS / f"{name}_int8.tflite"
    if q8.is_file():  # uniform over the shipped int8 model's input range
        qi = picoml.load(q8).inputs[0]
        s, z = float(qi.scale[0]), int(qi.zero_point[0])
        return rng.uniform(s * (-128 - z), s * (127 - z), (n, *t.shape)).astype(np.float32)
    return rng.standard_normal((n, *t.shape)).astype(np.float32)


def row(name: str, target: str) -> list[str]:
    g = picoml.load(_path(name))
    cal, test = _inputs(name, g, 64, 0), _inputs(name, g, 32, 1)
    ref = picoml.run(g, test)
    out = [name]
    for act in ("int8", "int16"):
        q = picoml.quantize(g, cal, activations=act)
        xq = quantize_input(q, test)
        err = np.abs(dequantize_output(q, picoml.run(q, xq)) - ref).mean() / max(np.abs(ref).mean(), 1e-12)
        rep = verify(q, target, xs=xq[:2], counted_runs=1)
        assert rep.bit_exact, f"{name} {act}: not bit-exact on {target}"
        out += [f"{err:.2e}", f"{rep.arena_bytes:,}", f"{rep.instructions:,}"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--models", nargs="*", default=["kws", "ds_cnn_kws", "cnn1d_har", "vb_mlp", "fc_autoencoder"])
    args = ap.parse_args()
    head = ["model", "int8 rel. error", "int8 arena B", "int8 instr.", "16x8 rel. error", "16x8 arena B", "16x8 instr."]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in args.models:
        try:
            print("| " + " | ".join(row(name, args.target)) + " |", flush=True)
        except picoml.PicomlError as e:
            print(f"| {name} | refused: {str(e)[:120]} |", flush=True)


if __name__ == "__main__":
    main()
