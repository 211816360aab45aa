/* int8 LOG_SOFTMAX: see pm_log_softmax_s8.h. */
#include "pm_log_softmax_s8.h"

#include "pm_fixedpoint_math.h"

static int32_t pm_sat_add(int32_t a, int32_t b) {
  const int64_t s = (int64_t)a + (int64_t)b;
  return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

/* log(x) for x >= 1 in FixedPoint<int32, 12>, as FixedPoint<int32, 5> (TFLite's
 * log_x_for_x_greater_than_or_equal_to_1_impl<5, 12>; accumulator with 6 integer bits). */
static int32_t pm_log_q12_to_q5(int32_t z) {
  const int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250;
  const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
  const int32_t input_bits = 12, accum_bits = 6;
  const int32_t shifted_quarter = pm_rescale(536870912, 0, accum_bits);
  const int32_t headroom_a = pm_count_leading_zeros_u32((uint32_t)z);
  const int32_t r_a_tmp = pm_saturating_rounding_multiply_by_pot(z, headroom_a - 1);
  const int32_t r_a = pm_saturating_rounding_multiply_by_pot(pm_fp_mul(r_a_tmp, sqrt_half), 1);
  const int32_t z_a_pow =
      pm_sat_add(pm_saturating_rounding_multiply_by_pot(input_bits - headroom_a, 31 - accum_bits), shifted_quarter);
  const int32_t z_b = pm_fp_mul(z, sqrt_half);
  const int32_t headroom_b = pm_count_leading_zeros_u32((uint32_t)z_b) - 1;
  const int32_t r_b = pm_saturating_rounding_multiply_by_pot(z, headroom_b);
  const int32_t z_b_pow =
      pm_sat_add(pm_saturating_rounding_multiply_by_pot(input_bits - headroom_b, 31 - accum_bits), -shifted_quarter);
  const int32_t r = pm_min_i32(r_a, r_b);
  const int32_t z_pow = pm_max_i32(z_a_pow, z_b_pow);
  const int32_t p = pm_rounding_half_sum(r, sqrt_sqrt_half);
  int32_t q = pm_wrap_sub(r, sqrt_sqrt_half);
  int32_t common_sq, num, inner, denom_minus_one, recip, num_scaled, total;
  q = pm_wrap_add(q, q);
  common_sq = pm_fp_mul(q, q);
  num = pm_wrap_add(pm_fp_mul(q, r), pm_fp_mul(pm_fp_mul(q, common_sq), alpha_n));
  inner = pm_wrap_add(pm_wrap_add(alpha_i, q), pm_fp_mul(alpha_d, common_sq));
  denom_minus_one = pm_wrap_add(pm_fp_mul(p, inner), pm_fp_mul(alpha_f, q));
  recip = pm_one_over_one_plus_x_for_x_in_0_1(denom_minus_one);
  num_scaled = pm_rescale(num, 0, accum_bits);
  total = pm_wrap_add(pm_fp_mul(z_pow, log_2), pm_fp_mul(num_scaled, recip));
  return pm_rescale(total, accum_bits, 5);
}

int pm_log_softmax_s8(const pm_log_softmax_params *p, int32_t rows, int32_t depth, const int8_t *in, int8_t *out) {
  int32_t r, c;
  for (r = 0; r < rows; ++r) {
    const int8_t *x = in + r * depth;
    int8_t *y = out + r * depth;
    int32_t mx = -128, sum = 0, log_sum, adjusted;
    for (c = 0; c < depth; ++c) mx = pm_max_i32(mx, x[c]);
    for (c = 0; c < depth; ++c) {
      const int32_t diff = (int32_t)x[c] - mx;
      if (diff >= p->diff_min) {
        const int32_t q5 = pm_multiply_by_quantized_multiplier(diff, p->input_multiplier, p->input_left_shift);
        sum = pm_wrap_add(sum, pm_rescale(pm_exp_on_negative_values(q5, 5), 0, 12));
      }
    }
    log_sum = pm_log_q12_to_q5(sum);
    adjusted = pm_max_i32(p->diff_min - 1, pm_multiply_by_quantized_multiplier(pm_wrap_add(log_sum, INT32_MIN),
                                                                               p->reverse_multiplier, p->reverse_shift));
    for (c = 0; c < depth; ++c) {
      const int32_t diff = (int32_t)x[c] - mx;
      int32_t v = -128;
      if (diff > adjusted) {
        const int32_t q5 = pm_multiply_by_quantized_multiplier(diff, p->input_multiplier, p->input_left_shift);
        v = pm_clamp_i32(pm_rounding_divide_by_pot(pm_wrap_sub(q5, log_sum), 22) + 127, -128, 127);
      }
      y[c] = (int8_t)v;
    }
  }
  return PM_OK;
}
