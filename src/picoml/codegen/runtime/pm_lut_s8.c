/* Table lookup, int8 -> int8 (see pm_lut_s8.h). */
#include "pm_lut_s8.h"

int pm_lut_s8(const int8_t *table, int32_t size, const int8_t *in, int8_t *out) {
  int32_t i;
  for (i = 0; i < size; ++i) out[i] = PM_LD_S8(&table[in[i] + 128]);
  return PM_OK;
}

int pm_lut_from_s8(const int8_t *table, int32_t first_code, int32_t size, const int8_t *in, int8_t *out) {
  int32_t i;
  for (i = 0; i < size; ++i) {
    if (in[i] < first_code) return PM_ERROR;
  }
  return pm_lut_s8(table, size, in, out);
}

int pm_lut_channels_s8(const int8_t *tables, int32_t channels, int32_t pixels, const int8_t *in, int8_t *out) {
  int32_t c;
  /* channel by channel: the table stays in one base register; four pixels per iteration, read
   * before written (in place is safe: every element is read, then written at its own index) */
  for (c = 0; c < channels; ++c) {
    const int8_t *t = tables + c * 256 + 128;
    const int8_t *src = in + c;
    int8_t *dst = out + c;
    const int32_t step = channels;
    int32_t p = pixels;
    while (p >= 4) {
      const int8_t a = src[0], b = src[step], d = src[2 * step], e = src[3 * step];
      dst[0] = PM_LD_S8(&t[a]);
      dst[step] = PM_LD_S8(&t[b]);
      dst[2 * step] = PM_LD_S8(&t[d]);
      dst[3 * step] = PM_LD_S8(&t[e]);
      src += 4 * step;
      dst += 4 * step;
      p -= 4;
    }
    while (p-- > 0) {
      *dst = PM_LD_S8(&t[*src]);
      src += step;
      dst += step;
    }
  }
  return PM_OK;
}
