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

Constant channels. A channel whose output is one value for every input the layer can see
(typically a dead channel: its weights quantized with a tiny scale, so its bias is huge and
the layer's bound with it) would alone send the whole layer to the exact twin. ``prepare_layer``
finds them — the requantized, clamped output at both ends of the channel's accumulator range
is the same, and requantization is monotone — and gives the C that channel's constant by
zero weights, multiplier 0.5 and bias 2 * (constant - zero point), which every kernel's fast
path turns into exactly that value. The reference and the model are untouched; only the C's
tables differ, and its outputs are the same bit for bit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import multiply_by_quantized_multiplier, wrap_int32
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


#: how the Armv7E-M 4x2 pair loops requantize a layer's records (pm_conv_params.fold, PM_RQ_* in
#: pm_conv2d_s8.c): RQ_ZERO the zero point added after the shift; RQ_FOLD the zero point joined to the
#: rounding term (every right <= FOLD_MAX_RIGHT); RQ_M also the doubling high multiply as one SMMLAR
#: (every left == 1, multiplier >= 2^30); RQ_P that with the rounding's [v < 0] term dropped (output
#: zero point -128: such a v ends at -128 or below either way)
RQ_ZERO, RQ_FOLD, RQ_M, RQ_P = 0, 1, 2, 3
FOLD_MAX_RIGHT = 22  # the zero point joins the rounding term exactly while right <= 22


def fold_mode(rows: list[dict[str, int]], output_zp: int) -> int:
    """The pair loops' requantization mode (RQ_*) for a layer's pm_requant records ``rows``
    (requant_rows), written by the generator so the kernels need not scan the records."""
    if any(r["right"] > FOLD_MAX_RIGHT for r in rows):
        return RQ_ZERO
    if all(r["left"] == 1 and r["multiplier"] >= 1 << 30 for r in rows):
        return RQ_P if output_zp == -128 else RQ_M
    return RQ_FOLD


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


HALF = 1 << 30  # Q31 0.5: the multiplier of a constant channel (shift 0)


def _weights(op: Op, p) -> tuple[np.ndarray, bool]:
    """(weights, depthwise) of a prepared layer: FULLY_CONNECTED's [units, depth], CONV_2D's
    OHWI (channel axis 0), DEPTHWISE_CONV_2D's 1HWC (channel axis -1)."""
    if op.type == OpType.FULLY_CONNECTED:
        return p.weights, False
    return p.filter, op.type == OpType.DEPTHWISE_CONV_2D


def constant_channels(op: Op, p) -> dict[int, int]:
    """{channel: its int8 output} for the channels of an int8 layer (prepared params ``p``) whose
    output is the same for every input: requantize-and-clamp gives one value at both ends of
    the channel's accumulator range (folded bias ± 128 * sum|w|, which holds every padded or
    real int8 input) and is monotone there (no left shift wraps: |bound << left| < 2^31)."""
    if op.inputs[0].dtype != "int8" or op.outputs[0].dtype != "int8":  # 16x8 and float layers: other kernels
        return {}
    if not p.quantized or p.multiplier is None or p.hybrid or getattr(p, "weights_zp", 0):
        return {}
    w, depthwise = _weights(op, p)
    bias = folded_bias(op, p.bias, w, depthwise)
    a = np.abs(w.astype(np.int64))
    reach = 128 * (a.sum(axis=(0, 1, 2)) if depthwise else a.reshape(a.shape[0], -1).sum(axis=1))
    n = reach.size
    mult = np.broadcast_to(np.asarray(p.multiplier, np.int64), (n,))
    shift = np.broadcast_to(np.asarray(p.shift, np.int64), (n,))
    left = np.maximum(shift, 0)
    b = bias.astype(np.int64)
    ok = ((np.abs(b) + reach) << left) < ACC_LIMIT
    ends = [
        np.clip(multiply_by_quantized_multiplier(b + s * reach, mult, shift) + p.output_zp, p.act_min, p.act_max)
        for s in (-1, 1)
    ]
    same = ok & (ends[0] == ends[1])
    return {int(ch): int(ends[0][ch]) for ch in np.nonzero(same)[0]}


def prepare_layer(op: Op):
    """The reference kernel's prepared params of a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED
    layer as the C generator uses them: constant channels (``constant_channels``) rewritten to
    zero weights, multiplier 0.5 (shift 0) and bias 2 * (value - output zero point), so that
    only channels whose output varies decide the layer's requantization path."""
    p = KERNELS[op.type].prepare(op)
    consts = constant_channels(op, p)
    if not consts:
        return p
    w, depthwise = _weights(op, p)
    n = w.shape[-1] if depthwise else w.shape[0]
    w = w.copy()
    bias = np.array(np.broadcast_to(p.bias, (n,)), np.int64)
    mult = np.array(np.broadcast_to(p.multiplier, (n,)), np.int64)
    shift = np.array(np.broadcast_to(p.shift, (n,)), np.int64)
    for ch, value in consts.items():
        if depthwise:
            w[..., ch] = 0
        else:
            w[ch] = 0
        bias[ch], mult[ch], shift[ch] = 2 * (value - p.output_zp), HALF, 0
    got = np.clip(multiply_by_quantized_multiplier(bias, mult, shift) + p.output_zp, p.act_min, p.act_max)
    idx = np.array(sorted(consts))
    assert (got[idx] == np.array([consts[k] for k in sorted(consts)])).all(), f"{op.label}: constant channel"
    fields = {"bias": bias.astype(np.int32), "multiplier": mult.astype(np.int32), "shift": shift.astype(np.int32)}
    fields["weights" if op.type == OpType.FULLY_CONNECTED else "filter"] = w
    return replace(p, **fields)


def layer_requant(op: Op) -> tuple[np.ndarray, bool]:
    """(folded bias, exact) of a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED layer, as the C
    generator compiles it (``prepare_layer``)."""
    p = prepare_layer(op)
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
