/* LOGISTIC (sigmoid), int8 -> int8 (TFLite Micro's reference_integer_ops::Logistic:
 * gemmlowp fixed point, bit-exact). The output is scale 1/256, zero point -128. */
#ifndef PM_LOGISTIC_S8_H
#define PM_LOGISTIC_S8_H

#include "pm_common.h"

typedef struct {
  int32_t input_zp;           /* subtracted from each input */
  int32_t input_multiplier;   /* frexp mantissa of in_scale * 2^27, Q31 */
  int32_t input_left_shift;   /* frexp exponent of in_scale * 2^27, >= 0 */
  int32_t input_range_radius; /* x - input_zp <= -radius gives -128, >= radius gives 127 */
} pm_logistic_params;

/* Elementwise; writing over the input in place is safe. */
int pm_logistic_s8(const pm_logistic_params *params, int32_t size, const int8_t *in, int8_t *out);

#endif /* PM_LOGISTIC_S8_H */
