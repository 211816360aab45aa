/* Elementwise int8 -> int8 through a 256-entry table (LOGISTIC, TANH on MCU targets; LEAKY_RELU
 * on every target). The code generator fills the table by running the reference kernel on all
 * 256 inputs, so the result is exact by construction and costs a load per element instead of
 * gemmlowp's fixed-point exp (hundreds of instructions per element on Cortex-M0+) or two
 * requantizations. */
#ifndef PM_LUT_S8_H
#define PM_LUT_S8_H

#include "pm_common.h"

/* out[i] = table[in[i] + 128]; writing over the input in place is safe. */
int pm_lut_s8(const int8_t *table, int32_t size, const int8_t *in, int8_t *out);

/* pm_lut_s8 for inputs from first_code on (RSQRT: TFLM fails an inference with an input below
 * the zero point): PM_ERROR if any in[i] < first_code, checked before anything is written. */
int pm_lut_from_s8(const int8_t *table, int32_t first_code, int32_t size, const int8_t *in, int8_t *out);

/* One table per channel (an int8 ADD or MUL by a per-channel constant: an unfused BatchNorm):
 * out[p * channels + c] = tables[c * 256 + in[p * channels + c] + 128] for every pixel p;
 * writing over the input in place is safe. */
int pm_lut_channels_s8(const int8_t *tables, int32_t channels, int32_t pixels, const int8_t *in, int8_t *out);

#endif /* PM_LUT_S8_H */
