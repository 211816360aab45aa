/* int8 ADD_N (tflite-micro reference_ops::AddN): every input shares one scale and zero point;
 * each value is moved to the shared 2^20 fixed-point scale, summed (starting, as tflite-micro
 * does, from the scaled -zero point), and requantized to the output. */
#ifndef PM_ADD_N_S8_H
#define PM_ADD_N_S8_H

#include "pm_common.h"

typedef struct {
  int32_t count; /* inputs */
  int32_t input_zp;
  int32_t output_zp;
  int32_t input_multiplier;
  int32_t input_shift; /* <= 0 */
  int32_t output_multiplier;
  int32_t output_shift; /* <= 0 */
} pm_add_n_params;

/* out[i] = requant(scaled(-zp) + sum_j scaled(ins[j][i] - zp)); out may be one of the inputs. */
int pm_add_n_s8(const pm_add_n_params *params, int32_t size, const int8_t *const *ins, int8_t *out);

#endif /* PM_ADD_N_S8_H */
