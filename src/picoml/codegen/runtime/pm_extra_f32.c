/* See pm_extra_f32.h. */
#include "pm_extra_f32.h"

#include "pm_math_f32.h"

int pm_axis_gather_f32(const pm_axis_gather_params *p, const int32_t *tables, float value, const float *in,
                       float *out) {
  const int32_t *tab[PM_MAX_DIMS];
  int32_t idx[PM_MAX_DIMS];
  int32_t d, k = 0, total = 1, i;
  if (p->rank < 0 || p->rank > PM_MAX_DIMS) return PM_ERROR;
  for (d = 0; d < p->rank; ++d) {
    tab[d] = tables + k;
    k += p->out_shape[d];
    total *= p->out_shape[d];
    idx[d] = 0;
  }
  for (i = 0; i < total; ++i) {
    int32_t off = 0, pad = 0;
    for (d = 0; d < p->rank; ++d) {
      const int32_t s = tab[d][idx[d]];
      if (s < 0) pad = 1;
      off += s * p->in_stride[d];
    }
    out[i] = pad ? value : in[off];
    for (d = p->rank - 1; d >= 0; --d) {
      if (++idx[d] < p->out_shape[d]) break;
      idx[d] = 0;
    }
  }
  return PM_OK;
}

int pm_select_f32(const pm_select_broadcast *bc, const uint8_t *cond, const float *x, const float *y, float *out) {
  int32_t i;
  if (bc->rank < 0 || bc->rank > PM_MAX_DIMS) return PM_ERROR;
  if (bc->same_shape) {
    for (i = 0; i < bc->size; ++i) out[i] = cond[i] ? x[i] : y[i];
  } else {
    int32_t idx[PM_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
    int32_t oc = 0, ox = 0, oy = 0;
    for (i = 0; i < bc->size; ++i) {
      int32_t d = bc->rank - 1;
      out[i] = cond[oc] ? x[ox] : y[oy];
      while (d >= 0) { /* advance the multi-index, carrying into outer dimensions */
        ++idx[d];
        oc += bc->stride_c[d];
        ox += bc->stride_x[d];
        oy += bc->stride_y[d];
        if (idx[d] < bc->shape[d]) break;
        oc -= bc->stride_c[d] * bc->shape[d];
        ox -= bc->stride_x[d] * bc->shape[d];
        oy -= bc->stride_y[d] * bc->shape[d];
        idx[d] = 0;
        --d;
      }
    }
  }
  return PM_OK;
}

#define PM_F_EQ(x, y) ((uint8_t)((x) == (y)))
#define PM_F_NE(x, y) ((uint8_t)((x) != (y)))
#define PM_F_GT(x, y) ((uint8_t)((x) > (y)))
#define PM_F_GE(x, y) ((uint8_t)((x) >= (y)))
#define PM_F_LT(x, y) ((uint8_t)((x) < (y)))
#define PM_F_LE(x, y) ((uint8_t)((x) <= (y)))

int pm_compare_f32(const pm_broadcast *bc, int32_t op, const float *a, const float *b, uint8_t *out) {
  switch (op) {
    case PM_CMP_EQUAL:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_EQ);
      break;
    case PM_CMP_NOT_EQUAL:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_NE);
      break;
    case PM_CMP_GREATER:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_GT);
      break;
    case PM_CMP_GREATER_EQUAL:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_GE);
      break;
    case PM_CMP_LESS:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_LT);
      break;
    case PM_CMP_LESS_EQUAL:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_LE);
      break;
    default:
      return PM_ERROR;
  }
  return PM_OK;
}

int pm_add_n_f32(int32_t count, int32_t size, const float *const *in, float *out) {
  int32_t i, k;
  for (i = 0; i < size; ++i) {
    float acc = 0.0f;
    for (k = 0; k < count; ++k) acc += in[k][i];
    out[i] = acc;
  }
  return PM_OK;
}

