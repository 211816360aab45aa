/* QUANTIZE between int8, int16 and int32 (tflite-micro's Requantize): out = clamp(
 * MultiplyByQuantizedMultiplier(in - input_zp) + output_zp) within the output type. */
#ifndef PM_QUANTIZE_S16_H
#define PM_QUANTIZE_S16_H

#include "pm_common.h"

typedef struct {
  int32_t input_zp;
  int32_t output_zp;
  int32_t multiplier; /* in_scale / out_scale, Q31 */
  int32_t shift;
  int32_t act_min; /* the output type's range */
  int32_t act_max;
} pm_requantize_s16_params;

/* in_size / out_size: element bytes (1: int8, 2: int16, 4: int32). */
int pm_requantize_s16(const pm_requantize_s16_params *params, int32_t size, int32_t in_size, const void *in,
                      int32_t out_size, void *out);

#endif /* PM_QUANTIZE_S16_H */
