/* SVDF, integer (issue 15): int8 input, feature weights and output; time weights and state both
 * int16 (state16 = 1) or both int8. The state [batch][filters][memory] is a variable tensor in the
 * arena's persistent region: every call moves it one frame left and writes the newest frame. */
#ifndef PM_SVDF_S8_H
#define PM_SVDF_S8_H

#include <stdint.h>

typedef struct {
  int32_t batch, n_in, n_filter, n_unit, memory, rank; /* n_unit = n_filter / rank (no division on Armv6-M) */
  int32_t x_zp, state_zp, y_zp;
  int32_t m1, s1, m2, s2;  /* feature -> state and accumulator -> output multipliers (TFLite shifts) */
  int32_t state16;         /* 1: int16 time weights and state; 0: int8 */
  const int8_t *wf;        /* [filters][n_in] */
  const void *wt;          /* [filters][memory], int16_t or int8_t */
  const int32_t *bias;     /* [filters / rank] */
} pm_svdf_params;

int pm_svdf_s8(const pm_svdf_params *p, const int8_t *x, void *state, int8_t *y);

#endif /* PM_SVDF_S8_H */
