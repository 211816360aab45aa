"""picoml's conformance suite: real converter output, every intermediate tensor vs tflite-micro.

Two phases, two virtual environments:

``build``  (TensorFlow's venv: ``make conformance-corpus``) makes the corpus with the official
           TensorFlow Lite converter: Keras models (MobileNet V1/V2/V3, DS-CNN, ResNet-8, 1-D CNNs,
           an autoencoder, a U-Net, an SSD-style detector, attention) and small single-purpose
           models for one op each, every one as int8 (int8 interface), int8 with a float interface
           (QUANTIZE/DEQUANTIZE at the edges) and float32, plus a few with a variable batch
           dimension; writes the .tflite files and ``manifest.json``. Needs TensorFlow, never picoml.

``run``    (picoml's venv) loads every corpus model with ``picoml.load``, compares the reference
           interpreter with tflite-micro on every intermediate tensor over inputs whose outputs
           differ, verifies the generated C on emulated cortex-m4 and cortex-m0plus, and sets the
           RAM picoml needs beside tflite-micro's arena. Every refusal or failure becomes one line
           of the table (``benchmarks/results/conformance.md`` and ``.json``). Needs picoml, never
           TensorFlow.

This module holds what both phases share: the paths and the generated input data (numpy only).
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "conformance"
RESULTS = ROOT / "benchmarks" / "results"
TF_VERSION = "2.21.0"

#: the three variants of every model: file suffix -> (kind, interface)
VARIANTS = {
    "int8": ("int8", "int8"),
    "int8_fio": ("int8", "float32"),
    "float32": ("float32", "float32"),
}


def _seed(name: str, salt: int) -> int:
    return zlib.crc32(name.encode()) * 1000 + salt


def class_patterns(name: str, shape: tuple[int, ...], classes: int) -> np.ndarray:
    """One smooth random pattern per class (the same in both phases: seeded by the model name)."""
    rng = np.random.default_rng(_seed(name, 7))
    p = rng.standard_normal((classes,) + tuple(shape))
    # smooth along every spatial axis (not the last, the channels) so the patterns look like signals
    for ax in range(1, p.ndim - 1):
        p = (p + np.roll(p, 1, axis=ax) + np.roll(p, -1, axis=ax)) / 3.0
    return (p / p.std()).astype(np.float32)


def generate(
    name: str, data: dict, shapes: list[tuple[int, ...]], n: int, salt: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` float32 samples per model input (each without the batch axis) and their labels.

    ``data``: ``{"dist": "normal", "scale": s}`` Gaussian noise of std s; ``{"dist": "uniform",
    "low": a, "high": b}``; ``{"dist": "classes", "classes": k, "noise": s}`` a class pattern plus
    noise (the label is the class; models with this are trained briefly so their argmax varies);
    ``{"dist": "positive", "scale": s}`` |Gaussian| + 0.1 (for ops that need positive inputs).
    ``salt`` picks the stream: the builder calibrates and trains on salts 1 and 2, the run
    compares on salt 3, so the compared inputs were never seen by the converter."""
    rng = np.random.default_rng(_seed(name, salt))
    dist = data.get("dist", "normal")
    labels = np.zeros(n, np.int64)
    xs = []
    for k, shape in enumerate(shapes):
        if dist == "classes":
            pats = class_patterns(f"{name}/{k}", shape, data["classes"])
            if k == 0:
                labels = rng.integers(0, data["classes"], n)
            x = pats[labels] + data.get("noise", 0.5) * rng.standard_normal((n,) + tuple(shape))
        elif dist == "uniform":
            x = rng.uniform(data["low"], data["high"], (n,) + tuple(shape))
        elif dist == "positive":
            x = np.abs(rng.standard_normal((n,) + tuple(shape))) * data.get("scale", 1.0) + 0.1
        elif dist == "normal":
            x = rng.standard_normal((n,) + tuple(shape)) * data.get("scale", 1.0)
        else:
            raise ValueError(f"{name}: unknown data distribution {dist!r}")
        xs.append(x.astype(np.float32))
    return xs, labels


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="phase", required=True)
    b = sub.add_parser("build", help="make the corpus with TensorFlow (run in the TensorFlow venv)")
    b.add_argument("--out", type=Path, default=CORPUS)
    b.add_argument("--only", nargs="*", help="model names (default: all)")
    r = sub.add_parser("run", help="check every corpus model with picoml (run in picoml's venv)")
    r.add_argument("--corpus", type=Path, default=CORPUS)
    r.add_argument("--out", type=Path, default=RESULTS)
    r.add_argument("--only", nargs="*", help="model names or file stems (default: all)")
    r.add_argument("--inputs", type=int, default=10, help="inputs per model (at least 10)")
    r.add_argument("--no-c", action="store_true", help="skip the C verification on emulated cores")
    q = sub.add_parser("seq", help="sequence and audio models, state carried across calls (picoml's venv)")
    q.add_argument("--out", type=Path, default=RESULTS)
    q.add_argument("--only", nargs="*", help="model names or file names (default: all)")
    q.add_argument("--calls", type=int, default=12, help="consecutive calls per model (at least 10)")
    q.add_argument("--no-c", action="store_true", help="skip the C verification on emulated cores")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if args.phase == "build":
        import conformance_build  # TensorFlow only: this phase runs in the TensorFlow venv

        conformance_build.build(args.out, args.only)
    elif args.phase == "seq":
        import conformance_seq  # picoml only: this phase runs in picoml's venv

        conformance_seq.run(args.out, args.only, max(args.calls, 10), not args.no_c)
    else:
        import conformance_run  # picoml only: this phase runs in picoml's venv

        conformance_run.run_all(args.corpus, args.out, args.only, max(args.inputs, 10), not args.no_c)


if __name__ == "__main__":
    main()
