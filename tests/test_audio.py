"""picoml.audio: the front-end graph runs in tflite-micro and its features equal tflite-micro's frame
after frame (state carried), bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from tests.oracles import tflm_interpreter

import picoml
from picoml import audio
from picoml.errors import PicomlError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.graph.ops import OpType
from picoml.reference.interpreter import Interpreter
from picoml.reference.stream import run_stream


def clip(seed: int, seconds: float = 0.5, rate: int = 16000) -> np.ndarray:
    r = np.random.default_rng(seed)
    n = int(seconds * rate)
    tt = np.arange(n) / rate
    f0 = r.uniform(100, 400)
    voiced = sum(np.sin(2 * np.pi * f0 * k * tt) / k for k in range(1, 12)) * np.hanning(n)
    noise = r.standard_normal(n) * r.uniform(0.001, 0.05)
    level = r.choice([50.0, 2000.0, 30000.0])
    return np.clip((voiced / 3 + noise) * level, -32768, 32767).astype(np.int16)


def tflm_stream(g, fr: np.ndarray) -> np.ndarray:
    ip = tflm_interpreter(write_tflite_bytes(g))
    out = []
    for f in fr:
        ip.set_input(f, 0)
        ip.invoke()
        out.append(ip.get_output(0).copy())
    return np.stack(out)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"channels": 32, "window_ms": 25, "stride_ms": 10},
        {"sample_rate": 8000, "channels": 20, "upper_hz": 3800, "pcan": False},
    ],
)
def test_features_equal_tflite_micro_frame_by_frame(kw):
    g = audio.frontend(**kw)
    clips = np.stack([clip(s, rate=kw.get("sample_rate", 16000)) for s in range(3)])
    clips[2, :4000] = 0  # silence, then a sound: the noise estimate adapts
    feats = audio.features(g, clips)
    assert feats.dtype == np.int16 and feats.shape[2] == g.outputs[0].shape[0]
    win = g.inputs[0].shape[0]
    for c in range(len(clips)):
        want = tflm_stream(g, audio.frames(clips[c], win, g.frame_stride)[0])
        np.testing.assert_array_equal(feats[c], want, err_msg=f"clip {c}")
    assert len(np.unique(feats)) > 20  # not a degenerate front end


def test_graph_round_trips_through_tflite():
    g = audio.frontend()
    g2 = read_tflite_bytes(write_tflite_bytes(g))
    g2.validate()
    assert [o.type for o in g2.ops] == [o.type for o in g.ops]
    assert g.ops[0].type == OpType.SIGNAL_WINDOW and g.ops[-1].type == OpType.SIGNAL_FILTER_BANK_LOG
    assert write_tflite_bytes(g2) == write_tflite_bytes(g)
    x = audio.frames(clip(1), 480, 320)[0]
    np.testing.assert_array_equal(audio.run_stream(g2, x[None])[0], audio.run_stream(g, x[None])[0])


def test_refusals():
    with pytest.raises(PicomlError, match="fft_length"):
        audio.frontend(fft_length=400)
    with pytest.raises(PicomlError, match="channel"):
        audio.frontend(channels=200)
    with pytest.raises(PicomlError, match="int16"):
        audio.features(audio.frontend(), np.zeros((2, 100), np.float32))


def test_run_is_one_stream_and_reset_restarts_it():
    """picoml.run on a stateful front end is one sequence of calls (state carried, as tflite-micro and
    the C run it): it equals run_stream on that stream; an Interpreter keeps the state across run
    calls until reset()."""
    g = audio.frontend()
    t = g.inputs[0]
    rng = np.random.default_rng(4)
    frames = (rng.standard_normal((6,) + t.shape) * 3000).astype(np.int16)
    frames[:] = frames[0]  # the same frame six times: only the state changes the output
    y = picoml.run(g, frames)
    np.testing.assert_array_equal(y, run_stream(g, frames[None])[0])
    assert (y[0] != y[-1]).any()
    ip = Interpreter(g)
    first = ip.run(frames[:3])
    np.testing.assert_array_equal(ip.run(frames[3:]), y[3:])  # carried across run calls
    ip.reset()
    np.testing.assert_array_equal(ip.run(frames[:3]), first)


def test_float_features_are_the_int16_codes_in_log_units():
    """output="float32": the same codes DEQUANTIZEd by 2^-log_scale_shift (exact in float32)."""
    g16, gf = audio.frontend(), audio.frontend(output="float32")
    assert gf.outputs[0].dtype == "float32" and gf.ops[-1].type == OpType.DEQUANTIZE
    x = (np.random.default_rng(8).standard_normal((4,) + g16.inputs[0].shape) * 3000).astype(np.int16)
    np.testing.assert_array_equal(picoml.run(gf, x), picoml.run(g16, x).astype(np.float32) * np.float32(2.0**-6))
    with pytest.raises(PicomlError, match="int16 or float32"):
        audio.frontend(output="int8")
