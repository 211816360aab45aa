"""DIV reference kernel (TFLM div.cc, reference_ops::DivElementwise / BroadcastDivSlow).

float32: a / b, clamped to the fused activation (LiteRT: IEEE division, and with no activation the
clamp is ±FLT_MAX, so x/0 is ±FLT_MAX and 0/0 NaN).

int8, per element (v1 = a - zp1, v2 = b - zp2):
  if v2 < 0: both change sign (the reciprocal is taken of a positive divisor);
  GetReciprocal(v2, 31) -> Q0.31 raw ``inv`` and ``recip_shift``;
  headroom = CountLeadingSignBits(v1) (31 for 0 and -1);
  q = SaturatingRoundingDoublingHighMul(v1 · 2^headroom, inv);
  out = RoundingDivideByPOT(SRDHM(q, multiplier), e) + zp_out, e = recip_shift + headroom - shift,
  clamped to the fused activation; multiplier/shift = QuantizeMultiplier(s1 / (s2 · s_out)).

What the oracle showed beyond a literal reading (tests/kernels/test_div.py pins each):
- Prepare is double: div.cc writes ``static_cast<double>(s1 / (s2 * s_out))`` on C floats, but
  tflite-micro matched the double quotient on 12 of 12 configurations picked because the two give
  different outputs, and float on none.
- e is often 32 or more (it reaches 38 - shift: any multiplier below 64 with a small dividend and
  a large divisor). gemmlowp's RoundingDivideByPOT then computes its mask as ``(1ll << e) - 1``
  truncated to int32 (all ones) and shifts by ``e`` as x86 does (``e & 31``): the result is
  ``(x >> (e - 32)) + (x >= 0)``, so e.g. 0 / v gives zp_out + 1. Matched on every input pair of
  60 configurations; ``rounding_divide_by_pot_wide`` below is that arithmetic, and the C kernel
  computes the same on every target.
- A zero divisor (b == zp2) is not refused (TFLM only DCHECKs it): GetReciprocal(0) shifts a zero
  left by 32 (0 on every machine), takes 1/(1 + x) of x = -1.0, whose Newton iterations wrap
  int32, and a recip_shift of -1. The result is deterministic and matched exactly.
Refused at prepare (UnsupportedError): a shift above 22 (e could be negative: a left shift by a
negative amount) or below -25 (e could reach 64: ``1ll << 64`` is undefined).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import (
    count_leading_zeros_u32,
    get_reciprocal,
    quantize_multiplier,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)
from picoml.graph.ir import Op
from picoml.reference.common import activation_clamp_float, activation_range_int8, align_ranks

#: bounds of the output shift for which every exponent e = recip_shift + headroom - shift lies in
#: [0, 63]: recip_shift is in [-1, 7] (divisor 0..255), headroom in [23, 31] (|dividend| <= 255)
MAX_SHIFT, MIN_SHIFT = 22, -25


@dataclass(frozen=True)
class DivParams:
    quantized: bool
    act_min: float
    act_max: float
    input1_zp: int = 0
    input2_zp: int = 0
    output_zp: int = 0
    multiplier: int = 0
    shift: int = 0


def prepare(op: Op) -> DivParams:
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    act = op.attrs["fused_activation"]
    if a.dtype != "int8":
        lo, hi = activation_clamp_float(act)
        return DivParams(False, lo, hi)
    s1, s2, so = (float(np.float32(t.scale[0])) for t in (a, b, y))
    real = s1 / (s2 * so)
    m, shift = quantize_multiplier(real)
    if m and not MIN_SHIFT <= shift <= MAX_SHIFT:
        raise UnsupportedError(
            f"{op.label}: output {y.name!r}: requantization multiplier {real:.6g} (input scale / (divisor scale × "
            f"output scale)) has shift {shift}, outside [{MIN_SHIFT}, {MAX_SHIFT}] where TFLite Micro's int8 DIV "
            "shifts by amounts undefined in C"
        )
    lo, hi = activation_range_int8(act, y, op.label)
    return DivParams(True, lo, hi, int(a.zero_point[0]), int(b.zero_point[0]), int(y.zero_point[0]), m, shift)


def count_leading_sign_bits(v: np.ndarray) -> np.ndarray:
    """CountLeadingSignBits of int32 values (__builtin_clrsb; 31 for 0 as TFLite returns digits)."""
    v = np.asarray(v, np.int64)
    return count_leading_zeros_u32(wrap_int32(v ^ (v >> 63))) - 1


def rounding_divide_by_pot_wide(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT(int32 x, e) for e in [0, 63] as tflite-micro computes it: the
    mask ``(1ll << e) - 1`` truncated to int32 and the shift count taken modulo 32 (x86). For e in
    [0, 31] this is the usual rounding division."""
    x = np.asarray(x, np.int64)
    e = np.asarray(e, np.int64)
    mask = wrap_int32((np.int64(1) << e) - 1)
    remainder = wrap_int32(x & mask)
    threshold = (mask >> 1) + (x < 0)
    return (x >> (e & 31)) + (remainder > threshold)


def divisor_tables(p: DivParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per divisor code b (index b + 128): GetReciprocal(|b - zp2|, 31) as (Q0.31 raw, recip_shift)
    and whether b - zp2 < 0. The int8 kernel reads these (and so does the generated C)."""
    v2 = np.arange(-128, 128, dtype=np.int64) - p.input2_zp
    inv, recip_shift = get_reciprocal(np.abs(v2), 31)
    return inv.astype(np.int32), recip_shift.astype(np.int8), (v2 < 0).astype(np.int8)


def evaluate(p: DivParams, inputs: list[np.ndarray]) -> np.ndarray:
    a, b = align_ranks(*inputs)
    if not p.quantized:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            q = a / b
        return np.clip(q, np.float32(p.act_min), np.float32(p.act_max)).astype(np.float32)
    inv_t, shift_t, neg_t = divisor_tables(p)
    a, b = np.broadcast_arrays(a, b)
    k = b.astype(np.int64) + 128
    v1 = a.astype(np.int64) - p.input1_zp
    v1 = np.where(neg_t[k] != 0, -v1, v1)
    headroom = count_leading_sign_bits(v1)
    q = saturating_rounding_doubling_high_mul(wrap_int32(v1 << headroom), inv_t[k].astype(np.int64))
    e = shift_t[k].astype(np.int64) + headroom - p.shift
    out = rounding_divide_by_pot_wide(saturating_rounding_doubling_high_mul(q, p.multiplier), e) + p.output_zp
    return np.clip(out, p.act_min, p.act_max).astype(np.int8)
