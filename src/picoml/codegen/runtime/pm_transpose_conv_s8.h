/* int8 TRANSPOSE_CONV, tflite-micro's arithmetic as a gather: each output pixel sums
 * (x - input_zp) * w over the input pixels and filter taps that scatter into it, in an int32
 * accumulator (as x * w, less input_zp times each tap's weight sum: partial sums stay below 2^30), adds the bias and requantizes per output channel (pm_requant_s8). tflite-micro
 * scatters into an int32 scratch buffer as large as the output (4 bytes per output value); the
 * gather needs no scratch at all: one accumulator in a register. Integer addition is exact, and the
 * code generator proves every partial sum below 2^31 for the layer (else it refuses it), so the
 * order of the sum changes nothing; where it also proves |acc + bias| << shift < 2^29 the layer
 * requantizes with pm_requant_s8, elsewhere it calls the _exact twin.
 * The filter is OHWI. Output row oy receives filter row ky from input row iy = (oy + pad_h - ky) /
 * stride_h when that divides exactly: the kernel walks those rows without a division. */
#ifndef PM_TRANSPOSE_CONV_S8_H
#define PM_TRANSPOSE_CONV_S8_H

#include "pm_common.h"

typedef struct {
  int32_t stride_h;
  int32_t stride_w;
  int32_t pad_h; /* leading padding of the output, as a forward convolution's SAME / VALID */
  int32_t pad_w;
  int32_t input_zp;
  int32_t output_zp;
  int32_t act_min;
  int32_t act_max;
} pm_transpose_conv_params;

/* tap_sums[(o * kh + ky) * kw + kx]: the sum of the filter's weights at that tap over the input
 * channels (the input zero point's share is subtracted once per tap, not per product). */
int pm_transpose_conv_s8(const pm_transpose_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                         const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *tap_sums,
                         const int32_t *bias, const pm_dims *out_dims, int8_t *out);

/* The _exact twin (pm_transpose_conv_s8_exact.c): the same arguments, with TFLite's requantization
 * for any int32 accumulator (pm_requant_exact_s8 and its records, pm_common.h), for layers whose
 * accumulator the code generator cannot prove below 2^29. */
int pm_transpose_conv_s8_exact(const pm_transpose_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                               const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *tap_sums,
                               const int32_t *bias, const pm_dims *out_dims, int8_t *out);

#endif /* PM_TRANSPOSE_CONV_S8_H */
