#include "pm_nn_f32.h"

int pm_conv2d_f32(const pm_window_f32_params *p, const float *in, const float *filter, const float *bias, float *out) {
  const int32_t fic = p->ic / p->groups, ocg = p->oc / p->groups;
  int32_t b, oy, ox, o, ky, kx, c;
  for (b = 0; b < p->n; ++b) {
    for (oy = 0; oy < p->oh; ++oy) {
      for (ox = 0; ox < p->ow; ++ox) {
        float *y = out + ((b * p->oh + oy) * p->ow + ox) * p->oc;
        for (o = 0; o < p->oc; ++o) {
          const int32_t g0 = (o / ocg) * fic;
          float acc = bias ? bias[o] : 0.0f;
          for (ky = 0; ky < p->kh; ++ky) {
            const int32_t iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
            if (iy < 0 || iy >= p->ih) continue;
            for (kx = 0; kx < p->kw; ++kx) {
              const int32_t ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
              const float *x, *w;
              if (ix < 0 || ix >= p->iw) continue;
              x = in + ((b * p->ih + iy) * p->iw + ix) * p->ic + g0;
              w = filter + ((o * p->kh + ky) * p->kw + kx) * fic;
              for (c = 0; c < fic; ++c) acc += x[c] * w[c];
            }
          }
          y[o] = pm_clampf(acc, p->act_min, p->act_max);
        }
      }
    }
  }
  return 0;
}

int pm_depthwise_conv2d_f32(const pm_window_f32_params *p, const float *in, const float *filter, const float *bias,
                            float *out) {
  int32_t b, oy, ox, o, ky, kx;
  for (b = 0; b < p->n; ++b) {
    for (oy = 0; oy < p->oh; ++oy) {
      for (ox = 0; ox < p->ow; ++ox) {
        float *y = out + ((b * p->oh + oy) * p->ow + ox) * p->oc;
        for (o = 0; o < p->oc; ++o) {
          const int32_t c = o / p->depth_multiplier;
          float acc = bias ? bias[o] : 0.0f;
          for (ky = 0; ky < p->kh; ++ky) {
            const int32_t iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
            if (iy < 0 || iy >= p->ih) continue;
            for (kx = 0; kx < p->kw; ++kx) {
              const int32_t ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
              if (ix < 0 || ix >= p->iw) continue;
              acc += in[((b * p->ih + iy) * p->iw + ix) * p->ic + c] * filter[(ky * p->kw + kx) * p->oc + o];
            }
          }
          y[o] = pm_clampf(acc, p->act_min, p->act_max);
        }
      }
    }
  }
  return 0;
}

static int pm_pool_f32(const pm_window_f32_params *p, const float *in, float *out, int average) {
  int32_t b, oy, ox, c, ky, kx;
  for (b = 0; b < p->n; ++b) {
    for (oy = 0; oy < p->oh; ++oy) {
      for (ox = 0; ox < p->ow; ++ox) {
        const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
        const int32_t ky0 = y0 < 0 ? -y0 : 0, kx0 = x0 < 0 ? -x0 : 0;
        const int32_t ky1 = p->ih - y0 < p->kh ? p->ih - y0 : p->kh, kx1 = p->iw - x0 < p->kw ? p->iw - x0 : p->kw;
        float *y = out + ((b * p->oh + oy) * p->ow + ox) * p->oc;
        for (c = 0; c < p->oc; ++c) {
          float acc = average ? 0.0f : -PM_F32_INF;
          int32_t count = 0;
          for (ky = ky0; ky < ky1; ++ky) {
            for (kx = kx0; kx < kx1; ++kx) {
              const float v = in[((b * p->ih + y0 + ky) * p->iw + x0 + kx) * p->ic + c];
              if (average) {
                acc += v;
              } else {
                acc = v > acc ? v : acc;
              }
              ++count;
            }
          }
          if (average) acc = count ? acc / (float)count : 0.0f;
          y[c] = pm_clampf(acc, p->act_min, p->act_max);
        }
      }
    }
  }
  return 0;
}

int pm_average_pool2d_f32(const pm_window_f32_params *p, const float *in, float *out) {
  return pm_pool_f32(p, in, out, 1);
}

int pm_max_pool2d_f32(const pm_window_f32_params *p, const float *in, float *out) { return pm_pool_f32(p, in, out, 0); }

