/* MAXIMUM, MINIMUM and SQUARED_DIFFERENCE, int8, with broadcasting (bit-exact with TFLM). */
#ifndef PM_BINARY_S8_H
#define PM_BINARY_S8_H

#include "pm_common.h"

/* TFLM's MAXIMUM / MINIMUM compare the raw codes (no requantization, whatever the scales). */
int pm_maximum_s8(const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out);
int pm_minimum_s8(const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out);

typedef struct {
  int32_t input1_zp;         /* subtracted before scaling */
  int32_t input2_zp;
  int32_t output_zp;         /* added after scaling */
  int32_t input1_multiplier; /* in1_scale / (2 max_in_scale), Q31 */
  int32_t input1_shift;      /* <= 0 */
  int32_t input2_multiplier;
  int32_t input2_shift;
  int32_t output_multiplier; /* (2 max_in_scale)^2 / (2^14 out_scale), Q31 */
  int32_t output_shift;      /* > 0: left shift (wraps like int32, as TFLM) */
} pm_squared_difference_params;

int pm_squared_difference_s8(const pm_squared_difference_params *params, const pm_broadcast *bc, const int8_t *a,
                             const int8_t *b, int8_t *out);

#endif /* PM_BINARY_S8_H */
