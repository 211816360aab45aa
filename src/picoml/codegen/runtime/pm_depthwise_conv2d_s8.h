/* DEPTHWISE_CONV_2D, int8 (reference_integer_ops::DepthwiseConvPerChannel, bit-exact). */
#ifndef PM_DEPTHWISE_CONV2D_S8_H
#define PM_DEPTHWISE_CONV2D_S8_H

#include "pm_conv2d_s8.h"

/* Every variant: filter 1HWO with O = in_c * depth_multiplier; output channel c*m + k reads input
 * channel c. bias holds -input_zp * sum(filter[..., o]) folded in (never NULL). The code generator
 * picks the variant per layer (codegen/variants.py: depthwise_variant) and calls it directly; a
 * variant returns PM_ERROR for a layer outside its constraint. pm_config.h compiles only the
 * variants the model calls (PM_DEPTHWISE_CONV2D_S8_MULT1, PM_DEPTHWISE_CONV2D_S8_GENERIC).
 * Every variant reads an output pixel's window no later than it writes the pixel, and writes no
 * input byte a later pixel reads: the memory planner lets the output overlap the dying input on
 * that basis (graph/ops.py: DEPTHWISE_CONV_2D streams=1; plan/planner.py: stream_lag). The
 * pixel-order paths compute output pixels one at a time in row-major order; Armv7E-M speed builds
 * run most layers on planes (pm_depthwise_conv2d_s8.c: pm_dw_planes), channel after channel where
 * every output byte lands on an input byte of its own channel (output and input apart, or with
 * multiplier 1 a whole number of pixels apart), else strip after strip with all of a strip's input
 * copied first. */

/* Depth multiplier 1, channels <= PM_DW_MAX_C, kh * kw <= PM_DW_MAX_TAPS: four channels at a time
 * over a table of tap pointers (3x3 interior pixels of PM_FILTER_DW4 layers: one assembly block on
 * Armv7E-M speed builds), or, on Armv7E-M speed builds, 3x3 windows (dilation 1, strides 1-2, rows
 * of at least 8 outputs, 12 at stride 2) on planes: one channel at a time (two channels' planes
 * gathered together when both fit), 5 outputs per assembly block at stride 1 (then 4), 4 at
 * stride 2, requantization fused (fast and exact). filter: PM_FILTER_PLAIN, or PM_FILTER_DW4 when
 * channels % 4 == 0. */
int pm_depthwise_conv2d_s8_mult1(const pm_conv_params *params, const pm_requant *quant, const pm_dims *in_dims,
                                 const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                 const pm_dims *out_dims, int8_t *out);

/* Any depthwise layer (PM_FILTER_PLAIN weights): the direct loop nest, one MAC at a time; on
 * Armv7E-M speed builds a tap table, or planes (dilation 1, strides 1-2: 3x3 windows as above,
 * other windows with depth multiplier > 1 in C, two SMLAD per 4 taps). */
int pm_depthwise_conv2d_s8_generic(const pm_conv_params *params, const pm_requant *quant, const pm_dims *in_dims,
                                   const int8_t *in, const pm_dims *f_dims, const int8_t *filter,
                                   const int32_t *bias, const pm_dims *out_dims, int8_t *out);

/* The _exact twins (pm_depthwise_conv2d_s8_exact.c): the same arguments and constraints, with
 * TFLite's requantization for any int32 accumulator (pm_requant_exact_s8 and its records,
 * pm_common.h), for layers whose accumulator the code generator cannot bound below 2^29. */
int pm_depthwise_conv2d_s8_mult1_exact(const pm_conv_params *params, const pm_requant *quant,
                                       const pm_dims *in_dims, const int8_t *in, const pm_dims *f_dims,
                                       const int8_t *filter, const int32_t *bias, const pm_dims *out_dims,
                                       int8_t *out);
int pm_depthwise_conv2d_s8_generic_exact(const pm_conv_params *params, const pm_requant *quant,
                                         const pm_dims *in_dims, const int8_t *in, const pm_dims *f_dims,
                                         const int8_t *filter, const int32_t *bias, const pm_dims *out_dims,
                                         int8_t *out);

#endif /* PM_DEPTHWISE_CONV2D_S8_H */
