/* CONV_2D int8. The input zero point is folded into the bias by the code generator, so a
 * padded tap reads the zero point and every variant below is a plain int8 dot product:
 *   sum over valid taps of (x - zp) * w  ==  bias_fold + sum over all taps of x' * w.
 * Named variants, each with its constraint (the code generator picks one per layer,
 * codegen/variants.py, and calls it directly; pm_config.h compiles only the variants called):
 *   pm_conv2d_s8_1x1     pointwise (1x1, stride 1, no padding): a GEMM over pixels;
 *   pm_conv2d_s8_im2col  other ungrouped windows: two pixels' windows copied (im2col, on the
 *                        stack) into the same GEMM micro-kernel; both on packed weights (pm_dot_s8.h);
 *   pm_conv2d_s8_generic any convolution, grouped or with windows too large for the im2col
 *                        buffer: the direct loop nest on plain OHWI weights. */
#include "pm_conv2d_s8.h"

#include "pm_dot_s8.h"

#ifndef PM_CONV_IM2COL_MAX
#define PM_CONV_IM2COL_MAX 1024 /* stack bytes for two im2col rows; larger windows loop directly */
#endif
#ifndef PM_CONV_MAX_OC
#define PM_CONV_MAX_OC 64 /* "vector" hosts: output channels of the accumulator rows (pm_config.h) */
#endif
#ifndef PM_CONV_W16_MAX
#define PM_CONV_W16_MAX 0 /* stack bytes for 4 widened rows of the 4x2 kernel; 0: not built */
#endif
#ifndef PM_CONV2D_S8_1X1
#define PM_CONV2D_S8_1X1 1 /* pm_config.h: 1 when some layer calls the variant */
#endif
#ifndef PM_CONV2D_S8_IM2COL
#define PM_CONV2D_S8_IM2COL 1
#endif
#ifndef PM_CONV2D_S8_GENERIC
#define PM_CONV2D_S8_GENERIC 1
#endif
#ifndef PM_CONV_ROWS
#define PM_CONV_ROWS 0 /* pm_config.h: bytes of the largest PM_FILTER_ROWS window (0: no such layer) */
#endif
#ifndef PM_CONV_PAIRS4S
#define PM_CONV_PAIRS4S 0 /* pm_config.h: 1 when some layer's filter is a pair stream (codegen/pair_records.py) */
#endif
#ifndef PM_CONV2D_S8_LANES
#define PM_CONV2D_S8_LANES 0 /* Armv6-M lanes variant (end of this file) */
#endif
#define PM_CONV_GEMM (PM_CONV2D_S8_1X1 || PM_CONV2D_S8_IM2COL)       /* pm_conv_rows */
#define PM_CONV_WINDOWS (PM_CONV2D_S8_IM2COL || PM_SPARSE_WEIGHTS || PM_CONV2D_S8_LANES) /* pm_window */
#if PM_CONV_GEMM && PM_DOT_4X2 && PM_CONV_W16_MAX >= 32 && PM_SPECIALIZE && PM_PAIRS_ILV /* speed builds; -Os keeps the 2x2 paths only */
#define PM_CONV_4X2 1
#else
#define PM_CONV_4X2 0
#endif

/* Bytes from one output channel pair's weights to the next: 2k, or 2k + 32 in a pair stream
 * (codegen/pair_records.py: each pair's biases and requantization records beside its weights;
 * the filter pointer is the first pair's weights, an odd last channel never occurs). */
#define PM_PAIR_BYTES(p, k) (2 * (k) + (p)->pair_records)
#define PM_PAIR_W(filter, oc, ws) ((filter) + ((oc) >> 1) * (ws))

#if !PM_CONV_GEMM
/* no GEMM variant in this library */
#elif PM_PLAIN_WEIGHTS
/* Two rows r0, r1 (r1 may equal r0 when o1 is NULL) against every output channel: int16 OHWI
 * weight rows, the input rows widened once, accumulator rows requantized in one vectorized
 * pass (pm_dot_s8.h). */
static void pm_conv_rows(const pm_conv_params *p, const pm_requant *q, const int8_t *r0, const int8_t *r1,
                         int32_t k, const int8_t *filter, const int32_t *bias, int32_t out_c, int8_t *o0, int8_t *o1) {
  const int16_t *w = (const int16_t *)(const void *)filter;
  int16_t x0[PM_CONV_IM2COL_MAX / 2], x1[PM_CONV_IM2COL_MAX / 2];
  int32_t a0[PM_CONV_MAX_OC], a1[PM_CONV_MAX_OC]; /* accumulators, then one requant pass */
  int32_t oc;
  if (out_c > PM_CONV_MAX_OC || 2 * k > PM_CONV_IM2COL_MAX) return; /* never: the generator sizes both */
  pm_widen_s8(r0, k, x0);
  pm_widen_s8(r1, k, x1);
  for (oc = 0; oc < out_c; ++oc) {
    a0[oc] = a1[oc] = PM_LD_I32(&bias[oc]);
    pm_dot_2x1_plain_s16(x0, x1, w + oc * k, k, &a0[oc], &a1[oc]);
  }
  pm_requant_row_s8(a0, q, out_c, p->output_zp, p->act_min, p->act_max, o0);
  if (o1) pm_requant_row_s8(a1, q, out_c, p->output_zp, p->act_min, p->act_max, o1);
}
#elif PM_OFFSET_BINARY_WEIGHTS
/* Two rows (o1 NULL: one row) against every output channel. */
static void pm_conv_rows(const pm_conv_params *p, const pm_requant *q, const int8_t *r0, const int8_t *r1,
                         int32_t k, const int8_t *filter, const int32_t *bias, int32_t out_c, int8_t *o0, int8_t *o1) {
  const uint8_t *wb = (const uint8_t *)filter; /* offset-binary blocks, pm_dot_s8.h */
  pm_row_ob_s8(r0, k, wb, bias, q, out_c, p->output_zp, p->act_min, p->act_max, o0);
  if (o1) pm_row_ob_s8(r1, k, wb, bias, q, out_c, p->output_zp, p->act_min, p->act_max, o1);
}
#else
/* Two rows r0, r1 of k values (r1 may equal r0 when o1 is NULL) against every output channel. */
static void pm_conv_rows(const pm_conv_params *p, const pm_requant *q, const int8_t *r0, const int8_t *r1,
                         int32_t k, const int8_t *filter, const int32_t *bias, int32_t out_c, int8_t *o0, int8_t *o1) {
  const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max, ws = PM_PAIR_BYTES(p, k);
  const int8_t *w = filter; /* the pair's weights (then an odd last channel's) */
  int32_t oc;
#if PM_CONV_1X2
  if (!o1) { /* one row (a last odd pixel): the 1x4 and 1x2 kernels, not the 2x2 on the row twice */
    oc = 0;
#if PM_CONV_1X4
    for (; oc + 3 < out_c; oc += 4, w += 2 * ws) {
      int32_t s[4], j;
      for (j = 0; j < 4; ++j) s[j] = PM_LD_I32(&bias[oc + j]);
      pm_dot_1x4_conv_s8(r0, w, ws, k, s);
      for (j = 0; j < 4; ++j) o0[oc + j] = pm_requant_s8(s[j], &q[oc + j], zp, lo, hi);
    }
#endif
    for (; oc + 1 < out_c; oc += 2, w += ws) {
      int32_t s[2];
      s[0] = PM_LD_I32(&bias[oc]);
      s[1] = PM_LD_I32(&bias[oc + 1]);
      pm_dot_1x2_conv_s8(r0, w, k, s);
      o0[oc] = pm_requant_s8(s[0], &q[oc], zp, lo, hi);
      o0[oc + 1] = pm_requant_s8(s[1], &q[oc + 1], zp, lo, hi);
    }
    if (oc < out_c) o0[oc] = pm_requant_s8(pm_dot_1x1_s8(r0, w, k, PM_LD_I32(&bias[oc])), &q[oc], zp, lo, hi);
    return;
  }
#endif
  for (oc = 0; oc + 1 < out_c; oc += 2, w += ws) {
    int32_t s[4];
    s[0] = s[2] = PM_LD_I32(&bias[oc]);
    s[1] = s[3] = PM_LD_I32(&bias[oc + 1]);
    pm_dot_2x2_packed_s8(r0, r1, w, k, s); /* packed pair, see pm_dot_s8.h */
    o0[oc] = pm_requant_s8(s[0], &q[oc], zp, lo, hi);
    o0[oc + 1] = pm_requant_s8(s[1], &q[oc + 1], zp, lo, hi);
    if (o1) {
      o1[oc] = pm_requant_s8(s[2], &q[oc], zp, lo, hi);
      o1[oc + 1] = pm_requant_s8(s[3], &q[oc + 1], zp, lo, hi);
    }
  }
  if (oc < out_c) {
    o0[oc] = pm_requant_s8(pm_dot_1x1_s8(r0, w, k, PM_LD_I32(&bias[oc])), &q[oc], zp, lo, hi);
    if (o1) o1[oc] = pm_requant_s8(pm_dot_1x1_s8(r1, w, k, PM_LD_I32(&bias[oc])), &q[oc], zp, lo, hi);
  }
}
#endif

