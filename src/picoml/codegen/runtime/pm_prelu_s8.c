/* PRELU int8: two requantizations, by the sign of the input (see pm_prelu_s8.h). */
#include "pm_prelu_s8.h"

static inline int8_t pm_prelu_one(const pm_prelu_params *p, int32_t x, int32_t a) {
  const int32_t v = x - p->input_zp;
  int32_t out;
  if (v >= 0) {
    out = pm_multiply_by_quantized_multiplier(v, p->multiplier_1, p->shift_1);
  } else {
    out = pm_multiply_by_quantized_multiplier(v * (a - p->alpha_zp), p->multiplier_2, p->shift_2);
  }
  return (int8_t)pm_clamp_i32(out + p->output_zp, -128, 127);
}

int pm_prelu_s8(const pm_prelu_params *p, const pm_broadcast *bc, const int8_t *in, const int8_t *alpha,
                int8_t *out) {
  int32_t i;
  if (bc->same_shape) {
    for (i = 0; i < bc->size; ++i) out[i] = pm_prelu_one(p, in[i], alpha[i]);
  } else {
    int32_t idx[PM_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
    int32_t oa = 0, ob = 0;
    for (i = 0; i < bc->size; ++i) {
      out[i] = pm_prelu_one(p, in[oa], alpha[ob]);
      pm_broadcast_next(bc, idx, &oa, &ob);
    }
  }
  return PM_OK;
}
