/* picoml C runtime: shared types and TFLite Micro's fixed-point arithmetic.
 *
 * The functions here are the C twins of picoml/fixedpoint.py and carry the same
 * names (pm_ prefix). Rounding is TFLite Micro's double rounding (gemmlowp
 * SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT). Shift convention:
 * shift > 0 shifts left, shift < 0 shifts right. No float anywhere.
 */
#ifndef PM_COMMON_H
#define PM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "pm_config.h" /* generated per model and target: kernel variants, weight layouts */

#define PM_OK 0
#define PM_ERROR 1

/* Constant tables (weights, biases, requantization records, lookup tables) are declared
 * PM_CONST and every kernel reads them through PM_LD_*: on AVR (Harvard: flash is another
 * address space, and plain const data would be copied into SRAM at start-up) they live in
 * program memory and are read with LPM (avr-libc's pgm_read_*; the low 64 KB of flash, where
 * the linker puts .progmem); elsewhere PM_CONST is plain const and PM_LD_x(p) is *(p). */
#if defined(__AVR__)
#include <avr/pgmspace.h>
#define PM_PROGMEM 1
#define PM_CONST const __attribute__((__progmem__))
#define PM_LD_S8(p) ((int8_t)pgm_read_byte(p))
#define PM_LD_U8(p) ((uint8_t)pgm_read_byte(p))
#define PM_LD_I16(p) ((int16_t)pgm_read_word(p))
#define PM_LD_I32(p) ((int32_t)pgm_read_dword(p))
#else
#define PM_PROGMEM 0
#define PM_CONST const
#define PM_LD_S8(p) (*(p))
#define PM_LD_U8(p) (*(p))
#define PM_LD_I16(p) (*(p))
#define PM_LD_I32(p) (*(p))
#endif

/* NHWC extents of one tensor (n: batch, h: height, w: width, c: channels). */
typedef struct {
  int32_t n;
  int32_t h;
  int32_t w;
  int32_t c;
} pm_dims;

/* Requantization of one output channel, precomputed by the code generator from the reference
 * kernel's multiplier and shift (see pm_requant_s8). */
typedef struct {
  int32_t multiplier; /* Q31, in [2^30, 2^31) or 0 */
  int32_t round;      /* 2^e, e = right shift of the output (max(-shift, 0), at most 30) */
#if PM_PLAIN_WEIGHTS
  int32_t left; /* "vector" hosts: 4 x int32, a layout compilers vectorize loops over */
  int32_t right;
#else
  int16_t left;  /* max(shift, 0) + 1 */
  int16_t right; /* e + 1 */
#endif
} pm_requant;

/* Requantization of a layer stored compactly: the reference kernel's multiplier (Q31) and shift
 * per output channel, 5 bytes instead of sizeof(pm_requant); pm_requant_unpack makes the record.
 * Sparse layers use it (their flash is what they are for; the unpack cost is small there), and
 * store their biases in 3 bytes when all fit (pm_sparse_bias in pm_sparse_s8.h; the int32 bias
 * array is then NULL). */
typedef struct {
  const int32_t *multiplier;
  const int8_t *shift;
  const int8_t *bias3; /* non-NULL: the biases as 3 little-endian bytes each (every one fits 24 bits) */
} pm_sparse_quant;

/* The record of one channel from the reference kernel's multiplier and shift, as the code
 * generator's requant_rows computes it; layers that store requantization compactly (sparse
 * layers: 5 bytes per channel instead of sizeof(pm_requant)) build it once per output row. */
static inline pm_requant pm_requant_unpack(int32_t multiplier, int32_t shift) {
  pm_requant q;
  const int32_t e = shift >= 0 ? 0 : (shift < -30 ? 30 : -shift);
  q.multiplier = multiplier;
  q.round = (int32_t)1 << e;
  q.left = shift > 0 ? shift + 1 : 1;
  q.right = e + 1;
  return q;
}

