"""The committed front-end models (tests/data/signal, written by benchmarks/signal_models.py): read from
the file, exact against tflite-micro on every intermediate tensor over 12 consecutive frames with the
state carried, and the generated C bit-exact on emulated Cortex-M4 and Cortex-M0+."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.oracles import ROOT, tflm_interpreter

from picoml import audio
from picoml.flows.verify import verify
from picoml.frontends.tflite import read_tflite
from picoml.graph.ops import OpType

DATA = ROOT / "tests" / "data" / "signal"
MANIFEST = json.loads((DATA / "manifest.json").read_text())
NAMES = sorted(MANIFEST["models"])


def frames_of(name: str, n: int = 12) -> np.ndarray:
    m = MANIFEST["models"][name]
    rate = m["frontend_args"].get("sample_rate", 16000)
    r = np.random.default_rng(len(name))
    x = np.arange(int(0.5 * rate)) / rate
    sig = np.sin(2 * np.pi * 300 * x) * np.linspace(0, 8000, x.size) + r.standard_normal(x.size) * 200
    clip = np.clip(sig, -32768, 32767).astype(np.int16)
    return audio.frames(clip, m["input"][1][0], m["frame_stride"])[0][:n]


@pytest.mark.parametrize("name", NAMES)
def test_every_tensor_equals_tflite_micro_over_consecutive_frames(name):
    path = DATA / f"{name}.tflite"
    g = read_tflite(path)
    assert [str(o.type) for o in g.ops] == MANIFEST["models"][name]["ops"]
    fr = frames_of(name)
    ours = audio.run_stream(g, fr[None], all_tensors=True)
    ip = tflm_interpreter(path.read_bytes(), preserve_all=True)
    energy = next(op for op in g.ops if op.type == OpType.SIGNAL_ENERGY)
    lo, hi = energy.attrs["start_index"], energy.attrs["end_index"]
    for k, f in enumerate(fr):
        ip.set_input(f, 0)
        ip.invoke()
        for i, t in enumerate(g.tensors):
            if t.data is not None:
                continue
            theirs = np.asarray(ip.GetTensor(i, 0)["tensor_data"]).reshape(t.shape)
            mine = ours[t.name][0, k]
            if t is energy.outputs[0]:  # tflite-micro leaves the bins outside start..end as the arena held them
                theirs, mine = theirs[lo:hi], mine[lo:hi]
            np.testing.assert_array_equal(mine, theirs, err_msg=f"{name} frame {k} tensor {t.name}")


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m0plus"])
@pytest.mark.parametrize("name", NAMES)
def test_c_bit_exact_over_consecutive_frames(name, target):
    g = read_tflite(DATA / f"{name}.tflite")
    fr = frames_of(name)
    rep = verify(g, target, xs=fr)
    want = audio.run_stream(g, fr[None])[0]
    np.testing.assert_array_equal(rep.outputs.reshape(want.shape), want)
