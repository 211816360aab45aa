/* The _exact twin of FULLY_CONNECTED: pm_fully_connected_s8.c compiled a second time with
 * PM_REQUANT_EXACT 1 (pm_requant_exact_s8, pm_common.h), for layers whose accumulator bound the
 * code generator cannot prove below 2^29 (codegen/requant.py); the sparse twin is built when
 * some exact layer stores its weights sparsely (PM_SPARSE_EXACT in pm_config.h). */
#define PM_REQUANT_EXACT 1
#include "pm_common.h"

#undef PM_SPARSE_WEIGHTS
#define PM_SPARSE_WEIGHTS PM_SPARSE_EXACT

#define pm_fully_connected_s8 pm_fully_connected_s8_exact
#define pm_fully_connected_sparse_s8 pm_fully_connected_sparse_s8_exact

#include "pm_fully_connected_s8.c"
