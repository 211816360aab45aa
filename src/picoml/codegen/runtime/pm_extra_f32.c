/* See pm_extra_f32.h. */
#include "pm_extra_f32.h"

int pm_axis_gather_f32(const pm_axis_gather_params *p, const int32_t *tables, float value, const float *in,
                       float *out) {
  const int32_t *tab[PM_MAX_DIMS];
  int32_t idx[PM_MAX_DIMS];
  int32_t d, k = 0, total = 1, i;
  if (p->rank < 0 || p->rank > PM_MAX_DIMS) return PM_ERROR;
  for (d = 0; d < p->rank; ++d) {
    tab[d] = tables + k;
    k += p->out_shape[d];
    total *= p->out_shape[d];
    idx[d] = 0;
  }
  for (i = 0; i < total; ++i) {
    int32_t off = 0, pad = 0;
    for (d = 0; d < p->rank; ++d) {
      const int32_t s = tab[d][idx[d]];
      if (s < 0) pad = 1;
      off += s * p->in_stride[d];
    }
    out[i] = pad ? value : in[off];
    for (d = p->rank - 1; d >= 0; --d) {
      if (++idx[d] < p->out_shape[d]) break;
      idx[d] = 0;
    }
  }
  return PM_OK;
}

int pm_select_f32(const pm_select_broadcast *bc, const uint8_t *cond, const float *x, const float *y, float *out) {
  int32_t i;
  if (bc->rank < 0 || bc->rank > PM_MAX_DIMS) return PM_ERROR;
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

#define PM_F_EQ(x, y) ((uint8_t)((x) == (y)))
#define PM_F_NE(x, y) ((uint8_t)((x) != (y)))
#define PM_F_GT(x, y) ((uint8_t)((x) > (y)))
#define PM_F_GE(x, y) ((uint8_t)((x) >= (y)))
#define PM_F_LT(x, y) ((uint8_t)((x) < (y)))
#define PM_F_LE(x, y) ((uint8_t)((x) <= (y)))

int pm_compare_f32(const pm_broadcast *bc, int32_t op, const float *a, const float *b, uint8_t *out) {
  switch (op) {
    case PM_CMP_EQUAL:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_EQ);
      break;
    case PM_CMP_NOT_EQUAL:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_NE);
      break;
    case PM_CMP_GREATER:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_GT);
      break;
    case PM_CMP_GREATER_EQUAL:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_GE);
      break;
    case PM_CMP_LESS:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_LT);
      break;
    case PM_CMP_LESS_EQUAL:
      PM_BROADCAST_EACH(bc, a, b, out, PM_F_LE);
      break;
    default:
      return PM_ERROR;
  }
  return PM_OK;
}

int pm_add_n_f32(int32_t count, int32_t size, const float *const *in, float *out) {
  int32_t i, k;
  for (i = 0; i < size; ++i) {
    float acc = 0.0f;
    for (k = 0; k < count; ++k) acc += in[k][i];
    out[i] = acc;
  }
  return PM_OK;
}
