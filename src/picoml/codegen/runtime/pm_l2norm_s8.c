/* int8 L2_NORMALIZATION: see pm_l2norm_s8.h. */
#include "pm_l2norm_s8.h"

#include "pm_fixedpoint_math.h"

/* GetInvSqrtQuantizedMultiplierExp(input, reverse_shift = -1): 1/sqrt(input) = mult * 2^shift / 2^31. */
static void pm_inv_sqrt(int32_t input, int32_t *mult, int32_t *shift) {
  const int32_t half_three = (1 << 28) + (1 << 27); /* 1.5 in Q3.28 */
  int32_t out_shift = 11, pairs, half_input, r, i;
  if (input <= 1) {
    *mult = INT32_MAX;
    *shift = 0;
    return;
  }
  while (input >= (1 << 29)) {
    input /= 4;
    ++out_shift;
  }
  pairs = (pm_count_leading_zeros_u32((uint32_t)input) - 1) / 2 - 1;
  out_shift -= pairs;
  input = (int32_t)((uint32_t)input << (2 * pairs));
  half_input = pm_saturating_rounding_multiply_by_pot(input >> 1, -1);
  r = 1 << 28; /* 1.0 in Q3.28 */
  for (i = 0; i < 5; ++i) {
    const int32_t r3 = pm_rescale(pm_fp_mul(pm_fp_mul(r, r), r), 9, 3);
    r = pm_rescale(pm_wrap_sub(pm_fp_mul(half_three, r), pm_fp_mul(half_input, r3)), 6, 3);
  }
  r = pm_fp_mul(r, 1518500250); /* sqrt(2) / 2 in Q0.31 */
  if (out_shift < 0) {
    r = (int32_t)((uint32_t)r << -out_shift);
    out_shift = 0;
  }
  *mult = r;
  *shift = -out_shift;
}

int pm_l2norm_s8(int32_t rows, int32_t depth, int32_t input_zp, const int8_t *in, int8_t *out) {
  int32_t r, c;
  for (r = 0; r < rows; ++r) {
    const int8_t *x = in + r * depth;
    int8_t *y = out + r * depth;
    int32_t acc = 0, mult, shift;
    for (c = 0; c < depth; ++c) {
      const int32_t v = (int32_t)x[c] - input_zp;
      acc += v * v;
    }
    pm_inv_sqrt(acc, &mult, &shift);
    for (c = 0; c < depth; ++c) {
      const int32_t v = pm_multiply_by_quantized_multiplier((int32_t)x[c] - input_zp, mult, shift + 7);
      y[c] = (int8_t)pm_clamp_i32(v, -128, 127);
    }
  }
  return PM_OK;
}