int pm_fully_connected_f32(int32_t rows, int32_t depth, int32_t units, const float *in, const float *weights,
                           const float *bias, float act_min, float act_max, float *out) {
  int32_t r, u, k;
  for (r = 0; r < rows; ++r) {
    const float *x = in + r * depth;
    for (u = 0; u < units; ++u) {
      const float *w = weights + u * depth;
      float acc = bias ? bias[u] : 0.0f;
      for (k = 0; k < depth; ++k) acc += x[k] * w[k];
      out[r * units + u] = pm_clampf(acc, act_min, act_max);
    }
  }
  return 0;
}

int pm_batch_matmul_f32(const pm_matmul_f32_params *p, const int32_t *lhs_off, const int32_t *rhs_off,
                        const float *lhs, const float *rhs, float *out) {
  int32_t b, i, j, k;
  for (b = 0; b < p->batches; ++b) {
    const float *a = lhs + lhs_off[b], *w = rhs + rhs_off[b];
    for (i = 0; i < p->m; ++i) {
      for (j = 0; j < p->n; ++j) {
        float acc = 0.0f;
        for (k = 0; k < p->k; ++k) acc += a[i * p->lhs_row + k * p->lhs_col] * w[k * p->rhs_row + j * p->rhs_col];
        *out++ = acc;
      }
    }
  }
  return 0;
}

int pm_resize_nearest_f32(int32_t n, int32_t ih, int32_t iw, int32_t c, int32_t oh, int32_t ow, const int32_t *rows,
                          const int32_t *cols, const float *in, float *out) {
  int32_t b, oy, ox, k;
  for (b = 0; b < n; ++b) {
    for (oy = 0; oy < oh; ++oy) {
      for (ox = 0; ox < ow; ++ox) {
        const float *x = in + ((b * ih + rows[oy]) * iw + cols[ox]) * c;
        for (k = 0; k < c; ++k) *out++ = x[k];
      }
    }
  }
  return 0;
}

int pm_resize_bilinear_f32(int32_t n, int32_t ih, int32_t iw, int32_t c, int32_t oh, int32_t ow, const int32_t *rows,
                           const int32_t *rows_hi, const float *fy, const int32_t *cols, const int32_t *cols_hi,
                           const float *fx, const float *in, float *out) {
  int32_t b, oy, ox, k;
  for (b = 0; b < n; ++b) {
    for (oy = 0; oy < oh; ++oy) {
      const float *r0 = in + (b * ih + rows[oy]) * iw * c, *r1 = in + (b * ih + rows_hi[oy]) * iw * c;
      for (ox = 0; ox < ow; ++ox) {
        const float wy = fy[oy], wx = fx[ox];
        const float w00 = (1.0f - wy) * (1.0f - wx), w01 = (1.0f - wy) * wx, w10 = wy * (1.0f - wx), w11 = wy * wx;
        const float *a = r0 + cols[ox] * c, *bb = r0 + cols_hi[ox] * c;
        const float *cc = r1 + cols[ox] * c, *d = r1 + cols_hi[ox] * c;
        for (k = 0; k < c; ++k) *out++ = a[k] * w00 + bb[k] * w01 + cc[k] * w10 + d[k] * w11;
      }
    }
  }
  return 0;
}

int pm_transpose_conv_f32(const pm_window_f32_params *p, const float *in, const float *filter, const float *bias,
                          float *out) {
  int32_t b, oy, ox, o, ky, kx, c;
  for (b = 0; b < p->n; ++b) {
    for (oy = 0; oy < p->oh; ++oy) {
      for (ox = 0; ox < p->ow; ++ox) {
        float *y = out + ((b * p->oh + oy) * p->ow + ox) * p->oc;
        for (o = 0; o < p->oc; ++o) {
          float acc = 0.0f;
          for (ky = 0; ky < p->kh; ++ky) {
            const int32_t ty = oy + p->pad_h - ky;
            int32_t iy;
            if (ty < 0 || ty % p->stride_h) continue;
            iy = ty / p->stride_h;
            if (iy >= p->ih) continue;
            for (kx = 0; kx < p->kw; ++kx) {
              const int32_t tx = ox + p->pad_w - kx;
              int32_t ix;
              const float *x, *w;
              if (tx < 0 || tx % p->stride_w) continue;
              ix = tx / p->stride_w;
              if (ix >= p->iw) continue;
              x = in + ((b * p->ih + iy) * p->iw + ix) * p->ic;
              w = filter + ((o * p->kh + ky) * p->kw + kx) * p->ic;
              for (c = 0; c < p->ic; ++c) acc += x[c] * w[c];
            }
          }
          if (bias) acc += bias[o];
          y[o] = pm_clampf(acc, p->act_min, p->act_max);
        }
      }
    }
  }
  return 0;
}

