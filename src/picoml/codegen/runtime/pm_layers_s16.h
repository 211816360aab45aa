/* 16x8 layers: int16 activations, int8 weights (TFLite's int16 FullyConnected, ConvPerChannel and
 * DepthwiseConvPerChannel as tflite-micro runs them). No zero points (16x8 activations are
 * symmetric); acc = sum of x * w (+ bias), rescaled per output channel, clamped, stored as int16.
 * acc64 = 1: an int64 accumulator and TFLite's int64 MultiplyByQuantizedMultiplier (the Q31
 * multiplier rounded to Q15, one rounding shift); acc64 = 0: an int32 accumulator (wrapping) and
 * the int32 MultiplyByQuantizedMultiplier of the int8 kernels. The generator picks per layer what
 * tflite-micro picks (int64 bias; int32 bias; no bias: FULLY_CONNECTED int64, CONV_2D int32). */
#ifndef PM_LAYERS_S16_H
#define PM_LAYERS_S16_H

#include "pm_batch_matmul_s8.h" /* pm_batch_matmul_params: the geometry, shared with the int8 kernel */
#include "pm_common.h"

typedef struct {
  int32_t stride_h;
  int32_t stride_w;
  int32_t dilation_h;
  int32_t dilation_w;
  int32_t pad_h;
  int32_t pad_w;
  int32_t depth_multiplier; /* depthwise only */
  int32_t per_group;        /* CONV_2D: output channels per group (input channels / filter channels groups) */
  int32_t act_min;
  int32_t act_max;
  int32_t acc64; /* 1: int64 accumulator and rescale; 0: int32 */
} pm_conv_s16_params;

typedef struct {
  int32_t batches;
  int32_t depth;
  int32_t units;
  int32_t act_min;
  int32_t act_max;
  int32_t acc64;
} pm_fully_connected_s16_params;

/* Per output channel: multiplier (Q31) and shift (> 0: left) as TFLite's QuantizeMultiplier gives them. */
typedef struct {
  const int32_t *multiplier;
  const int32_t *shift;
} pm_rescale_s16;

/* TFLite MultiplyByQuantizedMultiplier(int64 x, m, shift): (x * m15 + 2^(14 - shift)) >> (15 - shift),
 * m15 = round(m / 2^16) (0x7FFF from 0x7FFF0000 on), the result truncated to int32. shift <= 14. */
static inline int32_t pm_multiply_by_quantized_multiplier_i64(int64_t x, int32_t multiplier, int32_t shift) {
  const int64_t reduced = multiplier < 0x7FFF0000 ? (int64_t)((multiplier + ((int32_t)1 << 15)) >> 16) : (int64_t)0x7FFF;
  const int32_t total = 15 - shift;
  /* products and sums modulo 2^64 (the reference's int64 arithmetic), then an arithmetic shift */
  const int64_t r = (int64_t)((uint64_t)x * (uint64_t)reduced + ((uint64_t)1 << (total - 1))) >> total;
  return (int32_t)(uint32_t)(uint64_t)r;
}

/* TRANSPOSE_CONV 16x8: every output pixel gathers the input pixels whose taps land on it (out_y =
 * in_y * stride - pad + ky), int64 accumulators, + bias, the int64 rescale. q0 / r0: pad / stride and
 * pad % stride, so the kernel walks the taps without dividing. */
typedef struct {
  int32_t stride_h;
  int32_t stride_w;
  int32_t q0_h;
  int32_t r0_h;
  int32_t q0_w;
  int32_t r0_w;
  int32_t act_min;
  int32_t act_max;
} pm_transpose_conv_s16_params;

int pm_transpose_conv_s16(const pm_transpose_conv_s16_params *params, const pm_rescale_s16 *rq,
                          const pm_dims *in_dims, const int16_t *in, const pm_dims *f_dims, const int8_t *filter,
                          const int64_t *bias, const pm_dims *out_dims, int16_t *out);
/* BATCH_MATMUL int16 (BatchMatMul<int16_t, int64_t>): the geometry fields of pm_batch_matmul_params
 * (zero points 0: unused), acc = sum lhs * rhs in int64, the int64 rescale, clamp to int16. */
int pm_batch_matmul_s16(const pm_batch_matmul_params *params, const int16_t *lhs, const int16_t *rhs, int16_t *out);
int pm_fully_connected_s16(const pm_fully_connected_s16_params *params, const pm_rescale_s16 *rq, const int16_t *in,
                           const int8_t *weights, const int64_t *bias, int16_t *out);
int pm_conv2d_s16(const pm_conv_s16_params *params, const pm_rescale_s16 *rq, const pm_dims *in_dims,
                  const int16_t *in, const pm_dims *f_dims, const int8_t *filter, const int64_t *bias,
                  const pm_dims *out_dims, int16_t *out);
int pm_depthwise_conv2d_s16(const pm_conv_s16_params *params, const pm_rescale_s16 *rq, const pm_dims *in_dims,
                            const int16_t *in, const pm_dims *f_dims, const int8_t *filter, const int64_t *bias,
                            const pm_dims *out_dims, int16_t *out);

#endif /* PM_LAYERS_S16_H */
