"""Requantization of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED in the generated C: the
records (``pm_requant``, runtime/pm_common.h) and, per layer, the fast or the exact path.

The fast path (``pm_requant_s8``: SMMULR on Armv7E-M, a 16-bit split on Armv6-M, a multiply,
an add and two shifts) equals TFLite's MultiplyByQuantizedMultiplier only while
|acc << left_shift| < 2^29. The generator proves that per layer from the folded bias and the
weights (``accumulator_bound``: every input is int8, so |acc| <= |bias| + 128 * sum|w| per
output channel) and keeps the fast path wherever it holds. A layer where it cannot be proven
calls the ``_exact`` twin of its kernel variant (``pm_requant_exact_s8``: the full 64-bit
rounding doubling high multiply, in 32-bit halves on Armv6-M, then gemmlowp's
RoundingDivideByPOT), exact for every int32 accumulator. The choice is made here, once per
layer; the C has no run-time dispatch.

Only an accumulator that could leave int32 while the kernels sum it (|bias| + 128 * sum|w| >=
2^31: C's signed addition would overflow, undefined behaviour) is refused.
"""

from __future__ import annotations

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import wrap_int32
from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OpType
from picoml.reference import KERNELS

FAST_LIMIT = 1 << 29  # pm_requant_s8 is exact for |acc << left| below this
ACC_LIMIT = 1 << 31  # the kernels' int32 sums never overflow below this

#: the ops whose C kernels requantize an accumulator through pm_requant records
ACCUMULATING_OPS = (OpType.CONV_2D, OpType.DEPTHWISE_CONV_2D, OpType.FULLY_CONNECTED)


def requant_rows(multiplier, shift, n: int, exact: bool = False) -> list[dict[str, int]]:
    """pm_requant records (pm_common.h) from the reference kernel's multiplier and shift.

    Fast path: left shift + 1, and the final right shift e as e + 1 with its rounding term 2^e.
    A shift below -30 becomes -30, exact because |acc| < 2^29 rounds to 0 either way.
    Exact path (``exact``): the mask 2^e - 1 in ``round``, the left shift and e itself
    (e up to 31: an accumulator near 2^31 can still round to ±1 with shift -31)."""
    m = np.broadcast_to(np.asarray(multiplier), (n,))
    sh = np.broadcast_to(np.asarray(shift), (n,))
    rows = []
    for mi, si in zip(m.tolist(), sh.tolist(), strict=True):
        if exact:
            e = min(max(-int(si), 0), 31)
            rows.append({"multiplier": int(mi), "round": (1 << e) - 1, "left": max(int(si), 0), "right": e})
        else:
            e = min(max(-int(si), 0), 30)
            rows.append({"multiplier": int(mi), "round": 1 << e, "left": max(int(si), 0) + 1, "right": e + 1})
    return rows


def folded_bias(op: Op, bias: np.ndarray, w: np.ndarray, depthwise: bool) -> np.ndarray:
    """bias - input_zp * sum(weights of the channel): padded taps then read the zero point."""
    zp = int(op.inputs[0].zero_point[0])
    if depthwise:
        sums = w.astype(np.int64).sum(axis=(0, 1, 2))
    else:
        sums = w.astype(np.int64).reshape(w.shape[0], -1).sum(axis=1)
    return wrap_int32(bias.astype(np.int64) - zp * sums).astype(np.int32)


def accumulator_bound(bias: np.ndarray, w: np.ndarray, depthwise: bool) -> np.ndarray:
    """Per output channel, |bias| + 128 * sum|w|: a bound on |acc| and on every partial sum the
    kernels form (inputs are int8; padded taps read the input zero point, also int8)."""
    a = np.abs(w.astype(np.int64))
    sums = a.sum(axis=(0, 1, 2)) if depthwise else a.reshape(a.shape[0], -1).sum(axis=1)
    return np.abs(bias.astype(np.int64)) + 128 * sums


def exact_requant(op: Op, bias: np.ndarray, w: np.ndarray, shift: np.ndarray, depthwise: bool) -> bool:
    """True when the layer needs the exact path: |acc << left| < 2^29 cannot be proven for some
    channel. ``bias`` is the folded bias. Refuses (UnsupportedError) a layer whose int32
    accumulator could overflow while it is summed."""
    bound = accumulator_bound(bias, w, depthwise)
    if (bound >= ACC_LIMIT).any():
        raise UnsupportedError(
            f"{op.label}: accumulator range {int(bound.max())} reaches 2^31; the C kernels' int32 sums "
            f"could overflow (undefined in C)"
        )
    left = np.maximum(np.broadcast_to(np.asarray(shift, np.int64), bound.shape), 0)
    return bool(((bound << left) >= FAST_LIMIT).any())


def layer_requant(op: Op) -> tuple[np.ndarray, bool]:
    """(folded bias, exact) of a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED layer."""
    p = KERNELS[op.type].prepare(op)
    if op.type == OpType.FULLY_CONNECTED:
        bias = folded_bias(op, p.bias, p.weights, False)
        units = p.weights.shape[0]
        return bias, exact_requant(op, bias, p.weights, np.broadcast_to(p.shift, (units,)), False)
    depthwise = op.type == OpType.DEPTHWISE_CONV_2D
    bias = folded_bias(op, p.bias, p.filter, depthwise)
    return bias, exact_requant(op, bias, p.filter, p.shift, depthwise)


def exact_layers(g: Graph) -> list[int]:
    """Indices of the layers of ``g`` the generator compiles with exact requantization."""
    return [i for i, op in enumerate(g.ops) if op.type in ACCUMULATING_OPS and layer_requant(op)[1]]
