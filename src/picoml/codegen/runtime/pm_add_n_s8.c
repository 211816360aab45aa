/* int8 ADD_N: see pm_add_n_s8.h. */
#include "pm_add_n_s8.h"

#define PM_ADD_N_LEFT_SHIFT 20

static int32_t pm_add_n_scaled(const pm_add_n_params *p, int32_t v) {
  return pm_multiply_by_quantized_multiplier(v * (1 << PM_ADD_N_LEFT_SHIFT), p->input_multiplier, p->input_shift);
}

int pm_add_n_s8(const pm_add_n_params *p, int32_t size, const int8_t *const *ins, int8_t *out) {
  const int32_t start = pm_add_n_scaled(p, -p->input_zp);
  int32_t i, j;
  for (i = 0; i < size; ++i) {
    int32_t acc = start;
    for (j = 0; j < p->count; ++j) acc += pm_add_n_scaled(p, (int32_t)ins[j][i] - p->input_zp);
    acc = pm_multiply_by_quantized_multiplier(acc, p->output_multiplier, p->output_shift) + p->output_zp;
    out[i] = (int8_t)pm_clamp_i32(acc, -128, 127);
  }
  return PM_OK;
}
