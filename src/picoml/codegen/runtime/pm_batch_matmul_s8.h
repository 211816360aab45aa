/* BATCH_MATMUL int8 (TFLite Micro's reference BatchMatMul<int8_t, int32_t>, bit-exact):
 * out[b, i, j] = requantize(sum_k (lhs[b, i, k] - lhs_zp) * (rhs[b, k, j] - rhs_zp)) for up to three
 * broadcast batch dimensions. Either operand may be an activation or constant data; adj_x / adj_y
 * (and a constant rhs stored pre-transposed) are only element strides. */
#ifndef PM_BATCH_MATMUL_S8_H
#define PM_BATCH_MATMUL_S8_H

#include "pm_common.h"

typedef struct {
  int32_t batch[3];     /* output batch extents, outermost first (1 where absent) */
  int32_t lhs_batch[3]; /* lhs element stride per batch index (0 along a broadcast dimension) */
  int32_t rhs_batch[3]; /* rhs element stride per batch index */
  int32_t rows;         /* output rows of one matrix */
  int32_t cols;         /* output columns */
  int32_t depth;        /* accumulation depth */
  int32_t lhs_row;      /* lhs element (i, k) is at i * lhs_row + k * lhs_depth */
  int32_t lhs_depth;
  int32_t rhs_depth;    /* rhs element (k, j) is at k * rhs_depth + j * rhs_col */
  int32_t rhs_col;
  int32_t lhs_zp;
  int32_t rhs_zp;
  int32_t output_zp;
  int32_t multiplier;   /* Q31, with shift: lhs_scale * rhs_scale / output_scale */
  int32_t shift;        /* > 0 left, < 0 right */
  int32_t bounded;      /* 1: the generator proved |acc| * 2^max(shift, 0) < 2^29, so *requant applies */
} pm_batch_matmul_params;

/* The accumulator wraps as TFLite Micro's int32 does (computed in uint32). requant: the pm_requant
 * record of (multiplier, shift), read when bounded. out must not overlap lhs or rhs. */
int pm_batch_matmul_s8(const pm_batch_matmul_params *params, const pm_requant *requant, const int8_t *lhs,
                       const int8_t *rhs, int8_t *out);

#endif /* PM_BATCH_MATMUL_S8_H */
