/* GATHER_ND, EMBEDDING_LOOKUP: see pm_gather_nd_s8.h. */
#include "pm_gather_nd_s8.h"

#include <string.h>

int pm_gather_nd_s8(const pm_gather_nd_params *p, const int8_t *in, const int32_t *indices, int8_t *out) {
  int32_t i, k;
  if (p->depth < 1 || p->depth > PM_GATHER_ND_MAX) return PM_ERROR;
  for (i = 0; i < p->count; ++i) {
    int64_t pos = 0;
    for (k = 0; k < p->depth; ++k) pos += (int64_t)indices[i * p->depth + k] * p->stride[k];
    if (pos < 0 || pos + p->slice > p->total) return PM_ERROR;
    memcpy(out + i * p->slice, in + (int32_t)pos, (size_t)p->slice);
  }
  return PM_OK;
}
