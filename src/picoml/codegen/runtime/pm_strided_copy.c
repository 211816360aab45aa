#include <string.h>

#include "pm_strided_copy.h"

int pm_strided_copy(const pm_strided_copy_params *p, const int8_t *in, int8_t *out) {
  int32_t idx[PM_MAX_DIMS];
  int32_t d, pos = p->offset;
  const int32_t last = p->rank - 1;
  if (p->rank < 0 || p->rank > PM_MAX_DIMS || p->run <= 0) return PM_ERROR;
  if (p->rank == 0) {
    memcpy(out, in + pos, (size_t)p->run);
    return PM_OK;
  }
  for (d = 0; d < p->rank; ++d) idx[d] = 0;
  for (;;) {
    /* the innermost loop: one element (run == element size) or a contiguous run per step */
    const int32_t n = p->extent[last], step = p->stride[last], run = p->run;
    int32_t i;
    if (run == 1) {
      for (i = 0; i < n; ++i) out[i] = in[pos + i * step];
      out += n;
    } else {
      for (i = 0; i < n; ++i) {
        memcpy(out, in + pos + i * step, (size_t)run);
        out += run;
      }
    }
    /* the outer loops, as an odometer */
    for (d = last - 1; d >= 0; --d) {
      pos += p->stride[d];
      if (++idx[d] < p->extent[d]) break;
      pos -= p->stride[d] * p->extent[d];
      idx[d] = 0;
    }
    if (d < 0) return PM_OK;
  }
}
