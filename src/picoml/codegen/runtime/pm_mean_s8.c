/* MEAN and SUM int8: per output, the raw int8 values are summed in a 32-bit accumulator, and
 * MultiplyByQuantizedMultiplier(sum - input_zp * count, multiplier, shift) + output_zp is
 * clamped to int8. TFLM keeps the sum in int32 and narrows sum - input_zp * count to int32;
 * both are done here in uint32 (two's complement wrap, defined), which is the same value
 * (neither can wrap below 2^23 reduced elements). No scratch memory.
 * REDUCE_MAX / REDUCE_MIN walk the same index spaces keeping the largest / smallest code. */
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

/* The loop bounds shared by the reductions: the innermost reduced dimension is walked by a plain
 * loop (last, last_stride), the others (rest_rank of them, rest index tuples) by pm_mean_step. */
typedef struct {
  int32_t outputs, last, last_stride, rest_rank, rest;
} pm_reduce_loops;

static int pm_reduce_loops_of(const pm_mean_params *p, pm_reduce_loops *l) {
  int32_t d;
  if (p->outer_rank < 0 || p->outer_rank > PM_MAX_DIMS || p->inner_rank < 0 || p->inner_rank > PM_MAX_DIMS) {
    return PM_ERROR;
  }
  l->outputs = 1;
  l->last = 1;
  l->last_stride = 0;
  l->rest_rank = 0;
  l->rest = 1;
  if (p->inner_rank > 0) {
    l->rest_rank = p->inner_rank - 1;
    l->last = p->inner_shape[l->rest_rank];
    l->last_stride = p->inner_stride[l->rest_rank];
  }
  for (d = 0; d < l->rest_rank; ++d) l->rest *= p->inner_shape[d];
  for (d = 0; d < p->outer_rank; ++d) l->outputs *= p->outer_shape[d];
  return PM_OK;
}

int pm_reduce_min_max_s8(const pm_mean_params *p, int32_t is_min, const int8_t *in, int8_t *out) {
  int32_t oidx[PM_MAX_DIMS];
  int32_t iidx[PM_MAX_DIMS];
  int32_t base = 0, o;
  pm_reduce_loops l;
  if (pm_reduce_loops_of(p, &l) != PM_OK) return PM_ERROR;
  memset(oidx, 0, sizeof(oidx));
  for (o = 0; o < l.outputs; ++o) {
    int32_t off = base, r, k;
    int8_t best = is_min ? (int8_t)127 : (int8_t)-128;
    memset(iidx, 0, sizeof(iidx));
    for (r = 0; r < l.rest; ++r) {
      const int8_t *src = in + off;
      if (is_min) {
        for (k = 0; k < l.last; ++k, src += l.last_stride) best = *src < best ? *src : best;
      } else {
        for (k = 0; k < l.last; ++k, src += l.last_stride) best = *src > best ? *src : best;
      }
      off += pm_mean_step(l.rest_rank, p->inner_shape, p->inner_stride, iidx);
    }
    out[o] = best;
    base += pm_mean_step(p->outer_rank, p->outer_shape, p->outer_stride, oidx);
  }
  return PM_OK;
}

int pm_mean_s8(const pm_mean_params *p, const int8_t *in, int8_t *out) {
  int32_t oidx[PM_MAX_DIMS];
  int32_t iidx[PM_MAX_DIMS];
  int32_t base = 0, o;
  pm_reduce_loops l;
  if (pm_reduce_loops_of(p, &l) != PM_OK) return PM_ERROR;
  if (p->count == 0) { /* TFLM leaves its zero-initialised output */
    memset(out, 0, (size_t)(l.outputs > 0 ? l.outputs : 0));
    return PM_OK;
  }
  memset(oidx, 0, sizeof(oidx));
  for (o = 0; o < l.outputs; ++o) {
    uint32_t sum = 0u;
    int32_t off = base, r, k;
    memset(iidx, 0, sizeof(iidx));
    for (r = 0; r < l.rest; ++r) {
      const int8_t *src = in + off;
      for (k = 0; k < l.last; ++k, src += l.last_stride) sum += (uint32_t)(int32_t)*src;
      off += pm_mean_step(l.rest_rank, p->inner_shape, p->inner_stride, iidx);
    }
    sum -= (uint32_t)p->input_zp * (uint32_t)p->count;
    out[o] = pm_scale_to_s8((int32_t)sum, p->multiplier, p->shift, p->output_zp, -128, 127);
    base += pm_mean_step(p->outer_rank, p->outer_shape, p->outer_stride, oidx);
  }
  return PM_OK;
}
