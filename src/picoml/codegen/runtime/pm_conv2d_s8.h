/* CONV_2D, int8 (TFLite reference_integer_ops::ConvPerChannel semantics, bit-exact). */
#ifndef PM_CONV2D_S8_H
#define PM_CONV2D_S8_H

#include "pm_common.h"

/* Geometry and quantization of one convolution (depthwise uses the same struct). */
typedef struct {
  int16_t stride_h;   /* rows between output rows' windows */
  int16_t stride_w;   /* columns between output columns' windows */
  int16_t dilation_h; /* rows between taps */
  int16_t dilation_w; /* columns between taps */
  int16_t pad_h;      /* rows of padding above the input */
  int16_t pad_w;      /* columns of padding left of the input */
  int16_t depth_multiplier; /* depthwise only: output channels per input channel */
  int16_t filter_layout;    /* PM_FILTER_PLAIN, _DW4 (depthwise), _K4 or _ROWS, see below */
  int16_t pair_records; /* GEMM variants: record bytes per channel pair, 32 in a pair stream (pm_conv2d_s8.c), else 0 */
  int16_t fold; /* GEMM variants: the 4x2 pair loops' requantization of these records, PM_RQ_* (pm_conv2d_s8.c;
                 * the generator's codegen/requant.py fold_mode); 0 (the general one) where not written */
  int32_t input_zp;   /* value of padded taps; bias already holds -input_zp * sum(filter) */
  int32_t output_zp;  /* added after rescaling */
  int32_t act_min;    /* fused activation clamp, int8 range */
  int32_t act_max;
} pm_conv_params;

/* One CONV_2D or DEPTHWISE_CONV_2D layer's constant arguments in one record: model.c calls each
 * variant through a small wrapper taking the record and the arena pointers, so a call site loads
 * one address instead of seven (-Os: about 50 bytes of code less per layer). filter is the
 * variant's weight type (int8_t, or int32_t for pm_conv2d_s8_lanes). */
typedef struct {
  const pm_conv_params *params;
  const pm_requant *quant;
  const pm_dims *in_dims;
  const pm_dims *f_dims;
  const void *filter;
  const int32_t *bias;
  const pm_dims *out_dims;
} pm_conv_layer;
/* the wrappers: one copy each in size builds (inlined, the record folded away, at -O2) */
#if defined(__GNUC__) && defined(__OPTIMIZE_SIZE__)
#define PM_LAYER_CALL static __attribute__((__noinline__))
#else
#define PM_LAYER_CALL static
#endif

/* Filter layouts. PLAIN: OHWI (convolution) or 1HWO (depthwise). DW4 (depthwise, depth multiplier
 * 1, channels % 4 == 0; written by the code generator for Armv7E-M): channel groups of 4, each
 * storing its taps in order as 4-byte words, so one kernel pointer walks a group with immediate
 * offsets: byte (ch / 4) * 4 * taps + 4 * t + ch % 4 holds tap t of channel ch. */
#define PM_FILTER_PLAIN 0
#define PM_FILTER_DW4 1
/* K4 (CONV_2D on the im2col path, Armv7E-M): every GEMM row of k = kh*kw*ic values is padded with
 * zero weights to a multiple of 4 (kp), and im2col rows with zeros, so a first layer with
 * ic = 1 or 3 (k = 9, 27) runs on the 4-row SIMD kernel, which needs k % 4 == 0. */
#define PM_FILTER_K4 2
/* ROWS (CONV_2D on the im2col path, Armv7E-M, window rows of L = kw*ic values with L % 4 != 0, no
 * column dilation): the K4 row (kp = kh*kw*ic rounded up to 4) with its values reordered so that
 * each window row's q = L / 4 whole words come first (row after row, bytes as in the input: a
 * kernel widens them straight from the input, chunk-aligned), then the rows' L % 4 last values,
 * row after row, two per 16-bit word pair: value n of that tail sits at byte
 * 4 * (n / 4) + (n / 2) % 2 + 2 * (n % 2) of it (codegen/conv_rows.py writes the weights so). */
#define PM_FILTER_ROWS 3

/* Every variant computes out = clamp(requant(bias[c] + sum(in_padded * filter)) + output_zp).
 * bias: one int32 per output channel with -input_zp * sum(filter[c]) folded in (never NULL).
 * The code generator picks the variant per layer (codegen/variants.py: conv_variant) and calls it
 * directly; a variant returns PM_ERROR for a layer outside its constraint. pm_config.h compiles
 * only the variants the model calls (PM_CONV2D_S8_1X1, PM_CONV2D_S8_IM2COL, PM_CONV2D_S8_GENERIC). */

