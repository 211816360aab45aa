/* The _exact twins of the CONV_2D variants: pm_conv2d_s8.c compiled a second time with
 * PM_REQUANT_EXACT 1, so every output goes through pm_requant_exact_s8 (TFLite's full
 * MultiplyByQuantizedMultiplier, any int32 accumulator; pm_common.h). The code generator calls
 * them for layers whose accumulator bound it cannot prove below 2^29 (codegen/requant.py);
 * pm_config.h's PM_CONV2D_S8_*_EXACT switches build only the twins some layer calls, and
 * PM_SPARSE_EXACT the sparse twin. Same arguments and constraints as the fast variants. */
#define PM_REQUANT_EXACT 1
#include "pm_common.h"

#undef PM_CONV2D_S8_1X1
#define PM_CONV2D_S8_1X1 PM_CONV2D_S8_1X1_EXACT
#undef PM_CONV2D_S8_IM2COL
#define PM_CONV2D_S8_IM2COL PM_CONV2D_S8_IM2COL_EXACT
#undef PM_CONV2D_S8_GENERIC
#define PM_CONV2D_S8_GENERIC PM_CONV2D_S8_GENERIC_EXACT
#undef PM_CONV2D_S8_LANES
#define PM_CONV2D_S8_LANES PM_CONV2D_S8_LANES_EXACT
#undef PM_SPARSE_WEIGHTS
#define PM_SPARSE_WEIGHTS PM_SPARSE_EXACT

#define pm_conv2d_s8_1x1 pm_conv2d_s8_1x1_exact
#define pm_conv2d_s8_im2col pm_conv2d_s8_im2col_exact
#define pm_conv2d_s8_generic pm_conv2d_s8_generic_exact
#define pm_conv2d_s8_lanes pm_conv2d_s8_lanes_exact
#define pm_conv2d_sparse_s8 pm_conv2d_sparse_s8_exact

#include "pm_conv2d_s8.c"
