/* DEPTHWISE_CONV_2D, int8, with the filter stored sparsely (reference_integer_ops::
 * DepthwiseConvPerChannel, bit-exact). The code generator picks it for a depthwise layer whose
 * encoding below is smaller than its dense weights (codegen/sparse_depthwise.py).
 *
 * PM_SPARSE_DW_TAPMASK: the filter 1HWO as one stream over the whole tensor, output channel
 * major. First the masks: bit t of output channel o (taps t = ky * kw + kx in row-major order)
 * is bit o * taps + t of the mask area (bit i of byte b: bit 8b + i), ceil(out_c * taps / 8)
 * bytes; then the non-zero values in (channel, tap) order. The kernel walks the channels in
 * order, taking taps bits of the mask at a time and a value per set bit, so no row pointers
 * or per-channel padding: a 3x3 filter costs 9 bits per channel plus its non-zeros.
 *
 * The input zero point is folded into the bias (bias - input_zp * sum of the channel's
 * weights, all taps): each output is a plain dot product over the non-zeros, exact when a
 * padded tap reads the input zero point, which these kernels do (a row of zero points stands
 * in for the input pixel of every tap outside the input). The requantization is stored
 * compactly (pm_sparse_quant, 5 bytes per channel; biases in 3 bytes where they fit, see
 * pm_sparse_s8.h). Any depth multiplier (output channel c * m + k reads input channel c);
 * kh * kw <= PM_SPARSE_DW_MAX_TAPS, output channels <= PM_DW_MAX_C (pm_config.h sizes it for
 * the model: the zero-point row and a held output pixel on the stack); PM_ERROR outside. Output
 * pixels are written in row-major order, each after its window is read (the planner's
 * streaming overlap, as the dense variants); two pixels share each decode of the filter. */
#ifndef PM_SPARSE_DEPTHWISE_S8_H
#define PM_SPARSE_DEPTHWISE_S8_H

#include "pm_conv2d_s8.h"

#define PM_SPARSE_DW_MAX_TAPS 25 /* the mask reader's 32-bit buffer holds taps - 1 + 8 bits */

int pm_depthwise_conv2d_sparse_s8(const pm_conv_params *params, const pm_sparse_quant *quant,
                                  const pm_dims *in_dims, const int8_t *in, const pm_dims *f_dims,
                                  const int8_t *filter, const int32_t *bias, const pm_dims *out_dims, int8_t *out);

/* The _exact twin (TFLite's requantization for any int32 accumulator, pm_requant_exact_s8), for
 * layers whose accumulator the code generator cannot bound below 2^29 (codegen/requant.py). */
int pm_depthwise_conv2d_sparse_s8_exact(const pm_conv_params *params, const pm_sparse_quant *quant,
                                        const pm_dims *in_dims, const int8_t *in, const pm_dims *f_dims,
                                        const int8_t *filter, const int32_t *bias, const pm_dims *out_dims,
                                        int8_t *out);

#endif /* PM_SPARSE_DEPTHWISE_S8_H */
