/* PRELU, int8 (reference_ops::BroadcastPrelu4DSlow, bit-exact): alpha is a constant int8 tensor
 * with its own quantization, broadcast against the input. */
#ifndef PM_PRELU_S8_H
#define PM_PRELU_S8_H

#include "pm_common.h"

typedef struct {
  int32_t input_zp;     /* subtracted from the input */
  int32_t alpha_zp;     /* subtracted from alpha */
  int32_t output_zp;    /* added after scaling */
  int32_t multiplier_1; /* x >= 0: in_scale / out_scale, Q31 */
  int32_t shift_1;
  int32_t multiplier_2; /* x < 0: in_scale * alpha_scale / out_scale, Q31 */
  int32_t shift_2;
} pm_prelu_params;

/* out = x >= 0 ? x : alpha * x, requantized; operand a of bc is the input, b is alpha. Writing
 * over a same-shape input in place is safe (element i is read before it is written). */
int pm_prelu_s8(const pm_prelu_params *params, const pm_broadcast *bc, const int8_t *in, const int8_t *alpha,
                int8_t *out);

#endif /* PM_PRELU_S8_H */
