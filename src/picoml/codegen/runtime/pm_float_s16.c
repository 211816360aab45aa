/* float32 <-> int16 edges: see pm_float_s16.h. */
#include "pm_float_s16.h"

int pm_quantize_f32_s16(float scale, int32_t zero_point, int32_t n, const float *in, int16_t *out) {
  const float lo = (float)(-32768 - zero_point), hi = (float)(32767 - zero_point);
  int32_t i;
  for (i = 0; i < n; ++i) {
    const float q = in[i] / scale;
    float r;
    if (q != q) {
      out[i] = (int16_t)zero_point; /* NaN: the zero point, as the reference */
      continue;
    }
    /* round half away from zero without libm: |q| >= 2^23 is already an integer */
    if (q >= 8388608.0f || q <= -8388608.0f) {
      r = q;
    } else {
      const float a = q < 0.0f ? -q : q;
      float t = (float)(int32_t)a;
      if (a - t >= 0.5f) {
        t += 1.0f;
      }
      r = q < 0.0f ? -t : t;
    }
    r = r < lo ? lo : (r > hi ? hi : r);
    out[i] = (int16_t)((int32_t)r + zero_point);
  }
  return PM_OK;
}

int pm_dequantize_s16_f32(float scale, int32_t zero_point, int32_t n, const int16_t *in, float *out) {
  int32_t i;
  /* backward: the float output may start where the int16 input does (it is twice as wide) */
  for (i = n - 1; i >= 0; --i) {
    out[i] = scale * (float)((int32_t)in[i] - zero_point);
  }
  return PM_OK;
}
