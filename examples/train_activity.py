"""Activity recognition (aeon BasicMotions, 6 sensor channels × 100 steps): float CNN → int8 PTQ → int8 QAT.

    .venv/bin/python examples/train_activity.py [--seed 0] [--epochs N] [--quick] [--out build/examples/activity]

The steps are those of examples/train_digits.py (which spells them out one by one), run here
through ``picoml.tasks.run_pipeline``: train in PyTorch keeping the best validation epoch,
``picoml.from_torch``, float metric in picoml's interpreter, post-training int8 quantization,
quantization-aware fine-tuning, and float/ptq/qat .tflite files written to --out.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from picoml.tasks import activity, run_pipeline

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=activity.EPOCHS)
    ap.add_argument("--quick", action="store_true", help=f"{activity.QUICK_EPOCHS} epochs (smoke run)")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "examples" / "activity")
    args = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_pipeline("activity", seed=args.seed, epochs=args.epochs, quick=args.quick, out_dir=args.out)
    print(result.summary())
    print(f"total time {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU")


if __name__ == "__main__":
    main()
