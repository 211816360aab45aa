/* Sparse DEPTHWISE_CONV_2D kernels (pm_sparse_depthwise_s8.h). pm_config.h builds the ones some
 * layer calls: PM_DEPTHWISE_CONV2D_SPARSE_S8 and PM_DEPTHWISE_CONV2D_SPARSE_S8_EXACT. */
#include "pm_sparse_depthwise_s8.h"

#include "pm_sparse_s8.h"

#if PM_DEPTHWISE_CONV2D_SPARSE_S8 || PM_DEPTHWISE_CONV2D_SPARSE_S8_EXACT

/* The tap table of output pixel i (flat over batch, rows, columns): the input pixel of each
 * tap, or the zero-point row for a tap outside the input. */
static void pm_dw_taps(const pm_conv_params *p, const pm_dims *in_dims, const pm_dims *out_dims, const pm_dims *f_dims,
                       const int8_t *in, const int8_t *zrow, int32_t i, const int8_t **tap) {
  const int32_t ih = in_dims->h, iw = in_dims->w, ic = in_dims->c, hw = out_dims->h * out_dims->w;
  const int32_t b = i / hw, oy = (i - b * hw) / out_dims->w, ox = i - b * hw - oy * out_dims->w;
  int32_t ky, kx;
  for (ky = 0; ky < f_dims->h; ++ky) {
    const int32_t iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
    for (kx = 0; kx < f_dims->w; ++kx) {
      const int32_t ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
      *tap++ = iy >= 0 && iy < ih && ix >= 0 && ix < iw ? in + ((b * ih + iy) * iw + ix) * ic : zrow;
    }
  }
}

/* A 3-byte little-endian bias (pm_sparse_bias in pm_sparse_s8.h). */
static inline int32_t pm_dw_bias3(const int8_t *b) {
  const uint32_t x = (uint32_t)(uint8_t)b[0] | ((uint32_t)(uint8_t)b[1] << 8) | ((uint32_t)(uint8_t)b[2] << 16);
  return (int32_t)((x ^ 0x800000u) - 0x800000u);
}

/* The layer with either requantization (exact: a constant at each call, so each public
 * function is one specialized copy). Two output pixels share each decode of the filter, bias
 * and requantization: pixel i is written as its channels are computed, pixel i + 1 goes to a
 * stack row first and is copied out after its window has been read in full, so every pixel's
 * window is read before the pixel is written and pixels are written in row-major order (the
 * planner's streaming contract; writing pixel i before pixel i + 1's window is read is what
 * one-pixel kernels do too). An odd last pixel is paired with itself. Everything the channel
 * loop reads from the records is copied to locals first: the int8 output stores may alias any
 * record, so the compiler would otherwise reload each field after every output. */
static inline int pm_dw_sparse(const pm_conv_params *p, const pm_sparse_quant *q, const pm_dims *in_dims,
                               const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                               const pm_dims *out_dims, int8_t *out, int exact) {
  const int32_t taps = f_dims->h * f_dims->w, ic = in_dims->c, m = p->depth_multiplier, oc = out_dims->c;
  const int32_t total = out_dims->n * out_dims->h * out_dims->w;
  const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
  const int32_t *const mult = q->multiplier;
  const int8_t *const shift = q->shift, *const bias3 = q->bias3;
  const uint32_t full = ((uint32_t)1 << taps) - 1u;
  const int8_t *const values = filter + ((oc * taps + 7) >> 3);
  const int8_t *tap0[PM_SPARSE_DW_MAX_TAPS], *tap1[PM_SPARSE_DW_MAX_TAPS];
  int8_t zrow[PM_DW_MAX_C > 0 ? PM_DW_MAX_C : 1]; /* the input zero point, for taps outside the input */
  int8_t hold[PM_DW_MAX_C > 0 ? PM_DW_MAX_C : 1]; /* pixel i + 1 until its window is read */
  int32_t i, c;
  if (taps > PM_SPARSE_DW_MAX_TAPS || taps < 1 || ic > PM_DW_MAX_C || m < 1 || oc != ic * m || oc > PM_DW_MAX_C ||
      f_dims->c != oc || out_dims->n != in_dims->n)
    return PM_ERROR;
  for (c = 0; c < ic; ++c) zrow[c] = (int8_t)p->input_zp;
  for (i = 0; i < total; i += 2, out += 2 * oc) {
    const int8_t *mp = filter, *vp = values;
    uint32_t buf = 0;
    int32_t nb = 0, k, o = 0;
    pm_dw_taps(p, in_dims, out_dims, f_dims, in, zrow, i, tap0);
    pm_dw_taps(p, in_dims, out_dims, f_dims, in, zrow, i + 1 < total ? i + 1 : i, tap1);
    for (c = 0; c < ic; ++c) {
      for (k = 0; k < m; ++k, ++o) {
        uint32_t msk;
        int32_t acc0 = bias3 ? pm_dw_bias3(bias3 + 3 * o) : bias[o], acc1;
        pm_requant rq;
        PM_NO_UNROLL
        while (nb < taps) { /* nb + 8 <= 32: taps <= 25 */
          buf |= (uint32_t)(uint8_t)*mp++ << nb;
          nb += 8;
        }
        msk = buf & full;
        buf >>= taps;
        nb -= taps;
        acc1 = acc0;
        PM_NO_UNROLL
        while (msk) {
          const int32_t j = pm_sparse_pop(&msk), v = *vp++;
          acc0 += tap0[j][c] * v;
          acc1 += tap1[j][c] * v;
        }
        if (exact) {
          rq = pm_requant_unpack_exact(mult[o], shift[o]);
          out[o] = pm_requant_exact_s8(acc0, &rq, zp, lo, hi);
          hold[o] = pm_requant_exact_s8(acc1, &rq, zp, lo, hi);
        } else {
          rq = pm_requant_unpack(mult[o], shift[o]);
          out[o] = pm_requant_ram_s8(acc0, &rq, zp, lo, hi);
          hold[o] = pm_requant_ram_s8(acc1, &rq, zp, lo, hi);
        }
      }
    }
    if (i + 1 < total) {
      for (o = 0; o < oc; ++o) out[oc + o] = hold[o];
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
