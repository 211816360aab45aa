/* picoml C runtime: shared types and TFLite Micro's fixed-point arithmetic.
 *
 * The functions here are the C twins of picoml/quantize/fixedpoint.py and carry the same
 * names (pm_ prefix). Rounding is TFLite Micro's double rounding (gemmlowp
 * SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT). Shift convention:
 * shift > 0 shifts left, shift < 0 shifts right. No float anywhere.
 */
#ifndef PM_COMMON_H
#define PM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define PM_OK 0
#define PM_ERROR 1

/* NHWC extents of one tensor (n: batch, h: height, w: width, c: channels). */
typedef struct {
  int32_t n;
  int32_t h;
  int32_t w;
  int32_t c;
} pm_dims;

/* Requantization of one output channel set: Q31 multipliers and shifts, one per channel. */
typedef struct {
  const int32_t *multiplier; /* Q31, in [2^30, 2^31) or 0 */
  const int32_t *shift;      /* > 0 left, < 0 right */
} pm_per_channel_quant;

static inline int32_t pm_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t pm_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t pm_clamp_i32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* gemmlowp SaturatingRoundingDoublingHighMul: (a*b*2 + nudge) >> 32, truncating division. */
static inline int32_t pm_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  int64_t ab;
  int64_t nudge;
  if (a == INT32_MIN && b == INT32_MIN) {
    return INT32_MAX;
  }
  ab = (int64_t)a * (int64_t)b;
  nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  /* gemmlowp divides by 2^31 truncating toward zero; shifts of the magnitude do the same
   * without a 64-bit division call on cores that lack one */
  ab += nudge;
  return (int32_t)(ab >= 0 ? (ab >> 31) : -((-ab) >> 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, rounding half away from zero. */
static inline int32_t pm_rounding_divide_by_pot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)((1u << exponent) - 1u); /* exponent in [0, 31] */
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding). x * 2^left wraps like int32. */
static inline int32_t pm_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  const int32_t xl = (int32_t)((uint32_t)x << left);
  return pm_rounding_divide_by_pot(pm_saturating_rounding_doubling_high_mul(xl, multiplier), right);
}

/* Accumulator -> int8 output: MultiplyByQuantizedMultiplier, + output_zp, clamp.
 * Same result as pm_multiply_by_quantized_multiplier for |acc << left| < 2^29 (the code
 * generator proves that bound for every layer from its weights and bias). Then:
 * - SaturatingRoundingDoublingHighMul(a, m) is (a*m + 2^30) >> 31 (m >= 0 never saturates);
 * - RoundingDivideByPOT(v, e) is (2v + 2^e - [v < 0]) >> (e + 1) for every e >= 0: for e >= 1
 *   it equals gemmlowp's (v + 2^(e-1) - [v < 0]) >> e because the doubled numerator is even,
 *   and for e = 0 it returns v. No branch, no int32 overflow (|v| < 2^29).
 * Precondition: shift >= -30 (a shift of -31 gives 0 either way under the bound, so the
 * generator writes -30 for it; e + 1 <= 31 keeps the shift defined). */
static inline int8_t pm_requant_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_zp,
                                   int32_t act_min, int32_t act_max) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t e = left - shift; /* right shift, >= 0 */
  const int32_t v = (int32_t)(((int64_t)(int32_t)((uint32_t)acc << left) * multiplier + ((int64_t)1 << 30)) >> 31);
  const int32_t r = (int32_t)((uint32_t)v * 2u + (1u << e) + (uint32_t)(v >> 31)) >> (e + 1);
  return (int8_t)pm_clamp_i32(r + output_zp, act_min, act_max);
}

/* The general form (any acc), kept for ops whose inputs are not bounded. */
static inline int8_t pm_scale_to_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_zp,
                                    int32_t act_min, int32_t act_max) {
  int32_t v = pm_multiply_by_quantized_multiplier(acc, multiplier, shift) + output_zp;
  return (int8_t)pm_clamp_i32(v, act_min, act_max);
}

/* Broadcasting of two operands onto an output of up to PM_MAX_DIMS dimensions (TFLite's
 * trailing-aligned rules). stride_* is 0 along a broadcast dimension. */
#define PM_MAX_DIMS 6
typedef struct {
  int32_t rank;                  /* dimensions in use */
  int32_t size;                  /* output elements */
  int32_t shape[PM_MAX_DIMS];    /* output extents, outermost first */
  int32_t stride_a[PM_MAX_DIMS]; /* element strides of operand a (0 = broadcast) */
  int32_t stride_b[PM_MAX_DIMS]; /* element strides of operand b */
  int32_t same_shape;            /* 1: no broadcasting, operands and output are flat arrays */
} pm_broadcast;

/* Advance a multi-index over bc->shape; returns the new offsets into a and b. */
static inline void pm_broadcast_next(const pm_broadcast *bc, int32_t *idx, int32_t *off_a, int32_t *off_b) {
  int32_t d = bc->rank - 1;
  while (d >= 0) {
    ++idx[d];
    *off_a += bc->stride_a[d];
    *off_b += bc->stride_b[d];
    if (idx[d] < bc->shape[d]) return;
    *off_a -= bc->stride_a[d] * bc->shape[d];
    *off_b -= bc->stride_b[d] * bc->shape[d];
    idx[d] = 0;
    --d;
  }
}

#endif /* PM_COMMON_H */