float pm_erff(float x) {
  const float ax = x < 0.0f ? -x : x;
  float r;
  if (x != x) return x;
  if (ax < 1.0f) { /* 2/sqrt(pi) x sum c[n] x^(2n), c[n] = (-1)^n / (n! (2n+1)), n = 0..11 */
    const float z = x * x;
    static const float c[12] = {1.000000000e+00f, -3.333333333e-01f, 1.000000000e-01f, -2.380952381e-02f,
                                 4.629629630e-03f, -7.575757576e-04f, 1.068376068e-04f, -1.322751323e-05f,
                                 1.458916900e-06f, -1.450385222e-07f, 1.312253296e-08f, -1.089222104e-09f};
    float acc = 0.0f;
    int32_t n;
    for (n = 11; n >= 0; --n) acc = acc * z + c[n];
    return 1.12837917f * x * acc;
  }
  if (ax >= 4.0f) {
    r = 1.0f;
  } else {
    const float t = 1.0f / (1.0f + 0.3275911f * ax);
    const float poly =
        t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    r = 1.0f - poly * pm_expf(-ax * ax);
  }
  return x < 0.0f ? -r : r;
}

int pm_gelu_f32(int32_t approximate, int32_t size, const float *in, float *out) {
  int32_t i;
  for (i = 0; i < size; ++i) {
    const float x = in[i];
    float t;
    if (approximate) {
      const float cubic = 0.044715f * x * x * x;
      t = pm_tanhf(0.797884561f * (x + cubic));
    } else {
      t = pm_erff(x * 0.707106781f);
    }
    out[i] = (0.5f * x) * (1.0f + t);
  }
  return PM_OK;
}

static float pm_floor_div_one(float a, float b) {
  const double q = (double)a / (double)b;
  int32_t i;
  if (!(q > -2147483648.0 && q < 2147483647.0)) return (float)q; /* an integer already, or inf / NaN */
  i = (int32_t)q;                                                 /* toward zero */
  if ((double)i > q) --i;
  return (float)i;
}

static float pm_fmodf(float a, float b) { /* exact: each step subtracts s <= |r| < 2 s (Sterbenz) */
  float r = a < 0.0f ? -a : a;
  const float ab = b < 0.0f ? -b : b;
  if (b == 0.0f || a != a || b != b || r == PM_F32_INF) return PM_F32_NAN;
  if (ab == PM_F32_INF) return a;
  while (r >= ab) {
    float s = ab;
    while (s + s <= r) s += s;
    r -= s;
  }
  return a < 0.0f ? -r : r;
}

static float pm_floor_mod_one(float a, float b) {
  const float m = pm_fmodf(a, b);
  return (m != 0.0f && ((b < 0.0f) != (m < 0.0f))) ? m + b : m;
}

int pm_floor_div_f32(const pm_broadcast *bc, int32_t b_size, const float *a, const float *b, float *out) {
  int32_t i;
  for (i = 0; i < b_size; ++i)
    if (b[i] == 0.0f) return PM_ERROR;
  PM_BROADCAST_EACH(bc, a, b, out, pm_floor_div_one);
  return PM_OK;
}

int pm_floor_mod_f32(const pm_broadcast *bc, const float *a, const float *b, float *out) {
  PM_BROADCAST_EACH(bc, a, b, out, pm_floor_mod_one);
  return PM_OK;
}

static int32_t pm_f32_to_i32(float x) {
  if (!(x >= -2147483648.0f && x < 2147483648.0f)) return INT32_MIN;
  return (int32_t)x;
}

