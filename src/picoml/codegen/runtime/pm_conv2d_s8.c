/* CONV_2D int8. Accumulation with the input zero point folded into the bias: padded taps
 * read the zero point, so sum((x - zp) * w) over valid taps == bias_fold + sum(x' * w). */
#include "pm_conv2d_s8.h"

int pm_conv2d_s8(const pm_conv_params *p, const pm_per_channel_quant *q, const pm_dims *in_dims,
                 const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                 const pm_dims *out_dims, int8_t *out) {
  const int32_t in_h = in_dims->h, in_w = in_dims->w, in_c = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w, f_c = f_dims->c;
  const int32_t out_h = out_dims->h, out_w = out_dims->w, out_c = out_dims->c;
  const int32_t groups = in_c / f_c;
  const int32_t per_group = out_c / groups;
  const int32_t zp = p->input_zp;
  int32_t b, oy, ox, oc, ky, kx, ic;
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < out_w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *o = out + ((b * out_h + oy) * out_w + ox) * out_c;
        for (oc = 0; oc < out_c; ++oc) {
          const int8_t *f = filter + oc * kh * kw * f_c;
          const int32_t c0 = (oc / per_group) * f_c;
          int32_t acc = bias[oc];
          for (ky = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            for (kx = 0; kx < kw; ++kx) {
              const int32_t x = x0 + kx * p->dilation_w;
              const int8_t *fp = f + (ky * kw + kx) * f_c;
              if (y < 0 || y >= in_h || x < 0 || x >= in_w) {
                for (ic = 0; ic < f_c; ++ic) acc += zp * fp[ic];
              } else {
                const int8_t *ip = in + ((b * in_h + y) * in_w + x) * in_c + c0;
                for (ic = 0; ic < f_c; ++ic) acc += ip[ic] * fp[ic];
              }
            }
          }
          o[oc] = pm_scale_to_s8(acc, q->multiplier[oc], q->shift[oc], p->output_zp, p->act_min, p->act_max);
        }
      }
    }
  }
  return PM_OK;
}
