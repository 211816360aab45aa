/* Pooling int8: windows clipped to the input, as TFLite's reference kernels. */
#include "pm_pool_s8.h"

static int pm_pool_s8(const pm_pool_params *p, const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims,
                      int8_t *out, int average) {
  const int32_t in_h = in_dims->h, in_w = in_dims->w, c = in_dims->c;
  int32_t b, oy, ox, ch, y, x;
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_dims->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t ys = pm_max_i32(0, -y0), ye = pm_min_i32(p->filter_h, in_h - y0);
      for (ox = 0; ox < out_dims->w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t xs = pm_max_i32(0, -x0), xe = pm_min_i32(p->filter_w, in_w - x0);
        int8_t *o = out + ((b * out_dims->h + oy) * out_dims->w + ox) * c;
        for (ch = 0; ch < c; ++ch) {
          int32_t acc = average ? 0 : -128;
          int32_t count = 0;
          for (y = ys; y < ye; ++y) {
            const int8_t *ip = in + ((b * in_h + y0 + y) * in_w + x0) * c + ch;
            for (x = xs; x < xe; ++x) {
              const int32_t v = ip[x * c];
              if (average) {
                acc += v;
              } else if (v > acc) {
                acc = v;
              }
              ++count;
            }
          }
          if (count == 0) return PM_ERROR;
          if (average) {
            /* C division truncates toward zero; +-count/2 makes it round half away from zero */
            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
          }
          o[ch] = (int8_t)pm_clamp_i32(acc, p->act_min, p->act_max);
        }
      }
    }
  }
  return PM_OK;
}

int pm_average_pool2d_s8(const pm_pool_params *p, const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims,
                         int8_t *out) {
  return pm_pool_s8(p, in_dims, in, out_dims, out, 1);
}

int pm_max_pool2d_s8(const pm_pool_params *p, const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims,
                     int8_t *out) {
  return pm_pool_s8(p, in_dims, in, out_dims, out, 0);
}
