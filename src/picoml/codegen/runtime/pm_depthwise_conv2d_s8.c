/* DEPTHWISE_CONV_2D int8. Padded taps read the input zero point (folded bias, see conv).
 * Named variants (the code generator picks one per layer and calls it directly; pm_config.h
 * compiles only the variants called):
 *   pm_depthwise_conv2d_s8_mult1    depth multiplier 1, channels <= PM_DW_MAX_C, taps <= PM_DW_MAX_TAPS;
 *   pm_depthwise_conv2d_s8_generic  any depthwise layer (plain 1HWO weights), one MAC at a time.
 * pm_depthwise_conv2d_s8_mult1: per output pixel, a table of tap
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
#define PM_DW_MAX_C 512 /* channels of the zero-point row on the stack (pm_config.h sets the model's) */
#endif
#ifndef PM_DEPTHWISE_CONV2D_S8_MULT1
#define PM_DEPTHWISE_CONV2D_S8_MULT1 1 /* pm_config.h: 1 when some layer calls the variant */
#endif
#ifndef PM_DEPTHWISE_CONV2D_S8_GENERIC
#define PM_DEPTHWISE_CONV2D_S8_GENERIC 1
#endif
#ifndef PM_DW_MAX_TAPS
#define PM_DW_MAX_TAPS 64 /* window taps (kh * kw) of the fast path (pm_config.h sets the model's) */
#endif

#if PM_DEPTHWISE_CONV2D_S8_GENERIC
int pm_depthwise_conv2d_s8_generic(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                                   const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                   const pm_dims *out_dims, int8_t *out) {
  const int32_t in_h = in_dims->h, in_w = in_dims->w, in_c = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w;
  const int32_t out_h = out_dims->h, out_w = out_dims->w, out_c = out_dims->c;
  const int32_t m = p->depth_multiplier;
  int32_t b, oy, ox, oc, ky, kx;
#if PM_SIMD32 && PM_SPECIALIZE
  if (kh * kw <= PM_DW_MAX_TAPS && in_c <= PM_DW_MAX_C && m >= 1 && out_c == in_c * m) {
    /* Armv7E-M speed builds (any depth multiplier): per output pixel a table of tap pointers
     * (padded taps read a row of input zero points), then per input channel its taps' values
     * read once into xv and multiplied into its m output channels: no bounds test per MAC */
    const int32_t taps = kh * kw;
    int8_t zrow[PM_DW_MAX_C];
    const int8_t *tap[PM_DW_MAX_TAPS];
    int32_t xv[PM_DW_MAX_TAPS];
    int32_t t, ic, j;
    for (t = 0; t < in_c; ++t) zrow[t] = (int8_t)p->input_zp;
    for (t = 0; t < PM_DW_MAX_TAPS; ++t) tap[t] = zrow; /* every tap is set before use; GCC cannot always see it */
    for (t = 0; t < PM_DW_MAX_TAPS; ++t) xv[t] = 0;
    for (b = 0; b < in_dims->n; ++b) {
      for (oy = 0; oy < out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < out_w; ++ox) {
          const int32_t x0 = ox * p->stride_w - p->pad_w;
          int8_t *o = out + ((b * out_h + oy) * out_w + ox) * out_c;
          for (ky = 0, t = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            for (kx = 0; kx < kw; ++kx, ++t) {
              const int32_t x = x0 + kx * p->dilation_w;
              tap[t] = (y < 0 || y >= in_h || x < 0 || x >= in_w) ? zrow : in + ((b * in_h + y) * in_w + x) * in_c;
            }
          }
          for (ic = 0, oc = 0; ic < in_c; ++ic) {
            for (t = 0; t < taps; ++t) xv[t] = tap[t][ic];
            for (j = 0; j < m; ++j, ++oc) {
              const int8_t *w = filter + oc;
              int32_t acc = PM_LD_I32(&bias[oc]);
              if (PM_DW_MAX_TAPS >= 9 && taps == 9) { /* 3x3: straight-line */
                acc += xv[0] * w[0] + xv[1] * w[out_c] + xv[2] * w[2 * out_c] + xv[3] * w[3 * out_c] +
                       xv[4] * w[4 * out_c] + xv[5] * w[5 * out_c] + xv[6] * w[6 * out_c] + xv[7] * w[7 * out_c] +
                       xv[8] * w[8 * out_c];
              } else {
                PM_NO_UNROLL
                for (t = 0; t < taps; ++t, w += out_c) acc += xv[t] * PM_LD_S8(w);
              }
              o[oc] = pm_requant_s8(acc, &q[oc], p->output_zp, p->act_min, p->act_max);
            }
          }
        }
      }
    }
    return PM_OK;
  }
