/* GATHER_ND and EMBEDDING_LOOKUP (tflite-micro gather_nd.cc / embedding_lookup.cc): each index
 * tuple (K int32 values) selects the slice at flat position sum_k index[k] * stride[k]; a position
 * whose slice is not inside the tensor makes the call fail, as tflite-micro's inference does. */
#ifndef PM_GATHER_ND_S8_H
#define PM_GATHER_ND_S8_H

#include "pm_common.h"

#define PM_GATHER_ND_MAX 5

typedef struct {
  int32_t count;                    /* index tuples */
  int32_t depth;                    /* K: values per tuple, 1..PM_GATHER_ND_MAX */
  int32_t stride[PM_GATHER_ND_MAX]; /* elements per step of each indexed dimension */
  int32_t slice;                    /* elements per slice */
  int32_t total;                    /* elements of the params tensor */
} pm_gather_nd_params;

int pm_gather_nd_s8(const pm_gather_nd_params *params, const int8_t *in, const int32_t *indices, int8_t *out);

#endif /* PM_GATHER_ND_S8_H */