#if PM_CONV_4X2
/* pm_conv_params.fold: the pair loop's requantization for a layer's records, from the generator
 * (codegen/requant.py fold_mode): 0 PM_4XP_RQ4Z; PM_RQ_FOLD the output zero point folded into the
 * rounding term (PM_4XP_FOLD: every channel's shift right = e + 1, its record's field, at most 22);
 * PM_RQ_M also the shift and high multiply in one SMMLAR (every channel: left == 1, multiplier >=
 * 2^30); PM_RQ_P that, and the rounding's [v < 0] term dropped where the output zero point is -128. */
#define PM_RQ_FOLD 1
#define PM_RQ_M 2
#define PM_RQ_P 3

#if !PM_REQUANT_EXACT
/* Every channel pair of a 4-row block in one assembly block (pm_dot_s8.h; full int8 range), with
 * the requantization of the layer's mode (pm_conv_params.fold); out of line: one copy of each. Word-aligned: the block
 * finds its loop entries with ADR, which the assembler resolves from the section's start, so the
 * function must not start at a halfword (GCC leaves functions 2-aligned below -O2). */
PM_KERNEL __attribute__((__aligned__(4))) void pm_conv_pairs4(const pm_gemm_frame *f, const int8_t *filter, int mode) {
  if (mode == PM_RQ_P) {
    PM_GEMM_4X2_PAIRS_ASM(f, filter, PM_4XP_RQ4P, PM_4X2_RQ_LOADH);
  } else if (mode == PM_RQ_M) {
    PM_GEMM_4X2_PAIRS_ASM(f, filter, PM_4XP_RQ4M, PM_4X2_RQ_LOADH);
  } else if (mode == PM_RQ_FOLD) {
    PM_GEMM_4X2_PAIRS_ASM(f, filter, PM_4XP_RQ4, PM_4X2_RQ_LOAD4);
  } else {
    PM_GEMM_4X2_PAIRS_ASM(f, filter, PM_4XP_RQ4Z, PM_4X2_RQ_LOAD4);
  }
}

#if PM_CONV_RAW && PM_CONV_PAIRS4S
/* The pair loop over a pair stream (PM_GEMM_4X2_STREAM_ASM) in mode PM_RQ_M or PM_RQ_P (the
 * generator writes a stream only for such layers); the stream starts a word before the filter. */
PM_KERNEL __attribute__((__aligned__(4))) void pm_conv_pairs4s(const pm_gemm_frame *f, const int8_t *filter, int mode) {
  if (mode == PM_RQ_P) {
    PM_GEMM_4X2_STREAM_ASM(f, filter - 4, PM_4XS_RQ_P);
  } else {
    PM_GEMM_4X2_STREAM_ASM(f, filter - 4, PM_4XS_RQ_M);
  }
}
#endif

/* 1: every block's pairs run in one pair loop (full int8 range; a stream's in mode M or P) */
static int pm_conv_direct(const pm_conv_params *p, int32_t out_c, int mode) {
  if (p->act_min != -128 || p->act_max != 127 || out_c < 2) return 0;
  return !p->pair_records || (PM_CONV_RAW && PM_CONV_PAIRS4S && (mode == PM_RQ_M || mode == PM_RQ_P));
}

/* the pair loop of one block (pm_conv_direct) */
static void pm_conv_block(const pm_conv_params *p, const pm_gemm_frame *f, const int8_t *filter, int mode) {
#if PM_CONV_RAW && PM_CONV_PAIRS4S
  if (p->pair_records) {
    pm_conv_pairs4s(f, filter, mode);
    return;
  }
#else
  (void)p; /* no stream loop in this library (pm_conv_direct) */
#endif
  pm_conv_pairs4(f, filter, mode);
}

/* The frame of pm_conv_pairs4 for 4 rows of k values widened in xw; the caller sets o, o_end. */
static void pm_conv_frame(pm_gemm_frame *f, const int32_t *xw, int32_t k, const int32_t *bias, const pm_requant *q,
                          int32_t out_c, int32_t zp) {
  f->end = (int32_t)(uintptr_t)(xw + 2 * k) - 32; /* 8 words per chunk of 4 values, one chunk back */
  f->xw = (int32_t)(uintptr_t)xw - 32;
  f->bias = bias;
  f->q = q;
  f->out_c = out_c;
  f->zp = zp;
}
#endif

/* Four rows (widened in xw) against every output channel pair; row r's outputs at
 * o + r * out_c. An odd last channel is done here from the plain rows[], or by the caller when
 * rows is NULL. Fast requantization runs in the assembly block (pm_dot_s8.h); the _exact
 * translation unit requantizes the block's sums in C. */
