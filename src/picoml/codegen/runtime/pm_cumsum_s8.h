/* int8 CUMSUM (tflite-micro reference_ops::CumSum): ADD_N's 2^20 fixed-point running sum along one
 * axis, started (as tflite-micro does) from the scaled -zero point; exclusive and reverse. The
 * input is viewed as [outer, depth, inner] with the axis in the middle. */
#ifndef PM_CUMSUM_S8_H
#define PM_CUMSUM_S8_H

#include "pm_common.h"

typedef struct {
  int32_t outer; /* elements before the axis */
  int32_t depth; /* the axis */
  int32_t inner; /* elements after the axis */
  int32_t exclusive;
  int32_t reverse;
  int32_t input_zp;
  int32_t output_zp;
  int32_t input_multiplier;
  int32_t input_shift; /* <= 0 */
  int32_t output_multiplier;
  int32_t output_shift; /* <= 0 */
} pm_cumsum_params;

int pm_cumsum_s8(const pm_cumsum_params *params, const int8_t *in, int8_t *out);

#endif /* PM_CUMSUM_S8_H */
