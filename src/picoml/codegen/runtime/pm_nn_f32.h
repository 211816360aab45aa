/* float32 window and matrix kernels: CONV_2D (grouped too), DEPTHWISE_CONV_2D, FULLY_CONNECTED,
 * AVERAGE_POOL_2D, MAX_POOL_2D, BATCH_MATMUL, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR. NHWC
 * tensors; accumulation in float32 from the bias, in the loop order below (the reference
 * interpreter rounds once from float64: results agree within the float summation-order
 * tolerance that `picoml verify` states). Only float models use this file. */
#ifndef PM_NN_F32_H
#define PM_NN_F32_H

#include "pm_common.h"
#include "pm_math_f32.h"

typedef struct {
  int32_t n, ih, iw, ic;   /* input */
  int32_t oh, ow, oc;      /* output */
  int32_t kh, kw;          /* window (filter) */
  int32_t stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
  int32_t groups;          /* CONV_2D: input channels / filter channels */
  int32_t depth_multiplier; /* DEPTHWISE_CONV_2D */
  float act_min, act_max;  /* fused activation */
} pm_window_f32_params;

/* filter OHWI (I = ic / groups), bias [oc] or NULL */
int pm_conv2d_f32(const pm_window_f32_params *p, const float *in, const float *filter, const float *bias, float *out);
/* filter 1HW(ic * depth_multiplier), bias [oc] or NULL */
int pm_depthwise_conv2d_f32(const pm_window_f32_params *p, const float *in, const float *filter, const float *bias,
                            float *out);
/* average over the taps inside the input (padding not counted) / maximum; then the activation */
int pm_average_pool2d_f32(const pm_window_f32_params *p, const float *in, float *out);
int pm_max_pool2d_f32(const pm_window_f32_params *p, const float *in, float *out);

/* out[r][u] = bias[u] + sum_k in[r][k] w[u][k], clamped; bias may be NULL */
int pm_fully_connected_f32(int32_t rows, int32_t depth, int32_t units, const float *in, const float *weights,
                           const float *bias, float act_min, float act_max, float *out);

typedef struct {
  int32_t batches;      /* output matrices */
  int32_t m, k, n;      /* out [m, n] = lhs [m, k] x rhs [k, n] */
  int32_t lhs_row, lhs_col; /* element strides of lhs (adj_x swaps them) */
  int32_t rhs_row, rhs_col; /* element strides of rhs */
} pm_matmul_f32_params;

/* lhs_off / rhs_off: each output matrix's first element in lhs / rhs (broadcast batches) */
int pm_batch_matmul_f32(const pm_matmul_f32_params *p, const int32_t *lhs_off, const int32_t *rhs_off,
                        const float *lhs, const float *rhs, float *out);

/* NHWC resize: rows[oy] / cols[ox] the source row / column (bilinear: the lower one; rows_hi /
 * cols_hi the upper one, fy / fx the fraction toward it) */
int pm_resize_nearest_f32(int32_t n, int32_t ih, int32_t iw, int32_t c, int32_t oh, int32_t ow, const int32_t *rows,
                          const int32_t *cols, const float *in, float *out);
int pm_resize_bilinear_f32(int32_t n, int32_t ih, int32_t iw, int32_t c, int32_t oh, int32_t ow, const int32_t *rows,
                           const int32_t *rows_hi, const float *fy, const int32_t *cols, const int32_t *cols_hi,
                           const float *fx, const float *in, float *out);

/* Hybrid CONV_2D (float32 input, int8 weights with one scale, LiteRT's per-tensor EvalHybrid):
 * each sample is quantized symmetrically as a whole (range = max|x|, scale = range / 127,
 * q = clamp(round(x * (127 / range)), -127, 127), rounding as LiteRT's x86-64 NEON_2_SSE
 * quantizer: trunc(p +- 0.5) in float32 on the first (size & ~7) values, half away from zero on
 * the rest), convolved in int32, and out = (float)acc * (input scale * filter_scale) + bias,
 * clamped: the same float32 operations as the reference, so the result is exact. The quantized
 * values are recomputed per block of 32 output channels (no scratch buffer). */
int pm_conv2d_hybrid_f32(const pm_window_f32_params *p, const float *in, const int8_t *filter, float filter_scale,
                         const float *bias, float *out);

/* TRANSPOSE_CONV: filter OHWI (I = ic), bias [oc] or NULL; output pixel (oy, ox) gathers the taps
 * ky, kx with oy + pad_h - ky = iy * stride_h (and so for x) inside the input */
int pm_transpose_conv_f32(const pm_window_f32_params *p, const float *in, const float *filter, const float *bias,
                          float *out);

/* ARG_MAX / ARG_MIN over the middle axis of [outer, axis, inner]: the first index of the largest
 * (smallest) value (a NaN never wins a comparison) */
int pm_arg_min_max_f32(int32_t outer, int32_t axis, int32_t inner, int32_t is_max, const float *in, int32_t *out);

#endif /* PM_NN_F32_H */
