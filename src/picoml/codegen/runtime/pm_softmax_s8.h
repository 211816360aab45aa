/* SOFTMAX over the last axis, int8 -> int8 (TFLite Micro's reference Softmax: gemmlowp
 * fixed point, no lookup table; bit-exact). The output is TFLM's required int8
 * quantization: scale 1/256, zero point -128. */
#ifndef PM_SOFTMAX_S8_H
#define PM_SOFTMAX_S8_H

#include "pm_common.h"

typedef struct {
  int32_t input_multiplier; /* beta * in_scale * 2^26, Q31 (QuantizeMultiplierGreaterThanOne) */
  int32_t input_left_shift; /* its shift, in [0, 31] */
  int32_t diff_min;         /* <= 0: entries with x - max(row) below this give -128 */
} pm_softmax_params;

/* rows * depth values, softmax of each row of depth. Returns PM_ERROR (the row is then
 * written as -128) where TFLM aborts: a row whose sum of exponentials reaches 512. Writing
 * over the input in place is safe. */
int pm_softmax_s8(const pm_softmax_params *params, int32_t rows, int32_t depth, const int8_t *in, int8_t *out);

#endif /* PM_SOFTMAX_S8_H */
