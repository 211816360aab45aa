/* FULLY_CONNECTED int8: out[b][u] = requant(bias[u] + sum_k in[b][k] * w[u][k]). */
#include "pm_fully_connected_s8.h"

int pm_fully_connected_s8(const pm_fully_connected_params *p, const pm_per_channel_quant *q,
                          const int8_t *in, const int8_t *weights, const int32_t *bias, int8_t *out) {
  int32_t b, u, k;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *x = in + b * p->depth;
    for (u = 0; u < p->units; ++u) {
      const int8_t *w = weights + u * p->depth;
      int32_t acc = bias[u];
      for (k = 0; k < p->depth; ++k) acc += x[k] * w[k];
      out[b * p->units + u] = pm_scale_to_s8(acc, q->multiplier[u], q->shift[u], p->output_zp, p->act_min, p->act_max);
    }
  }
  return PM_OK;
}
