/* Data movement for any 1-byte element type: PAD, CONCATENATION, RESHAPE (copy when not aliased). */
#ifndef PM_DATA_S8_H
#define PM_DATA_S8_H

#include "pm_common.h"

typedef struct {
  int32_t rank;                   /* dimensions in use, <= PM_MAX_DIMS */
  int32_t in_shape[PM_MAX_DIMS];  /* input extents */
  int32_t before[PM_MAX_DIMS];    /* padding before each dimension */
  int32_t after[PM_MAX_DIMS];     /* padding after each dimension */
  int8_t value;                   /* padding value: the output zero point */
} pm_pad_params;

int pm_pad_s8(const pm_pad_params *params, const int8_t *in, int8_t *out);

/* Copy `count` inputs side by side: each has `outer` blocks of inner_bytes[i] bytes. */
int pm_concatenation_s8(int32_t count, int32_t outer, const int32_t *inner_bytes, const int8_t *const *inputs,
                        int8_t *out);

#endif /* PM_DATA_S8_H */
