/* Single-precision math for the float32 kernels, freestanding: no <math.h>, no libm, float
 * arithmetic only (no double: one FPU instruction per operation on a single-precision FPU,
 * libgcc / compiler-rt helpers under soft float). Only the float32 kernels (pm_*_f32) use it, so
 * an int8 model links none of it.
 *
 * Accuracy: pm_sqrtf is correctly rounded (IEEE), pm_floorf / pm_ceilf / pm_roundf_even /
 * pm_roundf_away are exact; expf, expm1f, logf, tanhf are within 3 ulp of the exact result;
 * sinf / cosf within 5 ulp for |x| < 2^12 (tests/codegen/test_float_c.py::test_float_math_accuracy) (Cody-Waite reduction by pi/2; the
 * error grows with |x| beyond). NaN in gives NaN out. */
#ifndef PM_MATH_F32_H
#define PM_MATH_F32_H

#include <stdint.h>

#define PM_F32_INF (__builtin_inff())
#define PM_F32_NAN (__builtin_nanf(""))
#define PM_F32_MAX 3.40282347e+38f

typedef union {
  float f;
  uint32_t u;
} pm_f32_bits;

float pm_sqrtf(float x);
float pm_expf(float x);
float pm_expm1f(float x);
float pm_logf(float x);
float pm_sinf(float x);
float pm_cosf(float x);
float pm_tanhf(float x);
float pm_floorf(float x);
float pm_ceilf(float x);
float pm_roundf_even(float x); /* ties to even; a negative value that rounds to zero gives +0 */
float pm_roundf_away(float x); /* ties away from zero (std::round) */

static inline float pm_clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

#endif /* PM_MATH_F32_H */
