/* DEPTHWISE_CONV_2D int8; padded taps read the input zero point (folded bias, see conv). */
#include "pm_depthwise_conv2d_s8.h"

int pm_depthwise_conv2d_s8(const pm_conv_params *p, const pm_per_channel_quant *q, const pm_dims *in_dims,
                           const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                           const pm_dims *out_dims, int8_t *out) {
  const int32_t in_h = in_dims->h, in_w = in_dims->w, in_c = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w;
  const int32_t out_h = out_dims->h, out_w = out_dims->w, out_c = out_dims->c;
  const int32_t m = p->depth_multiplier;
  const int32_t zp = p->input_zp;
  int32_t b, oy, ox, oc, ky, kx;
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < out_w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *o = out + ((b * out_h + oy) * out_w + ox) * out_c;
        for (oc = 0; oc < out_c; ++oc) {
          const int32_t ic = oc / m;
          int32_t acc = bias[oc];
          for (ky = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            for (kx = 0; kx < kw; ++kx) {
              const int32_t x = x0 + kx * p->dilation_w;
              const int32_t w = filter[(ky * kw + kx) * out_c + oc];
              if (y < 0 || y >= in_h || x < 0 || x >= in_w) {
                acc += zp * w;
              } else {
                acc += in[((b * in_h + y) * in_w + x) * in_c + ic] * w;
              }
            }
          }
          o[oc] = pm_scale_to_s8(acc, q->multiplier[oc], q->shift[oc], p->output_zp, p->act_min, p->act_max);
        }
      }
    }
  }
  (void)in_c;
  return PM_OK;
}
