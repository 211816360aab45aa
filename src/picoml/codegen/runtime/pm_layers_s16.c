/* 16x8 layers: see pm_layers_s16.h. Portable C99, integer only. */
#include "pm_layers_s16.h"

/* sum of x[i] * w[i], i < n: each product is at most 2^15 * 2^7 = 2^22 in magnitude, so blocks of
 * 256 sum exactly in int32 (cheap on 32-bit cores) before they join the int64 total. */
static int64_t pm_dot_s16x8(const int16_t *x, const int8_t *w, int32_t n) {
  int64_t total = 0;
  while (n > 0) {
    const int32_t k = n < 256 ? n : 256;
    int32_t part = 0, i;
    for (i = 0; i < k; ++i) {
      part += (int32_t)x[i] * (int32_t)w[i];
    }
    total += part;
    x += k;
    w += k;
    n -= k;
  }
  return total;
}

/* acc (int64 holding the exact sum, or its int32 wrap) + bias -> int16 output of channel c. */
static int16_t pm_finish_s16(int64_t acc, int32_t acc64, const pm_rescale_s16 *rq, int32_t c, int32_t act_min,
                             int32_t act_max) {
  int32_t v;
  if (acc64) {
    v = pm_multiply_by_quantized_multiplier_i64(acc, rq->multiplier[c], rq->shift[c]);
  } else {
    const int32_t a = (int32_t)(uint32_t)(uint64_t)acc; /* the int32 accumulator of TFLite's int32 path */
    v = pm_multiply_by_quantized_multiplier(a, rq->multiplier[c], rq->shift[c]);
  }
  return (int16_t)pm_clamp_i32(v, act_min, act_max);
}

int pm_fully_connected_s16(const pm_fully_connected_s16_params *p, const pm_rescale_s16 *rq, const int16_t *in,
                           const int8_t *weights, const int64_t *bias, int16_t *out) {
  int32_t b, u;
  for (b = 0; b < p->batches; ++b) {
    const int16_t *row = in + (int32_t)b * p->depth;
    for (u = 0; u < p->units; ++u) {
      const int8_t *w = weights + (int32_t)u * p->depth;
      int64_t acc = pm_dot_s16x8(row, w, p->depth);
      if (bias != NULL) {
        acc = (int64_t)((uint64_t)acc + (uint64_t)bias[u]);
      }
      out[(int32_t)b * p->units + u] = pm_finish_s16(acc, p->acc64, rq, u, p->act_min, p->act_max);
    }
  }
  return PM_OK;
}

int pm_conv2d_s16(const pm_conv_s16_params *p, const pm_rescale_s16 *rq, const pm_dims *id, const int16_t *in,
                  const pm_dims *fd, const int8_t *filter, const int64_t *bias, const pm_dims *od, int16_t *out) {
  int32_t n, oy, ox, oc, ky, kx;
  for (n = 0; n < od->n; ++n) {
    for (oy = 0; oy < od->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < od->w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int16_t *o = out + ((n * od->h + oy) * od->w + ox) * od->c;
        int32_t c0 = 0, left = p->per_group; /* the group's first input channel; its channels to go */
        for (oc = 0; oc < od->c; ++oc) {
          int64_t acc = 0;
          if (left == 0) {
            c0 += fd->c;
            left = p->per_group;
          }
          --left;
          for (ky = 0; ky < fd->h; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            if (y < 0 || y >= id->h) {
              continue;
            }
            for (kx = 0; kx < fd->w; ++kx) {
              const int32_t x = x0 + kx * p->dilation_w;
              const int16_t *src;
              const int8_t *w;
              if (x < 0 || x >= id->w) {
                continue;
              }
              src = in + ((n * id->h + y) * id->w + x) * id->c + c0;
              w = filter + ((oc * fd->h + ky) * fd->w + kx) * fd->c;
              acc += pm_dot_s16x8(src, w, fd->c);
            }
          }
          if (bias != NULL) {
            acc = (int64_t)((uint64_t)acc + (uint64_t)bias[oc]);
          }
          o[oc] = pm_finish_s16(acc, p->acc64, rq, oc, p->act_min, p->act_max);
        }
      }
    }
  }
  return PM_OK;
}

