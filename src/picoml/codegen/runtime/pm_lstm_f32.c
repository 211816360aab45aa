#include "pm_lstm_f32.h"

#include "pm_math_f32.h"

static float pm_lstm_sigmoidf(float v) { return 1.0f / (1.0f + pm_expf(-v)); }

int pm_lstm_f32(const pm_lstm_f32_params *p, const float *x, float *h_state, float *c_state, float *y) {
  const int32_t n = p->n_state;
  for (int32_t t = 0; t < p->steps; t++) {
    for (int32_t b = 0; b < p->batch; b++) {
      const int32_t row = p->time_major ? t * p->batch + b : b * p->steps + t;
      const int32_t prev_row = p->time_major ? (t - 1) * p->batch + b : b * p->steps + t - 1;
      const float *xt = x + row * p->n_in;
      const float *hp = t == 0 ? h_state + b * n : y + prev_row * n;
      for (int32_t s = 0; s < n; s++) {
        float g[4];
        for (int32_t k = 0; k < 4; k++) {
          const float *wx = p->wx + (k * n + s) * p->n_in, *wh = p->wh + (k * n + s) * n;
          float a = 0.0f, r = 0.0f;
          for (int32_t i = 0; i < p->n_in; i++) a += xt[i] * wx[i];
          for (int32_t j = 0; j < n; j++) r += hp[j] * wh[j];
          g[k] = (a + p->bias[k * n + s]) + r;
        }
        float c = pm_lstm_sigmoidf(g[1]) * c_state[b * n + s] + pm_lstm_sigmoidf(g[0]) * pm_tanhf(g[2]);
        if (p->cell_clip > 0.0f) c = pm_clampf(c, -p->cell_clip, p->cell_clip);
        c_state[b * n + s] = c;
        y[row * n + s] = pm_lstm_sigmoidf(g[3]) * pm_tanhf(c);
      }
    }
  }
  for (int32_t b = 0; b < p->batch; b++) {
    const int32_t row = p->time_major ? (p->steps - 1) * p->batch + b : b * p->steps + p->steps - 1;
    for (int32_t s = 0; s < n; s++) h_state[b * n + s] = y[row * n + s];
  }
  return 0;
}
