/* Sparse DEPTHWISE_CONV_2D kernels (pm_sparse_depthwise_s8.h). pm_config.h builds the ones some
 * layer calls: PM_DEPTHWISE_CONV2D_SPARSE_S8 and PM_DEPTHWISE_CONV2D_SPARSE_S8_EXACT. */
#include "pm_sparse_depthwise_s8.h"

#include "pm_sparse_s8.h"

#if PM_DEPTHWISE_CONV2D_SPARSE_S8 || PM_DEPTHWISE_CONV2D_SPARSE_S8_EXACT

/* The layer with either requantization (exact: a constant at each call, so each public
 * function is one specialized copy). */
static inline int pm_dw_sparse(const pm_conv_params *p, const pm_sparse_quant *q, const pm_dims *in_dims,
                               const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                               const pm_dims *out_dims, int8_t *out, int exact) {
  const int32_t kh = f_dims->h, kw = f_dims->w, taps = kh * kw, ic = in_dims->c, m = p->depth_multiplier;
  const int32_t ih = in_dims->h, iw = in_dims->w, oc = out_dims->c;
  const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
  const uint32_t full = ((uint32_t)1 << taps) - 1u;
  const int8_t *const values = filter + ((oc * taps + 7) >> 3);
  const int8_t *tap[PM_SPARSE_DW_MAX_TAPS];
  int8_t zrow[PM_DW_MAX_C > 0 ? PM_DW_MAX_C : 1]; /* the input zero point, for taps outside the input */
  int32_t b, oy, ox, c;
  if (taps > PM_SPARSE_DW_MAX_TAPS || taps < 1 || ic > PM_DW_MAX_C || m < 1 || oc != ic * m || f_dims->c != oc ||
      out_dims->n != in_dims->n)
    return PM_ERROR;
  for (c = 0; c < ic; ++c) zrow[c] = (int8_t)p->input_zp;
  for (b = 0; b < out_dims->n; ++b) {
    for (oy = 0; oy < out_dims->h; ++oy) {
      for (ox = 0; ox < out_dims->w; ++ox) {
        const int8_t *mp = filter, *vp = values;
        uint32_t buf = 0;
        int32_t nb = 0, ky, kx, t = 0, k, o = 0;
        for (ky = 0; ky < kh; ++ky) {
          const int32_t iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
          for (kx = 0; kx < kw; ++kx, ++t) {
            const int32_t ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
            tap[t] = iy >= 0 && iy < ih && ix >= 0 && ix < iw ? in + ((b * ih + iy) * iw + ix) * ic : zrow;
          }
        }
        for (c = 0; c < ic; ++c) {
          for (k = 0; k < m; ++k, ++o) {
            uint32_t msk;
            int32_t acc = pm_sparse_bias(q, bias, o);
            pm_requant rq;
            PM_NO_UNROLL
            while (nb < taps) { /* nb + 8 <= 32: taps <= 25 */
              buf |= (uint32_t)(uint8_t)*mp++ << nb;
              nb += 8;
            }
            msk = buf & full;
            buf >>= taps;
            nb -= taps;
            PM_NO_UNROLL
            while (msk) {
              acc += tap[pm_sparse_pop(&msk)][c] * *vp++;
            }
            if (exact) {
              rq = pm_requant_unpack_exact(q->multiplier[o], q->shift[o]);
              out[o] = pm_requant_exact_s8(acc, &rq, zp, lo, hi);
            } else {
              rq = pm_requant_unpack(q->multiplier[o], q->shift[o]);
              out[o] = pm_requant_ram_s8(acc, &rq, zp, lo, hi);
            }
          }
        }
        out += oc;
      }
    }
  }
  return PM_OK;
}
#endif

#if PM_DEPTHWISE_CONV2D_SPARSE_S8
int pm_depthwise_conv2d_sparse_s8(const pm_conv_params *p, const pm_sparse_quant *q, const pm_dims *in_dims,
                                  const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                  const pm_dims *out_dims, int8_t *out) {
  return pm_dw_sparse(p, q, in_dims, in, f_dims, filter, bias, out_dims, out, 0);
}
#endif

#if PM_DEPTHWISE_CONV2D_SPARSE_S8_EXACT
int pm_depthwise_conv2d_sparse_s8_exact(const pm_conv_params *p, const pm_sparse_quant *q, const pm_dims *in_dims,
                                        const int8_t *in, const pm_dims *f_dims, const int8_t *filter,
                                        const int32_t *bias, const pm_dims *out_dims, int8_t *out) {
  return pm_dw_sparse(p, q, in_dims, in, f_dims, filter, bias, out_dims, out, 1);
}
#endif
