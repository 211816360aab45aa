/* int16 ADD, SUB, MUL, pooling, MEAN and SOFTMAX: see pm_ops_s16.h. */
#include "pm_ops_s16.h"

/* MultiplyByQuantizedMultiplierSmallerThanOneExp: RoundingDivideByPOT(SRDHM(x, m), -shift). */
static int32_t pm_mbqm_lt1(int32_t x, int32_t m, int32_t shift) {
  return pm_rounding_divide_by_pot(pm_saturating_rounding_doubling_high_mul(x, m), -shift);
}

static int32_t pm_binary_one(const pm_binary_s16_params *p, int32_t a, int32_t b) {
  int32_t v;
  if (p->kind == PM_S16_MAXIMUM) {
    return a > b ? a : b; /* codes compared as they are, no clamp (tflite-micro's kernel) */
  }
  if (p->kind == PM_S16_MINIMUM) {
    return a < b ? a : b;
  }
  if (p->kind == PM_S16_MUL) {
    v = pm_multiply_by_quantized_multiplier(a * b, p->mo, p->so);
  } else {
    const int32_t x1 = pm_mbqm_lt1(a * ((int32_t)1 << 15), p->m1, p->s1);
    const int32_t x2 = pm_mbqm_lt1(b * ((int32_t)1 << 15), p->m2, p->s2);
    v = pm_mbqm_lt1(p->kind == PM_S16_SUB ? x1 - x2 : x1 + x2, p->mo, p->so);
  }
  return pm_clamp_i32(v, p->act_min, p->act_max);
}

int pm_binary_s16(const pm_binary_s16_params *p, const pm_broadcast *bc, const int16_t *a, const int16_t *b,
                  int16_t *out) {
#define PM_S16_ONE(x, y) ((int16_t)pm_binary_one(p, (int32_t)(x), (int32_t)(y)))
  PM_BROADCAST_EACH(bc, a, b, out, PM_S16_ONE);
#undef PM_S16_ONE
  return PM_OK;
}

int pm_pool_s16(const pm_pool_s16_params *p, const pm_dims *id, const int16_t *in, const pm_dims *od, int16_t *out) {
  int32_t n, oy, ox, c, ky, kx;
  for (n = 0; n < od->n; ++n) {
    for (oy = 0; oy < od->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t ky0 = y0 < 0 ? -y0 : 0;
      const int32_t ky1 = id->h - y0 < p->filter_h ? id->h - y0 : p->filter_h;
      for (ox = 0; ox < od->w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t kx0 = x0 < 0 ? -x0 : 0;
        const int32_t kx1 = id->w - x0 < p->filter_w ? id->w - x0 : p->filter_w;
        for (c = 0; c < od->c; ++c) {
          int32_t acc = p->average ? 0 : INT32_MIN;
          int32_t count = 0;
          for (ky = ky0; ky < ky1; ++ky) {
            for (kx = kx0; kx < kx1; ++kx) {
              const int32_t v = in[((n * id->h + y0 + ky) * id->w + x0 + kx) * id->c + c];
              if (p->average) {
                acc += v;
              } else if (v > acc) {
                acc = v;
              }
              ++count;
            }
          }
          if (p->average) {
            if (count == 0) {
              return PM_ERROR; /* TFLite's AveragePool fails on an empty window */
            }
            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
          }
          out[((n * od->h + oy) * od->w + ox) * od->c + c] = (int16_t)pm_clamp_i32(acc, p->act_min, p->act_max);
        }
      }
    }
  }
  return PM_OK;
}

