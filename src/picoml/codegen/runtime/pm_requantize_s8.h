/* RELU (int8, requantizing), RELU6 (int8, clamp) and QUANTIZE int8 -> int8 (TFLM semantics). */
#ifndef PM_REQUANTIZE_S8_H
#define PM_REQUANTIZE_S8_H

#include "pm_common.h"

typedef struct {
  int32_t input_zp;   /* subtracted before scaling */
  int32_t output_zp;  /* added after scaling */
  int32_t multiplier; /* in_scale / out_scale, Q31 */
  int32_t shift;
  int32_t act_min;    /* RELU: max(-128, output_zp); QUANTIZE: -128 */
  int32_t act_max;
} pm_requantize_params;

/* out = clamp(requant(in - input_zp) + output_zp): RELU and QUANTIZE (int8 -> int8). */
int pm_requantize_s8(const pm_requantize_params *params, int32_t size, const int8_t *in, int8_t *out);
/* out = clamp(in, lo, hi): RELU6 in the input's quantization. */
int pm_clamp_s8(int32_t lo, int32_t hi, int32_t size, const int8_t *in, int8_t *out);

#endif /* PM_REQUANTIZE_S8_H */