/* 1x1, stride 1, no padding, ungrouped, 2 * in_c <= PM_CONV_IM2COL_MAX: a GEMM over pixels.
 * filter: the GEMM layout of the library's ISA (packed pairs, offset-binary blocks or int16 rows,
 * pm_dot_s8.h). w16: NULL, or arena scratch of 8 * k bytes (word-aligned) for the widened rows
 * of the Armv7E-M 4-row kernel when they exceed the stack block PM_CONV_W16_MAX (the code
 * generator plans it where the arena has room during this layer). */
int pm_conv2d_s8_1x1(const pm_conv_params *params, const pm_requant *quant, const pm_dims *in_dims,
                     const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                     const pm_dims *out_dims, int8_t *out, int32_t *w16);

/* Ungrouped, window k = kh * kw * in_c with 2 * k <= PM_CONV_IM2COL_MAX (PM_FILTER_K4: 2 * k
 * rounded up to 4): two pixels' windows at a time (im2col, on the stack) into the GEMM
 * micro-kernels; filter and w16 as pm_conv2d_s8_1x1. */
int pm_conv2d_s8_im2col(const pm_conv_params *params, const pm_requant *quant, const pm_dims *in_dims,
                        const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                        const pm_dims *out_dims, int8_t *out, int32_t *w16);

/* Any convolution: the direct loop nest. filter: plain OHWI, f_dims = {O, H, W, I}; I may divide
 * in_dims->c (grouped convolution). For grouped layers and windows too large for im2col. */
int pm_conv2d_s8_generic(const pm_conv_params *params, const pm_requant *quant, const pm_dims *in_dims,
                         const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                         const pm_dims *out_dims, int8_t *out);

/* pm_conv2d_s8_1x1 or pm_conv2d_s8_im2col layers (the GEMM variants, ungrouped, window within PM_CONV_IM2COL_MAX) with
 * the filter [O][H*W*I] in a sparse encoding (PM_SPARSE_BITMASK or PM_SPARSE_CSR, pm_sparse_s8.h);
 * compiled when the library has sparse layers (PM_SPARSE_WEIGHTS in pm_config.h). */
int pm_conv2d_sparse_s8(const pm_conv_params *params, const pm_sparse_quant *quant, int32_t encoding,
                        const pm_dims *in_dims, const int8_t *in, const pm_dims *f_dims, const int8_t *filter,
                        const int32_t *bias, const pm_dims *out_dims, int8_t *out);

/* Armv6-M (the generator's "lanes" variant): as pm_conv2d_s8_im2col (ungrouped, window k with
 * 2 * k <= PM_CONV_IM2COL_MAX; pointwise layers included), filter in the lanes layout of
 * pm_dot_s8.h: output channels in blocks of 4 (a last block padded with zero weights), k padded
 * to even with a zero weight, per chunk of inputs (j, j+1) the words w_a + 65536 * w_b of channel
 * pairs (0, 1) then (2, 3); no channel has both weights of a chunk equal to -128. bias: padded
 * with zeros to a multiple of 4 entries. */
int pm_conv2d_s8_lanes(const pm_conv_params *params, const pm_requant *quant, const pm_dims *in_dims,
                       const int8_t *in, const pm_dims *f_dims, const int32_t *filter, const int32_t *bias,
                       const pm_dims *out_dims, int8_t *out);

/* The _exact twins (pm_conv2d_s8_exact.c): the same arguments and constraints, with TFLite's
 * requantization for any int32 accumulator (pm_requant_exact_s8 and its records, pm_common.h).
 * The code generator calls them for layers whose accumulator it cannot bound below 2^29. */
int pm_conv2d_s8_1x1_exact(const pm_conv_params *params, const pm_requant *quant, const pm_dims *in_dims,
                           const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                           const pm_dims *out_dims, int8_t *out, int32_t *w16);
int pm_conv2d_s8_im2col_exact(const pm_conv_params *params, const pm_requant *quant, const pm_dims *in_dims,
                              const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                              const pm_dims *out_dims, int8_t *out, int32_t *w16);
int pm_conv2d_s8_generic_exact(const pm_conv_params *params, const pm_requant *quant, const pm_dims *in_dims,
                               const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                               const pm_dims *out_dims, int8_t *out);
int pm_conv2d_s8_lanes_exact(const pm_conv_params *params, const pm_requant *quant, const pm_dims *in_dims,
                             const int8_t *in, const pm_dims *f_dims, const int32_t *filter, const int32_t *bias,
                             const pm_dims *out_dims, int8_t *out);
int pm_conv2d_sparse_s8_exact(const pm_conv_params *params, const pm_sparse_quant *quant, int32_t encoding,
                              const pm_dims *in_dims, const int8_t *in, const pm_dims *f_dims, const int8_t *filter,
                              const int32_t *bias, const pm_dims *out_dims, int8_t *out);

#endif /* PM_CONV2D_S8_H */