static void pm_conv_rows4(const pm_conv_params *p, const pm_requant *q, const int32_t *xw, const int8_t *const *rows,
                          int32_t k, const int8_t *filter, const int32_t *bias, int32_t out_c, int8_t *o, int fold) {
  const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max, ws = PM_PAIR_BYTES(p, k);
  int32_t oc, r;
#if !PM_REQUANT_EXACT
  const int full = lo == -128 && hi == 127;
  pm_gemm_rq rq;
  rq.zp = zp;
#endif
  if (k < 4) return; /* never: the 4-row kernel runs on k % 4 == 0, k > 0 */
  oc = 0;
#if !PM_REQUANT_EXACT
  if (full && out_c >= 2 && !p->pair_records) { /* every pair in one assembly block (pm_dot_s8.h); a stream: pair by pair here */
    pm_gemm_frame f;
    pm_conv_frame(&f, xw, k, bias, q, out_c, zp);
    f.o = o;
    f.o_end = o + (out_c & ~1);
    pm_conv_pairs4(&f, filter, fold);
    oc = out_c & ~1;
  }
#else
  (void)fold;
#endif
  for (; oc + 1 < out_c; oc += 2) {
    const int32_t bias_b = PM_LD_I32(&bias[oc + 1]);
    int32_t s0a = PM_LD_I32(&bias[oc]), s0b = PM_CONV_RAW ? s0a : bias_b; /* raw lanes: b from a's start */
    int32_t s1a = s0a, s1b = s0b, s2a = s0a, s2b = s0b, s3a = s0a, s3b = s0b;
    int8_t *op = o + oc;
#if PM_REQUANT_EXACT
    PM_DOT_4X2_ASM(xw, PM_PAIR_W(filter, oc, ws), xw + 2 * k, s0a, s0b, s1a, s1b, s2a, s2b, s3a, s3b);
#if PM_CONV_RAW
    s0b = pm_raw_b(bias_b, s0b, s0a);
    s1b = pm_raw_b(bias_b, s1b, s1a);
    s2b = pm_raw_b(bias_b, s2b, s2a);
    s3b = pm_raw_b(bias_b, s3b, s3a);
#endif
    s0a = pm_requant_s8(s0a, &q[oc], zp, lo, hi);
    s1a = pm_requant_s8(s1a, &q[oc], zp, lo, hi);
    s2a = pm_requant_s8(s2a, &q[oc], zp, lo, hi);
    s3a = pm_requant_s8(s3a, &q[oc], zp, lo, hi);
    s0b = pm_requant_s8(s0b, &q[oc + 1], zp, lo, hi);
    s1b = pm_requant_s8(s1b, &q[oc + 1], zp, lo, hi);
    s2b = pm_requant_s8(s2b, &q[oc + 1], zp, lo, hi);
    s3b = pm_requant_s8(s3b, &q[oc + 1], zp, lo, hi);
#else
    rq.q = &q[oc];
    rq.b = bias_b;
    PM_GEMM_4X2_RQ_ASM(xw, PM_PAIR_W(filter, oc, ws), xw + 2 * k, &rq, s0a, s0b, s1a, s1b, s2a, s2b, s3a, s3b);
    if (!full) { /* SSAT clamped to [-128, 127]; a narrower activation clamp on top is the same */
      s0a = pm_clamp_i32(s0a, lo, hi);
      s1a = pm_clamp_i32(s1a, lo, hi);
      s2a = pm_clamp_i32(s2a, lo, hi);
      s3a = pm_clamp_i32(s3a, lo, hi);
      s0b = pm_clamp_i32(s0b, lo, hi);
      s1b = pm_clamp_i32(s1b, lo, hi);
      s2b = pm_clamp_i32(s2b, lo, hi);
      s3b = pm_clamp_i32(s3b, lo, hi);
    }
#endif
    op[0] = (int8_t)s0a;
    op[1] = (int8_t)s0b;
    op += out_c;
    op[0] = (int8_t)s1a;
    op[1] = (int8_t)s1b;
    op += out_c;
    op[0] = (int8_t)s2a;
    op[1] = (int8_t)s2b;
    op += out_c;
    op[0] = (int8_t)s3a;
    op[1] = (int8_t)s3b;
  }
  if (oc < out_c && rows) {
    for (r = 0; r < 4; ++r) {
      o[r * out_c + oc] = pm_requant_s8(pm_dot_1x1_s8(rows[r], PM_PAIR_W(filter, oc, ws), k, PM_LD_I32(&bias[oc])), &q[oc], zp, lo, hi);
    }
  }
}

/* 1: this layer runs four rows at a time on widened rows */
static int pm_conv_uses_4x2(int32_t k, const int8_t *filter, const int32_t *w16) {
  return k % 4 == 0 && (w16 || 8 * k <= PM_CONV_W16_MAX) && ((uintptr_t)filter & 3u) == 0;
}
#endif

#if !PM_CONV_WINDOWS
/* no im2col window in this library */
#elif PM_SPECIALIZE
/* n taps of c values, step apart in the input, into dst (dilated windows); out of line so the
 * common undilated im2col stays small. */
PM_KERNEL void pm_copy_taps_s8(int8_t *dst, const int8_t *src, int32_t n, int32_t c, int32_t step) {
  PM_NO_UNROLL
  for (; n > 0; --n, src += step, dst += c) pm_copy_s8(dst, src, c);
}

/* Window of output pixel (oy, ox) of batch b into col: kh*kw*c values, padded taps = zp, then
 * zeros up to kp values (PM_FILTER_K4; kp = kh*kw*c otherwise). The valid columns
 * [kx_lo, kx_hi) are found once; each window row is then a fill, a copy (one contiguous run of
 * (kx_hi - kx_lo) * c bytes without dilation) and a fill. */
static void pm_im2col(const pm_conv_params *p, const pm_dims *in_dims, const int8_t *in, int32_t kh, int32_t kw,
                      int32_t kp, int32_t b, int32_t oy, int32_t ox, int8_t *col) {
  const int32_t c = in_dims->c, in_w = in_dims->w, dw = p->dilation_w, row = kw * c;
  const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
  const int32_t dy = p->dilation_h * in_w * c; /* input offset between window rows */
  const int8_t zp = (int8_t)p->input_zp;
  int32_t ky, kx_lo = 0, kx_hi = kw, off, lead, run, tail, y = y0;
  pm_fill_s8(col + kh * row, 0, kp - kh * row);
  /* valid taps: 0 <= x0 + kx * dw < in_w; interior pixels take neither branch */
  if (x0 < 0) kx_lo = pm_min_i32((dw - 1 - x0) / dw, kw);
  if (x0 + (kw - 1) * dw >= in_w) kx_hi = in_w > x0 ? (in_w - x0 + dw - 1) / dw : 0;
  kx_hi = pm_max_i32(kx_hi, kx_lo);
  lead = kx_lo * c;
  run = (kx_hi - kx_lo) * c;
  tail = row - lead - run;
  /* input offset of the first valid tap of window row 0 (a pointer is formed only for valid rows) */
  off = ((b * in_dims->h + y0) * in_w + x0 + kx_lo * dw) * c;
  PM_NO_UNROLL
  for (ky = 0; ky < kh; ++ky, col += row, off += dy, y += p->dilation_h) {
    if (y < 0 || y >= in_dims->h || run == 0) {
      pm_fill_s8(col, zp, row);
    } else {
      pm_fill_s8(col, zp, lead);
      if (dw == 1) {
        pm_copy_s8(col + lead, in + off, run);
      } else {
        pm_copy_taps_s8(col + lead, in + off, kx_hi - kx_lo, c, dw * c);
      }
      pm_fill_s8(col + lead + run, zp, tail);
    }
  }
}
#else
/* Size builds (-Os): the same window, tap by tap, in a third of the code. */
static void pm_im2col(const pm_conv_params *p, const pm_dims *in_dims, const int8_t *in, int32_t kh, int32_t kw,
                      int32_t kp, int32_t b, int32_t oy, int32_t ox, int8_t *col) {
  const int32_t c = in_dims->c;
  const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
  int32_t ky, kx;
  pm_fill_s8(col + kh * kw * c, 0, kp - kh * kw * c);
  for (ky = 0; ky < kh; ++ky) {
    const int32_t y = y0 + ky * p->dilation_h;
    for (kx = 0; kx < kw; ++kx, col += c) {
      const int32_t x = x0 + kx * p->dilation_w;
      if (y < 0 || y >= in_dims->h || x < 0 || x >= in_dims->w) {
        pm_fill_s8(col, (int8_t)p->input_zp, c);
      } else {
        pm_copy_s8(col, in + ((b * in_dims->h + y) * in_dims->w + x) * c, c);
      }
    }
  }
}
#endif