int pm_depthwise_conv2d_s16(const pm_conv_s16_params *p, const pm_rescale_s16 *rq, const pm_dims *id,
                            const int16_t *in, const pm_dims *fd, const int8_t *filter, const int64_t *bias,
                            const pm_dims *od, int16_t *out) {
  const int32_t mult = p->depth_multiplier;
  int32_t n, oy, ox, c, m, ky, kx;
  for (n = 0; n < od->n; ++n) {
    for (oy = 0; oy < od->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < od->w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int16_t *o = out + ((n * od->h + oy) * od->w + ox) * od->c;
        for (c = 0; c < id->c; ++c) {
          for (m = 0; m < mult; ++m) {
            const int32_t oc = c * mult + m;
            int64_t acc = 0;
            for (ky = 0; ky < fd->h; ++ky) {
              const int32_t y = y0 + ky * p->dilation_h;
              if (y < 0 || y >= id->h) {
                continue;
              }
              for (kx = 0; kx < fd->w; ++kx) {
                const int32_t x = x0 + kx * p->dilation_w;
                if (x < 0 || x >= id->w) {
                  continue;
                }
                acc += (int32_t)in[((n * id->h + y) * id->w + x) * id->c + c] *
                       (int32_t)filter[(ky * fd->w + kx) * fd->c + oc];
              }
            }
            if (bias != NULL) {
              acc = (int64_t)((uint64_t)acc + (uint64_t)bias[oc]);
            }
            o[oc] = pm_finish_s16(acc, p->acc64, rq, oc, p->act_min, p->act_max);
          }
        }
      }
    }
  }
  return PM_OK;
}

int pm_transpose_conv_s16(const pm_transpose_conv_s16_params *p, const pm_rescale_s16 *rq, const pm_dims *id,
                          const int16_t *in, const pm_dims *fd, const int8_t *filter, const int64_t *bias,
                          const pm_dims *od, int16_t *out) {
  int32_t n, oy, ox, oc, ky, kx;
  for (n = 0; n < od->n; ++n) {
    /* (oy + pad_h) = q_h * stride_h + r_h, kept without division as oy advances */
    int32_t q_h = p->q0_h, r_h = p->r0_h;
    for (oy = 0; oy < od->h; ++oy) {
      int32_t q_w = p->q0_w, r_w = p->r0_w;
      for (ox = 0; ox < od->w; ++ox) {
        int16_t *o = out + ((n * od->h + oy) * od->w + ox) * od->c;
        for (oc = 0; oc < od->c; ++oc) {
          int64_t acc = 0;
          /* taps ky = r_h + j * stride_h read input row q_h - j */
          {
            int32_t iy = q_h;
            for (ky = r_h; ky < fd->h; ky += p->stride_h, --iy) {
              int32_t ix;
              if (iy < 0) {
                break;
              }
              if (iy >= id->h) {
                continue;
              }
              ix = q_w;
              for (kx = r_w; kx < fd->w; kx += p->stride_w, --ix) {
                const int16_t *src;
                const int8_t *w;
                if (ix < 0) {
                  break;
                }
                if (ix >= id->w) {
                  continue;
                }
                src = in + ((n * id->h + iy) * id->w + ix) * id->c;
                w = filter + ((oc * fd->h + ky) * fd->w + kx) * fd->c;
                acc += pm_dot_s16x8(src, w, fd->c);
              }
            }
          }
          if (bias != NULL) {
            acc = (int64_t)((uint64_t)acc + (uint64_t)bias[oc]);
          }
          o[oc] = (int16_t)pm_clamp_i32(pm_multiply_by_quantized_multiplier_i64(acc, rq->multiplier[oc], rq->shift[oc]),
                                        p->act_min, p->act_max);
        }
        if (++r_w == p->stride_w) {
          r_w = 0;
          ++q_w;
        }
      }
      if (++r_h == p->stride_h) {
        r_h = 0;
        ++q_h;
      }
    }
  }
  return PM_OK;
}

int pm_batch_matmul_s16(const pm_batch_matmul_params *p, const int16_t *lhs, const int16_t *rhs, int16_t *out) {
  int32_t b0, b1, b2, i, j, k;
  for (b0 = 0; b0 < p->batch[0]; ++b0) {
    for (b1 = 0; b1 < p->batch[1]; ++b1) {
      for (b2 = 0; b2 < p->batch[2]; ++b2) {
        const int16_t *lm = lhs + b0 * p->lhs_batch[0] + b1 * p->lhs_batch[1] + b2 * p->lhs_batch[2];
        const int16_t *rm = rhs + b0 * p->rhs_batch[0] + b1 * p->rhs_batch[1] + b2 * p->rhs_batch[2];
        for (i = 0; i < p->rows; ++i) {
          const int16_t *lrow = lm + i * p->lhs_row;
          for (j = 0; j < p->cols; ++j) {
            const int16_t *rcol = rm + j * p->rhs_col;
            int64_t acc = 0;
            for (k = 0; k < p->depth; ++k) {
              acc += (int32_t)lrow[k * p->lhs_depth] * (int32_t)rcol[k * p->rhs_depth];
            }
            *out++ = (int16_t)pm_clamp_i32(pm_multiply_by_quantized_multiplier_i64(acc, p->multiplier, p->shift),
                                           -32768, 32767);
          }
        }
      }
    }
  }
  return PM_OK;
}
