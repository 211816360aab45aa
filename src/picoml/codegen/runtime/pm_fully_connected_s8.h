/* FULLY_CONNECTED, int8 (reference_integer_ops::FullyConnected[PerChannel], bit-exact). */
#ifndef PM_FULLY_CONNECTED_S8_H
#define PM_FULLY_CONNECTED_S8_H

#include "pm_common.h"

typedef struct {
  int32_t batches;   /* rows of the flattened input */
  int32_t depth;     /* input values per row */
  int32_t units;     /* output values per row */
  int32_t output_zp; /* added after rescaling */
  int32_t act_min;   /* fused activation clamp */
  int32_t act_max;
} pm_fully_connected_params;

/* weights [units, depth] packed in unit pairs (pm_dot_s8.h); bias[u] holds -input_zp * sum(weights[u]) folded in.
 * quant has one entry per unit (per-tensor weights repeat the same value). */
int pm_fully_connected_s8(const pm_fully_connected_params *params, const pm_requant *quant,
                          const int8_t *in, const int8_t *weights, const int32_t *bias, int8_t *out);

/* The same with weights in a sparse encoding (PM_SPARSE_BITMASK or PM_SPARSE_CSR, pm_sparse_s8.h);
 * compiled when the library has sparse layers (PM_SPARSE_WEIGHTS in pm_config.h). */
int pm_fully_connected_sparse_s8(const pm_fully_connected_params *params, const pm_sparse_quant *quant,
                                 int32_t encoding, const int8_t *in, const int8_t *weights, const int32_t *bias,
                                 int8_t *out);

/* The _exact twins (pm_fully_connected_s8_exact.c): the same arguments, with TFLite's
 * requantization for any int32 accumulator (pm_requant_exact_s8 and its records, pm_common.h),
 * for layers whose accumulator the code generator cannot bound below 2^29. */
int pm_fully_connected_s8_exact(const pm_fully_connected_params *params, const pm_requant *quant,
                                const int8_t *in, const int8_t *weights, const int32_t *bias, int8_t *out);
int pm_fully_connected_sparse_s8_exact(const pm_fully_connected_params *params, const pm_sparse_quant *quant,
                                       int32_t encoding, const int8_t *in, const int8_t *weights,
                                       const int32_t *bias, int8_t *out);

#endif /* PM_FULLY_CONNECTED_S8_H */
