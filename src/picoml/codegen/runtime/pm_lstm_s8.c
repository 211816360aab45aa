/* UNIDIRECTIONAL_SEQUENCE_LSTM, integer: the arithmetic of picoml's reference (reference/lstm.py),
 * bit for bit, one state unit at a time. Sums wrap as in the reference (computed unsigned). */
#include "pm_lstm_s8.h"

#include "pm_common.h"
#include "pm_sigmoid_s16.h"

static int32_t pm_lstm_sat16(int32_t v) { return pm_clamp_i32(v, -32768, 32767); }

/* TFLite's MultiplyByQuantizedMultiplier for an int64 accumulator (the 16x8 kernels' rescale) */
static int32_t pm_lstm_mbqm64(int64_t x, int32_t multiplier, int32_t shift) {
  const int64_t m15 = multiplier < 0x7FFF0000 ? (int64_t)((multiplier + ((int32_t)1 << 15)) >> 16) : (int64_t)0x7FFF;
  const int32_t total = 15 - shift;
  const int64_t r = (int64_t)((uint64_t)x * (uint64_t)m15 + ((uint64_t)1 << (total - 1))) >> total;
  return (int32_t)(uint32_t)(uint64_t)r;
}

/* tflite-micro's integer FullyConnected of one output unit into int16 at 2^-12 (v: int8 or int16) */
static int32_t pm_lstm_fc(const pm_lstm_params *p, const void *v, int32_t zp, const int8_t *w, int32_t n,
                          int32_t gate, int32_t s, int32_t with_bias, int32_t mult, int32_t shift) {
  int32_t i;
  if (p->wide) {
    const int16_t *a = (const int16_t *)v;
    int64_t acc = with_bias ? ((const int64_t *)p->bias)[gate * p->n_state + s] : 0;
    for (i = 0; i < n; ++i) acc += (int64_t)((int32_t)w[i] * ((int32_t)a[i] - zp));
    return pm_lstm_sat16(pm_lstm_mbqm64(acc, mult, shift));
  } else {
    const int8_t *a = (const int8_t *)v;
    uint32_t acc = with_bias ? (uint32_t)((const int32_t *)p->bias)[gate * p->n_state + s] : 0u;
    for (i = 0; i < n; ++i) acc += (uint32_t)((int32_t)w[i] * ((int32_t)a[i] - zp));
    return pm_lstm_sat16(pm_multiply_by_quantized_multiplier((int32_t)acc, mult, shift));
  }
}

int pm_lstm_s8(const pm_lstm_params *p, const void *x, void *h_state, int16_t *c_state, void *y) {
  const int32_t n = p->n_state;
  const int32_t size = p->wide ? 2 : 1;
  int32_t t, b, s, k;
  for (t = 0; t < p->steps; ++t) {
    for (b = 0; b < p->batch; ++b) {
      const int32_t row = p->time_major ? t * p->batch + b : b * p->steps + t;
      const int32_t prev_row = p->time_major ? (t - 1) * p->batch + b : b * p->steps + t - 1;
      const void *xt = (const uint8_t *)x + (size_t)row * (size_t)p->n_in * (size_t)size;
      const void *hp = t == 0 ? (const void *)((const uint8_t *)h_state + (size_t)b * (size_t)n * (size_t)size)
                              : (const void *)((const uint8_t *)y + (size_t)prev_row * (size_t)n * (size_t)size);
      for (s = 0; s < n; ++s) {
        int16_t g[4];
        int32_t c, prod, v;
        int16_t cell, tc;
        for (k = 0; k < 4; ++k) {
          const int32_t *q = p->q + 4 * k;
          const int32_t a = pm_lstm_fc(p, xt, p->x_zp, p->wx + ((size_t)k * n + s) * p->n_in, p->n_in, k, s, 1, q[0], q[1]);
          const int32_t r = pm_lstm_fc(p, hp, p->h_zp, p->wh + ((size_t)k * n + s) * n, n, k, s, 0, q[2], q[3]);
          const int16_t pre = (int16_t)pm_lstm_sat16(a + r);
          pm_sigmoid_s16(k == 2, 3, 0, 1, &pre, &g[k]); /* Q3.12 in, Q0.15 out; the cell gate tanh */
        }
        c = c_state[b * n + s];
        prod = pm_lstm_sat16(pm_multiply_by_quantized_multiplier((int32_t)g[1] * c, p->m_fc, p->s_fc));
        c = pm_lstm_sat16(prod + pm_lstm_sat16(pm_multiply_by_quantized_multiplier((int32_t)g[0] * g[2], p->m_ic, p->s_ic)));
        if (p->clip) c = pm_clamp_i32(c, -p->qclip, p->qclip);
        cell = (int16_t)c;
        c_state[b * n + s] = cell;
        pm_sigmoid_s16(1, p->tanh_mult, p->tanh_shift, 1, &cell, &tc);
        v = pm_clamp_i32(pm_multiply_by_quantized_multiplier((int32_t)tc * g[3], p->m_h, p->s_h) + p->h_zp, p->h_lo, p->h_hi);
        if (p->wide) {
          ((int16_t *)y)[row * n + s] = (int16_t)v;
        } else {
          ((int8_t *)y)[row * n + s] = (int8_t)v;
        }
      }
    }
  }
  /* the hidden state: the last step's output row of each sequence */
  for (b = 0; b < p->batch; ++b) {
    const int32_t row = p->time_major ? (p->steps - 1) * p->batch + b : b * p->steps + p->steps - 1;
    const uint8_t *src = (const uint8_t *)y + (size_t)row * (size_t)n * (size_t)size;
    uint8_t *dst = (uint8_t *)h_state + (size_t)b * (size_t)n * (size_t)size;
    for (s = 0; s < n * size; ++s) dst[s] = src[s];
  }
  return PM_OK;
}
