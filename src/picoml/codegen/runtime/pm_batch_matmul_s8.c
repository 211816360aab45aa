/* BATCH_MATMUL int8: for every output batch index, a plain matrix product over strided operands.
 * Products of zero-point-offset codes are at most 255 * 255 in magnitude (int32); the sum is kept
 * in uint32 so that an overflow wraps as TFLite Micro's int32 accumulator does, without undefined
 * behaviour. Requantization: pm_requant_s8 (a high multiply and shifts, no 64-bit product on
 * cores without one) where the generator proved the accumulator bound, else pm_scale_to_s8. */
#include "pm_batch_matmul_s8.h"

static int32_t pm_bmm_dot(const int8_t *l, int32_t ls, int32_t lzp, const int8_t *r, int32_t rs, int32_t rzp,
                          int32_t depth) {
  uint32_t acc = 0u;
  int32_t k;
  if (ls == 1 && rs == 1) {
    for (k = 0; k < depth; ++k) acc += (uint32_t)(((int32_t)l[k] - lzp) * ((int32_t)r[k] - rzp));
  } else {
    for (k = 0; k < depth; ++k, l += ls, r += rs) acc += (uint32_t)(((int32_t)*l - lzp) * ((int32_t)*r - rzp));
  }
  return (int32_t)acc;
}

int pm_batch_matmul_s8(const pm_batch_matmul_params *p, const pm_requant *requant, const int8_t *lhs,
                       const int8_t *rhs, int8_t *out) {
  int32_t b0, b1, b2, i, j;
  if (p->rows < 0 || p->cols < 0 || p->depth < 0) return PM_ERROR;
  for (b0 = 0; b0 < p->batch[0]; ++b0) {
    for (b1 = 0; b1 < p->batch[1]; ++b1) {
      for (b2 = 0; b2 < p->batch[2]; ++b2) {
        const int8_t *lm = lhs + b0 * p->lhs_batch[0] + b1 * p->lhs_batch[1] + b2 * p->lhs_batch[2];
        const int8_t *rm = rhs + b0 * p->rhs_batch[0] + b1 * p->rhs_batch[1] + b2 * p->rhs_batch[2];
        for (i = 0; i < p->rows; ++i) {
          const int8_t *lrow = lm + i * p->lhs_row;
          for (j = 0; j < p->cols; ++j) {
            const int32_t acc =
                pm_bmm_dot(lrow, p->lhs_depth, p->lhs_zp, rm + j * p->rhs_col, p->rhs_depth, p->rhs_zp, p->depth);
            *out++ = p->bounded ? pm_requant_s8(acc, requant, p->output_zp, -128, 127)
                                : pm_scale_to_s8(acc, p->multiplier, p->shift, p->output_zp, -128, 127);
          }
        }
      }
    }
  }
  return PM_OK;
}
