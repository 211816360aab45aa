/* The _exact twins of the DEPTHWISE_CONV_2D variants: pm_depthwise_conv2d_s8.c compiled a second
 * time with PM_REQUANT_EXACT 1 (pm_requant_exact_s8, pm_common.h), for layers whose accumulator
 * bound the code generator cannot prove below 2^29 (codegen/requant.py). pm_config.h's
 * PM_DEPTHWISE_CONV2D_S8_*_EXACT switches build only the twins some layer calls. */
#define PM_REQUANT_EXACT 1
#include "pm_common.h"

#undef PM_DEPTHWISE_CONV2D_S8_MULT1
#define PM_DEPTHWISE_CONV2D_S8_MULT1 PM_DEPTHWISE_CONV2D_S8_MULT1_EXACT
#undef PM_DEPTHWISE_CONV2D_S8_GENERIC
#define PM_DEPTHWISE_CONV2D_S8_GENERIC PM_DEPTHWISE_CONV2D_S8_GENERIC_EXACT

#define pm_depthwise_conv2d_s8_mult1 pm_depthwise_conv2d_s8_mult1_exact
#define pm_depthwise_conv2d_s8_generic pm_depthwise_conv2d_s8_generic_exact

#include "pm_depthwise_conv2d_s8.c"
