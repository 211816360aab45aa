/* DIV, int8 (TFLM div.cc / reference_ops::DivElementwise, bit-exact), with broadcasting. */
#ifndef PM_DIV_S8_H
#define PM_DIV_S8_H

#include "pm_common.h"

typedef struct {
  int32_t input1_zp;
  int32_t output_zp;
  int32_t multiplier; /* QuantizeMultiplier(in1_scale / (in2_scale out_scale)), Q31 */
  int32_t shift;      /* in [-25, 22] (the generator refuses others) */
  int32_t act_min;
  int32_t act_max;
  /* per divisor code b (index b + 128), from the reference kernel: TFLite's GetReciprocal of
   * |b - zp2| (Q0.31 raw and its recip_shift) and whether b - zp2 < 0 (both operands change sign) */
  const int32_t *reciprocal;
  const int8_t *recip_shift;
  const int8_t *negative;
} pm_div_params;

int pm_div_s8(const pm_div_params *params, const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out);

#endif /* PM_DIV_S8_H */
