/* QUANTIZE between int8, int16 and int32: see pm_quantize_s16.h. */
#include "pm_quantize_s16.h"

static int32_t pm_load_q(const void *p, int32_t size, int32_t i) {
  if (size == 1) {
    return ((const int8_t *)p)[i];
  }
  if (size == 2) {
    return ((const int16_t *)p)[i];
  }
  return ((const int32_t *)p)[i];
}

int pm_requantize_s16(const pm_requantize_s16_params *p, int32_t size, int32_t in_size, const void *in,
                      int32_t out_size, void *out) {
  int32_t k;
  /* forward: an output that shares the input's bytes (the planner's in-place case) has its element size */
  for (k = 0; k < size; ++k) {
    const int32_t x = (int32_t)((uint32_t)pm_load_q(in, in_size, k) - (uint32_t)p->input_zp);
    const int32_t v = pm_clamp_i32(pm_multiply_by_quantized_multiplier(x, p->multiplier, p->shift) + p->output_zp,
                                   p->act_min, p->act_max);
    if (out_size == 1) {
      ((int8_t *)out)[k] = (int8_t)v;
    } else if (out_size == 2) {
      ((int16_t *)out)[k] = (int16_t)v;
    } else {
      ((int32_t *)out)[k] = v;
    }
  }
  return PM_OK;
}
