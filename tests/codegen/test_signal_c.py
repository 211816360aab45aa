"""C of the signal-library ops (runtime/pm_signal.c, codegen/emit_signal.py; branch signal): bit-exact
with the reference kernels (which equal tflite-micro, tests/kernels/test_signal.py) on the host under
sanitizers and on emulated Cortex-M4 and Cortex-M0+.

Stateful graphs (spectral subtraction's noise estimate, the FIFOs) keep their state across
invocations, as tflite-micro and the device do: ``verify`` runs their inputs as one stream
(``reference.stream.run_stream``), and the tests compare with it directly too."""

from __future__ import annotations

import numpy as np
import pytest
from tests.codegen.mcu_build import assert_runtime_float_free, build_objects, kernels, slow_helpers
from tests.signal_samples import NO_C_YET, SIGNAL_OPS, signal_sample
from tests.test_audio import clip

from picoml import audio
from picoml.codegen.generate import KERNEL_FILES, generate_c
from picoml.errors import PicomlError
from picoml.flows.verify import verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType

TARGETS = [("host", True), ("cortex-m4", False), ("cortex-m0plus", False)]


def stream_check(g: Graph, frames: np.ndarray, target: str, sanitize: bool, what: str):
    rep = verify(g, target, xs=frames, sanitize=sanitize)
    want = audio.run_stream(g, frames[None])[0]
    got = rep.outputs.reshape(want.shape)
    bad = np.argwhere(got != want)
    assert len(bad) == 0, f"{what} on {target}: frame {bad[0][0]}: got {got[tuple(bad[0])]}, want {want[tuple(bad[0])]}"
    assert rep.bit_exact, rep.first_mismatch  # verify itself runs a stateful graph's inputs as one stream
    return rep


def hard_frames(n: int, window: int, seed: int) -> np.ndarray:
    r = np.random.default_rng(seed)
    f = r.integers(-32768, 32768, (n, window)).astype(np.int16)
    f[0] = -32768
    f[1] = 32767
    f[2] = 0
    f[3, ::2], f[3, 1::2] = 32767, -32768
    f[4:] >>= r.integers(0, 15, (n - 4, 1)).astype(np.int16)
    return f


@pytest.mark.parametrize("target,sanitize", TARGETS)
def test_frontend_streams_bit_exact(target, sanitize):
    g = audio.frontend()
    speech = audio.frames(np.concatenate([clip(0, 0.25), clip(1, 0.25)]), 480, 320)[0]
    frames = np.concatenate([speech, hard_frames(6, 480, 0), speech[:3]])
    rep = stream_check(g, frames, target, sanitize, "front end")
    if target == "cortex-m4":  # one 20 ms frame: far below 64 MHz · 20 ms = 1.28 M instructions
        assert 0 < rep.instructions < 400_000, rep.instructions


@pytest.mark.parametrize("target,sanitize", TARGETS)
def test_frontend_variants_stream_bit_exact(target, sanitize):
    for kw in ({"sample_rate": 8000, "channels": 20, "upper_hz": 3800, "pcan": False},
               {"channels": 32, "window_ms": 25, "stride_ms": 10, "fft_length": 1024}):  # fmt: skip
        g = audio.frontend(**kw)
        w = g.inputs[0].shape[0]
        speech = audio.frames(clip(3, 0.2, kw.get("sample_rate", 16000)), w, g.frame_stride)[0]
        stream_check(g, np.concatenate([speech, hard_frames(5, w, 1)]), target, sanitize, f"front end {kw}")


def _t(name, shape, dtype, data=None) -> Tensor:
    return Tensor(name, tuple(shape), dtype, data=None if data is None else np.asarray(data, dtype))


