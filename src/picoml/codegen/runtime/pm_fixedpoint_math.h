/* picoml C runtime: gemmlowp fixedpoint.h math (exp, 1/(1+x), logistic, tanh) and TFLite's
 * GetReciprocal, for SOFTMAX, LOGISTIC and TANH.
 *
 * C twins of the section "gemmlowp fixedpoint.h math functions" of
 * picoml/fixedpoint.py, with the same names (pm_ prefix). A gemmlowp
 * FixedPoint<int32, N> is its raw int32: real = raw / 2^(31 - N); `integer_bits`
 * arguments play the role of the template parameter N (callers pass constants, so the
 * branches on it fold away once inlined). Products of fixed-point values are
 * SaturatingRoundingDoublingHighMul of the raws (integer bits add up).
 *
 * Sums and differences that gemmlowp forms in int32 are computed here through uint32 and
 * converted back: identical results wherever the int32 operation does not overflow (which
 * is every use in these functions on their documented input ranges), and defined behaviour
 * (two's complement wrap, as picoml's Python twin's wrap_int32) where it would. Signed
 * right shifts are arithmetic (sign-propagating) on every compiler picoml targets (gcc,
 * clang), which pm_common.h already relies on. No float, no division.
 */
#ifndef PM_FIXEDPOINT_MATH_H
#define PM_FIXEDPOINT_MATH_H

#include "pm_common.h"

/* a + b and a - b with int32 two's complement wrap (no undefined behaviour). */
static inline int32_t pm_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t pm_wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* FixedPoint operator*: SaturatingRoundingDoublingHighMul of the raws. */
static inline int32_t pm_fp_mul(int32_t a, int32_t b) { return pm_saturating_rounding_doubling_high_mul(a, b); }

/* CountLeadingZeros(uint32) (32 for zero); portable, no __builtin (no CLZ on Cortex-M0+). */
static inline int32_t pm_count_leading_zeros_u32(uint32_t x) {
  int32_t n = 0;
  if (x == 0u) return 32;
  if ((x & 0xFFFF0000u) == 0u) { n += 16; x <<= 16; }
  if ((x & 0xFF000000u) == 0u) { n += 8; x <<= 8; }
  if ((x & 0xF0000000u) == 0u) { n += 4; x <<= 4; }
  if ((x & 0xC0000000u) == 0u) { n += 2; x <<= 2; }
  if ((x & 0x80000000u) == 0u) { n += 1; }
  return n;
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent>: exponent > 0 shifts left saturating
 * to [INT32_MIN, INT32_MAX]; exponent < 0 is RoundingDivideByPOT; 0 is the identity. */
static inline int32_t pm_saturating_rounding_multiply_by_pot(int32_t x, int32_t exponent) {
  int32_t threshold;
  if (exponent == 0) return x;
  if (exponent < 0) return pm_rounding_divide_by_pot(x, -exponent);
  threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u); /* exponent in [1, 31] */
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << exponent);
}

/* gemmlowp Rescale<dst>(FixedPoint<int32, src>). */
static inline int32_t pm_rescale(int32_t x, int32_t src_integer_bits, int32_t dst_integer_bits) {
  return pm_saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits);
}

/* gemmlowp RoundingHalfSum<int32>: (a + b + sign) / 2 in int64, truncating toward zero. */
static inline int32_t pm_rounding_half_sum(int32_t a, int32_t b) {
  const int64_t s = (int64_t)a + (int64_t)b;
  const int64_t t = s + (s >= 0 ? 1 : -1);
  return (int32_t)(t >= 0 ? (t >> 1) : -((-t) >> 1));
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: 4th-order Taylor expansion around -1/8. */
static inline int32_t pm_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  const int32_t constant_term = 1895147668;    /* exp(-1/8) */
  const int32_t constant_1_over_3 = 715827883; /* 1/3 */
  const int32_t x = pm_wrap_add(a, (int32_t)1 << 28); /* a + 1/8 */
  const int32_t x2 = pm_fp_mul(x, x);
  const int32_t x3 = pm_fp_mul(x2, x);
  const int32_t x4 = pm_fp_mul(x2, x2);
  const int32_t x4_over_4 = pm_saturating_rounding_multiply_by_pot(x4, -2);
  const int32_t poly = pm_saturating_rounding_multiply_by_pot(
      pm_wrap_add(pm_fp_mul(pm_wrap_add(x4_over_4, x3), constant_1_over_3), x2), -1);
  return pm_wrap_add(constant_term, pm_fp_mul(constant_term, pm_wrap_add(x, poly)));
}

/* gemmlowp exp_on_negative_values: FixedPoint<int32, integer_bits> a <= 0 -> Q0.31 exp(a).
 * exp of (a mod 1/4) - 1/4 by polynomial, then one multiply by exp(-2^k) for every set bit
 * of the remainder (the barrel shifter); a == 0 gives One(); below -32 gives 0 (only
 * reachable for integer_bits > 5). integer_bits in [1, 29]. */
