"""tflite-micro's signal-library custom ops (branch signal) against tflite-micro itself.

tflite-micro's Python interpreter (PyPI ``tflite_micro``) registers the ``Signal...`` custom ops, so it
is the oracle: every test writes a one-op .tflite with picoml's writer, runs it in tflite-micro and
compares exactly. Stateful ops (spectral subtraction) are compared over consecutive invocations of
one interpreter, against ``spectral_subtraction_step`` carrying the noise estimate.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.oracles import tflm_interpreter

from picoml import audio
from picoml.errors import PicomlError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS
from picoml.reference import signal as sig
from picoml.reference.interpreter import Interpreter


def graph(op_type, inputs, outputs, **attrs) -> Graph:
    op = Op(op_type, list(inputs), list(outputs), attrs, name=outputs[0].name)
    g = Graph(list(inputs) + list(outputs), [op], [t for t in inputs if t.data is None], list(outputs), name="sig")
    g.validate()
    return g


def tflm(g: Graph, xs: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Consecutive invocations of one tflite-micro interpreter: per invocation, every output."""
    ip = tflm_interpreter(write_tflite_bytes(g))
    outs = []
    for i in range(len(xs[0])):
        for k, x in enumerate(xs):
            ip.set_input(x[i], k)
        ip.invoke()
        outs.append([ip.get_output(k).copy() for k in range(len(g.outputs))])
    return outs


def picoml(g: Graph, xs: list[np.ndarray]) -> list[np.ndarray]:
    r = Interpreter(g).run(xs if len(xs) > 1 else xs[0])
    return [r[t.name] for t in g.outputs] if isinstance(r, dict) else [r] if not isinstance(r, list) else r


def check(g: Graph, xs: list[np.ndarray], what: str = "") -> list[np.ndarray]:
    want = tflm(g, xs)
    got = picoml(g, xs)
    for k in range(len(g.outputs)):
        exp = np.stack([w[k] for w in want])
        np.testing.assert_array_equal(got[k], exp.reshape(got[k].shape), err_msg=f"{what} output {k}")
    return got


def t(name, shape, dtype, data=None) -> Tensor:
    return Tensor(name, tuple(shape), dtype, data=data)


RNG = np.random.default_rng(15)


def i16(shape, lo=-32768, hi=32768, rng=RNG):
    return rng.integers(lo, hi, shape).astype(np.int16)


def test_tflite_micro_resolves_signal_ops():
    g = graph(OpType.SIGNAL_WINDOW, [t("x", (8,), "int16"), t("w", (8,), "int16", i16(8))], [t("y", (8,), "int16")],
              shift=3)  # fmt: skip
    check(g, [i16((3, 8))])


@pytest.mark.parametrize("shift", [0, 1, 12, 14, 31])
def test_window(shift):
    rng = np.random.default_rng(shift)
    for rows, n in [(1, 16), (3, 10), (2, 480)]:
        w = i16(n, rng=rng)
        g = graph(OpType.SIGNAL_WINDOW, [t("x", (rows, n), "int16"), t("w", (n,), "int16", w)],
                  [t("y", (rows, n), "int16")], shift=shift)  # fmt: skip
        x = i16((6, rows, n), rng=rng)
        x[0, 0, :4] = [-32768, 32767, -32768, 32767]
        check(g, [x], f"window shift {shift}")


def test_fft_auto_scale():
    g = graph(OpType.SIGNAL_FFT_AUTO_SCALE, [t("x", (16,), "int16")], [t("y", (16,), "int16"), t("s", (), "int32")])
    xs = [i16((20, 16), -(2**k), 2**k) for k in range(0, 16)]
    x = np.concatenate(xs + [np.zeros((1, 16), np.int16)])
    x[-3:-1] = 0
    x[-2, :2] = [-32768, 5]  # MaxAbs16's int16 maximum: -32768 then 5 -> scales by 12 bits
    x[-3, :3] = [-32768, -5, 3]
    got = check(g, [x], "fft auto scale")
    assert got[1][-2] == 12 and got[0][-2][0] == 0 and got[1][-1] == 0


