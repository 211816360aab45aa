/* ADD int8: each input is offset, shifted left by 20, scaled to a common scale, summed,
 * rescaled to the output. Writing over an input in place is safe (element i is read first).
 * Every product is bounded, so the high multiplies need no 64-bit arithmetic: |a - zp| <= 255
 * gives |a << 20| < 2^28, the input multipliers are below 1 so each scaled input stays below
 * 2^28 and their sum below 2^29, and the multipliers are non-negative Q31 values
 * (pm_srdhm_bounded: SMMULR on Armv7E-M, 16-bit halves on Armv6-M and vectorizing hosts). */
#include "pm_add_s8.h"

static inline int8_t pm_add_one(const pm_add_params *p, int32_t a, int32_t b) {
  const int32_t sa = (a - p->input1_zp) * (1 << p->left_shift);
  const int32_t sb = (b - p->input2_zp) * (1 << p->left_shift);
  const int32_t ra = pm_rounding_divide_by_pot(pm_srdhm_bounded(sa, p->input1_multiplier), -p->input1_shift);
  const int32_t rb = pm_rounding_divide_by_pot(pm_srdhm_bounded(sb, p->input2_multiplier), -p->input2_shift);
  const int32_t sum = ra + rb;
  const int32_t o =
      pm_rounding_divide_by_pot(pm_srdhm_bounded(sum, p->output_multiplier), -p->output_shift) + p->output_zp;
  return (int8_t)pm_clamp_i32(o, p->act_min, p->act_max);
}

int pm_add_s8(const pm_add_params *p, const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out) {
  int32_t i;
  if (bc->same_shape) {
    for (i = 0; i < bc->size; ++i) out[i] = pm_add_one(p, a[i], b[i]);
  } else {
    int32_t idx[PM_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
    int32_t oa = 0, ob = 0;
    for (i = 0; i < bc->size; ++i) {
      out[i] = pm_add_one(p, a[oa], b[ob]);
      pm_broadcast_next(bc, idx, &oa, &ob);
    }
  }
  return PM_OK;
}
