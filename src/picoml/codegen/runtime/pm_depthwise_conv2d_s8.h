/* DEPTHWISE_CONV_2D, int8 (reference_integer_ops::DepthwiseConvPerChannel, bit-exact). */
#ifndef PM_DEPTHWISE_CONV2D_S8_H
#define PM_DEPTHWISE_CONV2D_S8_H

#include "pm_conv2d_s8.h"

/* filter: 1HWO with O = in_c * depth_multiplier; output channel c*m + k reads input channel c.
 * bias holds -input_zp * sum(filter[..., o]) folded in (never NULL). */
int pm_depthwise_conv2d_s8(const pm_conv_params *params, const pm_requant *quant,
                           const pm_dims *in_dims, const int8_t *in, const pm_dims *f_dims,
                           const int8_t *filter, const int32_t *bias, const pm_dims *out_dims, int8_t *out);

#endif /* PM_DEPTHWISE_CONV2D_S8_H */
