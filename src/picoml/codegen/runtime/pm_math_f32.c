/* Single-precision math of pm_math_f32.h: range reduction, short polynomials, float only. */
#include "pm_math_f32.h"

#define PM_LN2_HI 0.693145751953125f /* 16 significant bits: k * PM_LN2_HI is exact for |k| < 256 */
#define PM_LN2_LO 1.42860677e-06f
#define PM_LOG2E 1.44269504f
#define PM_PIO2_1 1.5703125f /* pi/2 in three parts of 12 bits: exact products for |k| < 4096 */
#define PM_PIO2_2 4.83751297e-04f
#define PM_PIO2_3 7.54979013e-08f
#define PM_2_PI 0.636619747f

float pm_sqrtf(float x) {
#if defined(__ARM_FP) && (__ARM_FP & 4)
  float r;
  __asm__("vsqrt.f32 %0, %1" : "=t"(r) : "t"(x));
  return r;
#else
  /* digit by digit on the significand: the exact root's bits, rounded to nearest (no ties) */
  pm_f32_bits b;
  uint32_t ix, q = 0, s = 0, r = 0x01000000u;
  int32_t m;
  b.f = x;
  ix = b.u;
  if ((ix & 0x7fffffffu) == 0) return x; /* +-0 */
  if (ix >> 31) return PM_F32_NAN;
  if (ix >= 0x7f800000u) return x; /* +inf, NaN */
  m = (int32_t)(ix >> 23);
  if (m == 0) { /* subnormal: normalize */
    while ((ix & 0x00800000u) == 0) {
      ix <<= 1;
      m -= 1;
    }
    m += 1;
  }
  m -= 127;
  ix = (ix & 0x007fffffu) | 0x00800000u;
  if (m & 1) ix += ix;
  m = (m - (m & 1)) / 2;
  ix += ix;
  while (r != 0) {
    const uint32_t t = s + r;
    if (t <= ix) {
      s = t + r;
      ix -= t;
      q += r;
    }
    ix += ix;
    r >>= 1;
  }
  if (ix != 0) q += (q & 1u);
  b.u = (q >> 1) + 0x3f000000u + ((uint32_t)m << 23);
  return b.f;
#endif
}

float pm_floorf(float x) {
  pm_f32_bits b;
  int32_t e;
  uint32_t m;
  b.f = x;
  e = (int32_t)((b.u >> 23) & 0xffu) - 127;
  if (e >= 23) return x; /* integral, inf or NaN */
  if (e < 0) {
    if ((b.u & 0x7fffffffu) == 0) return x;
    return (b.u >> 31) ? -1.0f : 0.0f;
  }
  m = 0x007fffffu >> e;
  if ((b.u & m) == 0) return x;
  if (b.u >> 31) b.u += m; /* negative: magnitude up */
  b.u &= ~m;
  return b.f;
}

float pm_ceilf(float x) {
  pm_f32_bits b;
  int32_t e;
  uint32_t m;
  b.f = x;
  e = (int32_t)((b.u >> 23) & 0xffu) - 127;
  if (e >= 23) return x;
  if (e < 0) {
    if ((b.u & 0x7fffffffu) == 0) return x;
    return (b.u >> 31) ? -0.0f : 1.0f;
  }
  m = 0x007fffffu >> e;
  if ((b.u & m) == 0) return x;
  if (!(b.u >> 31)) b.u += m; /* positive: magnitude up */
  b.u &= ~m;
  return b.f;
}

float pm_roundf_away(float x) {
  pm_f32_bits b;
  int32_t e;
  uint32_t m;
  b.f = x;
  e = (int32_t)((b.u >> 23) & 0xffu) - 127;
  if (e >= 23) return x;
  if (e < -1) {
    b.u &= 0x80000000u; /* |x| < 0.5: +-0 */
    return b.f;
  }
  if (e == -1) return (b.u >> 31) ? -1.0f : 1.0f;
  m = 0x007fffffu >> e;
  if ((b.u & m) == 0) return x;
  b.u += 0x00400000u >> e; /* half a unit on the magnitude, then truncate */
  b.u &= ~m;
  return b.f;
}

float pm_roundf_even(float x) {
  const float f = pm_floorf(x);
  const float d = x - f; /* exact */
  float h;
  if (d < 0.5f) return f;
  if (d > 0.5f) return f + 1.0f;
  h = f * 0.5f;
  return (h == pm_floorf(h)) ? f : f + 1.0f;
}

/* v * 2^k for k in [-300, 300] */
static float pm_scalbf(float v, int32_t k) {
  pm_f32_bits s;
  while (k > 127) {
    s.u = 0x7f000000u; /* 2^127 */
    v *= s.f;
    k -= 127;
  }
  while (k < -126) {
    s.u = 0x00800000u; /* 2^-126 */
    v *= s.f;
    k += 126;
  }
  s.u = (uint32_t)(k + 127) << 23;
  return v * s.f;
}