static inline int32_t pm_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t pm_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t pm_clamp_i32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* gemmlowp SaturatingRoundingDoublingHighMul: (a*b*2 + nudge) >> 32, truncating division. */
static inline int32_t pm_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  int64_t ab;
  int64_t nudge;
  if (a == INT32_MIN && b == INT32_MIN) {
    return INT32_MAX;
  }
  ab = (int64_t)a * (int64_t)b;
  nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  /* gemmlowp divides by 2^31 truncating toward zero; shifts of the magnitude do the same
   * without a 64-bit division call on cores that lack one */
  ab += nudge;
  return (int32_t)(ab >= 0 ? (ab >> 31) : -((-ab) >> 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, rounding half away from zero. */
static inline int32_t pm_rounding_divide_by_pot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u); /* exponent in [0, 31] */
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding). x * 2^left wraps like int32. */
static inline int32_t pm_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  const int32_t xl = (int32_t)((uint32_t)x << left);
  return pm_rounding_divide_by_pot(pm_saturating_rounding_doubling_high_mul(xl, multiplier), right);
}

/* pm_high_mul_doubled(a2, m) = (a2 * m + 2^31) >> 32 = SaturatingRoundingDoublingHighMul(a2 / 2, m)
 * for even a2, |a2| < 2^30 (pm_requant_high_mul: a2 = acc << left (the code generator proves |acc << (left - 1)| < 2^29 for
 * every layer it keeps on this path, from its weights and bias): then m >= 0 never saturates, and gemmlowp's nudge and
 * truncating division by 2^31 equal a floor division of (a*m + 2^30) by 2^31 = (a2*m + 2^31) / 2^32.
 * Armv7E-M: that is exactly SMMULR. Armv6-M has no 32x32->64 multiply (a 64-bit product is an
 * __aeabi_lmul call): split a = ah*2^16 + al and m = mh*2^16 + ml (al, ml 16-bit) and combine three
 * 32-bit products, exact for |a| < 2^29 (every partial sum stays below 2^31). */
static inline int32_t pm_high_mul_doubled(int32_t a2, int32_t multiplier) {
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
  int32_t v;
  __asm__("smmulr %0, %1, %2" : "=r"(v) : "r"(a2), "r"(multiplier));
  return v;
#elif defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__) || PM_PLAIN_WEIGHTS || defined(__AVR__)
  /* (also on "vector" hosts: 32-bit products vectorize where the 64-bit one does not; and on AVR,
   * where a 64-bit product is a long libgcc call)
   * a*m = ah*mh*2^32 + (ah*ml + al*mh)*2^16 + al*ml, a = a2 / 2 exactly; with al signed,
   * |ah| <= 2^13, |ah*ml| < 2^29, |al*mh| <= 2^30, |al*ml| < 2^31, so
   * floor((a*m + 2^30) / 2^31) = 2*ah*mh + ((ah*ml + al*mh + ((al*ml) >> 16) + 2^14) >> 15)
   * (2^30 is a multiple of 2^16, so the low product's floor division is exact). */
  const int32_t a = a2 >> 1;
  const int32_t m = multiplier;
  const int32_t al = (int32_t)(int16_t)(a & 0xffff), ah = (a - al) >> 16;
  const int32_t ml = m & 0xffff, mh = m >> 16;
  return 2 * ah * mh + ((ah * ml + al * mh + ((al * ml) >> 16) + (1 << 14)) >> 15);
#else
  return (int32_t)(((int64_t)a2 * multiplier + ((int64_t)1 << 31)) >> 32);
#endif
}

static inline int32_t pm_requant_high_mul(int32_t acc, const pm_requant *q) {
  return pm_high_mul_doubled((int32_t)((uint32_t)acc << PM_LD_I16(&q->left)), PM_LD_I32(&q->multiplier));
}

/* SaturatingRoundingDoublingHighMul(a, m) for |a| < 2^29 and 0 <= m < 2^31 (no saturation case):
 * floor((a*m + 2^30) / 2^31), computed as above without a 64-bit product on cores without one. */
static inline int32_t pm_srdhm_bounded(int32_t a, int32_t m) { return pm_high_mul_doubled(a * 2, m); }

