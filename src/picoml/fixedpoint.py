"""The one fixed-point module: TFLite Micro's rounding, vectorized over numpy arrays.

Every int8 kernel in ``picoml.reference`` (and the generated C, which uses the same
function names with a ``pm_`` prefix) rescales through these functions. They follow
gemmlowp's ``fixedpoint.h`` and TFLite's ``quantization_util.cc`` / ``common.h`` with the
default *double rounding* (TFLITE_SINGLE_ROUNDING off), which is what TFLite Micro's
reference kernels use.

Shift sign convention (TFLite's): ``shift > 0`` is a left shift, ``shift < 0`` a right
shift; ``multiplier`` is a Q31 value in [2^30, 2^31) (or 0).

Arrays are computed in int64 so no intermediate overflows; results that C keeps in int32
are wrapped/saturated exactly where C does.
"""

from __future__ import annotations

import math

import numpy as np

from picoml.errors import UnsupportedError

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier (quantization_util.cc, double-rounding build): real = q * 2^shift.

    ``frexp`` gives real = f * 2^e with f in [0.5, 1); q = round(f * 2^31) rounding half
    away from zero (std::round), a Q31 int32. f rounding up to exactly 1.0 bumps the
    exponent. Exponents below -31 flush to (0, 0), as TFLM does (a multiplier below about
    2^-32 then gives 0 for every input: well defined, matched). The shift is *not*
    clamped: the single-rounding guard ``shift > 30 -> (INT32_MAX, 30)`` is not compiled
    into the TFLM reference build, which applies such a shift as ``x * (1 << shift)``,
    undefined in C for shift >= 31. Kernels refuse those multipliers at prepare time
    (``check_multiplier_shift``).
    """
    if real == 0.0:
        return 0, 0
    f, shift = math.frexp(real)
    q = int(round_half_away(np.float64(f * (1 << 31))))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q), int(shift)


#: largest left shift MultiplyByQuantizedMultiplier applies with defined behaviour: TFLM
#: computes ``x * (1 << shift)`` in int, so a shift of 31 or more is undefined in C.
MAX_LEFT_SHIFT = 30


def check_multiplier_shift(real, shift, where: str, formula: str = "") -> None:
    """Refuse a requantization multiplier whose shift TFLite Micro cannot apply.

    ``real``/``shift`` are scalars or per-channel arrays (the first offending channel is
    named); ``where`` starts the one-line message (op and tensor, e.g. ``"CONV_2D 'c1':
    output 'y'"``), ``formula`` says what the multiplier is. A shift above MAX_LEFT_SHIFT
    means real >= 2^30: TFLM applies it as ``x * (1 << shift)``, undefined in C for 31 and
    more, so its result is not a specification picoml can match; the model is refused.
    """
    sh = np.asarray(shift, np.int64).reshape(-1)
    bad = np.flatnonzero(sh > MAX_LEFT_SHIFT)
    if bad.size:
        i = int(bad[0])
        r = np.asarray(real, np.float64).reshape(-1)
        value = float(r[i] if r.size > 1 else r[0])
        channel = f" channel {i}" if sh.size > 1 else ""
        what = f" ({formula})" if formula else ""
        raise UnsupportedError(
            f"{where}{channel}: requantization multiplier {value:.6g}{what} is 2^30 or more (shift {int(sh[i])} > "
            f"{MAX_LEFT_SHIFT}); TFLite Micro would shift int32 values left by {int(sh[i])} bits, which is "
            "undefined in C"
        )


def quantize_multiplier_checked(real: float, where: str, formula: str = "") -> tuple[int, int]:
    """quantize_multiplier, refusing (UnsupportedError) a shift TFLM cannot apply."""
    m, s = quantize_multiplier(real)
    check_multiplier_shift(real, s, where, formula)
    return m, s


def quantize_multiplier_array(reals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """quantize_multiplier over an array of doubles -> (int32 multipliers, int32 shifts)."""
    reals = np.asarray(reals, np.float64).reshape(-1)
    pairs = [quantize_multiplier(float(r)) for r in reals]
    m = np.array([p[0] for p in pairs], np.int64).astype(np.int32)
    s = np.array([p[1] for p in pairs], np.int32)
    return m, s


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Vectorized std::round / TfLiteRound: halves away from zero (np.round rounds to even).

    picoml's one rounding helper. A torch tensor (QAT's fake quantization) is rounded by the same
    three steps with its own methods, staying a tensor on its device (this module never imports
    torch: a tensor is recognised by its ``copysign`` method, which numpy arrays do not have).
    """
    if hasattr(x, "copysign"):  # torch.Tensor
        a = x.abs()
        fl = a.floor()
        return (fl + (a - fl >= 0.5).to(x.dtype)).copysign(x)
    x = np.asarray(x)
    a = np.abs(x)
    fl = np.floor(a)
    # a - floor(a) is exact, so this avoids the floor(a + 0.5) error at 0.49999997
    return np.copysign(fl + (a - fl >= 0.5), x)


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's complement wrap of an int64 array to int32 range (what C's int32 arithmetic does)."""
    return ((np.asarray(x, np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values (returned as int64).

    gemmlowp: (a*b + nudge) / 2^31 with nudge = 2^30 for a*b >= 0 and 1 - 2^30 otherwise,
    C division truncating toward zero. For negative v = a*b + 1 - 2^30 truncation is
    ceil(v / 2^31) = floor((v + 2^31 - 1) / 2^31) = floor((a*b + 2^30) / 2^31), the same
    expression as the non-negative case, so both are one arithmetic shift:
    (a*b + 2^30) >> 31. The single overflow case a == b == INT32_MIN saturates to INT32_MAX.
    """
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    q = (a * b + (1 << 30)) >> 31
    if np.any(b == INT32_MIN):
        q = np.where((a == INT32_MIN) & (b == INT32_MIN), np.int64(INT32_MAX), q)
    return q


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent rounding half away from zero.

    gemmlowp compares the remainder with a sign-dependent threshold; on exact integers
    that equals (x + 2^(e-1) - [x < 0]) >> e for e >= 1 (and x for e = 0), which is what
    we compute: one add and one shift instead of five passes.
    """
    x = np.asarray(x, np.int64)
    e = np.asarray(exponent, np.int64)
    half = (np.int64(1) << e) >> 1
    return (x + half - ((x < 0) & (e > 0))) >> e


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier, shift) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier(int32 x, int32 m, int shift), double rounding.

    ``multiplier``/``shift`` may be scalars or arrays broadcasting against ``x`` (per-channel).
    ``x * 2^left_shift`` wraps as int32 multiplication does in C.
    """
    shift = np.asarray(shift, np.int64)
    x = np.asarray(x, np.int64)
    if np.any(shift > 0):
        x = wrap_int32(x << np.maximum(shift, 0))
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), np.maximum(-shift, 0))


