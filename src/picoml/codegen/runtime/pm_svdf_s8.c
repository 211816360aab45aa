/* SVDF, integer: the arithmetic of picoml's reference (reference/svdf.py), bit for bit.
 * Sums wrap as int32 (computed in uint32: no undefined overflow). */
#include "pm_svdf_s8.h"

#include "pm_common.h"

static int32_t pm_svdf_state_at(const pm_svdf_params *p, const void *s, int32_t i) {
  return p->state16 ? (int32_t)((const int16_t *)s)[i] : (int32_t)((const int8_t *)s)[i];
}

int pm_svdf_s8(const pm_svdf_params *p, const int8_t *x, void *state, int8_t *y) {
  const int32_t n_unit = p->n_unit;
  const int32_t per_batch = p->n_filter * p->memory;
  const int32_t total = p->batch * per_batch;
  const int32_t lo = p->state16 ? -32768 : -128;
  const int32_t hi = p->state16 ? 32767 : 127;
  int32_t b, f, i, j, u, r;
  /* the state moves one frame left (the newest of each filter is rewritten below) */
  for (i = 0; i + 1 < total; ++i) {
    if (p->state16) {
      ((int16_t *)state)[i] = ((int16_t *)state)[i + 1];
    } else {
      ((int8_t *)state)[i] = ((int8_t *)state)[i + 1];
    }
  }
  for (b = 0; b < p->batch; ++b) {
    const int8_t *xb = x + b * p->n_in;
    for (f = 0; f < p->n_filter; ++f) {
      const int8_t *w = p->wf + f * p->n_in;
      const int32_t at = b * per_batch + f * p->memory + p->memory - 1;
      uint32_t acc = 0;
      int32_t v;
      for (i = 0; i < p->n_in; ++i) {
        acc += (uint32_t)((int32_t)PM_LD_S8(w + i) * ((int32_t)xb[i] - p->x_zp));
      }
      /* clamped to the state's type, then the zero point added (and narrowed: wraps), as the
       * tflite-micro the reference pins does */
      v = pm_clamp_i32(pm_multiply_by_quantized_multiplier((int32_t)acc, p->m1, p->s1), lo, hi) + p->state_zp;
      if (p->state16) {
        ((int16_t *)state)[at] = (int16_t)(uint16_t)(uint32_t)v;
      } else {
        ((int8_t *)state)[at] = (int8_t)(uint8_t)(uint32_t)v;
      }
    }
    for (u = 0; u < n_unit; ++u) {
      uint32_t acc = (uint32_t)p->bias[u];
      for (r = 0; r < p->rank; ++r) {
        const int32_t filt = u * p->rank + r;
        const int32_t base = b * per_batch + filt * p->memory;
        uint32_t dot = 0;
        for (j = 0; j < p->memory; ++j) {
          const int32_t s = pm_svdf_state_at(p, state, base + j) - p->state_zp;
          const int32_t w = p->state16 ? (int32_t)((const int16_t *)p->wt)[filt * p->memory + j]
                                       : (int32_t)((const int8_t *)p->wt)[filt * p->memory + j];
          dot += (uint32_t)w * (uint32_t)s;
        }
        acc += dot;
      }
      y[b * n_unit + u] = (int8_t)pm_clamp_i32(
          pm_multiply_by_quantized_multiplier((int32_t)acc, p->m2, p->s2) + p->y_zp, -128, 127);
    }
  }
  return PM_OK;
}
