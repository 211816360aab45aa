/* Comparisons, logical ops, SELECT_V2, CAST, FILL and BROADCAST_TO over the shared broadcast walk. */
#include "pm_logic.h"

#include <string.h>

#define PM_EQ(x, y) ((uint8_t)((x) == (y)))
#define PM_NE(x, y) ((uint8_t)((x) != (y)))
#define PM_GT(x, y) ((uint8_t)((x) > (y)))
#define PM_GE(x, y) ((uint8_t)((x) >= (y)))
#define PM_LT(x, y) ((uint8_t)((x) < (y)))
#define PM_LE(x, y) ((uint8_t)((x) <= (y)))

/* One broadcast walk per comparison, chosen once per layer. */
#define PM_COMPARE_SWITCH(bc, op, a, b, out, A, B)                   \
  do {                                                               \
    switch (op) {                                                    \
      case PM_CMP_EQUAL: {                                           \
        PM_BROADCAST_EACH(bc, a, b, out, PM_CMP_ONE_EQ);             \
        break;                                                       \
      }                                                              \
      case PM_CMP_NOT_EQUAL: {                                       \
        PM_BROADCAST_EACH(bc, a, b, out, PM_CMP_ONE_NE);             \
        break;                                                       \
      }                                                              \
      case PM_CMP_GREATER: {                                         \
        PM_BROADCAST_EACH(bc, a, b, out, PM_CMP_ONE_GT);             \
        break;                                                       \
      }                                                              \
      case PM_CMP_GREATER_EQUAL: {                                   \
        PM_BROADCAST_EACH(bc, a, b, out, PM_CMP_ONE_GE);             \
        break;                                                       \
      }                                                              \
      case PM_CMP_LESS: {                                            \
        PM_BROADCAST_EACH(bc, a, b, out, PM_CMP_ONE_LT);             \
        break;                                                       \
      }                                                              \
      case PM_CMP_LESS_EQUAL: {                                      \
        PM_BROADCAST_EACH(bc, a, b, out, PM_CMP_ONE_LE);             \
        break;                                                       \
      }                                                              \
      default:                                                       \
        return PM_ERROR;                                             \
    }                                                                \
  } while (0)

int pm_compare_s8(const pm_broadcast *bc, int32_t op, const int16_t *rank_a, const int16_t *rank_b, const int8_t *a,
                  const int8_t *b, uint8_t *out) {
#define PM_CMP_ONE_EQ(x, y) PM_EQ(rank_a[(x) + 128], rank_b[(y) + 128])
#define PM_CMP_ONE_NE(x, y) PM_NE(rank_a[(x) + 128], rank_b[(y) + 128])
#define PM_CMP_ONE_GT(x, y) PM_GT(rank_a[(x) + 128], rank_b[(y) + 128])
#define PM_CMP_ONE_GE(x, y) PM_GE(rank_a[(x) + 128], rank_b[(y) + 128])
#define PM_CMP_ONE_LT(x, y) PM_LT(rank_a[(x) + 128], rank_b[(y) + 128])
#define PM_CMP_ONE_LE(x, y) PM_LE(rank_a[(x) + 128], rank_b[(y) + 128])
  PM_COMPARE_SWITCH(bc, op, a, b, out, rank_a, rank_b);
#undef PM_CMP_ONE_EQ
#undef PM_CMP_ONE_NE
#undef PM_CMP_ONE_GT
#undef PM_CMP_ONE_GE
#undef PM_CMP_ONE_LT
#undef PM_CMP_ONE_LE
  return PM_OK;
}

#define PM_CMP_ONE_EQ(x, y) PM_EQ(x, y)
#define PM_CMP_ONE_NE(x, y) PM_NE(x, y)
#define PM_CMP_ONE_GT(x, y) PM_GT(x, y)
#define PM_CMP_ONE_GE(x, y) PM_GE(x, y)
#define PM_CMP_ONE_LT(x, y) PM_LT(x, y)
#define PM_CMP_ONE_LE(x, y) PM_LE(x, y)

int pm_compare_i32(const pm_broadcast *bc, int32_t op, const int32_t *a, const int32_t *b, uint8_t *out) {
  PM_COMPARE_SWITCH(bc, op, a, b, out, a, b);
  return PM_OK;
}

/* bools compared as 0 / 1 (any nonzero byte is true) */
#define PM_B(x) ((x) != 0)
int pm_compare_b(const pm_broadcast *bc, int32_t op, const uint8_t *a, const uint8_t *b, uint8_t *out) {
#define PM_BOOL_EQ(x, y) PM_EQ(PM_B(x), PM_B(y))
#define PM_BOOL_NE(x, y) PM_NE(PM_B(x), PM_B(y))
  if (op == PM_CMP_EQUAL) {
    PM_BROADCAST_EACH(bc, a, b, out, PM_BOOL_EQ);
  } else if (op == PM_CMP_NOT_EQUAL) {
    PM_BROADCAST_EACH(bc, a, b, out, PM_BOOL_NE);
  } else {
    return PM_ERROR;
  }
#undef PM_BOOL_EQ
#undef PM_BOOL_NE
  return PM_OK;
}

