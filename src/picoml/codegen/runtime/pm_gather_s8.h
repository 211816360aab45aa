/* GATHER of int8 values at int32 positions (TFLite Micro's gather.cc, bit-exact: a copy). The input
 * is viewed as [batch, outer, axis_size, inner] and the positions as [batch, coords]:
 * out[b, o, c, :] = in[b, o, positions[b, c], :]. */
#ifndef PM_GATHER_S8_H
#define PM_GATHER_S8_H

#include "pm_common.h"

typedef struct {
  int32_t batch;     /* product of the batch_dims leading dimensions */
  int32_t outer;     /* product of the dimensions between them and the axis */
  int32_t axis_size; /* extent of the gathered axis: positions must lie in [0, axis_size) */
  int32_t coords;    /* positions per batch */
  int32_t inner;     /* values per gathered slice */
} pm_gather_params;

/* PM_ERROR for a position outside [0, axis_size), as TFLite Micro fails the inference (the output
 * is then incomplete). out must not overlap in. */
int pm_gather_s8(const pm_gather_params *params, const int8_t *in, const int32_t *positions, int8_t *out);

#endif /* PM_GATHER_S8_H */