#endif
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < out_w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *o = out + ((b * out_h + oy) * out_w + ox) * out_c;
        for (oc = 0; oc < out_c; ++oc) {
          int32_t acc = PM_LD_I32(&bias[oc]);
          for (ky = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            for (kx = 0; kx < kw; ++kx) {
              const int32_t x = x0 + kx * p->dilation_w;
              const int32_t w = PM_LD_S8(&filter[(ky * kw + kx) * out_c + oc]);
              const int outside = y < 0 || y >= in_h || x < 0 || x >= in_w;
              acc += (outside ? p->input_zp : in[((b * in_h + y) * in_w + x) * in_c + oc / m]) * w;
            }
          }
          o[oc] = pm_requant_s8(acc, &q[oc], p->output_zp, p->act_min, p->act_max);
        }
      }
    }
  }
  return PM_OK;
}
#endif

#if PM_DEPTHWISE_CONV2D_S8_MULT1
#if PM_ASM_DSP /* pm_dot_s8.h */
#define PM_DW_ASM 1
/* One tap of 4 channels: 4 inputs (one word) and the group's 4 weights of this tap (one word),
 * widened in pairs with SXTB16, SMLABB/SMLATT into 4 accumulators. ADDR is the input word's
 * address, WOFF the tap's byte offset in the group's weights (channel groups of 4, see
 * PM_FILTER_DW4). 10 instructions per 4 MACs. */
#define PM_DW_TAP(ADDR, WOFF)                                                                                \
  "ldr %[x], " ADDR "\n\t"                                                                                  \
  "ldr %[w], [%[wp], #" #WOFF "]\n\t"                                                                      \
  "sxtb16 %[xe], %[x]\n\t"                                                                                  \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                           \
  "sxtb16 %[we], %[w]\n\t"                                                                                  \
  "sxtb16 %[w], %[w], ror #8\n\t"                                                                           \
  "smlabb %[s0], %[xe], %[we], %[s0]\n\t"                                                                   \
  "smlatt %[s2], %[xe], %[we], %[s2]\n\t"                                                                   \
  "smlabb %[s1], %[x], %[w], %[s1]\n\t"                                                                     \
  "smlatt %[s3], %[x], %[w], %[s3]\n\t"
/* the three taps of window row ROW (its columns [ROW], [ROW, c], [ROW, c, lsl #1]) whose weights
 * are at byte offsets W0, W1, W2 of the group: pm_dw_3x3_pixel's locals */
#define PM_DW_ROW_ASM(ROW, W0, W1, W2)                                                                   \
  __asm__(PM_DW_TAP("[%[r]]", W0) PM_DW_TAP("[%[r], %[c]]", W1) PM_DW_TAP("[%[r], %[c], lsl #1]", W2)       \
          : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [x] "=&r"(x), [xe] "=&r"(xe),         \
            [w] "=&r"(wv), [we] "=&r"(we)                                                                 \
          : [r] "r"(ROW), [c] "r"(c), [wp] "r"(w)                                                         \
          : "memory")
/* a tap whose input address comes from the pointer table (border pixels): one more load */
#define PM_DW_TAP_T(TOFF, WOFF) "ldr %[x], [%[tt], #" #TOFF "]\n\t" PM_DW_TAP("[%[x], %[ch]]", WOFF)
#else
#define PM_DW_ASM 0
#endif

#define PM_DW_INLINE PM_HOT /* pm_dot_s8.h: inlined in speed builds, one copy at -Os */

/* Store 4 requantized channels. Callers pass constant bounds (-128, 127) for the usual layer
 * without a narrower activation clamp, so the compiler clamps with one SSAT. */
PM_DW_INLINE void pm_dw_store4(int32_t s0, int32_t s1, int32_t s2, int32_t s3, const pm_requant *q, int32_t zp,
                               int32_t lo, int32_t hi, int8_t *o) {
  o[0] = pm_requant_s8(s0, &q[0], zp, lo, hi);
  o[1] = pm_requant_s8(s1, &q[1], zp, lo, hi);
  o[2] = pm_requant_s8(s2, &q[2], zp, lo, hi);
  o[3] = pm_requant_s8(s3, &q[3], zp, lo, hi);
}

