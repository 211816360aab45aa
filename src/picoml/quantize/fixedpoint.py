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

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier (quantization_util.cc): real = q * 2^shift, q a Q31 int32.

    ``frexp`` gives real = f * 2^e with f in [0.5, 1); q = round(f * 2^31) rounding half
    away from zero (std::round). f rounding up to exactly 1.0 bumps the exponent.
    Exponents below -31 flush to zero; above 30 saturate (TFLM's guard).
    """
    if real == 0.0:
        return 0, 0
    f, shift = math.frexp(real)
    q = _round_half_away(f * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return INT32_MAX, 30
    return int(q), int(shift)


def quantize_multiplier_array(reals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """quantize_multiplier over an array of doubles -> (int32 multipliers, int32 shifts)."""
    pairs = [quantize_multiplier(float(r)) for r in np.asarray(reals, np.float64).reshape(-1)]
    m = np.array([p[0] for p in pairs], np.int64).astype(np.int32)
    s = np.array([p[1] for p in pairs], np.int32)
    return m, s


def _round_half_away(x: float) -> int:
    """std::round on a double."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Vectorized std::round / TfLiteRound: halves away from zero (np.round rounds to even)."""
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

    (a*b*2 + 2^31) >> 32 with the nudge sign-dependent and division truncating toward
    zero; the single overflow case a == b == INT32_MIN saturates to INT32_MAX.
    """
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    s = ab + nudge
    # C integer division by 2^31 truncates toward zero
    q = np.where(s >= 0, s >> 31, -((-s) >> 31))
    return np.where((a == INT32_MIN) & (b == INT32_MIN), np.int64(INT32_MAX), q)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent rounding half away from zero."""
    x = np.asarray(x, np.int64)
    e = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier, shift) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier(int32 x, int32 m, int shift), double rounding.

    ``multiplier``/``shift`` may be scalars or arrays broadcasting against ``x`` (per-channel).
    ``x * 2^left_shift`` wraps as int32 multiplication does in C.
    """
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    xl = wrap_int32(np.asarray(x, np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(xl, multiplier), right)


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
