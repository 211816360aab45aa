/* FULLY_CONNECTED int8: out[b][u] = requant(bias[u] + sum_k in[b][k] * w[u][k]); the input
 * zero point is folded into the bias. Weights are packed in unit pairs, in offset-binary
 * blocks of 8 units when PM_OFFSET_BINARY_WEIGHTS, or plain rows when PM_PLAIN_WEIGHTS
 * (pm_dot_s8.h). */
#include "pm_fully_connected_s8.h"

#include "pm_dot_s8.h"

#ifndef PM_FC_MAX_DEPTH
#define PM_FC_MAX_DEPTH 1 /* "vector" hosts: input values of the deepest layer (pm_config.h) */
#endif
#ifndef PM_FC_MAX_UNITS
#define PM_FC_MAX_UNITS 1 /* "vector" hosts: units of the widest layer (pm_config.h) */
#endif

int pm_fully_connected_s8(const pm_fully_connected_params *p, const pm_requant *q, const int8_t *in,
                          const int8_t *weights, const int32_t *bias, int8_t *out) {
  const int32_t k = p->depth, units = p->units, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
  int32_t b;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *x = in + b * k;
    int8_t *o = out + b * units;
#if PM_PLAIN_WEIGHTS
    /* int16 weight rows, the input row widened once (pm_dot_s8.h) */
    const int16_t *w = (const int16_t *)(const void *)weights;
    int16_t xw[PM_FC_MAX_DEPTH];
    int32_t acc[PM_FC_MAX_UNITS];
    int32_t u;
    if (k > PM_FC_MAX_DEPTH || units > PM_FC_MAX_UNITS) return PM_ERROR; /* the generator sizes both */
    pm_widen_s8(x, k, xw);
    for (u = 0; u < units; ++u) acc[u] = PM_LD_I32(&bias[u]) + pm_dot_plain_s16(xw, w + u * k, k);
    pm_requant_row_s8(acc, q, units, zp, lo, hi, o);
#elif PM_OFFSET_BINARY_WEIGHTS
    pm_row_ob_s8(x, k, (const uint8_t *)weights, bias, q, units, zp, lo, hi, o); /* pm_dot_s8.h */
#else
    int32_t u;
    for (u = 0; u + 1 < units; u += 2) {
      int32_t s[2];
      s[0] = PM_LD_I32(&bias[u]);
      s[1] = PM_LD_I32(&bias[u + 1]);
      pm_dot_1x2_packed_s8(x, weights + u * k, k, s); /* packed pair, see pm_dot_s8.h */
      o[u] = pm_requant_s8(s[0], &q[u], zp, lo, hi);
      o[u + 1] = pm_requant_s8(s[1], &q[u + 1], zp, lo, hi);
    }
    for (; u < units; ++u) o[u] = pm_requant_s8(pm_dot_1x1_s8(x, weights + u * k, k, PM_LD_I32(&bias[u])), &q[u], zp, lo, hi);
#endif
  }
  return PM_OK;
}

#if PM_SPARSE_WEIGHTS
#include "pm_sparse_s8.h"

/* Sparse weights (pm_sparse_s8.h): only the non-zeros are multiplied; two batch rows share
 * each decode of the weight stream. */
int pm_fully_connected_sparse_s8(const pm_fully_connected_params *p, const pm_sparse_quant *q, int32_t encoding,
                                 const int8_t *in, const int8_t *weights, const int32_t *bias, int8_t *out) {
  const int32_t k = p->depth, units = p->units, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
  int32_t b;
  for (b = 0; b + 1 < p->batches; b += 2) {
    pm_sparse_rows_2_s8(encoding, in + b * k, in + (b + 1) * k, k, weights, bias, q, units, zp, lo, hi,
                        out + b * units, out + (b + 1) * units);
  }
  if (b < p->batches) pm_sparse_rows_1_s8(encoding, in + b * k, k, weights, bias, q, units, zp, lo, hi, out + b * units);
  return PM_OK;
}
#endif
