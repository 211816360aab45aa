/* DIV int8. Per element: v1 = a - zp1 (negated when the divisor's offset value is negative),
 * q = SaturatingRoundingDoublingHighMul(v1 << clrsb(v1), 1/|v2|), then
 * RoundingDivideByPOT(SRDHM(q, multiplier), recip_shift + clrsb(v1) - shift) + output_zp, clamped.
 * The reciprocal of each of the 256 divisor codes comes from a table (the generator runs the
 * reference kernel's GetReciprocal, zero divisor included), so no Newton iteration runs here. */
#include "pm_div_s8.h"

/* CountLeadingSignBits of |v| <= 256 as TFLite (31 for 0 and -1), without a clz instruction. */
static inline int32_t pm_clrsb_small(int32_t v) {
  uint32_t u = (uint32_t)(v ^ (v >> 31)); /* v < 0: ~v */
  int32_t n = 31;
  while (u != 0u) {
    u >>= 1;
    --n;
  }
  return n;
}

/* gemmlowp RoundingDivideByPOT(x, e) for e in [0, 63] as tflite-micro computes it: the mask
 * (1ll << e) - 1 truncated to int32 (all ones from 32 on) and the shift count taken modulo 32
 * (x86), so for e >= 32 the result is (x >> (e - 32)) + (x >= 0). Defined C on every target. */
static inline int32_t pm_rounding_divide_by_pot_wide(int32_t x, int32_t e) {
  const int32_t mask = e < 32 ? (int32_t)(((uint32_t)1 << e) - 1u) : -1;
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> (e & 31)) + (remainder > threshold ? 1 : 0);
}

static inline int8_t pm_div_one(const pm_div_params *p, int32_t a, int32_t b) {
  const int32_t k = b + 128;
  const int32_t v1 = p->negative[k] ? p->input1_zp - a : a - p->input1_zp;
  const int32_t headroom = pm_clrsb_small(v1);
  const int32_t q = pm_saturating_rounding_doubling_high_mul((int32_t)((uint32_t)v1 << headroom), p->reciprocal[k]);
  const int32_t e = p->recip_shift[k] + headroom - p->shift;
  const int32_t o =
      pm_rounding_divide_by_pot_wide(pm_saturating_rounding_doubling_high_mul(q, p->multiplier), e) + p->output_zp;
  return (int8_t)pm_clamp_i32(o, p->act_min, p->act_max);
}

int pm_div_s8(const pm_div_params *p, const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out) {
  const pm_div_params q = *p;
#define PM_DIV_ONE(x, y) pm_div_one(&q, (x), (y))
  PM_BROADCAST_EACH(bc, a, b, out, PM_DIV_ONE);
#undef PM_DIV_ONE
  return PM_OK;
}