def multiply_by_quantized_multiplier_smaller_than_one_exp(x: np.ndarray, multiplier, shift) -> np.ndarray:
    """RoundingDivideByPOT(SRDHM(x, m), -shift) for shift <= 0 (ADD's rescale)."""
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), -np.asarray(shift, np.int64))


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: requires 0 < real < 1; shift is <= 0."""
    m, s = quantize_multiplier(real)
    if s > 0:
        raise ValueError(f"multiplier {real} is not smaller than one")
    return m, s


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplierGreaterThanOne: requires real > 1; shift (left) is >= 0."""
    m, s = quantize_multiplier(real)
    if s < 0:
        raise ValueError(f"multiplier {real} is not greater than one")
    return m, s


# ============================================================================
# gemmlowp fixedpoint.h math functions (SOFTMAX, LOGISTIC, TANH), vectorized.
#
# Source: gemmlowp fixedpoint/fixedpoint.h (TFLM ships an identical copy as
# tensorflow/lite/micro/kernels/internal/fixedpoint.h) plus GetReciprocal /
# CalculateInputRadius from TFLite's kernels/internal/common.h and
# quantization_util.cc.
#
# A ``FixedPoint<int32, N>`` value is represented by its raw int32 held in an int64
# numpy array: real = raw / 2^(31 - N). ``integer_bits`` arguments play the role of
# the template parameter N. Multiplication of two fixed-point values is
# SaturatingRoundingDoublingHighMul of the raws (integer bits add up); ``+``/``-``
# are plain int32 additions (they never overflow on the ranges these functions use;
# where a C int32 could wrap, ``wrap_int32`` is applied).
# ============================================================================

