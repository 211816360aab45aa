/* Table lookup, int8 -> int8 (see pm_lut_s8.h). */
#include "pm_lut_s8.h"

int pm_lut_s8(const int8_t *table, int32_t size, const int8_t *in, int8_t *out) {
  int32_t i;
  for (i = 0; i < size; ++i) out[i] = table[in[i] + 128];
  return PM_OK;
}

int pm_lut_from_s8(const int8_t *table, int32_t first_code, int32_t size, const int8_t *in, int8_t *out) {
  int32_t i;
  for (i = 0; i < size; ++i) {
    if (in[i] < first_code) return PM_ERROR;
  }
  return pm_lut_s8(table, size, in, out);
}
