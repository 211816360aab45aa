/* Strided copy of bytes for any element size: STRIDED_SLICE, SLICE, TRANSPOSE and each output of
 * SPLIT, SPLIT_V, UNPACK. The generator resolves the op's indices into loops over the input
 * (picoml.codegen.emit_movement), so one loop nest serves every op: the output is written in
 * order, `run` contiguous bytes at a time. */
#ifndef PM_STRIDED_COPY_H
#define PM_STRIDED_COPY_H

#include "pm_common.h"

typedef struct {
  int32_t rank;                /* loops in use, 0..PM_MAX_DIMS (0: one run) */
  int32_t extent[PM_MAX_DIMS]; /* iterations of each loop, outermost first */
  int32_t stride[PM_MAX_DIMS]; /* input bytes between iterations of each loop (negative: backwards) */
  int32_t offset;              /* input byte of the first run */
  int32_t run;                 /* contiguous bytes copied per innermost iteration */
} pm_strided_copy_params;

/* out (rank loops' extents × run bytes, in order) = the input bytes the loops address. in and
 * out must not overlap. */
int pm_strided_copy(const pm_strided_copy_params *params, const int8_t *in, int8_t *out);

#endif /* PM_STRIDED_COPY_H */
