/* MUL, int8 (reference_integer_ops::Mul, bit-exact). */
#ifndef PM_MUL_S8_H
#define PM_MUL_S8_H

#include "pm_common.h"

typedef struct {
  int32_t input1_zp;  /* subtracted before multiplying */
  int32_t input2_zp;
  int32_t output_zp;  /* added after scaling */
  int32_t multiplier; /* in1_scale * in2_scale / out_scale, Q31 */
  int32_t shift;
  int32_t act_min;
  int32_t act_max;
} pm_mul_params;

int pm_mul_s8(const pm_mul_params *params, const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out);

#endif /* PM_MUL_S8_H */
