#include "pm_transpose_conv_s8.h"

#include "pm_dot_s8.h"

/* s[j] += a . w_j over k int8 pairs for 4 weight rows w_j = w + j * stride: the input values
 * are loaded (and on Armv7E-M sign-extended into pairs) once for four output channels. */
static inline void pm_tc_dot4(const int8_t *a, const int8_t *w, int32_t stride, int32_t k, int32_t *s) {
  const int8_t *w0 = w, *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
  int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
#if PM_SIMD32
  for (; k >= 4; k -= 4) {
    const uint32_t x = (uint32_t)pm_read_s8x4(a);
    const int32_t xe = (int32_t)__sxtb16(x), xo = pm_sxtb16_ror8(x);
    uint32_t y = (uint32_t)pm_read_s8x4(w0);
    s0 = __smlad(xo, pm_sxtb16_ror8(y), __smlad(xe, (int32_t)__sxtb16(y), s0));
    y = (uint32_t)pm_read_s8x4(w1);
    s1 = __smlad(xo, pm_sxtb16_ror8(y), __smlad(xe, (int32_t)__sxtb16(y), s1));
    y = (uint32_t)pm_read_s8x4(w2);
    s2 = __smlad(xo, pm_sxtb16_ror8(y), __smlad(xe, (int32_t)__sxtb16(y), s2));
    y = (uint32_t)pm_read_s8x4(w3);
    s3 = __smlad(xo, pm_sxtb16_ror8(y), __smlad(xe, (int32_t)__sxtb16(y), s3));
    a += 4;
    w0 += 4;
    w1 += 4;
    w2 += 4;
    w3 += 4;
  }
#endif
  for (; k > 0; --k) {
    const int32_t x = *a++;
    s0 += x * *w0++;
    s1 += x * *w1++;
    s2 += x * *w2++;
    s3 += x * *w3++;
  }
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
}

static inline int32_t pm_tc_dot(const int8_t *a, const int8_t *w, int32_t k, int32_t s) {
  for (; k > 0; --k) s += *a++ * *w++;
  return s;
}

/* (q, r) with v = q * d + r, 0 <= r < d, for v >= 0, by repeated subtraction: used once per
 * layer (the loops below then step q and r), so no division instruction or library call. */
static void pm_divmod(int32_t v, int32_t d, int32_t *q, int32_t *r) {
  int32_t quot = 0;
  while (v >= d) {
    v -= d;
    ++quot;
  }
  *q = quot;
  *r = v;
}

int pm_transpose_conv_s8(const pm_transpose_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                         const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *tap_sums,
                         const int32_t *bias, const pm_dims *out_dims, int8_t *out) {
  const int32_t ih = in_dims->h, iw = in_dims->w, ic = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w, oc = f_dims->n;
  const int32_t taps = kh * kw, row = taps * ic; /* weights of one output channel */
  const int32_t sh = p->stride_h, sw = p->stride_w, zp = p->input_zp;
  int32_t b, oy, ox, o, j;
  int32_t qy0, ry0, qx0, rx0;
  pm_divmod(p->pad_h, sh, &qy0, &ry0);
  pm_divmod(p->pad_w, sw, &qx0, &rx0);
  for (b = 0; b < out_dims->n; ++b) {
    const int8_t *image = in + b * ih * iw * ic;
    /* oy + pad_h = qy * stride_h + ry: the taps ky = ry + m * stride_h read input row qy - m */
    int32_t qy = qy0, ry = ry0;
    for (oy = 0; oy < out_dims->h; ++oy) {
      int32_t qx = qx0, rx = rx0;
      for (ox = 0; ox < out_dims->w; ++ox) {
        for (o = 0; o < oc; o += 4) { /* blocks of 4 output channels share the input loads */
          const int32_t nb = oc - o < 4 ? oc - o : 4;
          int32_t acc[4] = {0, 0, 0, 0};
          int32_t ky, iy;
          for (ky = ry, iy = qy; ky < kh && iy >= 0; ky += sh, --iy) {
            int32_t kx, ix;
            if (iy >= ih) continue;
            for (kx = rx, ix = qx; kx < kw && ix >= 0; kx += sw, --ix) {
              const int32_t tap = ky * kw + kx;
              const int8_t *xp = image + (iy * iw + ix) * ic;
              const int8_t *wp = filter + o * row + tap * ic;
              if (ix >= iw) continue;
              /* sum (x - zp) * w = sum x * w - zp * sum w: int8 products (SMLAD pairs on
               * Armv7E-M) and each tap's weight sum from flash */
              if (nb == 4) {
                pm_tc_dot4(xp, wp, row, ic, acc);
              } else {
                for (j = 0; j < nb; ++j) acc[j] = pm_tc_dot(xp, wp + j * row, ic, acc[j]);
              }
              for (j = 0; j < nb; ++j) acc[j] -= zp * tap_sums[(o + j) * taps + tap];
            }
          }
          for (j = 0; j < nb; ++j) {
            *out++ = pm_requant_s8(acc[j] + (bias ? bias[o + j] : 0), &q[o + j], p->output_zp, p->act_min,
                                   p->act_max);
          }
        }
        if (++rx == sw) {
          rx = 0;
          ++qx;
        }
      }
      if (++ry == sh) {
        ry = 0;
        ++qy;
      }
    }
  }
  return PM_OK;
}