int pm_mean_s16(const pm_mean_params *p, const int16_t *in, int16_t *out) {
  int32_t oidx[PM_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
  int32_t obase = 0, o = 0, outputs = 1, d;
  for (d = 0; d < p->outer_rank; ++d) {
    outputs *= p->outer_shape[d];
  }
  for (o = 0; o < outputs; ++o) {
    int32_t iidx[PM_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
    int32_t off = 0, k, sum = 0;
    for (k = 0; k < p->count; ++k) {
      sum = (int32_t)((uint32_t)sum + (uint32_t)(int32_t)in[obase + off]);
      for (d = p->inner_rank - 1; d >= 0; --d) {
        off += p->inner_stride[d];
        if (++iidx[d] < p->inner_shape[d]) {
          break;
        }
        off -= p->inner_stride[d] * p->inner_shape[d];
        iidx[d] = 0;
      }
    }
    out[o] = (int16_t)(p->count == 0 ? 0
                                     : pm_clamp_i32(pm_multiply_by_quantized_multiplier(sum, p->multiplier, p->shift),
                                                    -32768, 32767));
    for (d = p->outer_rank - 1; d >= 0; --d) {
      obase += p->outer_stride[d];
      if (++oidx[d] < p->outer_shape[d]) {
        break;
      }
      obase -= p->outer_stride[d] * p->outer_shape[d];
      oidx[d] = 0;
    }
  }
  return PM_OK;
}

/* lut_lookup_with_interpolation: 256 + (v >> 7) indexes the base, the low 7 bits the slope. */
static int32_t pm_lut16(int32_t v, const int16_t *lut) {
  const int32_t idx = 256 + (v >> 7);
  const int32_t off = v & 0x7f;
  const int32_t base = lut[idx];
  const int32_t slope = (int16_t)(uint16_t)(uint32_t)(lut[idx + 1] - base);
  return (int16_t)(uint16_t)(uint32_t)(base + ((slope * off + 64) >> 7));
}

static int32_t pm_clz32(uint32_t x) {
  int32_t n = 0;
  if (x == 0u) {
    return 32;
  }
  while (!(x & 0x80000000u)) {
    x <<= 1;
    ++n;
  }
  return n;
}

int pm_softmax_s16(int32_t multiplier, int32_t shift, int32_t rows, int32_t depth, const int16_t *exp_lut,
                   const int16_t *recip_lut, const int16_t *in, int16_t *out) {
  int32_t r, c;
  for (r = 0; r < rows; ++r) {
    const int16_t *x = in + r * depth;
    int16_t *y = out + r * depth;
    int32_t max = -32768, sum = 0, h, shifted, recip, right;
    for (c = 0; c < depth; ++c) {
      if (x[c] > max) {
        max = x[c];
      }
    }
    /* the exps go to the output first (in == out is fine: x[c] is read before y[c] is written) */
    for (c = 0; c < depth; ++c) {
      const int32_t s = pm_multiply_by_quantized_multiplier((int32_t)x[c] - max, multiplier, shift) + 32767;
      y[c] = (int16_t)pm_lut16(pm_clamp_i32(s, -32768, 32767), exp_lut);
      sum += y[c];
    }
    h = pm_clz32((uint32_t)sum);
    shifted = (int32_t)((((int64_t)sum << (h - 1)) + (1 << 13)) >> 14);
    recip = pm_lut16(pm_clamp_i32(shifted - (((int32_t)1 << 15) + ((int32_t)1 << 16)), -32768, 32767), recip_lut);
    right = 31 - h;
    for (c = 0; c < depth; ++c) {
      const int32_t v = (int32_t)(((int64_t)y[c] * recip + ((int64_t)1 << (right - 1))) >> right);
      y[c] = (int16_t)pm_clamp_i32(v, 0, 32767);
    }
  }
  return PM_OK;
}

int pm_act_s16(const pm_act_s16_params *p, int32_t size, const int16_t *in, int16_t *out) {
  int32_t i;
  for (i = 0; i < size; ++i) {
    const int32_t x = in[i];
    int32_t v;
    if (p->kind == PM_S16_RELU6) {
      v = x;
    } else if (p->kind == PM_S16_ABS) {
      v = pm_multiply_by_quantized_multiplier(x < 0 ? -x : x, p->multiplier, p->shift);
    } else if (p->kind == PM_S16_RELU || x >= 0) {
      v = pm_multiply_by_quantized_multiplier(x, p->multiplier, p->shift);
    } else if (p->alpha_multiplier < 0) {
      v = -pm_multiply_by_quantized_multiplier(x, -p->alpha_multiplier, p->alpha_shift);
    } else {
      v = pm_multiply_by_quantized_multiplier(x, p->alpha_multiplier, p->alpha_shift);
    }
    out[i] = (int16_t)pm_clamp_i32(v, p->act_min, p->act_max);
  }
  return PM_OK;
}
