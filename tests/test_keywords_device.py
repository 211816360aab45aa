"""The device side of the keyword spotter: ``picoml.audio.clip_frontend`` (a whole 1 s clip to its
feature map in one stateless graph), its C (the 49 front-end copies share their tables), and
``keywords.device_graph`` (front end → QUANTIZE → network in one graph from raw PCM). No speech
synthesis needed: the clips are made here."""

from __future__ import annotations

import numpy as np
import pytest
from tests.oracles import tflm_interpreter

from picoml import audio
from picoml.errors import UnsupportedError
from picoml.flows.verify import verify
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.reference.interpreter import Interpreter, run
from picoml.reference.stream import is_stateful
from test_audio import clip


def clips(n: int, seconds: float = 1.0) -> np.ndarray:
    out = np.stack([clip(s, seconds) for s in range(n)])
    out[0, : len(out[0]) // 3] = 0  # digital silence, then sound
    return out


@pytest.mark.parametrize("kw", [{}, {"clip_ms": 300, "window_ms": 25, "stride_ms": 10, "channels": 32}])
def test_clip_frontend_equals_the_frame_by_frame_front_end(kw):
    g = audio.clip_frontend(**kw)
    frame_kw = {k: v for k, v in kw.items() if k != "clip_ms"}
    per_frame = audio.frontend(noise_reduction=False, **frame_kw)
    assert not is_stateful(g) and not is_stateful(per_frame)
    x = clips(4, kw.get("clip_ms", 1000) / 1000)
    y = run(g, x)
    want = audio.features(per_frame, x)
    frames = (x.shape[1] - per_frame.inputs[0].shape[0]) // per_frame.frame_stride + 1
    assert y.dtype == np.int16 and y.shape == want.shape == (4, frames, per_frame.outputs[0].shape[0])
    np.testing.assert_array_equal(y, want)
    assert len(np.unique(y)) > 50  # real features, not a constant
    np.testing.assert_array_equal(run(g, x[::-1]), y[::-1])  # stateless: no history between clips


def test_clip_frontend_runs_in_tflite_micro():
    g = audio.clip_frontend(clip_ms=200)
    x = clips(2, 0.2)
    ip = tflm_interpreter(write_tflite_bytes(g))
    for c in range(len(x)):
        ip.set_input(x[c], 0)
        ip.invoke()
        np.testing.assert_array_equal(ip.get_output(0), run(g, x[c]), err_msg=f"clip {c}")


def test_frontend_without_noise_reduction_has_no_state_and_pcan_needs_it():
    g = audio.frontend(noise_reduction=False)
    assert [op.type.value for op in g.ops][-2:] == ["SIGNAL_FILTER_BANK_SQUARE_ROOT", "SIGNAL_FILTER_BANK_LOG"]
    with pytest.raises(UnsupportedError, match="needs noise_reduction"):
        audio.frontend(noise_reduction=False, pcan=True)
    with pytest.raises(UnsupportedError, match="stateless"):
        audio.clip_frontend(noise_reduction=True)
    with pytest.raises(UnsupportedError, match="unknown options"):
        audio.clip_frontend(smoothing=3)
    with pytest.raises(UnsupportedError, match="holds no"):
        audio.clip_frontend(clip_ms=20)


def test_clip_frontend_c_shares_tables_and_is_bit_exact():
    """49 front ends in one library cost about the flash of one front end's tables (not 49 copies) and
    one FFT work buffer; the C is bit-exact with the reference on emulated Cortex-M4."""
    one = verify(audio.frontend(noise_reduction=False), "cortex-m4", xs=clips(2, 0.03), counted_runs=1)
    g = audio.clip_frontend()
    r = verify(g, "cortex-m4", xs=clips(2), counted_runs=1)
    assert one.bit_exact and r.bit_exact and r.mismatches == 0
    assert r.flash_weights_bytes < 2 * one.flash_weights_bytes, (r.flash_weights_bytes, one.flash_weights_bytes)
    # RAM: the arena (the 32,000-byte clip and the 49 feature rows) plus one frame's scratch, not 49
    assert r.ram_bytes - r.arena_bytes <= one.ram_bytes - one.arena_bytes + 1024
    frames = 49
    assert 0.8 * frames * one.instructions < r.instructions < 1.2 * frames * one.instructions


def test_device_graph_splices_front_end_quantize_and_network():
    torch = pytest.importorskip("torch")
    from picoml.frontends.lowering import to_graph_layout
    from picoml.frontends.torch import from_torch
    from picoml.quantize.ptq import quantize, quantize_input
    from picoml.tasks import keywords as T

    torch.manual_seed(0)
    model = T.build_cnn((4, 8)).eval()
    fe = T.frontend_graph()
    x = clips(6)
    feats = T.frontend_features(x, fe).astype(np.float32) * np.float32(T.LOG_SCALE)
    g = from_torch(model, torch.from_numpy(feats[:1, None]), name="tiny")
    q = quantize(g, to_graph_layout(feats[:, None]))
    dg = T.device_graph(q, fe)
    assert dg.inputs[0].shape == (16000,) and dg.inputs[0].dtype == "int16"
    assert dg.outputs[0].dtype == "int8" and dg.outputs[0].size == len(T.CLASSES)
    assert q.inputs[0].name in {t.name for t in q.tensors}  # q itself is not changed
    inner = Interpreter(dg).run(x, all_tensors=True)
    coded = inner["features_q"]
    # the QUANTIZE of the int16 codes is the network's input quantization, within one code of
    # quantizing the float features (TFLite's integer requantization rounds once more)
    want = quantize_input(q, feats).reshape(coded.shape)
    assert np.abs(coded.astype(int) - want).max() <= 1
    np.testing.assert_array_equal(run(dg, x), run(q, coded.reshape(len(x), *q.inputs[0].shape)))
    r = verify(dg, "cortex-m0plus", xs=x[:2], counted_runs=1)
    assert r.bit_exact and r.mismatches == 0