#if PM_DW_ASM && !PM_REQUANT_EXACT && PM_SPECIALIZE /* speed builds */
/* One accumulator S to int8 (pm_requant_s8's arithmetic, full int8 range) with the record at byte
 * OFF of q, stored at byte I of o. */
#define PM_DW_RQ1(S, OFF, OFF4, OFF8, I)                                                                     \
  "ldr %[m], [%[q], #" #OFF "]\n\t"                                                                         \
  "ldr %[rnd], [%[q], #" #OFF4 "]\n\t"                                                                      \
  "ldr %[lr], [%[q], #" #OFF8 "]\n\t"                                                                       \
  "lsr %[e], %[lr], #16\n\t"                                                                               \
  "lsl %[t], %[" S "], %[lr]\n\t"                                                                           \
  "smmulr %[t], %[t], %[m]\n\t"                                                                            \
  "add %[" S "], %[rnd], %[t], lsl #1\n\t"                                                                  \
  "add %[" S "], %[" S "], %[t], asr #31\n\t"                                                               \
  "asr %[" S "], %[" S "], %[e]\n\t"                                                                        \
  "add %[" S "], %[" S "], %[zp]\n\t"                                                                       \
  "ssat %[" S "], #8, %[" S "]\n\t"                                                                         \
  "strb %[" S "], [%[o], #" #I "]\n\t"

/* pm_dw_store4 for the full int8 range in one block: each record's three words are loaded
 * together (neighbouring loads pipeline) and each store is followed by the next loads. */
PM_DW_INLINE void pm_dw_store4_full(int32_t s0, int32_t s1, int32_t s2, int32_t s3, const pm_requant *q, int32_t zp,
                                    int8_t *o) {
  int32_t m, rnd, lr, e, t;
  __asm__ volatile(PM_DW_RQ1("s0", 0, 4, 8, 0) PM_DW_RQ1("s1", 12, 16, 20, 1) PM_DW_RQ1("s2", 24, 28, 32, 2)
                       PM_DW_RQ1("s3", 36, 40, 44, 3)
                   : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [m] "=&r"(m), [rnd] "=&r"(rnd),
                     [lr] "=&r"(lr), [e] "=&r"(e), [t] "=&r"(t)
                   : [q] "r"(q), [zp] "r"(zp), [o] "r"(o)
                   : "memory");
}
#define PM_DW_STORE4(s0, s1, s2, s3, q, zp, lo, hi, o)                                                       \
  do {                                                                                                     \
    if ((lo) == -128 && (hi) == 127) {                                                                     \
      pm_dw_store4_full(s0, s1, s2, s3, q, zp, o);                                                         \
    } else {                                                                                               \
      pm_dw_store4(s0, s1, s2, s3, q, zp, lo, hi, o);                                                      \
    }                                                                                                      \
  } while (0)
#else
#define PM_DW_STORE4 pm_dw_store4
#endif

/* Channels 0 .. 4*floor(c/4) - 1 of one output pixel whose taps are tap[0 .. taps-1]. Grouped
 * (PM_FILTER_DW4) weights: group ch / 4 holds its taps' 4-byte words from filter + ch * taps;
 * plain 1HWO weights: tap t of channel ch at filter + t * c + ch. Returns the first channel
 * not done. */
