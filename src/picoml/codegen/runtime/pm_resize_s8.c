#include "pm_resize_s8.h"

#include "pm_dot_s8.h" /* pm_copy_s8: short runs inline, no memcpy call per pixel */

int pm_resize_nearest_s8(const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims, const int16_t *rows,
                         const int16_t *cols, int8_t *out) {
  const int32_t c = in_dims->c;
  const int32_t row_bytes = in_dims->w * c;
  int32_t b, y, x;
  for (b = 0; b < out_dims->n; ++b) {
    const int8_t *image = in + b * in_dims->h * row_bytes;
    for (y = 0; y < out_dims->h; ++y) {
      const int8_t *row = image + rows[y] * row_bytes;
      for (x = 0; x < out_dims->w; ++x) {
        pm_copy_s8(out, row + cols[x] * c, c);
        out += c;
      }
    }
  }
  return PM_OK;
}

int pm_resize_bilinear_s8(const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims,
                          const pm_bilinear_tables *t, int8_t *out) {
  const int32_t c = in_dims->c;
  const int32_t row_bytes = in_dims->w * c;
  const int32_t one = (int32_t)1 << 10, half = (int32_t)1 << 19;
  int32_t b, y, x, k;
  for (b = 0; b < out_dims->n; ++b) {
    const int8_t *image = in + b * in_dims->h * row_bytes;
    for (y = 0; y < out_dims->h; ++y) {
      const int8_t *top = image + t->y0[y] * row_bytes;
      const int8_t *bottom = image + t->y1[y] * row_bytes;
      const int32_t dy = t->dy[y];
      for (x = 0; x < out_dims->w; ++x) {
        const int32_t dx = t->dx[x];
        const int32_t w00 = (one - dy) * (one - dx), w10 = dy * (one - dx);
        const int32_t w01 = (one - dy) * dx, w11 = dy * dx;
        const int8_t *p00 = top + t->x0[x] * c, *p01 = top + t->x1[x] * c;
        const int8_t *p10 = bottom + t->x0[x] * c, *p11 = bottom + t->x1[x] * c;
        for (k = 0; k < c; ++k) {
          const int32_t s = p00[k] * w00 + p10[k] * w10 + p01[k] * w01 + p11[k] * w11;
          /* (s +- 2^19) / 2^20 toward zero: rounds half away from zero, shifts only */
          out[k] = (int8_t)(s > 0 ? (s + half) >> 20 : -((half - s) >> 20));
        }
        out += c;
      }
    }
  }
  return PM_OK;
}

int pm_depth_space_s8(int32_t to_space, int32_t block, const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims,
                      int8_t *out) {
  /* the block_size pixels j = 0..block-1 of one block row are contiguous on both sides: one run
   * of block * C bytes each (C: the channels of the spatial side) */
  int32_t b, h, w, i;
  if (to_space) {
    const int32_t c = out_dims->c, run = block * c;
    const int32_t out_row = out_dims->w * c; /* bytes of one output row */
    for (b = 0; b < in_dims->n; ++b) {
      for (h = 0; h < in_dims->h; ++h) {
        int8_t *rows = out + ((b * in_dims->h + h) * block) * out_row;
        for (w = 0; w < in_dims->w; ++w) {
          for (i = 0; i < block; ++i) {
            pm_copy_s8(rows + i * out_row + w * run, in, run);
            in += run;
          }
        }
      }
    }
  } else {
    const int32_t c = in_dims->c, run = block * c;
    const int32_t in_row = in_dims->w * c;
    for (b = 0; b < out_dims->n; ++b) {
      for (h = 0; h < out_dims->h; ++h) {
        const int8_t *rows = in + ((b * in_dims->h) + h * block) * in_row;
        for (w = 0; w < out_dims->w; ++w) {
          for (i = 0; i < block; ++i) {
            pm_copy_s8(out, rows + i * in_row + w * run, run);
            out += run;
          }
        }
      }
    }
  }
  return PM_OK;
}
