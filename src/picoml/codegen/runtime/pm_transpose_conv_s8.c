#include "pm_transpose_conv_s8.h"

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
                         const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                         const pm_dims *out_dims, int8_t *out) {
  const int32_t ih = in_dims->h, iw = in_dims->w, ic = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w, oc = f_dims->n;
  const int32_t sh = p->stride_h, sw = p->stride_w, zp = p->input_zp;
  int32_t b, oy, ox, o, c;
  int32_t qy0, ry0, qx0, rx0;
  pm_divmod(p->pad_h, sh, &qy0, &ry0);
  pm_divmod(p->pad_w, sw, &qx0, &rx0);
  for (b = 0; b < out_dims->n; ++b) {
    const int8_t *image = in + b * ih * iw * ic;
    /* oy + pad_h = qy * stride_h + ry: valid taps ky = ry + j * stride_h read input row qy - j */
    int32_t qy = qy0, ry = ry0;
    for (oy = 0; oy < out_dims->h; ++oy) {
      int32_t qx = qx0, rx = rx0;
      for (ox = 0; ox < out_dims->w; ++ox) {
        for (o = 0; o < oc; ++o) {
          int32_t acc = 0;
          int32_t ky, iy;
          for (ky = ry, iy = qy; ky < kh && iy >= 0; ky += sh, --iy) {
            int32_t kx, ix;
            if (iy >= ih) continue;
            for (kx = rx, ix = qx; kx < kw && ix >= 0; kx += sw, --ix) {
              const int8_t *xp, *wp;
              if (ix >= iw) continue;
              xp = image + (iy * iw + ix) * ic;
              wp = filter + ((o * kh + ky) * kw + kx) * ic;
              for (c = 0; c < ic; ++c) acc += (xp[c] - zp) * wp[c];
            }
          }
          if (bias) acc += bias[o];
          *out++ = pm_requant_s8(acc, &q[o], p->output_zp, p->act_min, p->act_max);
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