PM_DW_INLINE int32_t pm_dw_groups4(const int8_t *const *tap, const int8_t *filter, int grouped, const int32_t *bias,
                                   const pm_requant *q, int32_t taps, int32_t c, int32_t zp, int32_t lo, int32_t hi,
                                   int8_t *o) {
  const int32_t step = grouped ? 4 : c; /* bytes between one channel's consecutive taps */
  int32_t ch, t;
  for (ch = 0; ch + 3 < c; ch += 4) {
    int32_t s0 = PM_LD_I32(&bias[ch]), s1 = PM_LD_I32(&bias[ch + 1]), s2 = PM_LD_I32(&bias[ch + 2]),
            s3 = PM_LD_I32(&bias[ch + 3]);
    const int8_t *w = grouped ? filter + ch * taps : filter + ch;
#if PM_DW_ASM
    if (PM_SPECIALIZE && PM_DW_MAX_TAPS >= 9 && grouped && taps == 9) { /* speed builds; compiled out where no layer has 9 taps */
      int32_t x, xe, wv, we;
      __asm__(PM_DW_TAP_T(0, 0) PM_DW_TAP_T(4, 4) PM_DW_TAP_T(8, 8) PM_DW_TAP_T(12, 12) PM_DW_TAP_T(16, 16)
                  PM_DW_TAP_T(20, 20) PM_DW_TAP_T(24, 24) PM_DW_TAP_T(28, 28) PM_DW_TAP_T(32, 32)
              : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [x] "=&r"(x), [xe] "=&r"(xe),
                [w] "=&r"(wv), [we] "=&r"(we)
              : [tt] "r"(tap), [ch] "r"(ch), [wp] "r"(w)
              : "memory");
    } else
#endif
    {
      PM_NO_UNROLL
      for (t = 0; t < taps; ++t, w += step) {
        const int8_t *x = tap[t] + ch;
#if PM_SIMD32
        const uint32_t xv = (uint32_t)pm_read_s8x4(x), wv = (uint32_t)pm_read_s8x4(w);
        const int32_t xe = (int32_t)__sxtb16(xv), xo = pm_sxtb16_ror8(xv);
        const int32_t we = (int32_t)__sxtb16(wv), wo = pm_sxtb16_ror8(wv);
        s0 = __smlabb(xe, we, s0);
        s2 = __smlatt(xe, we, s2);
        s1 = __smlabb(xo, wo, s1);
        s3 = __smlatt(xo, wo, s3);
#else
        s0 += x[0] * PM_LD_S8(w);
        s1 += x[1] * PM_LD_S8(&w[1]);
        s2 += x[2] * PM_LD_S8(&w[2]);
        s3 += x[3] * PM_LD_S8(&w[3]);
#endif
      }
    }
    PM_DW_STORE4(s0, s1, s2, s3, &q[ch], zp, lo, hi, o + ch);
  }
  return ch;
}

#if PM_DW_ASM && PM_ASM_WIDE && PM_SPECIALIZE
/* speed builds with all core registers free (pm_dot_s8.h); else interior pixels take the
 * tap-table path too */
#define PM_DW_ROWS3X3 1
/* All channels (c % 4 == 0, grouped weights) of an interior output pixel of a 3x3, dilation-1
 * window whose top-left input is at corner; rs = bytes per input row. The three window rows
 * are three pointers and the columns are [row], [row, c], [row, c, lsl #1]: no tap table. */
PM_DW_INLINE void pm_dw_3x3_pixel(const int8_t *corner, int32_t rs, int32_t c, const int8_t *filter,
                                  const int32_t *bias, const pm_requant *q, int32_t zp, int32_t lo, int32_t hi,
                                  int8_t *o) {
  int32_t ch;
  for (ch = 0; ch < c; ch += 4) {
    int32_t s0 = PM_LD_I32(&bias[ch]), s1 = PM_LD_I32(&bias[ch + 1]), s2 = PM_LD_I32(&bias[ch + 2]),
            s3 = PM_LD_I32(&bias[ch + 3]);
    const int8_t *r0 = corner + ch, *r1 = r0 + rs, *r2 = r1 + rs, *w = filter + 9 * ch;
    int32_t x, xe, wv, we;
    /* one statement per window row: 11 operands each (13 in one statement: GCC with an FPU
     * cannot always allocate them); the same instructions */
    PM_DW_ROW_ASM(r0, 0, 4, 8);
    PM_DW_ROW_ASM(r1, 12, 16, 20);
    PM_DW_ROW_ASM(r2, 24, 28, 32);
    PM_DW_STORE4(s0, s1, s2, s3, &q[ch], zp, lo, hi, o + ch);
  }
}
#else
#define PM_DW_ROWS3X3 0
#endif

#if PM_PLAIN_WEIGHTS
/* acc[i] += x[i] * w[i]: restrict tells the compiler the int32 accumulators don't overlap the
 * inputs, so it vectorizes without a runtime overlap check and a scalar fallback. */
PM_KERNEL void pm_macc_s8(int32_t *restrict acc, const int8_t *restrict x, const int8_t *restrict w, int32_t n) {
  int32_t i;
  for (i = 0; i < n; ++i) acc[i] += x[i] * PM_LD_S8(&w[i]);
}
#endif

