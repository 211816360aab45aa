/* DEPTHWISE_CONV_2D int8. Padded taps read the input zero point (folded bias, see conv).
 * Fast path (depth multiplier 1, channels <= PM_DW_MAX_C): per output pixel, a table of tap
 * pointers (interior pixels: the window corner plus offsets computed once per call; border
 * pixels: into the input, or into a row of zero points for padded taps), then four channels
 * at a time accumulate over all taps. With the DSP extension one word load brings four
 * channels and SMLABB/SMLATT multiply-accumulate them; a 3x3 window runs as one assembly
 * block (12 instructions per tap and 4 channels). A 3x3 depthwise has only 9 MACs per output,
 * so the requantization (pm_requant_s8, precomputed per channel, branch-free) matters as
 * much as the taps. */
#include "pm_depthwise_conv2d_s8.h"

#include "pm_dot_s8.h"

#ifndef PM_DW_MAX_C
#define PM_DW_MAX_C 512 /* channels of the zero-point row on the stack */
#endif
#ifndef PM_DW_MAX_TAPS
#define PM_DW_MAX_TAPS 64 /* window taps (kh * kw) of the fast path */
#endif

static void pm_depthwise_generic(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                                 const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                 const pm_dims *out_dims, int8_t *out) {
  const int32_t in_h = in_dims->h, in_w = in_dims->w, in_c = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w;
  const int32_t out_h = out_dims->h, out_w = out_dims->w, out_c = out_dims->c;
  const int32_t m = p->depth_multiplier;
  int32_t b, oy, ox, oc, ky, kx;
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < out_w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *o = out + ((b * out_h + oy) * out_w + ox) * out_c;
        for (oc = 0; oc < out_c; ++oc) {
          int32_t acc = bias[oc];
          for (ky = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            for (kx = 0; kx < kw; ++kx) {
              const int32_t x = x0 + kx * p->dilation_w;
              const int32_t w = filter[(ky * kw + kx) * out_c + oc];
              const int outside = y < 0 || y >= in_h || x < 0 || x >= in_w;
              acc += (outside ? p->input_zp : in[((b * in_h + y) * in_w + x) * in_c + oc / m]) * w;
            }
          }
          o[oc] = pm_requant_s8(acc, &q[oc], p->output_zp, p->act_min, p->act_max);
        }
      }
    }
  }
}

#if PM_USE_ASM && PM_SIMD32 && defined(__GNUC__) && defined(__thumb2__)
/* One 3x3 tap of 4 channels: tap pointer, 4 inputs and 4 weights (1HWO: the next tap's are c
 * bytes further), widened in pairs with SXTB16, SMLABB/SMLATT into 4 accumulators; 12
 * instructions per 4 MACs. x doubles as the tap pointer, so the block needs 12 registers. */
#define PM_DW_TAP(off)                                                                                   \
  "ldr %[x], [%[tt], #" #off "]\n\t"                                                                    \
  "ldr %[x], [%[x], %[ch]]\n\t"                                                                         \
  "ldr %[w], [%[wp]]\n\t"                                                                               \
  "add %[wp], %[wp], %[c]\n\t"                                                                          \
  "sxtb16 %[xe], %[x]\n\t"                                                                              \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                       \
  "sxtb16 %[we], %[w]\n\t"                                                                              \
  "sxtb16 %[w], %[w], ror #8\n\t"                                                                       \
  "smlabb %[s0], %[xe], %[we], %[s0]\n\t"                                                               \
  "smlatt %[s2], %[xe], %[we], %[s2]\n\t"                                                               \
  "smlabb %[s1], %[x], %[w], %[s1]\n\t"                                                                 \
  "smlatt %[s3], %[x], %[w], %[s3]\n\t"
#endif

/* Channels 0 .. 4*floor(c/4) - 1 of one output pixel whose taps are tap[0 .. taps-1]; returns
 * the first channel not done. */