INT32_ONE_Q0 = INT32_MAX  # FixedPoint<int32, 0>::One() is the largest raw value


def count_leading_zeros_u32(x: np.ndarray) -> np.ndarray:
    """CountLeadingZeros(static_cast<uint32_t>(x)) for int32 values (32 for zero)."""
    u = np.asarray(x, np.int64) & 0xFFFFFFFF
    _, e = np.frexp(u.astype(np.float64))  # exact: u < 2^53, e = bit length
    return np.where(u == 0, 32, 32 - e).astype(np.int64)


def fp_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """FixedPoint operator*: SaturatingRoundingDoublingHighMul of the raws (IntegerBits add)."""
    return saturating_rounding_doubling_high_mul(a, b)


def saturating_rounding_multiply_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent> on int32 raws.

    exponent > 0: left shift saturating to [INT32_MIN, INT32_MAX] (values beyond
    ±(2^(31-exponent) - 1) saturate); exponent < 0: RoundingDivideByPOT (round half
    away from zero); exponent == 0: identity.
    """
    x = np.asarray(x, np.int64)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    r = wrap_int32(x << exponent)
    r = np.where(x > threshold, INT32_MAX, r)
    return np.where(x < -threshold, INT32_MIN, r)


def rescale(x: np.ndarray, src_integer_bits: int, dst_integer_bits: int) -> np.ndarray:
    """gemmlowp Rescale<dst>(FixedPoint<int32, src>): saturating/rounding POT multiply."""
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def rounding_half_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """gemmlowp RoundingHalfSum<int32>: (a + b ± 1) / 2 in int64, C division (toward zero)."""
    s = np.asarray(a, np.int64) + np.asarray(b, np.int64)
    t = s + np.where(s >= 0, 1, -1)
    return np.where(t >= 0, t // 2, -((-t) // 2))


def _const_q(value_raw: int) -> np.int64:
    return np.int64(value_raw)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out: 4th-order Taylor around -1/8."""
    constant_term = _const_q(1895147668)  # exp(-1/8)
    constant_1_over_3 = _const_q(715827883)
    x = np.asarray(a, np.int64) + (1 << 28)  # a + 1/8
    x2 = fp_mul(x, x)
    x3 = fp_mul(x2, x)
    x4 = fp_mul(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = saturating_rounding_multiply_by_pot(fp_mul(x4_over_4 + x3, constant_1_over_3) + x2, -1)
    return constant_term + fp_mul(constant_term, x + poly)


# exp(-2^k) in Q0.31 for the barrel shifter, k = -2 .. 4
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp exp_on_negative_values: FixedPoint<int32, integer_bits> (a <= 0) -> Q0.31.

    exp of (a mod 1/4) - 1/4 by polynomial, then one multiply by exp(-2^k) for every bit
    of the remainder (the "barrel shifter"); a == 0 gives One(); below -32 gives 0
    (only reachable when integer_bits > 5).
    """
    a = np.asarray(a, np.int64)
    frac_bits = 31 - integer_bits
    one_quarter = np.int64(1) << (frac_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0)
    )
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = np.int64(1) << (frac_bits + exponent)
            result = np.where((remainder & bit) != 0, fp_mul(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(np.int64(1) << (36 - integer_bits))  # -32.0
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_ONE_Q0, result)


def _newton_reciprocal_half_denominator(half_denominator: np.ndarray) -> np.ndarray:
    """The shared Newton-Raphson loop of gemmlowp's 1/(1+x) helpers: x ≈ 1/half_denom in Q2.29."""
    constant_48_over_17 = _const_q(1515870810)
    constant_neg_32_over_17 = _const_q(-1010580540)
    one_q2 = np.int64(1) << 29
    # FixedPoint + and - are int32 additions that wrap (as pm_wrap_add / pm_wrap_sub in C); in
    # range they never do, but DIV's reciprocal of a zero divisor (x = -1.0) overflows them
    x = wrap_int32(constant_48_over_17 + fp_mul(half_denominator, constant_neg_32_over_17))
    for _ in range(3):
        half_denominator_times_x = fp_mul(half_denominator, x)  # Q2
        one_minus = wrap_int32(one_q2 - half_denominator_times_x)
        x = wrap_int32(x + rescale(fp_mul(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0.31 x in [0, 1) -> Q0.31 1/(1+x)."""
    half_denominator = rounding_half_sum(a, INT32_ONE_Q0)
    x = _newton_reciprocal_half_denominator(half_denominator)
    # Rescale<0>(ExactMulByPot<-1>(x)): x reinterpreted as Q1, then to Q0 (saturating)
    return rescale(x, 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1: Q0.31 -> Q0.31 (1-x)/(1+x)."""
    half_denominator = rounding_half_sum(a, INT32_ONE_Q0)
    x = _newton_reciprocal_half_denominator(half_denominator)
    return rescale(x - (np.int64(1) << 29), 2, 0)


def fixedpoint_logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp logistic(FixedPoint<int32, integer_bits>) -> Q0.31.

    1/(1+exp(-|a|)) for the positive side, One - that for the negative side, exactly
    1/2 (raw 2^30) at zero.
    """
    a = np.asarray(a, np.int64)
    positive = a > 0
    abs_input = np.where(positive, a, wrap_int32(-a))
    exp_neg = exp_on_negative_values(wrap_int32(-abs_input), integer_bits)
    result_if_positive = one_over_one_plus_x_for_x_in_0_1(exp_neg)
    result_if_negative = INT32_ONE_Q0 - result_if_positive
    out = np.where(positive, result_if_positive, result_if_negative)
    return np.where(a == 0, np.int64(1) << 30, out)


def fixedpoint_tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp tanh(FixedPoint<int32, integer_bits>) -> Q0.31: (1 - e^-2|a|)/(1 + e^-2|a|) with the sign of a."""
    a = np.asarray(a, np.int64)
    negative = a < 0
    n = np.where(negative, a, wrap_int32(-a))  # -|a|
    # neg_tanh_on_negative_values: ExactMulByPot<1> reinterprets n with one more integer bit
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    out = np.where(negative, wrap_int32(-t), t)
    return np.where(a == 0, 0, out)


def get_reciprocal(x: np.ndarray, x_integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite GetReciprocal (common.h): (Q0.31 reciprocal raw, num_bits_over_unit) per element.

    x (> 0) is normalised so its top bit is set, 1 subtracted, and 1/(1+that) taken;
    ``num_bits_over_unit = x_integer_digits - clz(x)`` says how far the result must
    still be shifted right.
    """
    x = np.asarray(x, np.int64)
    headroom_plus_one = count_leading_zeros_u32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted = ((x & 0xFFFFFFFF) << headroom_plus_one) & 0xFFFFFFFF  # uint32 shift
    shifted_sum_minus_one = wrap_int32(shifted - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius (quantization_util.cc, float build): the largest |input| that
    does not saturate after the rescale, floor((2^ib - 1) * 2^(tsb - ib) / 2^shift) in double."""
    numerator = 1.0 * ((1 << input_integer_bits) - 1) * (1 << (total_signed_bits - input_integer_bits))
    max_input_rescaled = numerator / (1 << input_left_shift)
    return int(math.floor(max_input_rescaled))


def multiply_by_quantized_multiplier_greater_than_one(x: np.ndarray, multiplier: int, left_shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplierGreaterThanOne (double rounding): SRDHM(x * 2^left_shift, m).

    ``x * (1 << left_shift)`` is int32 arithmetic in C; it is wrapped the same way here.
    """
    x = np.asarray(x, np.int64)
    return saturating_rounding_doubling_high_mul(wrap_int32(x * (np.int64(1) << left_shift)), multiplier)


# ----------------------------------------------------------------- int16 fixed point (HARD_SWISH)
INT16_MIN = -(1 << 15)
INT16_MAX = (1 << 15) - 1


def downscale_int32_to_int16_multiplier(m: int) -> int:
    """DownScaleInt32ToInt16Multiplier (common.h): a non-negative Q31 multiplier to Q15, rounding
    half up; values within 2^15 of INT32_MAX give INT16_MAX."""
    if m >= INT32_MAX - (1 << 15):
        return INT16_MAX
    return (m + (1 << 15)) >> 16


def saturating_rounding_doubling_high_mul_int16(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int16: (a·b ± 2^14) / 2^15 truncated toward
    zero (the nudge is 2^14 for a·b ≥ 0, 1 - 2^14 below), INT16_MIN² saturating to INT16_MAX. As in
    the int32 form, both cases are one arithmetic shift of a·b + 2^14."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    q = (a * b + (1 << 14)) >> 15
    return np.where((a == INT16_MIN) & (b == INT16_MIN), np.int64(INT16_MAX), q)


def saturating_doubling_high_mul_int16(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """TFLite's SaturatingDoublingHighMul (reference/hard_swish.h, like Arm SQDMULH): a·b / 2^15
    truncated toward zero, INT16_MIN² saturating to INT16_MAX."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    q = np.where(ab < 0, -((-ab) >> 15), ab >> 15)
    return np.where((a == INT16_MIN) & (b == INT16_MIN), np.int64(INT16_MAX), q)


def saturating_left_shift_int16(x: np.ndarray, amount: int) -> np.ndarray:
    """TFLite's SaturatingLeftShift (reference/hard_swish.h): x · 2^amount clamped to int16."""
    return np.clip(np.asarray(x, np.int64) << amount, INT16_MIN, INT16_MAX)


def rounding_divide_by_pot_int16(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT with int16 values, exponent in [0, 31].

    Up to 15 it is the rounding shift of ``rounding_divide_by_pot``. From 16 on gemmlowp's int16
    mask ``(1 << exponent) - 1`` truncates to -1 (all ones), so the remainder is x itself and the
    threshold -1 + [x < 0]: the result is +1 for every x ≥ 0 (zero included) and -1 below. That
    is what the C computes; HARD_SWISH reaches it with an output multiplier below 2^-16.
    """
    x = np.asarray(x, np.int64)
    if exponent <= 15:
        return rounding_divide_by_pot(x, exponent)
    return np.where(x >= 0, np.int64(1), np.int64(-1))


# ----------------------------------------------------------------- int64 accumulators (16x8 layers)
def multiply_by_quantized_multiplier_int64(x: np.ndarray, multiplier, shift) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier(int64 x, int32 m, int shift) (common.h): the rescale of
    the 16x8 kernels' int64 accumulators. The Q31 multiplier is first rounded to Q15
    (``(m + 2^15) >> 16``, or 0x7FFF from 0x7FFF0000 on), then x·m15 + 2^(14 - shift) is shifted
    right by 15 - shift: one rounding, half up. The result is truncated to int32 as C does.
    ``multiplier``/``shift`` broadcast against ``x`` (per channel)."""
    m = np.asarray(multiplier, np.int64)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, np.int64(0x7FFF))
    total = 15 - np.asarray(shift, np.int64)
    x = np.asarray(x, np.int64)
    return wrap_int32((x * reduced + (np.int64(1) << (total - 1))) >> total)