/* One output pixel, all channels; tap[] must hold its taps (unused by the 3x3 row path). */
PM_DW_INLINE void pm_dw_pixel(const pm_conv_params *p, const int8_t *const *tap, const int8_t *corner, int32_t rs,
                              const int8_t *filter, const int32_t *bias, const pm_requant *q, int32_t taps, int32_t c,
                              int32_t lo, int32_t hi, int8_t *o) {
  const int grouped = p->filter_layout == PM_FILTER_DW4;
  const int32_t zp = p->output_zp;
  int32_t ch, t;
#if PM_DW_ROWS3X3
  if (corner) { /* interior pixel of a grouped 3x3 dilation-1 layer */
    pm_dw_3x3_pixel(corner, rs, c, filter, bias, q, zp, lo, hi, o);
    return;
  }
#else
  (void)corner;
  (void)rs;
#endif
#if PM_PLAIN_WEIGHTS
  {
    /* across channels, tap by tap: contiguous loops the compiler vectorizes */
    int32_t acc[PM_DW_MAX_C];
    (void)grouped;
    for (ch = 0; ch < c; ++ch) acc[ch] = PM_LD_I32(&bias[ch]);
    for (t = 0; t < taps; ++t) pm_macc_s8(acc, tap[t], filter + t * c, c);
    pm_requant_row_s8(acc, q, c, zp, lo, hi, o);
    return;
  }
#endif
  ch = pm_dw_groups4(tap, filter, grouped, bias, q, taps, c, zp, lo, hi, o);
  for (; ch < c; ++ch) { /* only plain layouts have channels beyond the last full group */
    const int8_t *w = filter + ch;
    int32_t s = PM_LD_I32(&bias[ch]);
    for (t = 0; t < taps; ++t, w += c) s += tap[t][ch] * PM_LD_S8(w);
    o[ch] = pm_requant_s8(s, &q[ch], zp, lo, hi);
  }
}

int pm_depthwise_conv2d_s8_mult1(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                                 const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                 const pm_dims *out_dims, int8_t *out) {
  const int32_t in_h = in_dims->h, in_w = in_dims->w, c = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w, taps = kh * kw;
  const int32_t dh = p->dilation_h, dw = p->dilation_w;
  const int32_t lo = p->act_min, hi = p->act_max;
  const int full = PM_SPECIALIZE && lo == -128 && hi == 127;
  const int rows3x3 = PM_DW_ROWS3X3 && p->filter_layout == PM_FILTER_DW4 && kh == 3 && kw == 3 && dh == 1 && dw == 1;
  int8_t zrow[PM_DW_MAX_C];
  const int8_t *tap[PM_DW_MAX_TAPS];
  int32_t off[PM_DW_MAX_TAPS];
  int32_t b, oy, ox, i, t, ky, kx;
  if (p->depth_multiplier != 1 || c > PM_DW_MAX_C || taps < 1 || taps > PM_DW_MAX_TAPS) {
    return PM_ERROR; /* never: the generator calls this variant only for such layers */
  }
  if (p->filter_layout == PM_FILTER_DW4 && c % 4 != 0) return PM_ERROR;
  for (i = 0; i < c; ++i) zrow[i] = (int8_t)p->input_zp;
  for (t = 0; t < PM_DW_MAX_TAPS; ++t) tap[t] = zrow; /* every tap is set before use; GCC cannot always see it */
  /* input offsets of the taps from the window's top-left corner (valid for interior pixels);
   * one loop over t < taps, as every use, so that GCC sees each read entry written */
  for (t = 0, ky = 0, kx = 0; t < taps; ++t) {
    off[t] = (ky * dh * in_w + kx * dw) * c;
    if (++kx == kw) {
      kx = 0;
      ++ky;
    }
  }
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_dims->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int rows_inside = y0 >= 0 && y0 + (kh - 1) * dh < in_h;
      for (ox = 0; ox < out_dims->w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *o = out + ((b * out_dims->h + oy) * out_dims->w + ox) * c;
        const int8_t *corner = NULL;
        if (rows_inside && x0 >= 0 && x0 + (kw - 1) * dw < in_w) {
          corner = in + ((b * in_h + y0) * in_w + x0) * c;
          if (!rows3x3) {
            for (t = 0; t < taps; ++t) tap[t] = corner + off[t];
            corner = NULL;
          }
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
        if (full) {
          pm_dw_pixel(p, tap, corner, in_w * c, filter, bias, q, taps, c, -128, 127, o);
        } else {
          pm_dw_pixel(p, tap, corner, in_w * c, filter, bias, q, taps, c, lo, hi, o);
        }
      }
    }
  }
  return PM_OK;
}
#endif /* PM_DEPTHWISE_CONV2D_S8_MULT1 */