@pytest.mark.parametrize("n", [4, 8, 16, 32, 64, 128, 256, 512, 1024])
def test_rfft_int16(n):
    rng = np.random.default_rng(n)
    for length in sorted({n, max(1, n * 3 // 4), 1}):
        g = graph(OpType.SIGNAL_RFFT, [t("x", (2, length), "int16")], [t("y", (2, n + 2), "int16")], T=7,
                  fft_length=n)  # fmt: skip
        x = np.concatenate([i16((4, 2, length), rng=rng), i16((4, 2, length), -300, 300, rng=rng)])
        x[0, 0] = 32767
        x[0, 1] = -32768
        check(g, [x], f"rfft {n} of {length}")


@pytest.mark.parametrize("n", [4, 8, 16, 32, 64, 256, 512, 1024])
def test_irfft_int16(n):
    rng = np.random.default_rng(n + 1)
    g = graph(OpType.SIGNAL_IRFFT, [t("x", (2, n + 2), "int16")], [t("y", (2, n), "int16")], T=7, fft_length=n)
    x = np.concatenate([i16((4, 2, n + 2), rng=rng), i16((4, 2, n + 2), -300, 300, rng=rng)])
    x[0, 0] = 32767
    x[0, 1] = -32768
    check(g, [x], f"irfft {n}")


@pytest.mark.parametrize("n", [4, 16, 64, 512])
def test_rfft_irfft_int32(n):
    rng = np.random.default_rng(n + 7)
    big = rng.integers(-(2**31), 2**31, (6, 2, n), dtype=np.int64).astype(np.int32)
    big[0, 0], big[0, 1] = 2**31 - 1, -(2**31)
    small = rng.integers(-5000, 5000, (4, 2, n)).astype(np.int32)
    g = graph(OpType.SIGNAL_RFFT, [t("x", (2, n), "int32")], [t("y", (2, n + 2), "int32")], T=2, fft_length=n)
    check(g, [np.concatenate([big, small])], f"rfft int32 {n}")
    spec = rng.integers(-(2**31), 2**31, (6, 2, n + 2), dtype=np.int64).astype(np.int32)
    g = graph(OpType.SIGNAL_IRFFT, [t("x", (2, n + 2), "int32")], [t("y", (2, n), "int32")], T=2, fft_length=n)
    check(g, [spec], f"irfft int32 {n}")


@pytest.mark.parametrize("n", [4, 16, 64, 512])
def test_rfft_irfft_float32(n):
    """float32: one IEEE rounding per kissfft operation, so exact too (no tolerance)."""
    rng = np.random.default_rng(n + 9)
    x = (rng.standard_normal((6, 2, n)) * 10 ** rng.uniform(-3, 4, (6, 1, 1))).astype(np.float32)
    g = graph(OpType.SIGNAL_RFFT, [t("x", (2, n), "float32")], [t("y", (2, n + 2), "float32")], T=0, fft_length=n)
    check(g, [x], f"rfft float {n}")
    spec = rng.standard_normal((6, 2, n + 2)).astype(np.float32)
    g = graph(OpType.SIGNAL_IRFFT, [t("x", (2, n + 2), "float32")], [t("y", (2, n), "float32")], T=0, fft_length=n)
    check(g, [spec], f"irfft float {n}")


def test_energy():
    g = graph(OpType.SIGNAL_ENERGY, [t("x", (66,), "int16")], [t("y", (33,), "uint32")], start_index=0, end_index=33)
    x = i16((10, 66))
    x[0, :4] = [-32768, -32768, 32767, -32768]
    check(g, [x], "energy")
    g = graph(OpType.SIGNAL_ENERGY, [t("x", (66,), "int16")], [t("y", (33,), "uint32")], start_index=4, end_index=30)
    want = np.stack([w[0] for w in tflm(g, [x])])
    np.testing.assert_array_equal(picoml(g, [x])[0][:, 4:30], want[:, 4:30])


def filter_bank_case(rng, n_in, nc):
    widths = rng.integers(0, 6, nc + 1)
    fstarts = np.array([rng.integers(0, n_in - w + 1) for w in widths])
    wstarts = np.concatenate([[0], np.cumsum(widths)[:-1]])
    nw = max(int(widths.sum()), 1)
    return [i16(nw, 0, 4096, rng), i16(nw, 0, 4096, rng)] + [a.astype(np.int16) for a in (fstarts, wstarts, widths)]


@pytest.mark.parametrize("seed", range(4))
def test_filter_bank(seed):
    rng = np.random.default_rng(seed)
    n_in, nc = 33, int(rng.integers(1, 12))
    tabs = filter_bank_case(rng, n_in, nc)
    if seed == 3:
        tabs[0] = i16(tabs[0].size, rng=rng)  # negative weights: sign-extended to uint64, sums wrap
    names = ["weights", "unweights", "fstarts", "wstarts", "widths"]
    ins = [t("x", (n_in,), "uint32")] + [t(nm, a.shape, "int16", a) for nm, a in zip(names, tabs, strict=True)]
    g = graph(OpType.SIGNAL_FILTER_BANK, ins, [t("y", (nc,), "uint64")], num_channels=nc)
    x = rng.integers(0, 2**32, (6, n_in), dtype=np.uint64).astype(np.uint32)
    x[0] = 0xFFFFFFFF
    check(g, [x], "filter bank")


def test_filter_bank_square_root():
    g = graph(OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT, [t("x", (40,), "uint64"), t("s", (), "int32")],
              [t("y", (40,), "uint32")])  # fmt: skip
    r = np.random.default_rng(1)
    x = np.stack([r.integers(0, 2**63, 40, dtype=np.uint64) >> np.uint64(k) for k in range(0, 64, 4)])
    x[0, :8] = [0, 1, 2, 3, 2**32 - 1, 2**32, 2**64 - 1, 0xFFFE0001]
    x[1, :6] = [0xFFFF * 0xFFFF + 0xFFFF, 0xFFFF * 0xFFFF + 0xFFFF + 1, 2**64 - 2**33, 4294836225, 6, 12]
    s = np.array([k % 16 for k in range(len(x))], np.int32)
    check(g, [x, s], "square root")


@pytest.mark.parametrize("clamping", [False, True])
def test_spectral_subtraction_over_a_stream(clamping):
    nc = 9
    attrs = dict(num_channels=nc, smoothing=655, one_minus_smoothing=15729, alternate_smoothing=1311,
                 alternate_one_minus_smoothing=15073, min_signal_remaining=819, smoothing_bits=10,
                 spectral_subtraction_bits=14, clamping=clamping)  # fmt: skip
    g = graph(OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION, [t("x", (nc,), "uint32")],
              [t("y", (nc,), "uint32"), t("noise", (nc,), "uint32")], **attrs)  # fmt: skip
    r = np.random.default_rng(2)
    x = r.integers(0, 5000, (30, nc)).astype(np.uint32)
    x[10:14] = 0  # the signal drops under the noise estimate
    x[20] = 0xFFFFFFFF  # << smoothing_bits wraps
    want = tflm(g, [x])
    p = KERNELS[OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION].prepare(g.ops[0])
    noise = np.zeros((1, nc), np.uint32)
    for i in range(len(x)):
        y, noise = sig.spectral_subtraction_step(p, x[i : i + 1], noise)
        np.testing.assert_array_equal(y[0], want[i][0], err_msg=f"frame {i}")
        np.testing.assert_array_equal(noise[0], want[i][1], err_msg=f"frame {i} noise")
    # the interpreter: each batch row from the reset state, as tflite-micro's first invocation
    got = picoml(g, [x])
    first = tflm(g, [x[:1]])[0]
    np.testing.assert_array_equal(got[0][0], first[0])


def gain_lut(rng) -> np.ndarray:
    return i16(125, -32768, 32768, rng)


@pytest.mark.parametrize("snr_shift", [0, 6, 12, 31, 40])
def test_pcan(snr_shift):
    r = np.random.default_rng(snr_shift)
    lut = gain_lut(r)
    g = graph(OpType.SIGNAL_PCAN, [t("x", (16,), "uint32"), t("n", (16,), "uint32"), t("lut", (125,), "int16", lut)],
              [t("y", (16,), "uint32")], snr_shift=snr_shift)  # fmt: skip
    x = r.integers(0, 2**32, (40, 16), dtype=np.uint64) >> r.integers(0, 32, (40, 16)).astype(np.uint64)
    n = r.integers(0, 2**32, (40, 16), dtype=np.uint64) >> r.integers(0, 32, (40, 16)).astype(np.uint64)
    n[0, :4] = [0, 1, 2, 3]
    check(g, [x.astype(np.uint32), n.astype(np.uint32)], "pcan")


@pytest.mark.parametrize("bits,scale", [(0, 64), (3, 64), (9, 1600), (0, 65535), (31, 1 << 20)])
def test_filter_bank_log(bits, scale):
    g = graph(OpType.SIGNAL_FILTER_BANK_LOG, [t("x", (32,), "uint32")], [t("y", (32,), "int16")],
              input_correction_bits=bits, output_scale=scale)  # fmt: skip
    r = np.random.default_rng(bits)
    x = r.integers(0, 2**32, (30, 32), dtype=np.uint64) >> r.integers(0, 32, (30, 32)).astype(np.uint64)
    x[0, :6] = [0, 1, 2, 3, 0xFFFFFFFF, 1 << 31]
    check(g, [x.astype(np.uint32)], "log")


def test_options_round_trip_and_positional_reading():
    g = graph(OpType.SIGNAL_FILTER_BANK_LOG, [t("x", (4,), "uint32")], [t("y", (4,), "int16")],
              input_correction_bits=3, output_scale=64)  # fmt: skip
    data = write_tflite_bytes(g)
    back = read_tflite_bytes(data)
    assert back.ops[0].type == OpType.SIGNAL_FILTER_BANK_LOG and back.ops[0].attrs == g.ops[0].attrs
    # a map with a key missing or extra: tflite-micro would read the wrong values by position
    for opts in ({"output_scale": 64}, {"input_correction_bits": 3, "output_scale": 64, "zz": 1}):
        g.ops[0].attrs = opts  # the writer dumps the attributes as they are
        with pytest.raises(PicomlError, match="by position"):
            read_tflite_bytes(write_tflite_bytes(g))


@pytest.mark.parametrize(
    "op_type,inputs,outputs,attrs,match",
    [
        (OpType.SIGNAL_WINDOW, [("x", (10,), "int16"), ("w", (4,), "int16", 1)], [("y", (10,), "int16")],
         {"shift": 1}, "whole number"),
        (OpType.SIGNAL_WINDOW, [("x", (8,), "int16"), ("w", (8,), "int16", 1)], [("y", (8,), "int16")],
         {"shift": 32}, "shift"),
        (OpType.SIGNAL_RFFT, [("x", (6,), "int16")], [("y", (8,), "int16")], {"T": 7, "fft_length": 6},
         "power of two"),
        (OpType.SIGNAL_RFFT, [("x", (9,), "int16")], [("y", (10,), "int16")], {"T": 7, "fft_length": 8},
         "last dimension"),
        (OpType.SIGNAL_RFFT, [("x", (8,), "float32")], [("y", (10,), "float32")], {"T": 1, "fft_length": 8},
         "tensor type 1"),
        (OpType.SIGNAL_RFFT, [("x", (8,), "int16")], [("y", (10,), "int16")], {"T": 2, "fft_length": 8}, "int32"),
        (OpType.SIGNAL_ENERGY, [("x", (8,), "int16")], [("y", (4,), "uint32")], {"start_index": 0, "end_index": 5},
         "end_index"),
        (OpType.SIGNAL_PCAN, [("x", (4,), "uint32"), ("n", (4,), "uint32"), ("l", (100,), "int16", 1)],
         [("y", (4,), "uint32")], {"snr_shift": 6}, "gain table"),
        (OpType.SIGNAL_FILTER_BANK_LOG, [("x", (4,), "uint32")], [("y", (4,), "int16")],
         {"input_correction_bits": 32, "output_scale": 1}, "input_correction_bits"),
        (OpType.SIGNAL_FILTER_BANK_LOG, [("x", (4,), "float32")], [("y", (4,), "int16")],
         {"input_correction_bits": 0, "output_scale": 1}, "uint32"),
    ],
)  # fmt: skip
def test_refusals(op_type, inputs, outputs, attrs, match):
    ins = [t(s[0], s[1], s[2], np.ones(s[1], s[2]) if len(s) > 3 else None) for s in inputs]
    outs = [t(*s) for s in outputs]
    with pytest.raises(PicomlError, match=match):
        graph(op_type, ins, outs, **attrs)


def test_filter_bank_out_of_range_tables_refused():
    tabs = [np.ones(4, np.int16), np.ones(4, np.int16), np.array([0, 30, 2], np.int16), np.array([0, 0, 2], np.int16),
            np.array([2, 2, 2], np.int16)]  # fmt: skip
    names = ["w", "u", "fs", "ws", "cw"]
    ins = [t("x", (31,), "uint32")] + [t(nm, a.shape, "int16", a) for nm, a in zip(names, tabs, strict=True)]
    with pytest.raises(PicomlError, match="channel 1"):
        graph(OpType.SIGNAL_FILTER_BANK, ins, [t("y", (2,), "uint64")], num_channels=2)


def stream_check(g: Graph, x: np.ndarray, valid_output: int | None = None) -> None:
    """Consecutive invocations: tflite-micro against audio.run_stream (state carried); where the op says
    its output is not valid, tflite-micro leaves the arena's bytes, so only valid steps are compared."""
    want = tflm(g, [x])
    got = audio.run_stream(g, x[None], all_tensors=True)
    for i, w in enumerate(want):
        ok = valid_output is None or bool(w[valid_output])
        for k, t_ in enumerate(g.outputs):
            if k == valid_output:
                assert bool(got[t_.name][0, i]) == bool(w[k]), f"step {i} valid flag"
            elif ok:
                np.testing.assert_array_equal(got[t_.name][0, i], w[k], err_msg=f"step {i} output {k}")


@pytest.mark.parametrize("delay", [0, 1, 5, 20])
def test_delay_over_a_stream(delay):
    g = graph(OpType.SIGNAL_DELAY, [t("x", (3, 8), "int16")], [t("y", (3, 8), "int16")], delay_length=delay)
    stream_check(g, i16((12, 3, 8)))


@pytest.mark.parametrize("size,step,prefill", [(6, 4, True), (6, 4, False), (4, 4, True), (3, 4, False), (10, 2, True)])
def test_framer_over_a_stream(size, step, prefill):
    g = graph(OpType.SIGNAL_FRAMER, [t("x", (2, 8), "int16")],
              [t("y", (2, 8 // step, size), "int16"), t("valid", (), "bool")],
              frame_size=size, frame_step=step, prefill=prefill)  # fmt: skip
    stream_check(g, i16((10, 2, 8)), valid_output=1)


@pytest.mark.parametrize("left,right,step", [(2, 0, 1), (1, 2, 1), (0, 0, 1), (3, 1, 2), (1, 1, 3)])
def test_stacker_over_a_stream(left, right, step):
    g = graph(OpType.SIGNAL_STACKER, [t("x", (5,), "int16")],
              [t("y", (5 * (left + right + 1),), "int16"), t("valid", (), "bool")],
              num_channels=5, stacker_left_context=left, stacker_right_context=right, stacker_step=step)  # fmt: skip
    stream_check(g, i16((12, 5)), valid_output=1)


def test_stream_ops_refusals():
    with pytest.raises(PicomlError, match="prefill"):
        graph(OpType.SIGNAL_FRAMER, [t("x", (8,), "int16")], [t("y", (2, 3), "int16"), t("v", (), "bool")],
              frame_size=3, frame_step=4, prefill=True)  # fmt: skip
    with pytest.raises(PicomlError, match="stacker_step"):
        graph(OpType.SIGNAL_STACKER, [t("x", (4,), "int16")], [t("y", (8,), "int16"), t("v", (), "bool")],
              num_channels=4, stacker_left_context=1, stacker_right_context=0, stacker_step=3)  # fmt: skip


@pytest.mark.parametrize("dtype,step", [("int16", 4), ("int16", 8), ("int16", 1), ("float32", 3), ("float32", 8)])
def test_overlap_add_over_a_stream(dtype, step):
    code = {"int16": 7, "float32": 0}[dtype]
    g = graph(OpType.SIGNAL_OVERLAP_ADD, [t("x", (2, 3, 8), dtype)], [t("y", (2, 3 * step), dtype)], T=code,
              frame_step=step)  # fmt: skip
    if dtype == "int16":
        x = i16((10, 2, 3, 8))
    else:
        x = np.random.default_rng(step).standard_normal((10, 2, 3, 8)).astype(np.float32) * 1e3
    stream_check(g, x)  # float32 too: one IEEE add per sample, exact
