/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 (reference_integer_ops::AveragePool / MaxPool). Both compute
 * output pixels one at a time in row-major order, so the planner may overlap the output with the
 * dying input (graph/ops.py: streams=1; plan/planner.py: stream_lag). */
#ifndef PM_POOL_S8_H
#define PM_POOL_S8_H

#include "pm_common.h"

typedef struct {
  int16_t filter_h; /* window rows */
  int16_t filter_w; /* window columns */
  int16_t stride_h;
  int16_t stride_w;
  int16_t pad_h;    /* rows of padding above (never part of a window's average or max) */
  int16_t pad_w;
  int32_t act_min;  /* fused activation clamp */
  int32_t act_max;
} pm_pool_params;

/* average of the valid taps, rounded half away from zero: (sum +- count/2) / count */
int pm_average_pool2d_s8(const pm_pool_params *params, const pm_dims *in_dims, const int8_t *in,
                         const pm_dims *out_dims, int8_t *out);
/* maximum of the valid taps */
int pm_max_pool2d_s8(const pm_pool_params *params, const pm_dims *in_dims, const int8_t *in,
                     const pm_dims *out_dims, int8_t *out);

#endif /* PM_POOL_S8_H */
