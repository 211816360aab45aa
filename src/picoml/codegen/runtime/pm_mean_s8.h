/* MEAN over constant axes, int8 -> int8 (TFLite Micro's reference QuantizedMeanOrSum,
 * bit-exact). The code generator describes the input as two index spaces: the kept
 * dimensions (one output each, in row-major output order) and the reduced dimensions
 * (summed), with input element strides; adjacent dimensions of one kind are merged and
 * extent-1 dimensions dropped. */
#ifndef PM_MEAN_S8_H
#define PM_MEAN_S8_H

#include "pm_common.h"

typedef struct {
  int32_t input_zp;                  /* input_zp * count is subtracted from each raw sum */
  int32_t output_zp;                 /* added after scaling */
  int32_t multiplier;                /* in_scale / out_scale with 1/count folded in, Q31 */
  int32_t shift;                     /* > 0 left, < 0 right; in [-31, 30] */
  int32_t count;                     /* reduced elements per output (0: outputs are 0) */
  int32_t outer_rank;                /* kept dimensions in use (0: one output) */
  int32_t outer_shape[PM_MAX_DIMS];  /* kept extents, outermost first */
  int32_t outer_stride[PM_MAX_DIMS]; /* their input element strides */
  int32_t inner_rank;                /* reduced dimensions in use (0: nothing reduced) */
  int32_t inner_shape[PM_MAX_DIMS];  /* reduced extents, outermost first */
  int32_t inner_stride[PM_MAX_DIMS]; /* their input element strides */
} pm_mean_params;

/* One output per kept index. Writing over the input in place (out == in) is safe: output o
 * is written after its inputs are read, and later outputs read only positions > o.
 * SUM runs this kernel too: its multiplier and shift are in_scale / out_scale without 1/count. */
int pm_mean_s8(const pm_mean_params *params, const int8_t *in, int8_t *out);

/* REDUCE_MAX (is_min 0) and REDUCE_MIN (is_min 1) over the same two index spaces: the largest
 * (smallest) raw code of each output's reduced elements, in the input's quantization (TFLite
 * Micro's int8 kernel requires the output's to equal it). Only the index-space fields of params
 * are read; count 0 (an empty reduction) is not generated. In place as pm_mean_s8. */
int pm_reduce_min_max_s8(const pm_mean_params *params, int32_t is_min, const int8_t *in, int8_t *out);

#endif /* PM_MEAN_S8_H */