/* Accumulator -> int8 output: TFLite's MultiplyByQuantizedMultiplier (double rounding),
 * + output_zp, clamp. After the high multiply, RoundingDivideByPOT(v, e) is
 * (2v + 2^e - [v < 0]) >> (e + 1) for every e >= 0: for e >= 1 it equals gemmlowp's
 * (v + 2^(e-1) - [v < 0]) >> e because the doubled numerator is even, and for e = 0 it returns
 * v. Branch-free and without int32 overflow (|v| < 2^29). A shift of -31 gives 0 either way
 * under the bound, so the generator writes e = 30 for it (e + 1 <= 31 keeps the shift defined). */
static inline int8_t pm_requant_s8(int32_t acc, const pm_requant *q, int32_t output_zp, int32_t act_min,
                                   int32_t act_max) {
  const int32_t v = pm_requant_high_mul(acc, q);
  const int32_t r =
      (int32_t)((uint32_t)v * 2u + (uint32_t)PM_LD_I32(&q->round) + (uint32_t)(v >> 31)) >> PM_LD_I16(&q->right);
  return (int8_t)pm_clamp_i32(r + output_zp, act_min, act_max);
}

/* ---------------------------------------------------------------------------------------
 * Exact requantization: the _exact kernel variants.
 *
 * pm_requant_s8 above is exact only for |acc << shift| < 2^29, which the code generator proves
 * per layer from its weights and bias (codegen/requant.py). A layer where it cannot call the
 * _exact twin of its kernel variant (pm_conv2d_s8_1x1_exact, pm_depthwise_conv2d_s8_mult1_exact,
 * pm_fully_connected_s8_exact, ...): the same kernel source compiled a second time, by
 * pm_<op>_s8_exact.c, with PM_REQUANT_EXACT 1, where pm_requant_s8 is pm_requant_exact_s8
 * (TFLite's MultiplyByQuantizedMultiplier for every int32 accumulator) and pm_requant_unpack
 * is pm_requant_unpack_exact. The generator picks fast or exact per layer; nothing is decided
 * at run time. Records of exact layers (requant_rows(..., exact=True)) hold
 *   multiplier  Q31 in [2^30, 2^31) or 0 (never INT32_MIN: SRDHM never saturates),
 *   round       2^e - 1, e = max(-shift, 0) in [0, 31] (RoundingDivideByPOT's mask),
 *   left        max(shift, 0) in [0, 30],
 *   right       e. */
#ifndef PM_REQUANT_EXACT
#define PM_REQUANT_EXACT 0 /* 1 in the pm_<op>_s8_exact.c translation units */
#endif

/* SaturatingRoundingDoublingHighMul(x, m) for any int32 x and 0 <= m < 2^31 (no saturation
 * case): floor((x*m + 2^30) / 2^31), from 32-bit products only (Armv6-M has no 32x32->64
 * multiply; a 64-bit product there is an __aeabi_lmul call). With x = xh*2^16 + xl and
 * m = mh*2^16 + ml (xl, ml in [0, 2^16); xh in [-2^15, 2^15), mh in [0, 2^15)):
 *   x*m + 2^30 = xh*mh*2^32 + (a + b)*2^16 + (lo mod 2^16),
 *   lo = xl*ml < 2^32 (uint32), a = xh*ml in (-2^31, 2^31), b = xl*mh + (lo >> 16) + 2^14 < 2^31,
 * and as lo mod 2^16 < 2^16 never carries into 2^31,
 *   floor((x*m + 2^30) / 2^31) = 2*xh*mh + floor((a + b) / 2^15)
 *                              = 2*xh*mh + (a >> 15) + (b >> 15) + (((a & 0x7fff) + (b & 0x7fff)) >> 15),
 * every term within int32 (|2*xh*mh| < 2^31); their sum is the result, which fits int32, so
 * adding them modulo 2^32 (uint32, no overflow) gives it exactly. */
