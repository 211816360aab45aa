/* MIRROR_PAD, PADV2 and REVERSE_V2: every output element is the input element picked, along each
 * dimension d independently, by a table t_d of input indices (-1: the pad value). The code
 * generator writes the tables from the reference kernel's prepare (picoml.reference.axis_gather),
 * so the C and the interpreter read the same elements. */
#ifndef PM_AXIS_GATHER_H
#define PM_AXIS_GATHER_H

#include "pm_common.h"

typedef struct {
  int32_t rank;                   /* dimensions in use, 0..PM_MAX_DIMS */
  int32_t out_shape[PM_MAX_DIMS]; /* output extent of each dimension (= its table's length) */
  int32_t in_stride[PM_MAX_DIMS]; /* input elements between indices of each dimension */
  int32_t value;                  /* the pad value (an int8 code) */
} pm_axis_gather_params;

/* out[i0, i1, ...] = in[t_0[i0], t_1[i1], ...], or value where some t_d[i_d] < 0. tables holds
 * t_0, t_1, ... back to back. in and out must not overlap. */
int pm_axis_gather_s8(const pm_axis_gather_params *params, const int32_t *tables, const int8_t *in, int8_t *out);

#endif /* PM_AXIS_GATHER_H */
