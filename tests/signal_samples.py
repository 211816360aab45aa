"""Small valid one-op graphs of the signal-library ops (branch signal), for tests/test_registry.py's
``sample_op`` and the C tests."""

from __future__ import annotations

import numpy as np

from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType

SIGNAL_OPS = (
    OpType.SIGNAL_WINDOW,
    OpType.SIGNAL_FFT_AUTO_SCALE,
    OpType.SIGNAL_RFFT,
    OpType.SIGNAL_ENERGY,
    OpType.SIGNAL_FILTER_BANK,
    OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT,
    OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION,
    OpType.SIGNAL_PCAN,
    OpType.SIGNAL_FILTER_BANK_LOG,
    OpType.SIGNAL_DELAY,
    OpType.SIGNAL_FRAMER,
    OpType.SIGNAL_STACKER,
    OpType.SIGNAL_IRFFT,
    OpType.SIGNAL_OVERLAP_ADD,
)
#: ops without a C kernel yet
NO_C_YET: tuple[OpType, ...] = ()


def _t(name, shape, dtype, data=None) -> Tensor:
    return Tensor(name, tuple(shape), dtype, data=None if data is None else np.asarray(data, dtype).reshape(shape))


def signal_sample(op: OpType, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    if op == OpType.SIGNAL_WINDOW:
        ins = [_t("x", (16,), "int16"), _t("w", (16,), "int16", rng.integers(0, 32767, 16))]
        outs, attrs = [_t("y", (16,), "int16")], {"shift": 12}
    elif op == OpType.SIGNAL_FFT_AUTO_SCALE:
        ins, outs, attrs = [_t("x", (16,), "int16")], [_t("y", (16,), "int16"), _t("s", (), "int32")], {}
    elif op == OpType.SIGNAL_RFFT:
        ins, outs, attrs = [_t("x", (12,), "int16")], [_t("y", (18,), "int16")], {"T": 7, "fft_length": 16}
    elif op == OpType.SIGNAL_ENERGY:
        ins, outs, attrs = [_t("x", (18,), "int16")], [_t("y", (9,), "uint32")], {"start_index": 0, "end_index": 9}
    elif op == OpType.SIGNAL_FILTER_BANK:
        tabs = [rng.integers(0, 4096, 8), rng.integers(0, 4096, 8), [0, 2, 4, 6], [0, 2, 4, 6], [2, 2, 2, 2]]
        names = ("weights", "unweights", "fstarts", "wstarts", "widths")
        ins = [_t("x", (9,), "uint32")] + [_t(n, (len(a),), "int16", a) for n, a in zip(names, tabs, strict=True)]
        outs, attrs = [_t("y", (3,), "uint64")], {"num_channels": 3}
    elif op == OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT:
        ins, outs, attrs = [_t("x", (4,), "uint64"), _t("s", (), "int32")], [_t("y", (4,), "uint32")], {}
    elif op == OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION:
        ins, outs = [_t("x", (4,), "uint32")], [_t("y", (4,), "uint32"), _t("noise", (4,), "uint32")]
        attrs = {
            "alternate_one_minus_smoothing": 15073, "alternate_smoothing": 1311, "clamping": False,
            "min_signal_remaining": 819, "num_channels": 4, "one_minus_smoothing": 15729, "smoothing": 655,
            "smoothing_bits": 10, "spectral_subtraction_bits": 14,
        }  # fmt: skip
    elif op == OpType.SIGNAL_PCAN:
        lut = rng.integers(-2000, 32767, 125)
        ins = [_t("x", (4,), "uint32"), _t("noise", (4,), "uint32"), _t("lut", (125,), "int16", lut)]
        outs, attrs = [_t("y", (4,), "uint32")], {"snr_shift": 6}
    elif op == OpType.SIGNAL_FILTER_BANK_LOG:
        ins, outs = [_t("x", (4,), "uint32")], [_t("y", (4,), "int16")]
        attrs = {"input_correction_bits": 3, "output_scale": 1600}
    elif op == OpType.SIGNAL_DELAY:
        ins, outs, attrs = [_t("x", (2, 8), "int16")], [_t("y", (2, 8), "int16")], {"delay_length": 3}
    elif op == OpType.SIGNAL_FRAMER:
        ins, outs = [_t("x", (8,), "int16")], [_t("y", (2, 6), "int16"), _t("valid", (), "bool")]
        attrs = {"frame_size": 6, "frame_step": 4, "prefill": True}
    elif op == OpType.SIGNAL_STACKER:
        ins, outs = [_t("x", (4,), "int16")], [_t("y", (12,), "int16"), _t("valid", (), "bool")]
        attrs = {"num_channels": 4, "stacker_left_context": 2, "stacker_right_context": 0, "stacker_step": 1}
    elif op == OpType.SIGNAL_IRFFT:
        ins, outs, attrs = [_t("x", (18,), "int16")], [_t("y", (16,), "int16")], {"T": 7, "fft_length": 16}
    elif op == OpType.SIGNAL_OVERLAP_ADD:
        ins, outs, attrs = [_t("x", (3, 8), "int16")], [_t("y", (12,), "int16")], {"T": 7, "frame_step": 4}
    else:  # pragma: no cover
        raise AssertionError(op)
    g = Graph(ins + outs, [Op(op, ins, outs, attrs, name="op")], [t for t in ins if t.data is None], outs)
    g.validate()
    return g
