/* int16 ADD, SUB, MUL, AVERAGE_POOL_2D, MAX_POOL_2D, MEAN and SOFTMAX of 16x8 models (tflite-micro's
 * int16 kernels; reference/s16_ops.py and reference/s16_softmax.py). */
#ifndef PM_OPS_S16_H
#define PM_OPS_S16_H

#include "pm_common.h"
#include "pm_mean_s8.h" /* pm_mean_params: MEAN's two index spaces */

#define PM_S16_ADD 0
#define PM_S16_SUB 1
#define PM_S16_MUL 2
#define PM_S16_MAXIMUM 3
#define PM_S16_MINIMUM 4

typedef struct {
  int32_t kind; /* PM_S16_ADD, PM_S16_SUB, PM_S16_MUL, PM_S16_MAXIMUM, PM_S16_MINIMUM */
  int32_t m1;   /* ADD / SUB: input scales / (2 max), Q31, shift <= 0 */
  int32_t s1;
  int32_t m2;
  int32_t s2;
  int32_t mo; /* ADD / SUB: 2 max / (2^15 out); MUL: in1 in2 / out */
  int32_t so;
  int32_t act_min;
  int32_t act_max;
} pm_binary_s16_params;

typedef struct {
  int32_t average; /* 1: AVERAGE_POOL_2D, 0: MAX_POOL_2D */
  int32_t filter_h;
  int32_t filter_w;
  int32_t stride_h;
  int32_t stride_w;
  int32_t pad_h;
  int32_t pad_w;
  int32_t act_min;
  int32_t act_max;
} pm_pool_s16_params;

#define PM_S16_RELU 0
#define PM_S16_RELU6 1
#define PM_S16_LEAKY_RELU 2
#define PM_S16_ABS 3

typedef struct {
  int32_t kind; /* PM_S16_RELU, PM_S16_RELU6, PM_S16_LEAKY_RELU, PM_S16_ABS */
  int32_t act_min;
  int32_t act_max;
  int32_t multiplier; /* RELU, ABS, LEAKY_RELU (x >= 0): in / out */
  int32_t shift;
  int32_t alpha_multiplier; /* LEAKY_RELU (x < 0): in alpha / out, negative for a negative alpha */
  int32_t alpha_shift;
} pm_act_s16_params;

int pm_act_s16(const pm_act_s16_params *params, int32_t size, const int16_t *in, int16_t *out);
int pm_binary_s16(const pm_binary_s16_params *params, const pm_broadcast *bc, const int16_t *a, const int16_t *b,
                  int16_t *out);
int pm_pool_s16(const pm_pool_s16_params *params, const pm_dims *in_dims, const int16_t *in, const pm_dims *out_dims,
                int16_t *out);
/* MEAN and SUM. Only multiplier, shift, count and the index spaces of params are read (zero points are 0). */
int pm_mean_s16(const pm_mean_params *params, const int16_t *in, int16_t *out);
/* rows of depth values; exp_lut and recip_lut: TFLite's 513-entry int16 tables. */
int pm_softmax_s16(int32_t multiplier, int32_t shift, int32_t rows, int32_t depth, const int16_t *exp_lut,
                   const int16_t *recip_lut, const int16_t *in, int16_t *out);

#endif /* PM_OPS_S16_H */
