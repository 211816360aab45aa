/* FULLY_CONNECTED int8: out[b][u] = requant(bias[u] + sum_k in[b][k] * w[u][k]); the input
 * zero point is folded into the bias. Weights are packed in unit pairs (pm_dot_s8.h). */
#include "pm_fully_connected_s8.h"

#include "pm_dot_s8.h"

int pm_fully_connected_s8(const pm_fully_connected_params *p, const pm_per_channel_quant *q, const int8_t *in,
                          const int8_t *weights, const int32_t *bias, int8_t *out) {
  const int32_t k = p->depth, units = p->units;
  int32_t b, u;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *x = in + b * k;
    int8_t *o = out + b * units;
    for (u = 0; u + 1 < units; u += 2) {
      int32_t s[2];
      s[0] = bias[u];
      s[1] = bias[u + 1];
      pm_dot_1x2_packed_s8(x, weights + u * k, k, s); /* packed pair, see pm_dot_s8.h */
      o[u] = pm_requant_s8(s[0], q->multiplier[u], q->shift[u], p->output_zp, p->act_min, p->act_max);
      o[u + 1] = pm_requant_s8(s[1], q->multiplier[u + 1], q->shift[u + 1], p->output_zp, p->act_min, p->act_max);
    }
    for (; u < units; ++u) {
      const int32_t s = pm_dot_1x1_s8(x, weights + u * k, k, bias[u]);
      o[u] = pm_requant_s8(s, q->multiplier[u], q->shift[u], p->output_zp, p->act_min, p->act_max);
    }
  }
  return PM_OK;
}