#if PM_CONV_WINDOWS
/* The GEMM row (kp values) of output pixel i: a pointer into the input when the window is one
 * contiguous run there (kh == 1, no dilation, no padded tap, and the kp - k tail of a
 * PM_FILTER_K4 row, which meets zero weights, still inside the input), else the window copied
 * into col. 1-D convolutions over time series then skip the copy on every interior pixel.
 * Streaming plans stay safe: a block's outputs lie below every input byte the block reads. */
typedef struct { /* one layer's windows: pm_window's arguments that stay fixed over the layer */
  const pm_conv_params *p;
  const pm_dims *in_dims, *out_dims;
  const int8_t *in;
  int32_t kh, kw, kp;
} pm_windows;

#if PM_CONV_ROWS
/* A plain window (kh rows of l values, bytes) in the PM_FILTER_ROWS order (pm_conv2d_s8.h), kp bytes */
static void pm_rows_bytes(const int8_t *plain, int32_t kh, int32_t l, int32_t kp, int8_t *col) {
  const int32_t q4 = l & ~3, rem = l & 3;
  int8_t *const tail = col + kh * q4;
  int32_t ky, j, n = 0;
  pm_fill_s8(tail, 0, kp - kh * q4);
  for (ky = 0; ky < kh; ++ky, plain += l) {
    pm_copy_s8(col + ky * q4, plain, q4);
    for (j = 0; j < rem; ++j, ++n) tail[4 * (n >> 2) + ((n >> 1) & 1) + 2 * (n & 1)] = plain[q4 + j];
  }
}
#endif

static const int8_t *pm_window(const pm_windows *wd, int32_t i, int8_t *col) {
  const pm_conv_params *p = wd->p;
  const pm_dims *in_dims = wd->in_dims, *out_dims = wd->out_dims;
  const int8_t *in = wd->in;
  const int32_t kh = wd->kh, kw = wd->kw, kp = wd->kp;
  const int32_t per_image = out_dims->h * out_dims->w, b = i / per_image, r = i % per_image;
  const int32_t oy = r / out_dims->w, ox = r % out_dims->w;
#if PM_CONV_ROWS
  if (p->filter_layout == PM_FILTER_ROWS && kh * kw * in_dims->c <= PM_CONV_ROWS) { /* plain, then reordered */
    int32_t plain[(PM_CONV_ROWS + 3) / 4];
    const int32_t l = kw * in_dims->c;
    pm_im2col(p, in_dims, in, kh, kw, kh * l, b, oy, ox, (int8_t *)plain);
    pm_rows_bytes((const int8_t *)plain, kh, l, kp, col);
    return col;
  }
#endif
  if (kh == 1 && p->dilation_w == 1) {
    const int32_t y = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    if (y >= 0 && y < in_dims->h && x0 >= 0 && x0 + kw <= in_dims->w) {
      const int32_t off = ((b * in_dims->h + y) * in_dims->w + x0) * in_dims->c;
      if (off + kp <= in_dims->n * in_dims->h * in_dims->w * in_dims->c) return in + off;
    }
  }
  pm_im2col(p, in_dims, in, kh, kw, kp, b, oy, ox, col);
  return col;
}
#endif

#if PM_CONV_4X2 && PM_CONV2D_S8_IM2COL
/* Output pixel i's window widened into slot r of the 4-row block xw (pm_widen_row_s8's layout).
 * Interior windows of undilated layers whose window rows are whole words are widened straight
 * from the input rows (no im2col copy, read once); the others go through pm_window's copy. */
static void pm_window_w16(const pm_windows *wd, int32_t i, int32_t r, int8_t *col, int32_t *xw) {
  const pm_conv_params *p = wd->p;
  const pm_dims *in_dims = wd->in_dims, *out_dims = wd->out_dims;
  const int32_t c = in_dims->c, kh = wd->kh, kw = wd->kw, row = kw * c;
  if (p->dilation_h == 1 && p->dilation_w == 1) {
    const int32_t per_image = out_dims->h * out_dims->w, b = i / per_image, rem = i % per_image;
    const int32_t oy = rem / out_dims->w, ox = rem % out_dims->w;
    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    if (y0 >= 0 && y0 + kh <= in_dims->h && x0 >= 0 && x0 + kw <= in_dims->w) {
      const int8_t *src = wd->in + ((b * in_dims->h + y0) * in_dims->w + x0) * c;
      const int32_t words = row >> 2, dy = in_dims->w * c;
      int32_t ky;
      if ((row & 3) != 0 || wd->kp != kh * row) {
        /* window rows of any length (a first layer's 3 channels): copied back to back, the K4
         * tail zeroed, then widened: no padding logic, no fills of padded taps */
        int8_t *d = col;
        for (ky = 0; ky < kh; ++ky, src += dy, d += row) pm_copy_s8(d, src, row);
        pm_fill_s8(d, 0, wd->kp - kh * row);
        pm_widen_row_s8(col, wd->kp >> 2, r, xw);
        return;
      }
      for (ky = 0; ky < kh; ++ky, src += dy, xw += 8 * words) pm_widen_row_s8(src, words, r, xw);
      return;
    }
  }
  pm_widen_row_s8(pm_window(wd, i, col), wd->kp >> 2, r, xw);
}
#endif

#if PM_CONV_4X2 && PM_CONV_ROWS && PM_CONV2D_S8_IM2COL
/* A PM_FILTER_ROWS window, kh rows of l values at src (row ky at src + ky * dy), widened into slot
 * r of the 4-row block xw: each row's l / 4 whole words as E, O pairs (a chunk each, straight from
 * the rows: no copy), then the rows' l % 4 last values two per word. Reads only the rows' bytes. */
PM_HOT void pm_rows_w16(const int8_t *src, int32_t dy, int32_t kh, int32_t l, int32_t r, int32_t *xw) {
  const int32_t q = l >> 2, rem = l & 3;
  int32_t *d = xw + 2 * r;
  const int8_t *s = src;
  int32_t ky, g;
  if (q == 2) { /* 3x3 windows of 3 channels (l = 9) and the like: two words a row, unrolled */
    for (ky = 0; ky < kh; ++ky, s += dy, d += 16) {
      const uint32_t v0 = (uint32_t)pm_read_s8x4(s), v1 = (uint32_t)pm_read_s8x4(s + 4);
      d[0] = __sxtb16(v0);
      d[1] = pm_sxtb16_ror8(v0);
      d[8] = __sxtb16(v1);
      d[9] = pm_sxtb16_ror8(v1);
    }
  } else {
    for (ky = 0; ky < kh; ++ky, s += dy) {
      for (g = 0; g < q; ++g, d += 8) {
        const uint32_t v = (uint32_t)pm_read_s8x4(s + 4 * g);
        d[0] = __sxtb16(v);
        d[1] = pm_sxtb16_ror8(v);
      }
    }
  }
  s = src + 4 * q;
  if (rem == 1 && kh == 3) { /* 3x3 windows of 1 or 3 channels: one word pair */
    d[0] = (int32_t)((uint32_t)(uint16_t)s[0] | ((uint32_t)(uint16_t)s[dy] << 16));
    d[1] = (int32_t)(uint32_t)(uint16_t)s[2 * dy];
  } else if (rem == 1) { /* a value per row: two rows per word */
    for (ky = 0; ky + 1 < kh; ky += 2, s += 2 * dy) {
      *d = (int32_t)((uint32_t)(uint16_t)s[0] | ((uint32_t)(uint16_t)s[dy] << 16));
      d += (ky & 2) ? 7 : 1; /* word u = ky / 2 of the tail: chunk u / 2, E or O */
    }
    if (ky < kh) *d = (int32_t)(uint32_t)(uint16_t)s[0];
  } else if (rem) {
    int32_t j, n = 0;
    uint32_t lo = 0;
    for (ky = 0; ky < kh; ++ky, s += dy) {
      for (j = 0; j < rem; ++j, ++n) {
        const uint32_t v = (uint16_t)s[j];
        if (n & 1) {
          d[(n >> 2) * 8 + ((n >> 1) & 1)] = (int32_t)(lo | (v << 16));
        } else {
          lo = v;
        }
      }
    }
    if (n & 1) d[(n >> 2) * 8 + ((n >> 1) & 1)] = (int32_t)lo;
  }
}

