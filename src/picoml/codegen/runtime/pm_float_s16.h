/* The float32 <-> int16 edges of 16x8 models: QUANTIZE float32 -> int16 (AffineQuantize: the
 * division in float32, rounded half away from zero, clamped) and DEQUANTIZE int16 -> float32. */
#ifndef PM_FLOAT_S16_H
#define PM_FLOAT_S16_H

#include "pm_common.h"

int pm_quantize_f32_s16(float scale, int32_t zero_point, int32_t n, const float *in, int16_t *out);
int pm_dequantize_s16_f32(float scale, int32_t zero_point, int32_t n, const int16_t *in, float *out);

#endif /* PM_FLOAT_S16_H */