float pm_expf(float x) {
  float kf, r, p;
  int32_t k;
  if (x != x) return x;
  if (x > 88.7228394f) return PM_F32_INF;
  if (x < -103.972084f) return 0.0f;
  k = (int32_t)(x * PM_LOG2E + (x < 0.0f ? -0.5f : 0.5f));
  kf = (float)k;
  r = (x - kf * PM_LN2_HI) - kf * PM_LN2_LO; /* |r| <= ln2 / 2 (about) */
  p = 1.0f / 5040.0f;
  p = 1.0f / 720.0f + r * p;
  p = 1.0f / 120.0f + r * p;
  p = 1.0f / 24.0f + r * p;
  p = 1.0f / 6.0f + r * p;
  p = 0.5f + r * p;
  p = 1.0f + r * p;
  p = 1.0f + r * p;
  return pm_scalbf(p, k);
}

float pm_expm1f(float x) {
  float p;
  if (x != x) return x;
  if (x > -0.5f && x < 0.5f) {
    p = 1.0f / 362880.0f;
    p = 1.0f / 40320.0f + x * p;
    p = 1.0f / 5040.0f + x * p;
    p = 1.0f / 720.0f + x * p;
    p = 1.0f / 120.0f + x * p;
    p = 1.0f / 24.0f + x * p;
    p = 1.0f / 6.0f + x * p;
    p = 0.5f + x * p;
    return x + x * (x * p);
  }
  if (x < -20.0f) return -1.0f;
  return pm_expf(x) - 1.0f;
}

float pm_logf(float x) {
  pm_f32_bits b;
  int32_t e = 0;
  float m, f, s, z, r, hfsq, ef;
  b.f = x;
  if ((b.u & 0x7fffffffu) == 0) return -PM_F32_INF;
  if (b.u >> 31) return PM_F32_NAN;
  if (b.u >= 0x7f800000u) return x;
  if (b.u < 0x00800000u) { /* subnormal: scale by 2^24 */
    b.f = x * 16777216.0f;
    e = -24;
  }
  e += (int32_t)(b.u >> 23) - 127;
  b.u = (b.u & 0x007fffffu) | 0x3f800000u;
  m = b.f; /* [1, 2) */
  if (m > 1.41421354f) {
    m *= 0.5f;
    e += 1;
  }
  f = m - 1.0f; /* exact */
  s = f / (2.0f + f);
  z = s * s;
  r = 2.0f / 9.0f;
  r = 2.0f / 7.0f + z * r;
  r = 2.0f / 5.0f + z * r;
  r = 2.0f / 3.0f + z * r;
  r = z * r;
  hfsq = 0.5f * f * f;
  ef = (float)e;
  return ef * PM_LN2_HI - ((hfsq - (s * (hfsq + r) + ef * PM_LN2_LO)) - f);
}

/* x - k pi/2 with |result| <= pi/4 (about), and k mod 4 */
static float pm_reduce_pio2(float x, int32_t *quadrant) {
  const float k = pm_roundf_even(x * PM_2_PI);
  const float k4 = k - 4.0f * pm_floorf(k * 0.25f);
  *quadrant = (k4 >= 0.0f && k4 < 4.0f) ? (int32_t)k4 : 0;
  return ((x - k * PM_PIO2_1) - k * PM_PIO2_2) - k * PM_PIO2_3;
}

static float pm_sin_poly(float r) {
  const float z = r * r;
  float p = 1.0f / 362880.0f;
  p = -1.0f / 5040.0f + z * p;
  p = 1.0f / 120.0f + z * p;
  p = -1.0f / 6.0f + z * p;
  return r + r * (z * p);
}

static float pm_cos_poly(float r) {
  const float z = r * r;
  float p = -1.0f / 3628800.0f;
  p = 1.0f / 40320.0f + z * p;
  p = -1.0f / 720.0f + z * p;
  p = 1.0f / 24.0f + z * p;
  p = -0.5f + z * p;
  return 1.0f + z * p;
}

float pm_sinf(float x) {
  int32_t q;
  float r;
  if (x != x || x - x != 0.0f) return PM_F32_NAN; /* NaN, +-inf */
  r = pm_reduce_pio2(x, &q);
  switch (q) {
    case 0:
      return pm_sin_poly(r);
    case 1:
      return pm_cos_poly(r);
    case 2:
      return -pm_sin_poly(r);
    default:
      return -pm_cos_poly(r);
  }
}

float pm_cosf(float x) {
  int32_t q;
  float r;
  if (x != x || x - x != 0.0f) return PM_F32_NAN;
  r = pm_reduce_pio2(x, &q);
  switch (q) {
    case 0:
      return pm_cos_poly(r);
    case 1:
      return -pm_sin_poly(r);
    case 2:
      return -pm_cos_poly(r);
    default:
      return pm_sin_poly(r);
  }
}

float pm_tanhf(float x) {
  const float a = x < 0.0f ? -x : x;
  float e, t;
  if (x != x) return x;
  if (a > 9.5f) return x < 0.0f ? -1.0f : 1.0f;
  e = pm_expm1f(-2.0f * a);
  t = -e / (2.0f + e);
  return x < 0.0f ? -t : t;
}
