#include "pm_svdf_f32.h"

#include <string.h>

int pm_svdf_f32(const pm_svdf_f32_params *p, const float *x, float *state, float *y) {
  const int32_t cells = p->n_filter * p->memory;
  for (int32_t b = 0; b < p->batch; b++) {
    float *s = state + b * cells;
    const float *xb = x + b * p->n_in;
    /* one frame left: s[f][m] <- s[f][m + 1]; the last frame of each filter is written below */
    if (cells > 1) memmove(s, s + 1, (size_t)(cells - 1) * sizeof(float));
    for (int32_t f = 0; f < p->n_filter; f++) {
      const float *w = p->wf + f * p->n_in;
      float acc = 0.0f;
      for (int32_t i = 0; i < p->n_in; i++) acc += xb[i] * w[i];
      s[f * p->memory + p->memory - 1] = acc;
    }
    for (int32_t u = 0; u < p->n_unit; u++) {
      float acc = p->bias ? p->bias[u] : 0.0f;
      for (int32_t r = 0; r < p->rank; r++) {
        const int32_t f = u * p->rank + r;
        const float *sf = s + f * p->memory, *wt = p->wt + f * p->memory;
        for (int32_t m = 0; m < p->memory; m++) acc += sf[m] * wt[m];
      }
      y[b * p->n_unit + u] = acc < p->lo ? p->lo : (acc > p->hi ? p->hi : acc);
    }
  }
  return 0;
}
