/* LOGISTIC int8: v = x - zp; saturated outside (-radius, radius), else v is rescaled to
 * Q4.27 (MultiplyByQuantizedMultiplier, double rounding), gemmlowp logistic gives Q0.31,
 * rounded to Q0.8 and offset by -128. Inside the radius |v * 2^shift| < 15 * 2^27, so the
 * rescale cannot overflow (and shift <= 30 whenever the radius is non-zero). */
#include "pm_logistic_s8.h"

#include "pm_fixedpoint_math.h"

int pm_logistic_s8(const pm_logistic_params *p, int32_t size, const int8_t *in, int8_t *out) {
  int32_t i;
  for (i = 0; i < size; ++i) {
    const int32_t v = in[i] - p->input_zp;
    if (v <= -p->input_range_radius) {
      out[i] = -128;
    } else if (v >= p->input_range_radius) {
      out[i] = 127;
    } else {
      const int32_t q4 = pm_multiply_by_quantized_multiplier(v, p->input_multiplier, p->input_left_shift);
      const int32_t q0 = pm_fixedpoint_logistic(q4, 4);
      out[i] = (int8_t)pm_clamp_i32(pm_rounding_divide_by_pot(q0, 31 - 8) - 128, -128, 127);
    }
  }
  return PM_OK;
}
