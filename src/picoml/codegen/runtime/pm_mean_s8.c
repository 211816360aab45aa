/* MEAN int8: per output, the raw int8 values are summed in a 32-bit accumulator, and
 * MultiplyByQuantizedMultiplier(sum - input_zp * count, multiplier, shift) + output_zp is
 * clamped to int8. TFLM keeps the sum in int32 and narrows sum - input_zp * count to int32;
 * both are done here in uint32 (two's complement wrap, defined), which is the same value
 * (neither can wrap below 2^23 reduced elements). No scratch memory. */
#include "pm_mean_s8.h"

#include <string.h>

/* Advance a row-major multi-index over shape[0..rank); returns the change of the offset. */
static int32_t pm_mean_step(int32_t rank, const int32_t *shape, const int32_t *stride, int32_t *idx) {
  int32_t d = rank - 1;
  int32_t delta = 0;
  while (d >= 0) {
    ++idx[d];
    delta += stride[d];
    if (idx[d] < shape[d]) return delta;
    delta -= stride[d] * shape[d];
    idx[d] = 0;
    --d;
  }
  return delta;
}

int pm_mean_s8(const pm_mean_params *p, const int8_t *in, int8_t *out) {
  int32_t oidx[PM_MAX_DIMS];
  int32_t iidx[PM_MAX_DIMS];
  int32_t outputs = 1, base = 0, o, d;
  /* the innermost reduced dimension is summed by a plain loop (last, last_stride), the
   * others (rest_rank of them, rest index tuples) are walked by pm_mean_step */
  int32_t last = 1, last_stride = 0, rest_rank = 0, rest = 1;
  if (p->outer_rank < 0 || p->outer_rank > PM_MAX_DIMS || p->inner_rank < 0 || p->inner_rank > PM_MAX_DIMS) {
    return PM_ERROR;
  }
  if (p->inner_rank > 0) {
    rest_rank = p->inner_rank - 1;
    last = p->inner_shape[rest_rank];
    last_stride = p->inner_stride[rest_rank];
  }
  for (d = 0; d < rest_rank; ++d) rest *= p->inner_shape[d];
  for (d = 0; d < p->outer_rank; ++d) outputs *= p->outer_shape[d];
  if (p->count == 0) { /* TFLM leaves its zero-initialised output */
    memset(out, 0, (size_t)(outputs > 0 ? outputs : 0));
    return PM_OK;
  }
  memset(oidx, 0, sizeof(oidx));
  for (o = 0; o < outputs; ++o) {
    uint32_t sum = 0u;
    int32_t off = base, r, k;
    memset(iidx, 0, sizeof(iidx));
    for (r = 0; r < rest; ++r) {
      const int8_t *src = in + off;
      for (k = 0; k < last; ++k, src += last_stride) sum += (uint32_t)(int32_t)*src;
      off += pm_mean_step(rest_rank, p->inner_shape, p->inner_stride, iidx);
    }
    sum -= (uint32_t)p->input_zp * (uint32_t)p->count;
    out[o] = pm_scale_to_s8((int32_t)sum, p->multiplier, p->shift, p->output_zp, -128, 127);
    base += pm_mean_step(p->outer_rank, p->outer_shape, p->outer_stride, oidx);
  }
  return PM_OK;
}