/* pm_rows_w16 for kh = 3, l = 9 (3x3 windows of 3 channels), in assembly: per row two words
 * loaded, widened and stored by two STRDs (chunks 2ky, 2ky + 1), the rows' last values loaded with
 * them; then the tail chunk: rows 0 and 1's last values in E, row 2's in O (its high half the
 * value's sign, which meets a zero weight). 48 cycles a window. d: slot r of the block (xw + 2r). */
PM_HOT void pm_rows_w16_3x9(const int8_t *s, int32_t dy, int32_t *d) {
  int32_t a, b, e, f, x, y, z;
  __asm__ volatile(
      "ldr %[a], [%[s]]\n\t"
      "ldr %[b], [%[s], #4]\n\t"
      "ldrsb %[x], [%[s], #8]\n\t"
      "sxtb16 %[e], %[a]\n\t"
      "sxtb16 %[a], %[a], ror #8\n\t"
      "sxtb16 %[f], %[b]\n\t"
      "sxtb16 %[b], %[b], ror #8\n\t"
      "strd %[e], %[a], [%[d]]\n\t"
      "strd %[f], %[b], [%[d], #32]\n\t"
      "add %[s], %[s], %[dy]\n\t"
      "ldr %[a], [%[s]]\n\t"
      "ldr %[b], [%[s], #4]\n\t"
      "ldrsb %[y], [%[s], #8]\n\t"
      "sxtb16 %[e], %[a]\n\t"
      "sxtb16 %[a], %[a], ror #8\n\t"
      "sxtb16 %[f], %[b]\n\t"
      "sxtb16 %[b], %[b], ror #8\n\t"
      "strd %[e], %[a], [%[d], #64]\n\t"
      "strd %[f], %[b], [%[d], #96]\n\t"
      "add %[s], %[s], %[dy]\n\t"
      "ldr %[a], [%[s]]\n\t"
      "ldr %[b], [%[s], #4]\n\t"
      "ldrsb %[z], [%[s], #8]\n\t"
      "sxtb16 %[e], %[a]\n\t"
      "sxtb16 %[a], %[a], ror #8\n\t"
      "sxtb16 %[f], %[b]\n\t"
      "sxtb16 %[b], %[b], ror #8\n\t"
      "strd %[e], %[a], [%[d], #128]\n\t"
      "strd %[f], %[b], [%[d], #160]\n\t"
      "pkhbt %[x], %[x], %[y], lsl #16\n\t"
      "strd %[x], %[z], [%[d], #192]\n\t"
      : [s] "+r"(s), [a] "=&r"(a), [b] "=&r"(b), [e] "=&r"(e), [f] "=&r"(f), [x] "=&r"(x), [y] "=&r"(y),
        [z] "=&r"(z)
      : [d] "r"(d), [dy] "r"(dy)
      : "memory");
}

/* The plain window (kh rows of l = kw * c values, padded taps = zp) of a border pixel whose window
 * starts at input row y0, column x0 (no column dilation), into col (word-aligned): zp everywhere,
 * then each valid row's run of valid taps copied; out of line, small. */
PM_KERNEL void pm_rows_plain(const pm_windows *wd, int32_t b, int32_t y0, int32_t x0, int8_t *col) {
  const pm_conv_params *p = wd->p;
  const pm_dims *in_dims = wd->in_dims;
  const int32_t c = in_dims->c, in_h = in_dims->h, in_w = in_dims->w, kh = wd->kh, kw = wd->kw, l = kw * c;
  const int32_t lo = x0 < 0 ? pm_min_i32(-x0, kw) : 0, hi = pm_max_i32(pm_min_i32(in_w - x0, kw), lo);
  const uint32_t z = (uint8_t)p->input_zp * 0x01010101u;
  int32_t ky, j, y = y0, n = (kh * l + 3) >> 2;
  uint32_t *w = (uint32_t *)(void *)col;
  PM_NO_UNROLL
  for (j = 0; j < n; ++j) w[j] = z;
  for (ky = 0; ky < kh; ++ky, y += p->dilation_h, col += l) {
    if (y >= 0 && y < in_h && hi > lo) { /* (a pointer is formed only for valid taps) */
      const int8_t *src = wd->in + ((b * in_h + y) * in_w + x0 + lo) * c;
      PM_NO_UNROLL
      for (j = lo * c; j < hi * c; ++j) col[j] = *src++;
    }
  }
}

typedef struct { /* the next pixel of a PM_FILTER_ROWS layer's 4-pixel blocks; its interior columns */
  int32_t b, oy, ox, ox_lo, ox_hi;
} pm_rows_at;

/* the interior output columns [at->ox_lo, at->ox_hi) (windows inside the input's width), once a layer */
static void pm_rows_start(const pm_windows *wd, pm_rows_at *at) {
  const pm_conv_params *p = wd->p;
  const int32_t in_w = wd->in_dims->w, kw = wd->kw;
  at->b = at->oy = at->ox = 0;
  at->ox_lo = (p->pad_w + p->stride_w - 1) / p->stride_w;
  at->ox_hi = in_w + p->pad_w >= kw ? pm_min_i32((in_w + p->pad_w - kw) / p->stride_w + 1, wd->out_dims->w) : 0;
}

/* The windows of the 4 pixels from *at on (moved on by 4) widened into the block xw (PM_FILTER_ROWS):
 * straight from the input, four at a time along an output row where all four are interior (3x3
 * windows of 3 channels in assembly), padded ones from their plain im2col copy in col; pixels
 * followed by their (b, oy, ox) without divisions. */
