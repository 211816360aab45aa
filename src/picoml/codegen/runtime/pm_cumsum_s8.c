/* int8 CUMSUM: see pm_cumsum_s8.h. */
#include "pm_cumsum_s8.h"

static int32_t pm_cumsum_scaled(const pm_cumsum_params *p, int32_t v) {
  return pm_multiply_by_quantized_multiplier(v * (1 << 20), p->input_multiplier, p->input_shift);
}

int pm_cumsum_s8(const pm_cumsum_params *p, const int8_t *in, int8_t *out) {
  const int32_t start = pm_cumsum_scaled(p, -p->input_zp);
  int32_t o, i, d;
  for (o = 0; o < p->outer; ++o) {
    for (i = 0; i < p->inner; ++i) {
      int32_t acc = start;
      for (d = 0; d < p->depth; ++d) {
        const int32_t dd = p->reverse ? p->depth - 1 - d : d;
        const int32_t at = (o * p->depth + dd) * p->inner + i;
        const int32_t y = pm_cumsum_scaled(p, (int32_t)in[at] - p->input_zp);
        int32_t v;
        if (p->exclusive) {
          v = acc;
          acc += y;
        } else {
          acc += y;
          v = acc;
        }
        v = pm_multiply_by_quantized_multiplier(v, p->output_multiplier, p->output_shift) + p->output_zp;
        out[at] = (int8_t)pm_clamp_i32(v, -128, 127);
      }
    }
  }
  return PM_OK;
}