static inline int32_t pm_srdhm_halves(int32_t x, int32_t m) {
  const int32_t xh = x >> 16, mh = m >> 16;
  const uint32_t xl = (uint32_t)x & 0xffffu, ml = (uint32_t)m & 0xffffu;
  const uint32_t lo = xl * ml;
  const int32_t a = xh * (int32_t)ml;
  const int32_t b = (int32_t)(xl * (uint32_t)mh + (lo >> 16) + (1u << 14));
  const uint32_t carry = (((uint32_t)a & 0x7fffu) + ((uint32_t)b & 0x7fffu)) >> 15;
  return (int32_t)((uint32_t)(2 * xh * mh) + (uint32_t)(a >> 15) + (uint32_t)(b >> 15) + carry);
}

/* The same, with the core's 32x32->64 multiply where it has one (Armv7-M SMULL, RV32M MUL and
 * MULH, hosts). Exact for every int32 x: |x*m| < 2^62. */
static inline int32_t pm_srdhm_exact(int32_t x, int32_t m) {
#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__) || defined(__AVR__)
  return pm_srdhm_halves(x, m);
#else
  return (int32_t)(((int64_t)x * m + ((int64_t)1 << 30)) >> 31);
#endif
}

/* Accumulator -> int8 output for any int32 acc: x = acc << left (wrapping like the reference's
 * int32 arithmetic), v = SRDHM(x, m), then gemmlowp's RoundingDivideByPOT(v, e) with the mask
 * 2^e - 1 precomputed: (v >> e) + [(v & mask) > (mask >> 1) + (v < 0)], valid for every int32 v
 * and e in [0, 31]. The result r can reach 2^31 - 1, so r + zp could overflow: cores with SSAT
 * saturate r to [-256, 255] first (any r beyond gives the same output, as |zp| <= 128 and the
 * clamp bounds are int8) and clamp r + zp as pm_requant_s8 does (two SSATs with constant
 * bounds); the others clamp r to [lo - zp, hi - zp], which is the same. */
static inline int8_t pm_requant_exact_s8(int32_t acc, const pm_requant *q, int32_t output_zp, int32_t act_min,
                                         int32_t act_max) {
  const int32_t v = pm_srdhm_exact((int32_t)((uint32_t)acc << PM_LD_I16(&q->left)), PM_LD_I32(&q->multiplier));
  const int32_t mask = PM_LD_I32(&q->round);
  const int32_t r = (v >> PM_LD_I16(&q->right)) + ((v & mask) > (mask >> 1) + (int32_t)((uint32_t)v >> 31) ? 1 : 0);
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
  return (int8_t)pm_clamp_i32(pm_clamp_i32(r, -256, 255) + output_zp, act_min, act_max);
#else
  return (int8_t)(pm_clamp_i32(r, act_min - output_zp, act_max - output_zp) + output_zp);
#endif
}

/* pm_requant_unpack for exact layers (sparse layers store the multiplier and shift compactly). */
static inline pm_requant pm_requant_unpack_exact(int32_t multiplier, int32_t shift) {
  pm_requant q;
  const int32_t e = shift >= 0 ? 0 : (shift < -31 ? 31 : -shift);
  q.multiplier = multiplier;
  q.round = (int32_t)(((uint32_t)1 << e) - 1u);
  q.left = shift > 0 ? shift : 0;
  q.right = e;
  return q;
}

#if PM_REQUANT_EXACT /* the kernel source compiled as the _exact variants */
#define pm_requant_s8 pm_requant_exact_s8
#define pm_requant_unpack pm_requant_unpack_exact
#endif

/* pm_requant_ram_s8: pm_requant_s8 on a record built at run time in RAM (pm_requant_unpack, the
 * sparse layers). pm_requant_s8 reads its record through PM_LD_*, from program memory on AVR;
 * there this twin reads the RAM record as data. Elsewhere it is pm_requant_s8 itself. */
