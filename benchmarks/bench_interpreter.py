"""Batched picoml reference interpreter vs tflite-micro's per-sample invoke, in one run.

    .venv/bin/python benchmarks/bench_interpreter.py [--models kws resnet8 ad] [--n 1000]

For each int8 model: the same N random inputs go through picoml in one batched call and
through tflite-micro (PyPI ``tflite-micro``, reference kernels) one invoke per sample;
outputs are checked equal, wall time is the best of ``--repeat`` runs. Prints a table and
writes benchmarks/results/interpreter.json. The models are read from $PICOML_MODELS (default
../shared/models).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# $PICOML_MODELS (relative: from the repository root, as in the Makefile and tests/oracles.py), default ../shared/models
MODELS = (ROOT / Path(os.environ.get("PICOML_MODELS") or Path("..", "shared", "models")).expanduser()).resolve()


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench(name: str, n: int, repeat: int) -> dict:
    from tflite_micro.python.tflite_micro import runtime

    import picoml

    path = MODELS / f"{name}_int8.tflite"
    g = picoml.load(path)
    t = g.inputs[0]
    xs = np.random.default_rng(0).integers(-128, 128, (n,) + t.shape, dtype=np.int8)
    ip = runtime.Interpreter.from_file(str(path), arena_size=1 << 20)

    def tflm():
        out = np.empty((n,) + g.outputs[0].shape, np.int8)
        for i in range(n):
            ip.set_input(xs[i], 0)
            ip.invoke()
            out[i] = ip.get_output(0)
        return out

    interp = picoml.Interpreter(g)
    ours = interp.run(xs)
    if not np.array_equal(ours, tflm()):
        sys.exit(f"{name}: picoml and tflite-micro outputs differ; not benchmarking a wrong result")
    t_tflm = best_of(tflm, repeat)
    t_ours = best_of(lambda: interp.run(xs), repeat)
    return {
        "model": name,
        "inputs": n,
        "picoml_inferences_per_s": n / t_ours,
        "tflm_inferences_per_s": n / t_tflm,
        "speedup": t_tflm / t_ours,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["kws", "resnet8", "ad"])
    ap.add_argument("--n", type=int, default=1000, help="inputs per model")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rows = [bench(m, args.n, args.repeat) for m in args.models]
    print(f"{'model':10s} {'N':>6s} {'picoml inf/s':>14s} {'tflm inf/s':>12s} {'speedup':>8s}")
    for r in rows:
        print(
            f"{r['model']:10s} {r['inputs']:6d} {r['picoml_inferences_per_s']:14.0f} "
            f"{r['tflm_inferences_per_s']:12.0f} {r['speedup']:7.2f}x"
        )
    out = ROOT / "benchmarks" / "results" / "interpreter.json"
    out.write_text(
        json.dumps({"machine": platform.platform(), "python": platform.python_version(), "results": rows}, indent=2)
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
