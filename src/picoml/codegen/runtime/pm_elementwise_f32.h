/* float32 elementwise kernels: binary ops with broadcasting, unary ops and activations,
 * QUANTIZE (float32 -> int8), DEQUANTIZE (int8 -> float32), SOFTMAX and the reductions
 * (MEAN, SUM, REDUCE_MAX, REDUCE_MIN). Only float models (or int8 models with a float
 * interface) use these files: an int8 model's library stays float-free. */
#ifndef PM_ELEMENTWISE_F32_H
#define PM_ELEMENTWISE_F32_H

#include "pm_common.h"
#include "pm_math_f32.h"

/* binary ops: out = ONE(a, b), clamped to [lo, hi] (the fused activation) */
#define PM_F32_ADD 0
#define PM_F32_SUB 1
#define PM_F32_MUL 2
#define PM_F32_DIV 3
#define PM_F32_MAXIMUM 4
#define PM_F32_MINIMUM 5
#define PM_F32_SQUARED_DIFFERENCE 6
#define PM_F32_PRELU 7 /* a >= 0 ? a : a * b (b: alpha) */

int pm_binary_f32(int32_t kind, const pm_broadcast *bc, const float *a, const float *b, float lo, float hi,
                  float *out);

/* unary ops: out[i] = f(in[i]); in and out may be the same buffer */
#define PM_F32_RELU 0
#define PM_F32_RELU6 1
#define PM_F32_RELU_N1_TO_1 2
#define PM_F32_LEAKY_RELU 3 /* x > 0 ? x : x * alpha */
#define PM_F32_HARD_SWISH 4
#define PM_F32_ELU 5
#define PM_F32_LOGISTIC 6
#define PM_F32_TANH 7
#define PM_F32_ABS 8
#define PM_F32_NEG 9
#define PM_F32_EXP 10
#define PM_F32_LOG 11
#define PM_F32_SQRT 12
#define PM_F32_RSQRT 13
#define PM_F32_SQUARE 14
#define PM_F32_SIN 15
#define PM_F32_COS 16
#define PM_F32_FLOOR 17
#define PM_F32_CEIL 18
#define PM_F32_ROUND 19

int pm_unary_f32(int32_t kind, float alpha, int32_t n, const float *in, float *out);

/* q = clamp(round_half_away(x / scale) + zero_point, -128, 127); NaN gives the zero point.
 * in and out may start at the same address. */
int pm_quantize_f32_s8(float scale, int32_t zero_point, int32_t n, const float *in, int8_t *out);
/* out = scale * (q - zero_point); in and out may start at the same address (run backwards) */
int pm_dequantize_s8_f32(float scale, int32_t zero_point, int32_t n, const int8_t *in, float *out);

/* rows of `depth` values: exp((x - max) * beta) / sum */
int pm_softmax_f32(int32_t rows, int32_t depth, float beta, const float *in, float *out);

/* Reduction over some dimensions of a tensor of up to PM_MAX_DIMS dimensions */
#define PM_F32_REDUCE_SUM 0
#define PM_F32_REDUCE_MEAN 1
#define PM_F32_REDUCE_MAX 2
#define PM_F32_REDUCE_MIN 3
typedef struct {
  int32_t rank;                   /* dimensions in use */
  int32_t shape[PM_MAX_DIMS];     /* input extents, outermost first */
  int32_t out_stride[PM_MAX_DIMS]; /* output element stride of each input dimension (0: reduced) */
  int32_t out_size;               /* output elements */
  int32_t count;                  /* input elements per output element */
} pm_reduce_f32_params;

int pm_reduce_f32(int32_t kind, const pm_reduce_f32_params *p, const float *in, float *out);

#endif /* PM_ELEMENTWISE_F32_H */
