/* int8 LOG_SOFTMAX over the last axis (tflite-micro reference_ops::LogSoftmaxQuantized): the
 * output has scale 16/256 and zero point 127; gemmlowp fixed point (Q5.26 differences, a Q12.19
 * sum of exponentials, log_x_for_x_greater_than_or_equal_to_1). */
#ifndef PM_LOG_SOFTMAX_S8_H
#define PM_LOG_SOFTMAX_S8_H

#include "pm_common.h"

typedef struct {
  int32_t input_multiplier;
  int32_t input_left_shift;
  int32_t reverse_multiplier;
  int32_t reverse_shift; /* <= 0 */
  int32_t diff_min;
} pm_log_softmax_params;

int pm_log_softmax_s8(const pm_log_softmax_params *params, int32_t rows, int32_t depth, const int8_t *in, int8_t *out);

#endif /* PM_LOG_SOFTMAX_S8_H */
