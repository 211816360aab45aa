/* SOFTMAX int8, per row: diff = x - max(row); live entries (diff >= diff_min) are rescaled
 * to Q5.26 and exponentiated to Q0.31; their sum is accumulated in Q12.19; the output is
 * exp * (1 / sum), rounded to Q0.8, minus 128. exp is evaluated twice per entry (for the
 * sum, then for the output), as TFLM does, so no scratch memory is needed. */
#include "pm_softmax_s8.h"

#include "pm_fixedpoint_math.h"

#define PM_SOFTMAX_DIFF_INTEGER_BITS 5
#define PM_SOFTMAX_ACCUM_INTEGER_BITS 12

/* exp(beta * in_scale * diff) in Q0.31 for a live diff (diff_min <= diff <= 0).
 * MultiplyByQuantizedMultiplierGreaterThanOne: diff * 2^shift cannot overflow because
 * |diff| <= |diff_min|, the radius that keeps the result within Q5.26 (for shift 31 the
 * radius is 0, so only diff = 0 reaches here); the shift is done on uint32 to stay defined. */
static int32_t pm_softmax_exp(const pm_softmax_params *p, int32_t diff) {
  const int32_t shifted = (int32_t)((uint32_t)diff << p->input_left_shift);
  const int32_t scaled = pm_saturating_rounding_doubling_high_mul(shifted, p->input_multiplier);
  return pm_exp_on_negative_values(scaled, PM_SOFTMAX_DIFF_INTEGER_BITS);
}

int pm_softmax_s8(const pm_softmax_params *p, int32_t rows, int32_t depth, const int8_t *in, int8_t *out) {
  int status = PM_OK;
  int32_t r, c;
  for (r = 0; r < rows; ++r, in += depth, out += depth) {
    int32_t max = -128;
    uint32_t sum = 0u; /* Q12.19; int32 in TFLM, wraps only for rows > 4096 (then rejected) */
    int32_t num_bits_over_unit, exponent, recip;
    for (c = 0; c < depth; ++c) max = pm_max_i32(max, in[c]);
    for (c = 0; c < depth; ++c) {
      const int32_t diff = in[c] - max;
      if (diff >= p->diff_min) {
        sum += (uint32_t)pm_rescale(pm_softmax_exp(p, diff), 0, PM_SOFTMAX_ACCUM_INTEGER_BITS);
      }
    }
    recip = pm_get_reciprocal((int32_t)sum, PM_SOFTMAX_ACCUM_INTEGER_BITS, &num_bits_over_unit);
    exponent = num_bits_over_unit + 31 - 8;
    if (exponent < 0 || exponent > 31) {
      /* TFLITE_CHECK(0 <= exponent <= 31): the sum of exponentials reached 512 */
      for (c = 0; c < depth; ++c) out[c] = -128;
      status = PM_ERROR;
      continue;
    }
    for (c = 0; c < depth; ++c) {
      const int32_t diff = in[c] - max;
      if (diff >= p->diff_min) {
        const int32_t unsat = pm_rounding_divide_by_pot(pm_fp_mul(recip, pm_softmax_exp(p, diff)), exponent);
        out[c] = (int8_t)pm_clamp_i32(unsat - 128, -128, 127);
      } else {
        out[c] = -128;
      }
    }
  }
  return status;
}
