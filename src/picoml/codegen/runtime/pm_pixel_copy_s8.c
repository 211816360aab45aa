/* SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND: see pm_pixel_copy_s8.h. */
#include "pm_pixel_copy_s8.h"

#include <string.h>

int pm_pixel_copy_s8(int32_t pixels, int32_t depth, const int32_t *table, int32_t value, const int8_t *in,
                     int8_t *out) {
  int32_t i;
  const size_t n = (size_t)depth;
  for (i = 0; i < pixels; ++i) {
    const int32_t s = table[i];
    if (s < 0) {
      memset(out, value, n);
    } else {
      memcpy(out, in + s * depth, n);
    }
    out += depth;
  }
  return PM_OK;
}
