/* GATHER: one memcpy of `inner` bytes per (batch, outer, position). */
#include "pm_gather_s8.h"

#include <string.h>

int pm_gather_s8(const pm_gather_params *p, const int8_t *in, const int32_t *positions, int8_t *out) {
  int32_t b, o, c;
  const size_t slice = (size_t)p->inner;
  for (b = 0; b < p->batch; ++b) {
    const int32_t *pos = positions + b * p->coords;
    for (o = 0; o < p->outer; ++o) {
      const int8_t *src = in + (b * p->outer + o) * p->axis_size * p->inner;
      for (c = 0; c < p->coords; ++c) {
        const int32_t k = pos[c];
        if (k < 0 || k >= p->axis_size) return PM_ERROR;
        memcpy(out, src + k * p->inner, slice);
        out += p->inner;
      }
    }
  }
  return PM_OK;
}
