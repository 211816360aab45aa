/* Test driver for runtime/pm_math_f32.c (tests/codegen/test_float_c.py): reads float32 values, writes
 * exp, expm1, log, sin, cos, tanh, sqrt, floor, ceil, round-even, round-away of each. */
#include <stdio.h>
#include <stdlib.h>
#include "pm_math_f32.h"
int main(int argc, char **argv) {
  FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb");
  float x, y[11];
  (void)argc;
  while (fread(&x, 4, 1, fi) == 1) {
    y[0] = pm_expf(x); y[1] = pm_expm1f(x); y[2] = pm_logf(x); y[3] = pm_sinf(x); y[4] = pm_cosf(x);
    y[5] = pm_tanhf(x); y[6] = pm_sqrtf(x); y[7] = pm_floorf(x); y[8] = pm_ceilf(x); y[9] = pm_roundf_even(x); y[10] = pm_roundf_away(x);
    fwrite(y, 4, 11, fo);
  }
  fclose(fi); fclose(fo); return 0;
}
