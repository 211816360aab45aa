/* Comparisons, logical ops, SELECT_V2, CAST, ZEROS_LIKE, FILL and BROADCAST_TO on int8, int32 and
 * bool (one byte, 0 or 1) tensors, with broadcasting (bit-exact with TFLM). Portable C99. */
#ifndef PM_LOGIC_H
#define PM_LOGIC_H

#include "pm_common.h"

/* comparison codes (the op argument of the pm_compare_* kernels) */
#define PM_CMP_EQUAL 0
#define PM_CMP_NOT_EQUAL 1
#define PM_CMP_GREATER 2
#define PM_CMP_GREATER_EQUAL 3
#define PM_CMP_LESS 4
#define PM_CMP_LESS_EQUAL 5

/* int8: TFLM rescales each input to a common unit before comparing; the rescaled value depends on
 * the code only, so each input comes with a 256-entry table (index code + 128) holding the rank
 * of its rescaled value among both inputs' rescaled values (equal values, equal ranks). */
int pm_compare_s8(const pm_broadcast *bc, int32_t op, const int16_t *rank_a, const int16_t *rank_b, const int8_t *a,
                  const int8_t *b, uint8_t *out);
int pm_compare_i32(const pm_broadcast *bc, int32_t op, const int32_t *a, const int32_t *b, uint8_t *out);
/* bool operands (EQUAL / NOT_EQUAL) */
int pm_compare_b(const pm_broadcast *bc, int32_t op, const uint8_t *a, const uint8_t *b, uint8_t *out);

#define PM_LOGICAL_AND 0
#define PM_LOGICAL_OR 1
int pm_logical_b(const pm_broadcast *bc, int32_t op, const uint8_t *a, const uint8_t *b, uint8_t *out);
int pm_logical_not_b(int32_t size, const uint8_t *a, uint8_t *out);

/* SELECT_V2: out = cond ? x : y, the three broadcast to the output (element strides, 0 along a
 * broadcast dimension); int8 copies codes. */
typedef struct {
  int32_t rank;
  int32_t size;
  int32_t shape[PM_MAX_DIMS];
  int32_t stride_c[PM_MAX_DIMS];
  int32_t stride_x[PM_MAX_DIMS];
  int32_t stride_y[PM_MAX_DIMS];
  int32_t same_shape;
} pm_select_broadcast;

int pm_select_s8(const pm_select_broadcast *bc, const uint8_t *cond, const int8_t *x, const int8_t *y, int8_t *out);

/* CAST element types */
#define PM_TYPE_INT8 0
#define PM_TYPE_INT32 1
#define PM_TYPE_BOOL 2
/* C's conversion; int32 -> int8 keeps the low byte (two's complement), bool reads as 0 / 1. */
int pm_cast(int32_t size, int32_t src, int32_t dst, const void *in, void *out);

/* FILL / ZEROS_LIKE: count elements of elem_size bytes (1 or 4), each a copy of value. */
int pm_fill(int32_t count, int32_t elem_size, const void *value, void *out);

/* BROADCAST_TO: out (bc->shape) from in read at bc->stride_a (elements of elem_size bytes, 1 or 4). */
int pm_broadcast_to(const pm_broadcast *bc, int32_t elem_size, const void *in, void *out);

#endif /* PM_LOGIC_H */