PM_HOT void pm_rows_gather4(const pm_windows *wd, pm_rows_at *at, int32_t *xw, int8_t *col) {
  const pm_conv_params *p = wd->p;
  const pm_dims *in_dims = wd->in_dims, *out_dims = wd->out_dims;
  const int32_t c = in_dims->c, kh = wd->kh, kw = wd->kw, l = kw * c;
  const int32_t in_h = in_dims->h, in_w = in_dims->w, out_h = out_dims->h, out_w = out_dims->w;
  const int32_t dy = p->dilation_h * in_w * c, span = (kh - 1) * p->dilation_h + 1, sx = p->stride_w * c;
  int32_t r, b = at->b, oy = at->oy, ox = at->ox;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  if (ox >= at->ox_lo && ox + 4 <= at->ox_hi && y0 >= 0 && y0 + span <= in_h) { /* four interior windows */
    const int8_t *src = wd->in + ((b * in_h + y0) * in_w + ox * p->stride_w - p->pad_w) * c;
    if (kh == 3 && l == 9) {
      pm_rows_w16_3x9(src, dy, xw);
      pm_rows_w16_3x9(src + sx, dy, xw + 2);
      pm_rows_w16_3x9(src + 2 * sx, dy, xw + 4);
      pm_rows_w16_3x9(src + 3 * sx, dy, xw + 6);
    } else {
      for (r = 0; r < 4; ++r, src += sx) pm_rows_w16(src, dy, kh, l, r, xw);
    }
    ox += 4;
  } else {
    for (r = 0; r < 4; ++r) {
      const int32_t y = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
      const int8_t *src = col;
      int32_t step = l;
      if (y >= 0 && y + span <= in_h && x0 >= 0 && x0 + kw <= in_w) {
        src = wd->in + ((b * in_h + y) * in_w + x0) * c;
        step = dy;
      } else {
        pm_rows_plain(wd, b, y, x0, col);
      }
      if (kh == 3 && l == 9) {
        pm_rows_w16_3x9(src, step, xw + 2 * r);
      } else {
        pm_rows_w16(src, step, kh, l, r, xw);
      }
      if (++ox == out_w) {
        ox = 0;
        if (++oy == out_h) {
          oy = 0;
          ++b;
        }
      }
    }
  }
  if (ox == out_w) { /* (the four interior windows ended the row) */
    ox = 0;
    if (++oy == out_h) {
      oy = 0;
      ++b;
    }
  }
  at->b = b;
  at->oy = oy;
  at->ox = ox;
}
#endif

