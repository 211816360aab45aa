/* int16 LOGISTIC and TANH (tflite-micro's int16 Logistic / Tanh): linear interpolation in a table of
 * sigmoid(i / 24), unsigned Q0.16 (tanh(x) = 2 sigmoid(2x) - 1). The generator gives the input
 * rescale (multiplier, left shift) that Prepare computes (reference/s16_nonlinear.py). */
#ifndef PM_SIGMOID_S16_H
#define PM_SIGMOID_S16_H

#include "pm_common.h"

/* tanh: 0 LOGISTIC, 1 TANH; out = f(in * multiplier (+ rounding) >> left_shift) in Q0.15. */
int pm_sigmoid_s16(int32_t tanh, int32_t multiplier, int32_t left_shift, int32_t size, const int16_t *in,
                   int16_t *out);

#endif /* PM_SIGMOID_S16_H */