def tail_graph(seed: int) -> Graph:
    """int16 spectrum -> Energy -> FilterBank (negative weights too) -> square root (constant shift)
    -> spectral subtraction -> PCAN (random table) -> log: every wrap-around of the uint32 / uint64
    kernels reachable from an int16 input."""
    r = np.random.default_rng(seed)
    n_in, nc = 33, 7
    widths = r.integers(1, 6, nc + 1)
    fstarts = np.array([r.integers(0, n_in - w + 1) for w in widths])
    wstarts = np.concatenate([[0], np.cumsum(widths)[:-1]])
    nw = int(widths.sum())
    tabs = [r.integers(-32768, 32768, nw), r.integers(0, 4097, nw), fstarts, wstarts, widths]
    x = _t("spectrum", (2 * n_in,), "int16")
    e, fb, root = _t("e", (n_in,), "uint32"), _t("fb", (nc,), "uint64"), _t("root", (nc,), "uint32")
    clean, noise, gained, y = (_t(n, (nc,), d) for n, d in (("c", "uint32"), ("n", "uint32"), ("p", "uint32"),
                                                            ("y", "int16")))  # fmt: skip
    ts = [_t(n, (len(a),), "int16", a) for n, a in zip(("t_w", "t_u", "t_f", "t_s", "t_c"), tabs, strict=True)]
    shift, lut = _t("shift", (), "int32", 3), _t("lut", (125,), "int16", r.integers(-32768, 32768, 125))
    ops = [
        Op(OpType.SIGNAL_ENERGY, [x], [e], {"end_index": n_in, "start_index": 0}, name="e"),
        Op(OpType.SIGNAL_FILTER_BANK, [e, *ts], [fb], {"num_channels": nc}, name="fb"),
        Op(OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT, [fb, shift], [root], {}, name="root"),
        Op(OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION, [root], [clean, noise],
           {"alternate_one_minus_smoothing": 15073, "alternate_smoothing": 1311, "clamping": bool(seed % 2),
            "min_signal_remaining": 819, "num_channels": nc, "one_minus_smoothing": 15729, "smoothing": 655,
            "smoothing_bits": 10, "spectral_subtraction_bits": 14}, name="c"),
        Op(OpType.SIGNAL_PCAN, [clean, noise, lut], [gained], {"snr_shift": 6 + seed}, name="p"),
        Op(OpType.SIGNAL_FILTER_BANK_LOG, [gained], [y], {"input_correction_bits": 2, "output_scale": 1600}, name="y"),
    ]  # fmt: skip
    g = Graph([x, *ts, shift, lut, e, fb, root, clean, noise, gained, y], ops, [x], [y])
    g.validate()
    return g


@pytest.mark.parametrize("target,sanitize", TARGETS)
def test_uint_kernels_at_the_extremes(target, sanitize):
    for seed in (0, 1):
        stream_check(tail_graph(seed), hard_frames(16, 66, seed + 5), target, sanitize, f"tail {seed}")


def rfft_graph(n: int, length: int, rows: int) -> Graph:
    x, y = _t("x", (rows, length), "int16"), _t("y", (rows, n + 2), "int16")
    return Graph([x, y], [Op(OpType.SIGNAL_RFFT, [x], [y], {"T": 7, "fft_length": n}, name="fft")], [x], [y])


RFFT_CASES = [(4, 4, 1), (8, 5, 2), (512, 480, 1)]
RFFT_MORE = [(32, 32, 1), (128, 100, 1), (1024, 1024, 1)]


@pytest.mark.parametrize("target,sanitize", TARGETS)
@pytest.mark.parametrize("cases", [pytest.param(RFFT_CASES, id="main"),
                                   pytest.param(RFFT_MORE, id="more", marks=pytest.mark.slow)])  # fmt: skip
def test_rfft_and_scaling_bit_exact(target, sanitize, cases):
    for n, length, rows in cases:
        g = _rfft_rank1(n, length) if rows == 1 else rfft_graph(n, length, rows)
        g.validate()
        xs = hard_frames(6, rows * length, n).reshape(6, *g.inputs[0].shape)
        rep = verify(g, target, xs=xs, sanitize=sanitize)
        assert rep.bit_exact, f"rfft {n} of {length} on {target}: {rep.first_mismatch}"


@pytest.mark.parametrize("target,sanitize", TARGETS)
@pytest.mark.parametrize("sizes", [pytest.param((4, 512), id="main"),
                                   pytest.param((16, 64, 1024), id="more", marks=pytest.mark.slow)])  # fmt: skip
def test_irfft_bit_exact(target, sanitize, sizes):
    for n in sizes:
        x, y = _t("x", (2, n + 2), "int16"), _t("y", (2, n), "int16")
        g = Graph([x, y], [Op(OpType.SIGNAL_IRFFT, [x], [y], {"T": 7, "fft_length": n}, name="ifft")], [x], [y])
        g.validate()
        xs = hard_frames(6, 2 * (n + 2), n).reshape(6, 2, n + 2)
        rep = verify(g, target, xs=xs, sanitize=sanitize)
        assert rep.bit_exact, f"irfft {n} on {target}: {rep.first_mismatch}"


