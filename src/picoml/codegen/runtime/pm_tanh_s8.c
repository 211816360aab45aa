/* TANH int8: v = x - zp; saturated outside (-radius, radius), else v is rescaled to Q4.27
 * (MultiplyByQuantizedMultiplier, double rounding), gemmlowp tanh gives Q0.31, rounded to
 * Q0.7 and clamped (tanh -> 1 rounds to 128 -> 127). Inside the radius the rescale cannot
 * overflow (see pm_logistic_s8.c). */
#include "pm_tanh_s8.h"

#include "pm_fixedpoint_math.h"

int pm_tanh_s8(const pm_tanh_params *p, int32_t size, const int8_t *in, int8_t *out) {
  int32_t i;
  for (i = 0; i < size; ++i) {
    const int32_t v = in[i] - p->input_zp;
    if (v <= -p->input_range_radius) {
      out[i] = -128;
    } else if (v >= p->input_range_radius) {
      out[i] = 127;
    } else {
      const int32_t q4 = pm_multiply_by_quantized_multiplier(v, p->input_multiplier, p->input_left_shift);
      const int32_t q0 = pm_fixedpoint_tanh(q4, 4);
      out[i] = (int8_t)pm_clamp_i32(pm_rounding_divide_by_pot(q0, 31 - 7), -128, 127);
    }
  }
  return PM_OK;
}
