/* ARG_MAX / ARG_MIN: one strided scan of the axis per output, replacing the held index only on
 * a strictly larger (smaller) code, so the first of equal codes wins as in TFLite Micro. */
#include "pm_arg_min_max_s8.h"

int pm_arg_min_max_s8(int32_t outer, int32_t axis_size, int32_t inner, int32_t is_max, const int8_t *in,
                      int32_t *out) {
  int32_t o, i, a;
  if (outer < 0 || inner < 0 || axis_size < 1) return PM_ERROR;
  for (o = 0; o < outer; ++o) {
    const int8_t *row = in + o * axis_size * inner;
    for (i = 0; i < inner; ++i) {
      const int8_t *src = row + i;
      int32_t best = src[0], at = 0;
      if (is_max) {
        for (a = 1; a < axis_size; ++a) {
          const int32_t v = src[a * inner];
          if (v > best) {
            best = v;
            at = a;
          }
        }
      } else {
        for (a = 1; a < axis_size; ++a) {
          const int32_t v = src[a * inner];
          if (v < best) {
            best = v;
            at = a;
          }
        }
      }
      out[o * inner + i] = at;
    }
  }
  return PM_OK;
}
