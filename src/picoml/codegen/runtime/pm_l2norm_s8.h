/* int8 L2_NORMALIZATION over the last axis (tflite-micro reference_integer_ops::L2Normalization):
 * out = x / ||x|| in units of 1/128, zero point 0; 1/||x|| by GetInvSqrtQuantizedMultiplierExp
 * (five Newton steps in gemmlowp fixed point). */
#ifndef PM_L2NORM_S8_H
#define PM_L2NORM_S8_H

#include "pm_common.h"

int pm_l2norm_s8(int32_t rows, int32_t depth, int32_t input_zp, const int8_t *in, int8_t *out);

#endif /* PM_L2NORM_S8_H */
