/* TILE: the input repeated mult[k] times along each axis k (row-major, rank 1..PM_TILE_MAX_RANK).
 * A copy of elements of elem_size bytes (int8 codes: the output shares the input's quantization).
 * No malloc, no float, no division, no library calls. */
#ifndef PM_TILE_S8_H
#define PM_TILE_S8_H

#include <stddef.h>

#include "pm_common.h"

#define PM_TILE_MAX_RANK 6

/* out has dims in_dims[k] * mult[k]; every in_dims[k] and mult[k] is at least 1. */
int pm_tile(int32_t rank, const int32_t *in_dims, const int32_t *mult, size_t elem_size, const void *in, void *out);

#endif /* PM_TILE_S8_H */
