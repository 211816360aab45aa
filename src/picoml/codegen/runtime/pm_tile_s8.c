/* TILE: copy the input once, each row into its place in the output's first tile, then replicate
 * whole blocks from the innermost axis outward: for axis k, every block of in_dims[k] sub-blocks
 * (already tiled along the axes after k) is copied mult[k] - 1 times right after itself. */
#include "pm_tile_s8.h"

static void pm_tile_copy(unsigned char *dst, const unsigned char *src, size_t n) {
  while (n--) {
    *dst++ = *src++;
  }
}

int pm_tile(int32_t rank, const int32_t *in_dims, const int32_t *mult, size_t elem_size, const void *in, void *out) {
  size_t stride[PM_TILE_MAX_RANK]; /* bytes between neighbours along axis k of the output */
  int32_t idx[PM_TILE_MAX_RANK];
  const unsigned char *src = (const unsigned char *)in;
  unsigned char *dst = (unsigned char *)out;
  size_t s = elem_size;
  int32_t k, j;
  if (rank < 1 || rank > PM_TILE_MAX_RANK) {
    return PM_ERROR;
  }
  for (k = rank - 1; k >= 0; --k) {
    if (in_dims[k] < 1 || mult[k] < 1) {
      return PM_ERROR;
    }
    stride[k] = s;
    s *= (size_t)in_dims[k] * (size_t)mult[k];
  }
  for (k = rank - 1; k >= 0; --k) {
    const size_t block = (size_t)in_dims[k] * stride[k];
    size_t base = 0;
    for (j = 0; j < k; ++j) {
      idx[j] = 0;
    }
    for (;;) {
      unsigned char *b = dst + base;
      int32_t t;
      if (k == rank - 1) { /* the input's rows, in order */
        pm_tile_copy(b, src, block);
        src += block;
      }
      for (t = 1; t < mult[k]; ++t) {
        pm_tile_copy(b + (size_t)t * block, b, block);
      }
      for (j = k - 1; j >= 0; --j) { /* next index over the input-sized axes before k */
        base += stride[j];
        if (++idx[j] < in_dims[j]) {
          break;
        }
        base -= (size_t)in_dims[j] * stride[j];
        idx[j] = 0;
      }
      if (j < 0) {
        break;
      }
    }
  }
  return PM_OK;
}