#if PM_PROGMEM
static inline int8_t pm_requant_ram_fast_s8(int32_t acc, const pm_requant *q, int32_t output_zp, int32_t act_min,
                                            int32_t act_max) {
  const int32_t v = pm_high_mul_doubled((int32_t)((uint32_t)acc << q->left), q->multiplier);
  const int32_t r = (int32_t)((uint32_t)v * 2u + (uint32_t)q->round + (uint32_t)(v >> 31)) >> q->right;
  return (int8_t)pm_clamp_i32(r + output_zp, act_min, act_max);
}
static inline int8_t pm_requant_ram_exact_s8(int32_t acc, const pm_requant *q, int32_t output_zp, int32_t act_min,
                                             int32_t act_max) {
  const int32_t v = pm_srdhm_exact((int32_t)((uint32_t)acc << q->left), q->multiplier);
  const int32_t mask = q->round;
  const int32_t r = (v >> q->right) + ((v & mask) > (mask >> 1) + (int32_t)((uint32_t)v >> 31) ? 1 : 0);
  return (int8_t)(pm_clamp_i32(r, act_min - output_zp, act_max - output_zp) + output_zp);
}
#if PM_REQUANT_EXACT
#define pm_requant_ram_s8 pm_requant_ram_exact_s8
#else
#define pm_requant_ram_s8 pm_requant_ram_fast_s8
#endif
#else
#define pm_requant_ram_s8 pm_requant_s8
#endif

/* The general form (any acc), kept for ops whose inputs are not bounded. */
static inline int8_t pm_scale_to_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_zp,
                                    int32_t act_min, int32_t act_max) {
  int32_t v = pm_multiply_by_quantized_multiplier(acc, multiplier, shift) + output_zp;
  return (int8_t)pm_clamp_i32(v, act_min, act_max);
}

/* Broadcasting of two operands onto an output of up to PM_MAX_DIMS dimensions (TFLite's
 * trailing-aligned rules). stride_* is 0 along a broadcast dimension. */
#define PM_MAX_DIMS 6
typedef struct {
  int32_t rank;                  /* dimensions in use */
  int32_t size;                  /* output elements */
  int32_t shape[PM_MAX_DIMS];    /* output extents, outermost first */
  int32_t stride_a[PM_MAX_DIMS]; /* element strides of operand a (0 = broadcast) */
  int32_t stride_b[PM_MAX_DIMS]; /* element strides of operand b */
  int32_t same_shape;            /* 1: no broadcasting, operands and output are flat arrays */
} pm_broadcast;

/* Advance a multi-index over bc->shape; returns the new offsets into a and b. */
static inline void pm_broadcast_next(const pm_broadcast *bc, int32_t *idx, int32_t *off_a, int32_t *off_b) {
  int32_t d = bc->rank - 1;
  while (d >= 0) {
    ++idx[d];
    *off_a += bc->stride_a[d];
    *off_b += bc->stride_b[d];
    if (idx[d] < bc->shape[d]) return;
    *off_a -= bc->stride_a[d] * bc->shape[d];
    *off_b -= bc->stride_b[d] * bc->shape[d];
    idx[d] = 0;
    --d;
  }
}

/* out[i] = ONE(a[.], b[.]) for every output element i of bc, where ONE is a function-like macro
 * of two int32_t operands: one flat loop when the shapes are equal, else the broadcast walk. out
 * may be a or b (the planner places an output exactly on a same-shape input, never partly over
 * one, and element i is read before it is written). */
#define PM_BROADCAST_EACH(bc, a, b, out, ONE)                                  \
  do {                                                                         \
    int32_t i_;                                                                \
    if ((bc)->same_shape) {                                                    \
      for (i_ = 0; i_ < (bc)->size; ++i_) (out)[i_] = ONE((a)[i_], (b)[i_]);   \
    } else {                                                                   \
      int32_t idx_[PM_MAX_DIMS] = {0, 0, 0, 0, 0, 0};                          \
      int32_t oa_ = 0, ob_ = 0;                                                \
      for (i_ = 0; i_ < (bc)->size; ++i_) {                                    \
        (out)[i_] = ONE((a)[oa_], (b)[ob_]);                                   \
        pm_broadcast_next((bc), idx_, &oa_, &ob_);                             \
      }                                                                        \
    }                                                                          \
  } while (0)

#endif /* PM_COMMON_H */
