/* MAXIMUM, MINIMUM and SQUARED_DIFFERENCE int8 over the shared broadcast walk (PM_BROADCAST_EACH). */
#include "pm_binary_s8.h"

#define PM_MAX_ONE(x, y) ((x) > (y) ? (x) : (y))
#define PM_MIN_ONE(x, y) ((x) < (y) ? (x) : (y))

int pm_maximum_s8(const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out) {
  PM_BROADCAST_EACH(bc, a, b, out, PM_MAX_ONE);
  return PM_OK;
}

int pm_minimum_s8(const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out) {
  PM_BROADCAST_EACH(bc, a, b, out, PM_MIN_ONE);
  return PM_OK;
}

/* Each input offset and shifted left by 7 (|v| < 2^15), rescaled below 1 with non-negative Q31
 * multipliers (pm_srdhm_bounded: |v| < 2^29); the difference (|d| < 2^15) squared fits an int32
 * (d^2 < 2^30) and is rescaled by TFLite's MultiplyByQuantizedMultiplier. */
static inline int8_t pm_squared_difference_one(const pm_squared_difference_params *p, int32_t a, int32_t b) {
  const int32_t sa = (a - p->input1_zp) * (1 << 7);
  const int32_t sb = (b - p->input2_zp) * (1 << 7);
  const int32_t d = pm_rounding_divide_by_pot(pm_srdhm_bounded(sa, p->input1_multiplier), -p->input1_shift) -
                    pm_rounding_divide_by_pot(pm_srdhm_bounded(sb, p->input2_multiplier), -p->input2_shift);
  return pm_scale_to_s8(d * d, p->output_multiplier, p->output_shift, p->output_zp, -128, 127);
}

int pm_squared_difference_s8(const pm_squared_difference_params *p, const pm_broadcast *bc, const int8_t *a,
                             const int8_t *b, int8_t *out) {
  const pm_squared_difference_params q = *p;
#define PM_SQDIFF_ONE(x, y) pm_squared_difference_one(&q, (x), (y))
  PM_BROADCAST_EACH(bc, a, b, out, PM_SQDIFF_ONE);
#undef PM_SQDIFF_ONE
  return PM_OK;
}
