/* int8 RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, DEPTH_TO_SPACE and SPACE_TO_DEPTH: data
 * movement and tflite-micro's integer bilinear interpolation on raw codes (the output shares
 * the input's quantization). The code generator writes per-row and per-column tables from the
 * reference kernel's prepare (picoml/reference/resize.py), so the indices and weights are the
 * reference's own; these kernels only gather and weigh. No float, no division. */
#ifndef PM_RESIZE_S8_H
#define PM_RESIZE_S8_H

#include "pm_common.h"

/* out[b, y, x, :] = in[b, rows[y], cols[x], :]. */
int pm_resize_nearest_s8(const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims, const int16_t *rows,
                         const int16_t *cols, int8_t *out);

/* Per output row y: lower and upper input rows y0[y], y1[y] and the weight dy[y] of the upper one
 * in 1/1024 (tflite-micro's ComputeInterpolationValuesInteger; -512..1023); likewise per column.
 * out = round_half_away((in[y0,x0](1024-dy)(1024-dx) + in[y1,x0] dy (1024-dx) + in[y0,x1](1024-dy) dx
 *                        + in[y1,x1] dy dx) / 2^20): every product and the sum stay below 2^29 in
 * magnitude, so int32 is exact. */
typedef struct {
  const int16_t *y0;
  const int16_t *y1;
  const int16_t *dy;
  const int16_t *x0;
  const int16_t *x1;
  const int16_t *dx;
} pm_bilinear_tables;

int pm_resize_bilinear_s8(const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims,
                          const pm_bilinear_tables *t, int8_t *out);

/* DEPTH_TO_SPACE (to_space = 1): out[b, h*k + i, w*k + j, c] = in[b, h, w, (i*k + j)*C + c];
 * SPACE_TO_DEPTH (to_space = 0) is its inverse. */
int pm_depth_space_s8(int32_t to_space, int32_t block, const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims,
                      int8_t *out);

#endif /* PM_RESIZE_S8_H */