int pm_cast_f32(int32_t count, int32_t src, int32_t dst, const void *in, void *out) {
  int32_t i;
  for (i = 0; i < count; ++i) {
    if (src == PM_TYPE_FLOAT32) {
      const float x = ((const float *)in)[i];
      if (dst == PM_TYPE_FLOAT32) {
        ((float *)out)[i] = x;
      } else if (dst == PM_TYPE_INT32) {
        ((int32_t *)out)[i] = pm_f32_to_i32(x);
      } else if (dst == PM_TYPE_INT8) {
        ((int8_t *)out)[i] = (int8_t)(uint8_t)((uint32_t)pm_f32_to_i32(x) & 0xFFu);
      } else {
        return PM_ERROR;
      }
    } else if (dst == PM_TYPE_FLOAT32) {
      if (src == PM_TYPE_INT8) {
        ((float *)out)[i] = (float)((const int8_t *)in)[i];
      } else if (src == PM_TYPE_INT32) {
        ((float *)out)[i] = (float)((const int32_t *)in)[i];
      } else if (src == PM_TYPE_BOOL) {
        ((float *)out)[i] = ((const uint8_t *)in)[i] ? 1.0f : 0.0f;
      } else {
        return PM_ERROR;
      }
    } else {
      return PM_ERROR;
    }
  }
  return PM_OK;
}

int pm_l2norm_f32(int32_t rows, int32_t depth, const float *in, float *out) {
  int32_t r, k;
  for (r = 0; r < rows; ++r) {
    const float *x = in + r * depth;
    float ss = 0.0f, n;
    for (k = 0; k < depth; ++k) ss += x[k] * x[k];
    n = pm_sqrtf(ss);
    if (!(n >= 1e-6f)) n = 1e-6f;
    for (k = 0; k < depth; ++k) out[r * depth + k] = x[k] / n;
  }
  return PM_OK;
}

int pm_log_softmax_f32(int32_t rows, int32_t depth, const float *in, float *out) {
  int32_t r, k;
  for (r = 0; r < rows; ++r) {
    const float *x = in + r * depth;
    float *y = out + r * depth;
    float mx = x[0], sum = 0.0f, lg;
    for (k = 1; k < depth; ++k)
      if (x[k] > mx) mx = x[k];
    for (k = 0; k < depth; ++k) sum += pm_expf(x[k] - mx);
    lg = pm_logf(sum);
    for (k = 0; k < depth; ++k) y[k] = (x[k] - mx) - lg; /* x[k] read before y[k] is written */
  }
  return PM_OK;
}

int pm_cumsum_f32(int32_t outer, int32_t depth, int32_t inner, int32_t exclusive, int32_t reverse, const float *in,
                  float *out) {
  int32_t o, j, k;
  for (o = 0; o < outer; ++o) {
    for (j = 0; j < inner; ++j) {
      float acc = 0.0f;
      for (k = 0; k < depth; ++k) {
        const int32_t at = o * depth * inner + (reverse ? depth - 1 - k : k) * inner + j;
        const float v = in[at];
        if (exclusive) {
          out[at] = acc;
          acc += v;
        } else {
          acc += v;
          out[at] = acc;
        }
      }
    }
  }
  return PM_OK;
}

int pm_l2_pool2d_f32(const pm_window_f32_params *p, const float *in, float *out) {
  int32_t b, oy, ox, ch, ky, kx;
  for (b = 0; b < p->n; ++b) {
    for (oy = 0; oy < p->oh; ++oy) {
      for (ox = 0; ox < p->ow; ++ox) {
        for (ch = 0; ch < p->ic; ++ch) {
          float ss = 0.0f;
          int32_t taps = 0;
          for (ky = 0; ky < p->kh; ++ky) {
            const int32_t iy = oy * p->stride_h - p->pad_h + ky;
            if (iy < 0 || iy >= p->ih) continue;
            for (kx = 0; kx < p->kw; ++kx) {
              const int32_t ix = ox * p->stride_w - p->pad_w + kx;
              float v;
              if (ix < 0 || ix >= p->iw) continue;
              v = in[((b * p->ih + iy) * p->iw + ix) * p->ic + ch];
              ss += v * v;
              ++taps;
            }
          }
          if (taps == 0) return PM_ERROR;
          *out++ = pm_clampf(pm_sqrtf(ss / (float)taps), p->act_min, p->act_max);
        }
      }
    }
  }
  return PM_OK;
}