int pm_logical_b(const pm_broadcast *bc, int32_t op, const uint8_t *a, const uint8_t *b, uint8_t *out) {
#define PM_AND_ONE(x, y) ((uint8_t)(PM_B(x) && PM_B(y)))
#define PM_OR_ONE(x, y) ((uint8_t)(PM_B(x) || PM_B(y)))
  if (op == PM_LOGICAL_AND) {
    PM_BROADCAST_EACH(bc, a, b, out, PM_AND_ONE);
  } else if (op == PM_LOGICAL_OR) {
    PM_BROADCAST_EACH(bc, a, b, out, PM_OR_ONE);
  } else {
    return PM_ERROR;
  }
#undef PM_AND_ONE
#undef PM_OR_ONE
  return PM_OK;
}

int pm_logical_not_b(int32_t size, const uint8_t *a, uint8_t *out) {
  int32_t i;
  for (i = 0; i < size; ++i) out[i] = (uint8_t)(a[i] == 0);
  return PM_OK;
}

int pm_select_s8(const pm_select_broadcast *bc, const uint8_t *cond, const int8_t *x, const int8_t *y, int8_t *out) {
  int32_t i;
  if (bc->rank < 0 || bc->rank > PM_MAX_DIMS) return PM_ERROR; /* as pm_select_f32: idx holds PM_MAX_DIMS */
  if (bc->same_shape) {
    for (i = 0; i < bc->size; ++i) out[i] = cond[i] ? x[i] : y[i];
  } else {
    int32_t idx[PM_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
    int32_t oc = 0, ox = 0, oy = 0;
    for (i = 0; i < bc->size; ++i) {
      int32_t d = bc->rank - 1;
      out[i] = cond[oc] ? x[ox] : y[oy];
      while (d >= 0) { /* advance the multi-index, carrying into outer dimensions */
        ++idx[d];
        oc += bc->stride_c[d];
        ox += bc->stride_x[d];
        oy += bc->stride_y[d];
        if (idx[d] < bc->shape[d]) break;
        oc -= bc->stride_c[d] * bc->shape[d];
        ox -= bc->stride_x[d] * bc->shape[d];
        oy -= bc->stride_y[d] * bc->shape[d];
        idx[d] = 0;
        --d;
      }
    }
  }
  return PM_OK;
}

static int32_t pm_cast_read(int32_t src, const void *in, int32_t i) {
  if (src == PM_TYPE_INT8) return ((const int8_t *)in)[i];
  if (src == PM_TYPE_INT32) return ((const int32_t *)in)[i];
  return ((const uint8_t *)in)[i] != 0;
}

int pm_cast(int32_t size, int32_t src, int32_t dst, const void *in, void *out) {
  int32_t i;
  if (src < PM_TYPE_INT8 || src > PM_TYPE_BOOL) return PM_ERROR;
  if (dst == PM_TYPE_INT8) {
    int8_t *o = (int8_t *)out;
    for (i = 0; i < size; ++i) { /* the low byte, two's complement, without implementation-defined casts */
      const int32_t low = (int32_t)((uint32_t)pm_cast_read(src, in, i) & 0xFFu);
      o[i] = (int8_t)(low > 127 ? low - 256 : low);
    }
  } else if (dst == PM_TYPE_INT32) {
    int32_t *o = (int32_t *)out;
    for (i = 0; i < size; ++i) o[i] = pm_cast_read(src, in, i);
  } else {
    return PM_ERROR;
  }
  return PM_OK;
}

/* Elements are 1 byte (int8, bool) or 4 (int32, on 4-byte boundaries in the arena and in flash). */
int pm_fill(int32_t count, int32_t elem_size, const void *value, void *out) {
  int32_t i;
  if (elem_size == 1) {
    memset(out, *(const uint8_t *)value, (size_t)count);
  } else if (elem_size == 4) {
    const int32_t v = *(const int32_t *)value;
    int32_t *o = (int32_t *)out;
    for (i = 0; i < count; ++i) o[i] = v;
  } else {
    return PM_ERROR;
  }
  return PM_OK;
}

int pm_broadcast_to(const pm_broadcast *bc, int32_t elem_size, const void *in, void *out) {
  int32_t idx[PM_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
  int32_t i, oa = 0, ob = 0;
  if (elem_size == 1) {
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    for (i = 0; i < bc->size; ++i) {
      dst[i] = src[oa];
      pm_broadcast_next(bc, idx, &oa, &ob);
    }
  } else if (elem_size == 4) {
    const int32_t *src = (const int32_t *)in;
    int32_t *dst = (int32_t *)out;
    for (i = 0; i < bc->size; ++i) {
      dst[i] = src[oa];
      pm_broadcast_next(bc, idx, &oa, &ob);
    }
  } else {
    return PM_ERROR;
  }
  return PM_OK;
}
