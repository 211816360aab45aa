"""Write the signal-library front-end models of tests/data/signal (issue 15, branch signal).

    PYTHONPATH=src python benchmarks/signal_models.py [--out tests/data/signal]

Provenance. tflite-micro's own audio preprocessor model is built by TensorFlow with the signal
library's TF ops (``tflite_micro.signal.ops``: window_op, fft_ops, filter_bank_ops, pcan_op, ...),
whose kernels are compiled by tflite-micro's Bazel build; neither the PyPI ``tflite-micro`` wheel
(which has the ops' *micro* kernels in its interpreter, but no Python/TF wrappers) nor TensorFlow
2.21 (/work/tfvenv) carries them, and there is no network here to build them. So these files are
written by picoml's own builder (``picoml.audio.frontend``) and writer: the same custom ops
(``SignalWindow`` ... ``SignalFilterBankLog``), the same flexbuffer options in the order
tflite-micro reads them, the chain of tflite-micro's audio_preprocessor.py. Each file is checked
here against tflite-micro's interpreter over 25 consecutive frames of a synthetic clip (state
carried) before it is written; ``manifest.json`` records the parameters, sizes and digests, and
tests/test_signal_models.py re-checks every intermediate tensor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
from tflite_micro.python.tflite_micro import runtime

from picoml import audio
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.version import __version__

MODELS = {
    "frontend_16k_40ch": {},
    "frontend_16k_32ch_25ms_10ms": {"channels": 32, "window_ms": 25, "stride_ms": 10},
    "frontend_8k_20ch_no_pcan": {"sample_rate": 8000, "channels": 20, "upper_hz": 3800, "pcan": False},
    "frontend_16k_40ch_float": {"output": "float32"},  # float features (natural-log units) for a float network
}


def synthetic_clip(rate: int, seconds: float = 0.6, seed: int = 0) -> np.ndarray:
    """Harmonic tone under an envelope plus noise, after 0.1 s of near-silence (int16)."""
    r = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    tone = sum(np.sin(2 * np.pi * 180 * k * t) / k for k in range(1, 10)) * np.hanning(n)
    x = (tone * 4000 + r.standard_normal(n) * 60).astype(np.int64)
    x[: rate // 10] //= 50
    return np.clip(x, -32768, 32767).astype(np.int16)


def check_against_tflite_micro(g, data: bytes, rate: int, frames: int = 25) -> int:
    fr = audio.frames(synthetic_clip(rate), g.inputs[0].shape[0], g.frame_stride)[0][:frames]
    ip = runtime.Interpreter.from_bytes(data, arena_size=1 << 20)
    want = []
    for f in fr:
        ip.set_input(f, 0)
        ip.invoke()
        want.append(ip.get_output(0).copy())
    got = audio.run_stream(g, fr[None])[0]
    if not np.array_equal(got, np.stack(want)):
        raise SystemExit(f"picoml and tflite-micro differ on {g.description}")
    return len(fr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "data" / "signal")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = {"generator": "benchmarks/signal_models.py", "picoml": __version__, "models": {}}
    for name, kw in MODELS.items():
        g = audio.frontend(**kw)
        data = write_tflite_bytes(g)
        checked = check_against_tflite_micro(g, data, kw.get("sample_rate", 16000))
        (args.out / f"{name}.tflite").write_bytes(data)
        manifest["models"][name] = {
            "frontend_args": kw,
            "frame_stride": g.frame_stride,
            "input": [g.inputs[0].dtype, list(g.inputs[0].shape)],
            "output": [g.outputs[0].dtype, list(g.outputs[0].shape)],
            "ops": [str(op.type) for op in g.ops],
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "tflite_micro_frames_checked": checked,
        }
        print(f"{name}: {len(data):,} B, {len(g.ops)} ops, equal to tflite-micro over {checked} frames")
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
