/* SVDF, float32 (issue 15): the state [batch][filters][memory] is a variable tensor in the arena's
 * persistent region; every call moves it one frame left, writes the newest frame (the features
 * x . wf), then each unit sums its `rank` filters' state . wt, adds its bias and clamps. */
#ifndef PM_SVDF_F32_H
#define PM_SVDF_F32_H

#include <stdint.h>

#include "pm_math_f32.h" /* PM_F32_INF: an unbounded activation range */

typedef struct {
  int32_t batch, n_in, n_filter, n_unit, memory, rank; /* n_filter = n_unit * rank */
  const float *wf;   /* [filters][n_in] */
  const float *wt;   /* [filters][memory] */
  const float *bias; /* [n_unit], or NULL */
  float lo, hi;      /* the fused activation's range */
} pm_svdf_f32_params;

int pm_svdf_f32(const pm_svdf_f32_params *p, const float *x, float *state, float *y);

#endif /* PM_SVDF_F32_H */
