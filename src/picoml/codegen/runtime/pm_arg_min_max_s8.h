/* ARG_MAX and ARG_MIN of int8 values along one axis, int32 indices out (TFLite Micro's
 * reference ArgMinMax, bit-exact): the input is [outer, axis_size, inner] (row-major); for each
 * (o, i) the index of the largest (is_max 1) or smallest (is_max 0) raw code of the axis, the
 * first one on ties. The codes' order is the values' order (a positive scale), so quantization
 * plays no part. */
#ifndef PM_ARG_MIN_MAX_S8_H
#define PM_ARG_MIN_MAX_S8_H

#include "pm_common.h"

/* out has outer * inner int32 values, row-major; it must not overlap the input. */
int pm_arg_min_max_s8(int32_t outer, int32_t axis_size, int32_t inner, int32_t is_max, const int8_t *in,
                      int32_t *out);

#endif /* PM_ARG_MIN_MAX_S8_H */