static int32_t pm_dw_groups4(const int8_t *const *tap, const int8_t *filter, const int32_t *bias,
                             const pm_requant *q, int32_t taps, int32_t c, int32_t zp, int32_t lo, int32_t hi,
                             int8_t *o) {
  int32_t ch, t;
  for (ch = 0; ch + 3 < c; ch += 4) {
    int32_t s0 = bias[ch], s1 = bias[ch + 1], s2 = bias[ch + 2], s3 = bias[ch + 3];
    const int8_t *w = filter + ch;
#if PM_USE_ASM && PM_SIMD32 && defined(__GNUC__) && defined(__thumb2__)
    if (taps == 9) {
      int32_t x, xe, wv, we;
      __asm__(
        PM_DW_TAP(0)
        PM_DW_TAP(4)
        PM_DW_TAP(8)
        PM_DW_TAP(12)
        PM_DW_TAP(16)
        PM_DW_TAP(20)
        PM_DW_TAP(24)
        PM_DW_TAP(28)
        PM_DW_TAP(32)
        : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [wp] "+r"(w), [x] "=&r"(x), [xe] "=&r"(xe),
          [w] "=&r"(wv), [we] "=&r"(we)
        : [tt] "r"(tap), [ch] "r"(ch), [c] "r"(c)
        : "memory");
    } else
#endif
    {
      PM_NO_UNROLL
      for (t = 0; t < taps; ++t, w += c) {
        const int8_t *x = tap[t] + ch;
#if PM_SIMD32
        const uint32_t xv = (uint32_t)pm_read_s8x4(x), wv = (uint32_t)pm_read_s8x4(w);
        const int32_t xe = (int32_t)__sxtb16(xv), xo = (int32_t)__sxtb16(__ror(xv, 8));
        const int32_t we = (int32_t)__sxtb16(wv), wo = (int32_t)__sxtb16(__ror(wv, 8));
        s0 = __smlabb(xe, we, s0);
        s2 = __smlatt(xe, we, s2);
        s1 = __smlabb(xo, wo, s1);
        s3 = __smlatt(xo, wo, s3);
#else
        s0 += x[0] * w[0];
        s1 += x[1] * w[1];
        s2 += x[2] * w[2];
        s3 += x[3] * w[3];
#endif
      }
    }
    o[ch] = pm_requant_s8(s0, &q[ch], zp, lo, hi);
    o[ch + 1] = pm_requant_s8(s1, &q[ch + 1], zp, lo, hi);
    o[ch + 2] = pm_requant_s8(s2, &q[ch + 2], zp, lo, hi);
    o[ch + 3] = pm_requant_s8(s3, &q[ch + 3], zp, lo, hi);
  }
  return ch;
}

int pm_depthwise_conv2d_s8(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                           const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                           const pm_dims *out_dims, int8_t *out) {
  const int32_t in_h = in_dims->h, in_w = in_dims->w, c = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w, taps = kh * kw;
  const int32_t dh = p->dilation_h, dw = p->dilation_w;
  const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
  int8_t zrow[PM_DW_MAX_C];
  const int8_t *tap[PM_DW_MAX_TAPS];
  int32_t off[PM_DW_MAX_TAPS];
  int32_t b, oy, ox, i, t, ky, kx;
  if (p->depth_multiplier != 1 || c > PM_DW_MAX_C || taps > PM_DW_MAX_TAPS) {
    pm_depthwise_generic(p, q, in_dims, in, f_dims, filter, bias, out_dims, out);
    return PM_OK;
  }
  for (i = 0; i < c; ++i) zrow[i] = (int8_t)p->input_zp;
  /* input offsets of the taps from the window's top-left corner (valid for interior pixels) */
  for (ky = 0, t = 0; ky < kh; ++ky) {
    for (kx = 0; kx < kw; ++kx, ++t) off[t] = (ky * dh * in_w + kx * dw) * c;
  }
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_dims->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int rows_inside = y0 >= 0 && y0 + (kh - 1) * dh < in_h;
      for (ox = 0; ox < out_dims->w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *o = out + ((b * out_dims->h + oy) * out_dims->w + ox) * c;
        int32_t ch;
        if (rows_inside && x0 >= 0 && x0 + (kw - 1) * dw < in_w) {
          const int8_t *const corner = in + ((b * in_h + y0) * in_w + x0) * c;
          for (t = 0; t < taps; ++t) tap[t] = corner + off[t];
        } else {
          /* border: padded taps read a row of input zero points (the bias holds the fold) */
          for (ky = 0, t = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * dh;
            for (kx = 0; kx < kw; ++kx, ++t) {
              const int32_t x = x0 + kx * dw;
              tap[t] = (y < 0 || y >= in_h || x < 0 || x >= in_w) ? zrow : in + ((b * in_h + y) * in_w + x) * c;
            }
          }
        }
        ch = pm_dw_groups4(tap, filter, bias, q, taps, c, zp, lo, hi, o);
        for (; ch < c; ++ch) {
          const int8_t *w = filter + ch;
          int32_t s = bias[ch];
          for (t = 0; t < taps; ++t, w += c) s += tap[t][ch] * *w;
          o[ch] = pm_requant_s8(s, &q[ch], zp, lo, hi);
        }
      }
    }
  }
  return PM_OK;
}