def _rfft_rank1(n: int, length: int) -> Graph:
    x, y = _t("x", (length,), "int16"), _t("y", (n + 2,), "int16")
    s, sb, w = _t("scaled", (length,), "int16"), _t("bits", (), "int32"), _t("windowed", (length,), "int16")
    hann = _t("hann", (length,), "int16", audio.hann_window(length))
    ops = [
        Op(OpType.SIGNAL_WINDOW, [x, hann], [w], {"shift": 12}, name="win"),
        Op(OpType.SIGNAL_FFT_AUTO_SCALE, [w], [s, sb], {}, name="scale"),
        Op(OpType.SIGNAL_RFFT, [s], [y], {"T": 7, "fft_length": n}, name="fft"),
    ]
    return Graph([x, hann, w, s, sb, y], ops, [x], [y, sb])


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_signal_kernels_compile_warning_free(target, tmp_path):
    """-Werror at -O2 and -Os; on Cortex-M0+ no soft-float or division helper (64-bit multiplies
    and shifts are fine: __aeabi_lmul / __aeabi_llsr)."""
    graphs = {"frontend": audio.frontend(channels=16), "tail": tail_graph(0), "stacker": stateful_graphs()["stacker"],
              "framer": stateful_graphs()["framer"], "overlap_add": stateful_graphs()["overlap_add"]}  # fmt: skip
    objs = build_objects(graphs, target, tmp_path)
    if target == "cortex-m0plus":
        ks = [o for o in kernels(objs) if o.stem == "pm_signal"]
        assert len(ks) == 2 * len(graphs) and slow_helpers(ks) == []


def test_runtime_is_float_free_and_every_op_has_a_kernel():
    assert_runtime_float_free(["pm_signal.c", "pm_signal.h"])
    built = [op for op in SIGNAL_OPS if op not in NO_C_YET]
    assert all(KERNEL_FILES[op] == ("pm_signal",) for op in built)
    for op in built:  # every sample graph generates
        assert "pm_signal.c" in generate_c(signal_sample(op))


def stateful_graphs() -> dict[str, Graph]:
    def one(op_type, ins, outs, **attrs):
        g = Graph([*ins, *outs], [Op(op_type, ins, outs, attrs, name=outs[0].name)], ins, outs)
        g.validate()
        return g

    return {
        "delay": one(OpType.SIGNAL_DELAY, [_t("x", (3, 8), "int16")], [_t("y", (3, 8), "int16")], delay_length=5),
        "delay_long": one(OpType.SIGNAL_DELAY, [_t("x", (4,), "int16")], [_t("y", (4,), "int16")], delay_length=11),
        "framer": one(OpType.SIGNAL_FRAMER, [_t("x", (2, 8), "int16")],
                      [_t("y", (2, 2, 6), "int16"), _t("v", (), "bool")], frame_size=6, frame_step=4, prefill=False),
        "framer_prefill": one(OpType.SIGNAL_FRAMER, [_t("x", (8,), "int16")],
                              [_t("y", (4, 10), "int16"), _t("v", (), "bool")], frame_size=10, frame_step=2,
                              prefill=True),
        "stacker": one(OpType.SIGNAL_STACKER, [_t("x", (5,), "int16")], [_t("y", (20,), "int16"), _t("v", (), "bool")],
                       num_channels=5, stacker_left_context=1, stacker_right_context=2, stacker_step=2),
        "overlap_add": one(OpType.SIGNAL_OVERLAP_ADD, [_t("x", (2, 3, 8), "int16")], [_t("y", (2, 9), "int16")],
                           T=7, frame_step=3),
    }  # fmt: skip


@pytest.mark.parametrize("target,sanitize", TARGETS)
def test_stateful_ops_stream_bit_exact(target, sanitize):
    for name, g in stateful_graphs().items():
        xs = hard_frames(10, g.inputs[0].size, 3).reshape(10, *g.inputs[0].shape)
        rep = verify(g, target, xs=xs, sanitize=sanitize)
        ref = audio.run_stream(g, xs[None], all_tensors=True)
        want = np.concatenate([np.asarray(ref[t.name][0]).reshape(10, -1).astype(np.int64) for t in g.outputs], axis=1)
        np.testing.assert_array_equal(rep.outputs.reshape(want.shape), want, err_msg=f"{name} on {target}")
        assert rep.bit_exact, f"{name}: {rep.first_mismatch}"


def test_int32_fft_refused_in_c_in_one_line():
    x, y = _t("x", (8,), "int32"), _t("y", (10,), "int32")
    g = Graph([x, y], [Op(OpType.SIGNAL_RFFT, [x], [y], {"T": 2, "fft_length": 8}, name="fft")], [x], [y])
    g.validate()
    with pytest.raises(PicomlError, match="only int16"):
        generate_c(g)
