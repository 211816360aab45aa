#include "pm_elementwise_f32.h"

#define PM_ONE_ADD(x, y) ((x) + (y))
#define PM_ONE_SUB(x, y) ((x) - (y))
#define PM_ONE_MUL(x, y) ((x) * (y))
#define PM_ONE_DIV(x, y) ((x) / (y))
#define PM_ONE_MAX(x, y) ((x) > (y) ? (x) : (y))
#define PM_ONE_MIN(x, y) ((x) < (y) ? (x) : (y))
#define PM_ONE_SQD(x, y) (((x) - (y)) * ((x) - (y)))
#define PM_ONE_PRELU(x, y) ((x) >= 0.0f ? (x) : (x) * (y))

int pm_binary_f32(int32_t kind, const pm_broadcast *bc, const float *a, const float *b, float lo, float hi,
                  float *out) {
  int32_t i;
  switch (kind) {
    case PM_F32_ADD:
      PM_BROADCAST_EACH(bc, a, b, out, PM_ONE_ADD);
      break;
    case PM_F32_SUB:
      PM_BROADCAST_EACH(bc, a, b, out, PM_ONE_SUB);
      break;
    case PM_F32_MUL:
      PM_BROADCAST_EACH(bc, a, b, out, PM_ONE_MUL);
      break;
    case PM_F32_DIV:
      PM_BROADCAST_EACH(bc, a, b, out, PM_ONE_DIV);
      break;
    case PM_F32_MAXIMUM:
      PM_BROADCAST_EACH(bc, a, b, out, PM_ONE_MAX);
      return 0;
    case PM_F32_MINIMUM:
      PM_BROADCAST_EACH(bc, a, b, out, PM_ONE_MIN);
      return 0;
    case PM_F32_SQUARED_DIFFERENCE:
      PM_BROADCAST_EACH(bc, a, b, out, PM_ONE_SQD);
      return 0;
    case PM_F32_PRELU:
      PM_BROADCAST_EACH(bc, a, b, out, PM_ONE_PRELU);
      return 0;
    default:
      return 1;
  }
  if (lo > -PM_F32_INF || hi < PM_F32_INF) {
    for (i = 0; i < bc->size; ++i) out[i] = pm_clampf(out[i], lo, hi);
  }
  return 0;
}

static float pm_hard_swish(float x) {
  float r = x + 3.0f;
  r = r > 0.0f ? r : 0.0f;
  r = r < 6.0f ? r : 6.0f;
  return (x * r) / 6.0f;
}

static float pm_logistic(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + pm_expf(-x));
  {
    const float e = pm_expf(x);
    return e / (1.0f + e);
  }
}

int pm_unary_f32(int32_t kind, float alpha, int32_t n, const float *in, float *out) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const float x = in[i];
    float y;
    switch (kind) {
      case PM_F32_RELU:
        y = x < 0.0f ? 0.0f : x;
        break;
      case PM_F32_RELU6:
        y = pm_clampf(x, 0.0f, 6.0f);
        break;
      case PM_F32_RELU_N1_TO_1:
        y = pm_clampf(x, -1.0f, 1.0f);
        break;
      case PM_F32_LEAKY_RELU:
        y = x > 0.0f ? x : x * alpha;
        break;
      case PM_F32_HARD_SWISH:
        y = pm_hard_swish(x);
        break;
      case PM_F32_ELU:
        y = x < 0.0f ? pm_expm1f(x) : x;
        break;
      case PM_F32_LOGISTIC:
        y = pm_logistic(x);
        break;
      case PM_F32_TANH:
        y = pm_tanhf(x);
        break;
      case PM_F32_ABS:
        y = x < 0.0f ? -x : x;
        break;
      case PM_F32_NEG:
        y = -x;
        break;
      case PM_F32_EXP:
        y = pm_expf(x);
        break;
      case PM_F32_LOG:
        y = pm_logf(x);
        break;
      case PM_F32_SQRT:
        y = pm_sqrtf(x);
        break;
      case PM_F32_RSQRT:
        y = 1.0f / pm_sqrtf(x);
        break;
      case PM_F32_SQUARE:
        y = x * x;
        break;
      case PM_F32_SIN:
        y = pm_sinf(x);
        break;
      case PM_F32_COS:
        y = pm_cosf(x);
        break;
      case PM_F32_FLOOR:
        y = pm_floorf(x);
        break;
      case PM_F32_CEIL:
        y = pm_ceilf(x);
        break;
      case PM_F32_ROUND:
        y = pm_roundf_even(x);
        break;
      default:
        return 1;
    }
    out[i] = y;
  }
  return 0;
}

int pm_quantize_f32_s8(float scale, int32_t zero_point, int32_t n, const float *in, int8_t *out) {
  const float lo = (float)(-128 - zero_point), hi = (float)(127 - zero_point);
  int32_t i;
  for (i = 0; i < n; ++i) {
    const float r = pm_roundf_away(in[i] / scale);
    if (r != r) {
      out[i] = (int8_t)zero_point;
    } else {
      out[i] = (int8_t)((int32_t)pm_clampf(r, lo, hi) + zero_point);
    }
  }
  return 0;
}

int pm_dequantize_s8_f32(float scale, int32_t zero_point, int32_t n, const int8_t *in, float *out) {
  int32_t i;
  for (i = n - 1; i >= 0; --i) out[i] = scale * (float)((int32_t)in[i] - zero_point);
  return 0;
}

int pm_softmax_f32(int32_t rows, int32_t depth, float beta, const float *in, float *out) {
  int32_t r, i;
  for (r = 0; r < rows; ++r) {
    const float *x = in + r * depth;
    float *y = out + r * depth;
    float m = x[0], sum = 0.0f;
    for (i = 1; i < depth; ++i) m = x[i] > m ? x[i] : m;
    for (i = 0; i < depth; ++i) {
      y[i] = pm_expf((x[i] - m) * beta);
      sum += y[i];
    }
    for (i = 0; i < depth; ++i) y[i] = y[i] / sum;
  }
  return 0;
}

int pm_reduce_f32(int32_t kind, const pm_reduce_f32_params *p, const float *in, float *out) {
  int32_t idx[PM_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
  int32_t i, d, o = 0, total = p->count * p->out_size;
  const float init = kind == PM_F32_REDUCE_MAX ? -PM_F32_MAX : (kind == PM_F32_REDUCE_MIN ? PM_F32_MAX : 0.0f);
  for (i = 0; i < p->out_size; ++i) out[i] = init;
  for (i = 0; i < total; ++i) {
    const float v = in[i];
    switch (kind) {
      case PM_F32_REDUCE_MAX:
        out[o] = v > out[o] ? v : out[o];
        break;
      case PM_F32_REDUCE_MIN:
        out[o] = v < out[o] ? v : out[o];
        break;
      default:
        out[o] += v;
        break;
    }
    for (d = p->rank - 1; d >= 0; --d) { /* next input index; o follows */
      ++idx[d];
      o += p->out_stride[d];
      if (idx[d] < p->shape[d]) break;
      o -= p->out_stride[d] * p->shape[d];
      idx[d] = 0;
    }
  }
  if (kind == PM_F32_REDUCE_MEAN && p->count > 0) {
    const float c = (float)p->count;
    for (i = 0; i < p->out_size; ++i) out[i] = out[i] / c;
  }
  return 0;
}
