#include <string.h>

#include "pm_data_s8.h"

int pm_pad_s8(const pm_pad_params *p, const int8_t *in, int8_t *out) {
  int32_t out_shape[PM_MAX_DIMS];
  int32_t idx[PM_MAX_DIMS];
  int32_t d, rows = 1, r;
  const int32_t last = p->rank - 1;
  const int32_t row_in = p->in_shape[last];
  const int32_t row_out = p->before[last] + row_in + p->after[last];
  for (d = 0; d < p->rank; ++d) {
    out_shape[d] = p->before[d] + p->in_shape[d] + p->after[d];
    idx[d] = 0;
  }
  for (d = 0; d < last; ++d) rows *= out_shape[d];
  /* one output row (innermost dimension) at a time */
  for (r = 0; r < rows; ++r) {
    int inside = 1;
    for (d = 0; d < last; ++d) {
      if (idx[d] < p->before[d] || idx[d] >= p->before[d] + p->in_shape[d]) inside = 0;
    }
    if (!inside) {
      memset(out, p->value, (size_t)row_out);
    } else {
      memset(out, p->value, (size_t)p->before[last]);
      memcpy(out + p->before[last], in, (size_t)row_in);
      memset(out + p->before[last] + row_in, p->value, (size_t)p->after[last]);
      in += row_in;
    }
    out += row_out;
    for (d = last - 1; d >= 0; --d) {
      if (++idx[d] < out_shape[d]) break;
      idx[d] = 0;
    }
  }
  return PM_OK;
}

int pm_concatenation_s8(int32_t count, int32_t outer, const int32_t *inner_bytes, const int8_t *const *inputs,
                        int8_t *out) {
  int32_t o, i;
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < count; ++i) {
      memcpy(out, inputs[i] + o * inner_bytes[i], (size_t)inner_bytes[i]);
      out += inner_bytes[i];
    }
  }
  return PM_OK;
}