int pm_arg_min_max_f32(int32_t outer, int32_t axis, int32_t inner, int32_t is_max, const float *in, int32_t *out) {
  int32_t o, a, i;
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      const float *x = in + o * axis * inner + i;
      float best = x[0];
      int32_t at = 0;
      for (a = 1; a < axis; ++a) {
        const float v = x[a * inner];
        if (is_max ? v > best : v < best) {
          best = v;
          at = a;
        }
      }
      out[o * inner + i] = at;
    }
  }
  return 0;
}

#define PM_HYBRID_BLOCK 32

/* LiteRT's symmetric row quantizer on value i of a row whose first `vec` values take the vector path */
static int32_t pm_hybrid_q(float x, float inv, int32_t i, int32_t vec) {
  const float v = x * inv;
  float r;
  if (i < vec) {
    const float t = v + (v < 0.0f ? -0.5f : 0.5f);
    r = t < 0.0f ? -pm_floorf(-t) : pm_floorf(t); /* trunc */
  } else {
    r = pm_roundf_away(v);
  }
  r = pm_clampf(r, -127.0f, 127.0f);
  return (int32_t)r;
}

int pm_conv2d_hybrid_f32(const pm_window_f32_params *p, const float *in, const int8_t *filter, float filter_scale,
                         const float *bias, float *out) {
  const int32_t fic = p->ic / p->groups, ocg = p->oc / p->groups;
  const int32_t size = p->ih * p->iw * p->ic, vec = size & ~7;
  int32_t b, oy, ox, o0, o, ky, kx, c, i;
  int32_t acc[PM_HYBRID_BLOCK];
  for (b = 0; b < p->n; ++b) {
    const float *xs = in + b * size;
    float range = 0.0f, inv, s_in, factor;
    int zero;
    for (i = 0; i < size; ++i) {
      const float a = xs[i] < 0.0f ? -xs[i] : xs[i];
      range = a > range ? a : range;
    }
    zero = range == 0.0f;
    inv = zero ? 0.0f : 127.0f / range;
    s_in = zero ? 1.0f : range / 127.0f;
    factor = s_in * filter_scale;
    for (oy = 0; oy < p->oh; ++oy) {
      for (ox = 0; ox < p->ow; ++ox) {
        float *y = out + ((b * p->oh + oy) * p->ow + ox) * p->oc;
        for (o0 = 0; o0 < p->oc; o0 += PM_HYBRID_BLOCK) {
          const int32_t o1 = o0 + PM_HYBRID_BLOCK < p->oc ? o0 + PM_HYBRID_BLOCK : p->oc;
          for (o = o0; o < o1; ++o) acc[o - o0] = 0;
          for (ky = 0; ky < p->kh; ++ky) {
            const int32_t iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
            if (iy < 0 || iy >= p->ih) continue;
            for (kx = 0; kx < p->kw; ++kx) {
              const int32_t ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
              if (ix < 0 || ix >= p->iw) continue;
              for (c = 0; c < p->ic; ++c) {
                const int32_t at = (iy * p->iw + ix) * p->ic + c;
                const int32_t q = zero ? 0 : pm_hybrid_q(xs[at], inv, at, vec);
                const int32_t g = c / fic, fc = c - g * fic;
                for (o = o0 > g * ocg ? o0 : g * ocg; o < o1 && o < (g + 1) * ocg; ++o) {
                  acc[o - o0] += q * (int32_t)filter[((o * p->kh + ky) * p->kw + kx) * fic + fc];
                }
              }
            }
          }
          for (o = o0; o < o1; ++o) {
            float v = (float)acc[o - o0] * factor;
            if (bias) v += bias[o];
            y[o] = pm_clampf(v, p->act_min, p->act_max);
          }
        }
      }
    }
  }
  return 0;
}
