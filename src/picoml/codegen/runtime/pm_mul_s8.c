/* MUL int8: (a - zp1) * (b - zp2), rescaled to the output. */
#include "pm_mul_s8.h"

static inline int8_t pm_mul_one(const pm_mul_params *p, int32_t a, int32_t b) {
  const int32_t prod = (a - p->input1_zp) * (b - p->input2_zp);
  return pm_scale_to_s8(prod, p->multiplier, p->shift, p->output_zp, p->act_min, p->act_max);
}

int pm_mul_s8(const pm_mul_params *p, const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out) {
#define PM_MUL_ONE(x, y) pm_mul_one(p, (x), (y))
  PM_BROADCAST_EACH(bc, a, b, out, PM_MUL_ONE);
#undef PM_MUL_ONE
  return PM_OK;
}
