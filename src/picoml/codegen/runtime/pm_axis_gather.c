/* MIRROR_PAD, PADV2, REVERSE_V2: see pm_axis_gather.h. */
#include "pm_axis_gather.h"

int pm_axis_gather_s8(const pm_axis_gather_params *p, const int32_t *tables, const int8_t *in, int8_t *out) {
  const int32_t *tab[PM_MAX_DIMS];
  int32_t idx[PM_MAX_DIMS];
  int32_t d, k = 0, total = 1, i;
  if (p->rank < 0 || p->rank > PM_MAX_DIMS) return PM_ERROR;
  for (d = 0; d < p->rank; ++d) {
    tab[d] = tables + k;
    k += p->out_shape[d];
    total *= p->out_shape[d];
    idx[d] = 0;
  }
  for (i = 0; i < total; ++i) {
    int32_t off = 0, pad = 0;
    for (d = 0; d < p->rank; ++d) {
      const int32_t s = tab[d][idx[d]];
      if (s < 0) pad = 1;
      off += s * p->in_stride[d];
    }
    out[i] = pad ? (int8_t)p->value : in[off];
    for (d = p->rank - 1; d >= 0; --d) {
      if (++idx[d] < p->out_shape[d]) break;
      idx[d] = 0;
    }
  }
  return PM_OK;
}