static inline int32_t pm_exp_on_negative_values(int32_t a, int32_t integer_bits) {
  /* exp(-2^k) in Q0.31, k = -2 .. 4 */
  static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  const int32_t frac_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
  const int32_t remainder = pm_wrap_sub(a_mod_quarter_minus_one_quarter, a);
  int32_t result = pm_exp_on_interval_between_negative_one_quarter_and_0_excl(
      pm_rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
  int32_t k;
  for (k = -2; k <= 4; ++k) {
    if (integer_bits > k) {
      const uint32_t bit = (uint32_t)1 << (frac_bits + k); /* frac_bits + k in [0, 30] */
      if (((uint32_t)remainder & bit) != 0u) result = pm_fp_mul(result, barrel[k + 2]);
    }
  }
  if (integer_bits > 5) {
    const int32_t clamp = -((int32_t)1 << (36 - integer_bits)); /* -32.0 */
    if (a < clamp) result = 0;
  }
  return a == 0 ? INT32_MAX : result;
}

/* The Newton-Raphson loop shared by gemmlowp's 1/(1+x) helpers: half_denominator (Q1) ->
 * approximately 1/half_denominator in Q2.29. */
static inline int32_t pm_newton_reciprocal_half_denominator(int32_t half_denominator) {
  const int32_t constant_48_over_17 = 1515870810;
  const int32_t constant_neg_32_over_17 = -1010580540;
  const int32_t one_q2 = (int32_t)1 << 29;
  int32_t x = pm_wrap_add(constant_48_over_17, pm_fp_mul(half_denominator, constant_neg_32_over_17));
  int32_t i;
  for (i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = pm_fp_mul(half_denominator, x); /* Q2 */
    const int32_t one_minus = pm_wrap_sub(one_q2, half_denominator_times_x);
    x = pm_wrap_add(x, pm_rescale(pm_fp_mul(x, one_minus), 4, 2));
  }
  return x;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0.31 a in [0, 1) -> Q0.31 1/(1+a). */
static inline int32_t pm_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t x = pm_newton_reciprocal_half_denominator(pm_rounding_half_sum(a, INT32_MAX));
  return pm_rescale(x, 1, 0); /* Rescale<0>(ExactMulByPot<-1>(x)) */
}

/* gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1: Q0.31 a in [0, 1) -> Q0.31 (1-a)/(1+a). */
static inline int32_t pm_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t x = pm_newton_reciprocal_half_denominator(pm_rounding_half_sum(a, INT32_MAX));
  return pm_rescale(pm_wrap_sub(x, (int32_t)1 << 29), 2, 0);
}

/* gemmlowp logistic(FixedPoint<int32, integer_bits>) -> Q0.31: 1/(1+exp(-|a|)) for a > 0,
 * One - that for a < 0, exactly 1/2 at zero. */
static inline int32_t pm_fixedpoint_logistic(int32_t a, int32_t integer_bits) {
  const int32_t abs_input = a > 0 ? a : pm_wrap_sub(0, a);
  const int32_t result_if_positive =
      pm_one_over_one_plus_x_for_x_in_0_1(pm_exp_on_negative_values(pm_wrap_sub(0, abs_input), integer_bits));
  if (a == 0) return (int32_t)1 << 30;
  return a > 0 ? result_if_positive : pm_wrap_sub(INT32_MAX, result_if_positive);
}

/* gemmlowp tanh(FixedPoint<int32, integer_bits>) -> Q0.31: (1 - e^-2|a|)/(1 + e^-2|a|) with
 * the sign of a. -|a| read with one more integer bit is -2|a| (ExactMulByPot<1>). */
static inline int32_t pm_fixedpoint_tanh(int32_t a, int32_t integer_bits) {
  const int32_t n = a < 0 ? a : pm_wrap_sub(0, a); /* -|a| */
  const int32_t t = pm_one_minus_x_over_one_plus_x_for_x_in_0_1(pm_exp_on_negative_values(n, integer_bits + 1));
  if (a == 0) return 0;
  return a < 0 ? pm_wrap_sub(0, t) : t;
}

/* TFLite GetReciprocal (common.h): x (> 0, x_integer_digits integer bits) -> Q0.31 raw of
 * 1/x normalised to [1/2, 1], plus in *num_bits_over_unit how far it must still be shifted
 * right (x_integer_digits - clz(x)). */
static inline int32_t pm_get_reciprocal(int32_t x, int32_t x_integer_digits, int32_t *num_bits_over_unit) {
  const int32_t headroom_plus_one = pm_count_leading_zeros_u32((uint32_t)x);
  const uint32_t shifted = headroom_plus_one < 32 ? ((uint32_t)x << headroom_plus_one) : 0u;
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  return pm_one_over_one_plus_x_for_x_in_0_1((int32_t)(shifted - ((uint32_t)1 << 31)));
}

#endif /* PM_FIXEDPOINT_MATH_H */
