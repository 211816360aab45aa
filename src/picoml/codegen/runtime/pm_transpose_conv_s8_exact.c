/* The _exact twin of TRANSPOSE_CONV: pm_transpose_conv_s8.c compiled a second time with
 * PM_REQUANT_EXACT 1 (pm_requant_exact_s8, pm_common.h), for layers whose accumulator bound the
 * code generator cannot prove below 2^29 (codegen/emit_resize.py). */
#define PM_REQUANT_EXACT 1
#include "pm_common.h"

#define pm_transpose_conv_s8 pm_transpose_conv_s8_exact

#include "pm_transpose_conv_s8.c"
