#include "pm_requantize_s8.h"

int pm_requantize_s8(const pm_requantize_params *p, int32_t size, const int8_t *in, int8_t *out) {
  int32_t i;
  for (i = 0; i < size; ++i) {
    out[i] = pm_scale_to_s8(in[i] - p->input_zp, p->multiplier, p->shift, p->output_zp, p->act_min, p->act_max);
  }
  return PM_OK;
}

int pm_clamp_s8(int32_t lo, int32_t hi, int32_t size, const int8_t *in, int8_t *out) {
  int32_t i;
  for (i = 0; i < size; ++i) out[i] = (int8_t)pm_clamp_i32(in[i], lo, hi);
  return PM_OK;
}