#if PM_CONV2D_S8_GENERIC
int pm_conv2d_s8_generic(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims, const int8_t *in,
                         const pm_dims *f_dims, const int8_t *filter, const int32_t *bias, const pm_dims *out_dims,
                         int8_t *out) {
  const int32_t in_h = in_dims->h, in_w = in_dims->w, in_c = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w, f_c = f_dims->c;
  const int32_t out_h = out_dims->h, out_w = out_dims->w, out_c = out_dims->c;
  const int32_t per_group = out_c / (in_c / f_c);
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
          int32_t acc = PM_LD_I32(&bias[oc]);
          for (ky = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            for (kx = 0; kx < kw; ++kx) {
              const int32_t x = x0 + kx * p->dilation_w;
              const int8_t *fp = f + (ky * kw + kx) * f_c;
              if (y < 0 || y >= in_h || x < 0 || x >= in_w) {
                for (ic = 0; ic < f_c; ++ic) acc += p->input_zp * PM_LD_S8(&fp[ic]);
              } else {
                acc = pm_dot_1x1_s8(in + ((b * in_h + y) * in_w + x) * in_c + c0, fp, f_c, acc);
              }
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

#if PM_CONV2D_S8_1X1
#if PM_CONV_4X2
/* The 4-row blocks of a pointwise layer of `pixels` rows of k values (widened in w16 or on this
 * function's stack: out of line, so that pm_conv_pw4s's stack does not come on top); the pixels done. */
PM_KERNEL int32_t pm_conv_1x1_blocks(const pm_conv_params *p, const pm_requant *q, const int8_t *in, int32_t pixels,
                                     int32_t k, const int8_t *filter, const int32_t *bias, int32_t out_c, int8_t *out,
                                     int32_t *w16) {
  int32_t xw_stack[PM_CONV_W16_MAX / 4];
  int32_t *const xw = w16 ? w16 : xw_stack;
  const int fold = p->fold;
  int32_t i = 0;
#if !PM_REQUANT_EXACT
  if (pm_conv_direct(p, out_c, fold)) { /* the block loop with its frame set once */
    pm_gemm_frame f;
    pm_conv_frame(&f, xw, k, bias, q, out_c, p->output_zp);
    for (; i + 3 < pixels; i += 4) {
      const int8_t *row = in + i * k;
      pm_widen_rows4_s8(row, k, k >> 2, xw);
      f.o = out + i * out_c;
      f.o_end = f.o + (out_c & ~1);
      pm_conv_block(p, &f, filter, fold);
      if (out_c & 1) { /* the odd last channel from the plain rows */
        const int32_t oc = out_c - 1;
        int32_t r;
        for (r = 0; r < 4; ++r) {
          f.o[r * out_c + oc] = pm_requant_s8(pm_dot_1x1_s8(row + r * k, PM_PAIR_W(filter, oc, PM_PAIR_BYTES(p, k)), k, PM_LD_I32(&bias[oc])),
                                              &q[oc], p->output_zp, -128, 127);
        }
      }
    }
  }
#endif
  for (; i + 3 < pixels; i += 4) {
    const int8_t *rows[4];
    rows[0] = in + i * k;
    rows[1] = rows[0] + k;
    rows[2] = rows[1] + k;
    rows[3] = rows[2] + k;
    pm_widen_rows4_s8(rows[0], k, k >> 2, xw);
    pm_conv_rows4(p, q, xw, rows, k, filter, bias, out_c, out + i * out_c, fold);
  }
  return i;
}
#endif

#if PM_CONV_4X2 && PM_PW_SP_CHUNKS > 0 && PM_CONV_RAW && PM_CONV_PAIRS4S && !PM_REQUANT_EXACT
/* pm_conv_pw4s's arguments (PM_PW_SP_ASM reads them at these offsets) */
typedef struct {
  const int8_t *x; /* the first block's 4 rows, k values apart */
  int32_t k;
  const int8_t *stream; /* the first pair's bias_a */
  int8_t *o;
  int32_t out_c;
  int8_t *o_end; /* o + out_c: the first block's pairs end there */
  int32_t mode;  /* PM_RQ_M or PM_RQ_P */
  int32_t blocks; /* blocks of 4 rows, the next at x + 4 k and o + 4 out_c (at least 1) */
} pm_pw_args;

/* A pointwise layer's blocks of 4 rows (a->blocks of them) against a pair stream, each block's rows
 * widened and addressed from SP (PM_PW_SP_ASM). Word-aligned: the block finds its entries with ADR. */
PM_KERNEL __attribute__((__aligned__(4))) void pm_conv_pw4s(const pm_pw_args *a) { PM_PW_SP_ASM(a); }

/* The mode (PM_RQ_M or PM_RQ_P) of a stream layer whose blocks take pm_conv_pw4s (k4 within the
 * run, full range), else 0. */
static int pm_conv_pw4s_mode(const pm_conv_params *p, int32_t k, int32_t out_c, const int8_t *filter) {
  const int run = p->pair_records && k % 4 == 0 && k > 0 && (k >> 2) <= PM_PW_SP_CHUNKS && ((uintptr_t)filter & 3u) == 0;
  const int mode = run ? p->fold : 0;
  return (mode == PM_RQ_M || mode == PM_RQ_P) && pm_conv_direct(p, out_c, mode) ? mode : 0;
}
#endif

int pm_conv2d_s8_1x1(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims, const int8_t *in,
                     const pm_dims *f_dims, const int8_t *filter, const int32_t *bias, const pm_dims *out_dims,
                     int8_t *out, int32_t *w16) {
  const int32_t k = f_dims->c, out_c = out_dims->c;
  (void)w16; /* used by the 4-row kernel only (speed builds on Armv7E-M) */
  if (f_dims->h != 1 || f_dims->w != 1 || f_dims->c != in_dims->c || 2 * k > PM_CONV_IM2COL_MAX ||
      p->stride_h != 1 || p->stride_w != 1 || p->pad_h != 0 || p->pad_w != 0 || out_dims->h != in_dims->h ||
      out_dims->w != in_dims->w) {
    return PM_ERROR; /* never: the generator calls this variant only for such layers */
  }
  {
    /* pointwise: pixels are contiguous rows of k = in_c values */
    const int32_t pixels = in_dims->n * in_dims->h * in_dims->w;
    int32_t i = 0;
#if PM_CONV_4X2 && PM_PW_SP_CHUNKS > 0 && PM_CONV_RAW && PM_CONV_PAIRS4S && !PM_REQUANT_EXACT
    const int mode = pm_conv_pw4s_mode(p, k, out_c, filter);
    if (mode) {
      pm_pw_args a;
      a.k = k;
      a.stream = filter - 4;
      a.out_c = out_c;
      a.mode = mode;
      a.blocks = pixels >> 2;
      if (a.blocks > 0) {
        a.x = in;
        a.o = out;
        a.o_end = out + out_c;
        pm_conv_pw4s(&a);
        i = 4 * a.blocks;
      }
    } else
#endif
#if PM_CONV_4X2
    if (pm_conv_uses_4x2(k, filter, w16)) {
      i = pm_conv_1x1_blocks(p, q, in, pixels, k, filter, bias, out_c, out, w16);
    }
#endif
    for (; i + 1 < pixels; i += 2) {
      pm_conv_rows(p, q, in + i * k, in + (i + 1) * k, k, filter, bias, out_c, out + i * out_c, out + (i + 1) * out_c);
    }
    if (i < pixels) pm_conv_rows(p, q, in + i * k, in + i * k, k, filter, bias, out_c, out + i * out_c, NULL);
  }
  return PM_OK;
}
#endif

#if PM_CONV2D_S8_IM2COL
int pm_conv2d_s8_im2col(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims, const int8_t *in,
                        const pm_dims *f_dims, const int8_t *filter, const int32_t *bias, const pm_dims *out_dims,
                        int8_t *out, int32_t *w16) {
  const int32_t kh = f_dims->h, kw = f_dims->w, k = kh * kw * f_dims->c;
  const int32_t out_c = out_dims->c;
  (void)w16; /* used by the 4-row kernel only (speed builds on Armv7E-M) */
  if (f_dims->c != in_dims->c || 2 * k > PM_CONV_IM2COL_MAX) return PM_ERROR; /* never: see the generator */
  {
    int32_t col_words[(PM_CONV_IM2COL_MAX + 3) / 4]; /* word-aligned: row copies by words */
    int8_t *const col = (int8_t *)col_words;
    const int32_t per_image = out_dims->h * out_dims->w;
    const int32_t total = in_dims->n * per_image;
    /* GEMM row length: k, or k rounded up to a multiple of 4 (PM_FILTER_K4, _ROWS: zero-padded rows) */
    const int32_t kp = p->filter_layout >= PM_FILTER_K4 ? (k + 3) & ~3 : k; /* K4 or ROWS */
    int32_t i = 0;
    pm_windows wd;
    if (2 * kp > PM_CONV_IM2COL_MAX) return PM_ERROR; /* never: the generator sizes the buffer */
    wd.p = p;
    wd.in_dims = in_dims;
    wd.out_dims = out_dims;
    wd.in = in;
    wd.kh = kh;
    wd.kw = kw;
    wd.kp = kp;
#if PM_CONV_4X2
    if (pm_conv_uses_4x2(kp, filter, w16)) {
      int32_t xw_stack[PM_CONV_W16_MAX / 4];
      int32_t *const xw = w16 ? w16 : xw_stack;
      const int fold = p->fold;
#if !PM_REQUANT_EXACT
      /* full int8 range: every block's pairs by pm_conv_pairs4 on a frame set up once (the block's
       * output moves on), not through pm_conv_rows4 */
      const int direct = pm_conv_direct(p, out_c, fold);
      pm_gemm_frame f;
      pm_conv_frame(&f, xw, kp, bias, q, out_c, p->output_zp);
#endif
#if PM_CONV_ROWS
      const int rows = p->filter_layout == PM_FILTER_ROWS;
      pm_rows_at at = {0, 0, 0, 0, 0}; /* set by pm_rows_start where used (GCC -O1 cannot tell) */
      if (rows) {
        pm_rows_start(&wd, &at);
        pm_fill_s8((int8_t *)xw, 0, 8 * kp); /* a last odd word is never written: it meets zero weights */
      }
#endif
      for (; i + 3 < total; i += 4) {
        int32_t r;
#if PM_CONV_ROWS
        if (rows) {
          pm_rows_gather4(&wd, &at, xw, col);
        } else
#endif
        {
          for (r = 0; r < 4; ++r) pm_window_w16(&wd, i + r, r, col, xw);
        }
        if (out_c % 2) {
          /* an odd last channel needs the plain rows: rebuild them in the (2kp-byte) buffer */
          int8_t *o = out + i * out_c + out_c - 1;
          const int8_t *f = PM_PAIR_W(filter, out_c - 1, PM_PAIR_BYTES(p, kp));
          for (r = 0; r < 4; r += 2) {
            const int8_t *w0 = pm_window(&wd, i + r, col);
            const int8_t *w1 = pm_window(&wd, i + r + 1, col + kp);
            o[r * out_c] = pm_requant_s8(pm_dot_1x1_s8(w0, f, kp, PM_LD_I32(&bias[out_c - 1])), &q[out_c - 1], p->output_zp,
                                         p->act_min, p->act_max);
            o[(r + 1) * out_c] = pm_requant_s8(pm_dot_1x1_s8(w1, f, kp, PM_LD_I32(&bias[out_c - 1])), &q[out_c - 1],
                                               p->output_zp, p->act_min, p->act_max);
          }
        }
#if !PM_REQUANT_EXACT
        if (direct) {
          f.o = out + i * out_c;
          f.o_end = f.o + (out_c & ~1);
          pm_conv_block(p, &f, filter, fold);
          continue;
        }
#endif
        pm_conv_rows4(p, q, xw, NULL, kp, filter, bias, out_c, out + i * out_c, fold);
      }
    }
#endif
    for (; i < total; i += 2) {
      int8_t *o0 = out + i * out_c;
      const int8_t *w0 = pm_window(&wd, i, col);
      if (i + 1 < total) {
        const int8_t *w1 = pm_window(&wd, i + 1, col + kp);
        pm_conv_rows(p, q, w0, w1, kp, filter, bias, out_c, o0, o0 + out_c);
      } else {
        pm_conv_rows(p, q, w0, w0, kp, filter, bias, out_c, o0, NULL);
      }
    }
  }
  return PM_OK;
}
#endif

#if PM_SPARSE_WEIGHTS
#include "pm_sparse_s8.h"

/* Two rows r0, r1 (o1 NULL: r0 only) against every output channel of a sparse filter. */
static void pm_conv_sparse_rows(const pm_conv_params *p, const pm_sparse_quant *q, int32_t encoding, const int8_t *r0,
                                const int8_t *r1, int32_t k, const int8_t *filter, const int32_t *bias,
                                int32_t out_c, int8_t *o0, int8_t *o1) {
  if (o1) {
    pm_sparse_rows_2_s8(encoding, r0, r1, k, filter, bias, q, out_c, p->output_zp, p->act_min, p->act_max, o0, o1);
  } else {
    pm_sparse_rows_1_s8(encoding, r0, k, filter, bias, q, out_c, p->output_zp, p->act_min, p->act_max, o0);
  }
}

/* pm_conv2d_s8_1x1 and pm_conv2d_s8_im2col (pointwise rows, or two im2col rows at a time) on
 * sparse rows; the generator encodes a filter sparsely only for layers of those two variants. */
int pm_conv2d_sparse_s8(const pm_conv_params *p, const pm_sparse_quant *q, int32_t encoding, const pm_dims *in_dims,
                        const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                        const pm_dims *out_dims, int8_t *out) {
  const int32_t kh = f_dims->h, kw = f_dims->w, k = kh * kw * f_dims->c;
  const int32_t out_c = out_dims->c;
  const int pointwise = kh == 1 && kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 &&
                        p->pad_w == 0 && out_dims->h == in_dims->h && out_dims->w == in_dims->w;
  const int32_t total = out_dims->n * out_dims->h * out_dims->w;
  int32_t col_words[(PM_CONV_IM2COL_MAX + 3) / 4]; /* word-aligned: row copies by words */
  int8_t *const col = (int8_t *)col_words;
  int32_t i = 0;
  pm_windows wd;
  if (f_dims->c != in_dims->c || 2 * k > PM_CONV_IM2COL_MAX) return PM_ERROR;
  wd.p = p;
  wd.in_dims = in_dims;
  wd.out_dims = out_dims;
  wd.in = in;
  wd.kh = kh;
  wd.kw = kw;
  wd.kp = k;
#if PM_SPARSE_ROWS4
  /* four pixels per decode of the weights (im2col windows need 4k bytes of buffer) */
  if (pointwise || 4 * k <= PM_CONV_IM2COL_MAX) {
    for (; i + 3 < total; i += 4) {
      const int8_t *x[4];
      int8_t *o[4];
      int32_t r;
      for (r = 0; r < 4; ++r) {
        x[r] = pointwise ? in + (i + r) * k : pm_window(&wd, i + r, col + r * k);
        o[r] = out + (i + r) * out_c;
      }
      pm_sparse_rows_4_s8(encoding, x, k, filter, bias, q, out_c, p->output_zp, p->act_min, p->act_max, o);
    }
  }
#endif
  for (; i < total; i += 2) {
    int8_t *o0 = out + i * out_c;
    const int8_t *w0 = pointwise ? in + i * k : pm_window(&wd, i, col);
    if (i + 1 < total) {
      const int8_t *w1 = pointwise ? in + (i + 1) * k : pm_window(&wd, i + 1, col + k);
      pm_conv_sparse_rows(p, q, encoding, w0, w1, k, filter, bias, out_c, o0, o0 + out_c);
    } else {
      pm_conv_sparse_rows(p, q, encoding, w0, NULL, k, filter, bias, out_c, o0, NULL);
    }
  }
  return PM_OK;
}
#endif

#if PM_CONV2D_S8_LANES
/* The n <= 4 outputs of one pixel and block from pm_lanes_block_s8's sums s (P0, B0, P1, B1):
 * channel a of a pair is P - 65536 * B (modulo 2^32), channel b is B; out of line, so the
 * requantization has the registers to itself. */
PM_KERNEL void pm_lanes_store_s8(const int32_t *s, const int32_t *bias, const pm_requant *q, int32_t n,
                                 const int32_t *zlh, int8_t *o) {
  int32_t v[4]; /* bias: padded to the block by the generator */
  v[0] = (int32_t)((uint32_t)s[0] - ((uint32_t)s[1] << 16) + (uint32_t)PM_LD_I32(&bias[0]));
  v[1] = (int32_t)((uint32_t)s[1] + (uint32_t)PM_LD_I32(&bias[1]));
  v[2] = (int32_t)((uint32_t)s[2] - ((uint32_t)s[3] << 16) + (uint32_t)PM_LD_I32(&bias[2]));
  v[3] = (int32_t)((uint32_t)s[3] + (uint32_t)PM_LD_I32(&bias[3]));
#if PM_LANES_ASM && !PM_REQUANT_EXACT
  pm_requant_n_v6m(v, q, n, o, zlh);
#else
  {
    int32_t j;
    for (j = 0; j < n; ++j) o[j] = pm_requant_s8(v[j], &q[j], zlh[0], zlh[1], zlh[2]);
  }
#endif
}

/* Armv6-M: any ungrouped convolution whose window fits the im2col buffer, one pixel at a time:
 * its window (pointwise layers: the input row itself) widened to int32 once, then four output
 * channels per pm_lanes_block_s8 call (pm_dot_s8.h: two channels per multiply). */
int pm_conv2d_s8_lanes(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims, const int8_t *in,
                       const pm_dims *f_dims, const int32_t *filter, const int32_t *bias, const pm_dims *out_dims,
                       int8_t *out) {
  const int32_t kh = f_dims->h, kw = f_dims->w, k = kh * kw * f_dims->c, kp = (k + 1) & ~1;
  const int32_t out_c = out_dims->c, total = out_dims->n * out_dims->h * out_dims->w;
  const int pointwise = kh == 1 && kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 &&
                        p->pad_w == 0 && out_dims->h == in_dims->h && out_dims->w == in_dims->w;
  int32_t xw[PM_CONV_IM2COL_MAX / 2 + 2]; /* the widened window, kp values */
  int32_t col_words[(PM_CONV_IM2COL_MAX / 2 + 3) / 4];
  int8_t *const col = (int8_t *)col_words;
  int32_t i, j, c, zlh[3];
  pm_windows wd;
  if (f_dims->c != in_dims->c || 2 * k > PM_CONV_IM2COL_MAX) return PM_ERROR; /* never: see the generator */
  zlh[0] = p->output_zp; /* pm_lanes_store_s8: output zero point and clamp */
  zlh[1] = p->act_min;
  zlh[2] = p->act_max;
  wd.p = p;
  wd.in_dims = in_dims;
  wd.out_dims = out_dims;
  wd.in = in;
  wd.kh = kh;
  wd.kw = kw;
  wd.kp = k;
  xw[k] = 0; /* an odd k's pad value (its weights are 0) */
  for (i = 0; i < total; ++i) {
    const int8_t *row = pointwise ? in + i * k : pm_window(&wd, i, col);
    const int32_t *wp = filter;
    int8_t *o = out + i * out_c;
    PM_NO_UNROLL
    for (j = 0; j + 3 < k; j += 4) {
      xw[j] = row[j];
      xw[j + 1] = row[j + 1];
      xw[j + 2] = row[j + 2];
      xw[j + 3] = row[j + 3];
    }
    PM_NO_UNROLL
    for (; j < k; ++j) xw[j] = row[j];
    for (c = 0; c < out_c; c += 4, wp += 2 * kp) {
      int32_t s[4];
      pm_lanes_block_s8(xw, wp, kp >> 1, s);
      pm_lanes_store_s8(s, bias + c, q + c, out_c - c < 4 ? out_c - c : 4, zlh, o + c);
    }
  }
  return PM_OK;
}
#endif
