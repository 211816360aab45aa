/* SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND: each output pixel is one input pixel's `depth` bytes,
 * or `depth` pad bytes. The code generator writes the table of source pixels from the reference
 * kernel's prepare (picoml.reference.space_batch). */
#ifndef PM_PIXEL_COPY_S8_H
#define PM_PIXEL_COPY_S8_H

#include "pm_common.h"

/* out pixel i = in pixel table[i] (depth bytes), or `value` bytes where table[i] < 0. in and out
 * must not overlap. */
int pm_pixel_copy_s8(int32_t pixels, int32_t depth, const int32_t *table, int32_t value, const int8_t *in,
                     int8_t *out);

#endif /* PM_PIXEL_COPY_S8_H */
