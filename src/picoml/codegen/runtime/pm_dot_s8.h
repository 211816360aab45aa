/* int8 dot-product micro-kernels shared by CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, and the
 * small byte-copy helpers (pm_copy_s8, pm_fill_s8) that convolution and pooling share.
 *
 * On cores with the Armv7E-M DSP extension (__ARM_FEATURE_SIMD32: Cortex-M4/M7) four int8
 * values are loaded as one word, widened in pairs with SXTB16 (even lanes; odd lanes after
 * a rotate by 8) and multiplied-accumulated two at a time with SMLAD. Inputs and weights
 * are widened the same way, so the lane order never matters for a dot product. Elsewhere
 * the loops are plain C, which the compiler turns into LDRSB/MUL/ADD sequences.
 * Both compute the same exact int32 sums.
 */
#ifndef PM_DOT_S8_H
#define PM_DOT_S8_H

#include "pm_common.h"
#include "pm_config.h" /* generated per model and target: kernel variants, weight layouts */

/* The micro-kernels stay out of line: their loops then own the whole register file
 * (inlined into a caller with many live values they spill), and a call costs a few
 * instructions per 2x2 block of outputs. Loop unrolling is left to us: the compiler's
 * unrolled remainders cost more than they save on these short loops. */
/* Speed builds specialize hot loops (inlined micro-kernels, a copy with the full-range int8
 * clamp as constants so it becomes one SSAT); size builds (-Os: __OPTIMIZE_SIZE__) keep one
 * copy of each. Both compute the same results. */
#if defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
#define PM_HOT static inline __attribute__((__always_inline__))
#define PM_SPECIALIZE 1
#elif defined(__GNUC__)
#define PM_HOT static __attribute__((__noinline__, __unused__))
#define PM_SPECIALIZE 0
#else
#define PM_HOT static inline
#define PM_SPECIALIZE 0
#endif

#if defined(__GNUC__)
#define PM_KERNEL static __attribute__((__noinline__, __unused__))
#if defined(__clang__) || __GNUC__ >= 8 /* GCC learnt the pragma in 8 (avr-gcc 5 warns on it) */
#define PM_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define PM_NO_UNROLL
#endif
#else
#define PM_KERNEL static
#define PM_NO_UNROLL
#endif

#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#include <arm_acle.h>
#define PM_SIMD32 1
/* Unaligned 32-bit loads are legal on ARMv7-M; may_alias keeps strict aliasing honest. */
typedef int32_t __attribute__((__may_alias__, __aligned__(1))) pm_unaligned_i32;
static inline int32_t pm_read_s8x4(const int8_t *p) { return *(const pm_unaligned_i32 *)(const void *)p; }
static inline void pm_write_s8x4(int8_t *p, uint32_t v) { *(pm_unaligned_i32 *)(void *)p = (int32_t)v; }
/* SXTB16 of v rotated right by 8: bytes 1 and 3 sign-extended to two halfwords, one instruction.
 * ACLE has no rotated form (and __ror is not in every compiler's arm_acle.h): clang folds a
 * plain C rotate into SXTB16; GCC does not, so there the instruction is written out. */
static inline int32_t pm_sxtb16_ror8(uint32_t v) {
#if defined(__clang__)
  return (int32_t)__sxtb16((int32_t)((v >> 8) | (v << 24)));
#else
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
#endif
}
#else
#define PM_SIMD32 0
#endif

/* Armv7E-M inline-assembly loops (PM_USE_ASM; Thumb-2 with the DSP extension). The three widest
 * (the 2x2 and 4x2 GEMM kernels, the 3x3 depthwise block) hold 13-14 values in core registers,
 * r0-r12 and lr: they need the frame pointer omitted, as GCC does when optimizing. Where it is
 * kept (GCC at -O0; clang unless the build says -fomit-frame-pointer and defines
 * PM_ASM_ALL_REGS=1, as picoml's own builds do) those three take their C paths: the same
 * results, slower (no 4x2 kernel: KWS on Cortex-M4 +60% instructions under clang, +25% under
 * GCC). A GCC build that keeps the frame pointer while optimizing
 * (-fno-omit-frame-pointer) defines PM_ASM_ALL_REGS=0. */
#if PM_USE_ASM && PM_SIMD32 && defined(__GNUC__) && defined(__thumb2__)
#define PM_ASM_DSP 1
#else
#define PM_ASM_DSP 0
#endif
#ifndef PM_ASM_ALL_REGS
#if defined(__OPTIMIZE__) && !defined(__clang__)
#define PM_ASM_ALL_REGS 1
#else
#define PM_ASM_ALL_REGS 0
#endif
#endif
#if PM_ASM_DSP && PM_ASM_ALL_REGS
#define PM_ASM_WIDE 1
#else
#define PM_ASM_WIDE 0
#endif

#if !PM_SIMD32 && defined(__GNUC__)
typedef uint32_t __attribute__((__may_alias__)) pm_word_u32;
#endif

/* The type int8 operands are widened to before a multiply in the portable loops: an int8 x int8
 * product fits int16, so on AVR (16-bit int) it is a hardware multiply instead of a call to the
 * 32-bit multiply routine (~3x fewer cycles per MAC); int32 elsewhere (unchanged code). */
#if defined(__AVR__)
typedef int16_t pm_mul_t;
#else
typedef int32_t pm_mul_t;
#endif

/* n bytes from src to dst (n small: a window row, a pixel's channels): words where unaligned
 * loads are legal, or where both ends are word-aligned (Armv6-M faults on unaligned words). */
PM_HOT void pm_copy_s8(int8_t *dst, const int8_t *src, int32_t n) {
#if PM_SIMD32
#if PM_SPECIALIZE /* speed builds */
  PM_NO_UNROLL
  for (; n >= 16; n -= 16) { /* four loads, then four stores: neighbouring ones pipeline */
    const uint32_t v0 = (uint32_t)pm_read_s8x4(src), v1 = (uint32_t)pm_read_s8x4(src + 4);
    const uint32_t v2 = (uint32_t)pm_read_s8x4(src + 8), v3 = (uint32_t)pm_read_s8x4(src + 12);
    pm_write_s8x4(dst, v0);
    pm_write_s8x4(dst + 4, v1);
    pm_write_s8x4(dst + 8, v2);
    pm_write_s8x4(dst + 12, v3);
    dst += 16;
    src += 16;
  }
#endif
  PM_NO_UNROLL
  for (; n >= 4; n -= 4) {
    pm_write_s8x4(dst, (uint32_t)pm_read_s8x4(src));
    dst += 4;
    src += 4;
  }
#elif defined(__GNUC__)
  if ((((uintptr_t)dst | (uintptr_t)src) & 3u) == 0) {
    PM_NO_UNROLL
    for (; n >= 4; n -= 4) {
      *(pm_word_u32 *)(void *)dst = *(const pm_word_u32 *)(const void *)src;
      dst += 4;
      src += 4;
    }
  }
#endif
  PM_NO_UNROLL
  for (; n > 0; --n) *dst++ = *src++;
}

PM_HOT void pm_fill_s8(int8_t *dst, int8_t v, int32_t n) {
  PM_NO_UNROLL
  for (; n > 0; --n) *dst++ = v;
}

/* s += a . w over k elements (pm_dot_s8.c: one copy for every kernel file that calls it). */
int32_t pm_dot_1x1_s8(const int8_t *a, const int8_t *w, int32_t k, int32_t s);

/* ---------------------------------------------------------------------------------------
 * Plain weights (PM_PLAIN_WEIGHTS, ISA "vector": hosts with SIMD units). Weight rows stay
 * unpacked and the loops are the simplest reductions over contiguous int8 arrays, the form
 * GCC and Clang vectorize at -O2/-O3 (x86-64: PMOVSXBW + PMADDWD; AArch64: SMLAL/SDOT). */
#if PM_PLAIN_WEIGHTS
/* Weights of these hosts are int16 rows (the code generator widens them) and each input row is
 * widened once per use by every output channel, so the dot products below are int16 x int16
 * -> int32 reductions: the pattern compilers turn into PMADDWD (x86) or SMLAL (AArch64). */
static inline void pm_widen_s8(const int8_t *restrict a, int32_t k, int16_t *restrict out) {
  int32_t j;
  for (j = 0; j < k; ++j) out[j] = a[j];
}

/* *s0 += a0 . w and *s1 += a1 . w over k values: one pass over w for two rows. */
static inline void pm_dot_2x1_plain_s16(const int16_t *a0, const int16_t *a1, const int16_t *w, int32_t k,
                                        int32_t *s0, int32_t *s1) {
  int32_t x0 = 0, x1 = 0, j;
  for (j = 0; j < k; ++j) {
    x0 += a0[j] * PM_LD_I16(&w[j]);
    x1 += a1[j] * PM_LD_I16(&w[j]);
  }
  *s0 += x0;
  *s1 += x1;
}

/* a . w over k values. */
static inline int32_t pm_dot_plain_s16(const int16_t *a, const int16_t *w, int32_t k) {
  int32_t x = 0, j;
  for (j = 0; j < k; ++j) x += a[j] * PM_LD_I16(&w[j]);
  return x;
}

/* o[i] = requant(acc[i]) with channel i's parameters, i < n: one loop over channels that the
 * compiler vectorizes (pm_requant holds four int32 fields on these hosts, pm_common.h). */
PM_KERNEL void pm_requant_row_s8(const int32_t *restrict acc, const pm_requant *restrict q, int32_t n, int32_t zp,
                                 int32_t lo, int32_t hi, int8_t *restrict o) {
  int32_t i;
  if (PM_SPECIALIZE && lo == -128 && hi == 127) {
    for (i = 0; i < n; ++i) o[i] = pm_requant_s8(acc[i], &q[i], zp, -128, 127);
  } else {
    for (i = 0; i < n; ++i) o[i] = pm_requant_s8(acc[i], &q[i], zp, lo, hi);
  }
}
#endif

#ifndef PM_PW_SP_CHUNKS
#define PM_PW_SP_CHUNKS 0 /* pm_config.h: the longest pointwise pair-stream run (pm_conv_pw4s); 0: none */
#endif
#ifndef PM_PAIRS_ILV
#define PM_PAIRS_ILV 0 /* pm_config.h: 1 when packed pairs interleave their chunks (see below) */
#endif
/* pm_config.h: 1 when the interleaved pairs of FULLY_CONNECTED (PM_FC_RAW) or of the GEMM
 * convolutions (PM_CONV_RAW) are raw lanes (codegen/pairs_raw.py): in the whole chunks channel b
 * is stored as b - [a < 0], so each int16 lane of a weight word is 256 * b + a. A kernel then
 * sums x . (256 b + a) from a's start value with the word as loaded (one SXTB16 per word, for a)
 * and recovers b's sum as (raw - a's sum) >> 8 (pm_raw_b). */
#ifndef PM_FC_RAW
#define PM_FC_RAW 0
#endif
#ifndef PM_CONV_RAW
#define PM_CONV_RAW 0
#endif
#if PM_FC_RAW || PM_CONV_RAW
/* channel b's sum: its start value b0 plus (raw-lane sum sr - a's sum sa) / 256, both sums started
 * at a's start value (exact: |256 * (x . b)| < 2^31, codegen/pairs_raw.py) */
static inline int32_t pm_raw_b(int32_t b0, int32_t sr, int32_t sa) {
  return b0 + ((int32_t)((uint32_t)sr - (uint32_t)sa) >> 8);
}
#endif
/* byte offset of value j (0..3) of channel a, and of channel b, in a packed pair's chunk */
#if PM_PAIRS_ILV
#define PM_PAIR_A(j) ((((j) & 1) << 2) | (((j) >> 1) << 1))
#define PM_PAIR_B(j) (PM_PAIR_A(j) + 1)
#else
#define PM_PAIR_A(j) (j)
#define PM_PAIR_B(j) ((j) + 4)
#endif

/* ---------------------------------------------------------------------------------------
 * Packed weights (written by the code generator for the GEMM paths of CONV_2D and
 * FULLY_CONNECTED): output channels go in pairs (a, b); for each chunk of 4 input values the
 * pair's 8 weights are stored as a0..a3 b0..b3, then the k % 4 tail as a_t b_t per value.
 * PM_PAIRS_ILV (Armv7E-M) stores each chunk as a0 b0 a2 b2 a1 b1 a3 b3 instead: SXTB16 of its
 * first word gives channel a's even values and, rotated by 8, channel b's; the second word
 * gives the odd values the same way, so each weight word is loaded once for both widenings.
 * An odd last channel is stored plainly. One pointer then walks both channels, which frees
 * the registers the 2x2 micro-kernel needs. Channel oc's block starts at oc * k. */

/* s[0] += a0.wa, s[1] += a0.wb, s[2] += a1.wa, s[3] += a1.wb for one packed pair wp. */
PM_KERNEL void pm_dot_2x2_packed_s8(const int8_t *a0, const int8_t *a1, const int8_t *wp, int32_t k, int32_t *s) {
  /* PM_CONV_RAW: s01, s11 sum the raw lanes from s00's, s10's start (pm_raw_b) */
  int32_t s00 = s[0], s01 = PM_CONV_RAW ? s[0] : s[1], s10 = s[2], s11 = PM_CONV_RAW ? s[2] : s[3];
  int32_t n = k >> 2;
#if PM_ASM_WIDE
  if (n > 0) {
    int32_t ya, yb, yae, ybe, x, xe;
    /* 22 instructions per 16 MACs: each weight word is widened once and used for both rows */
    __asm__ volatile(
        "1:\n\t"
        "ldr %[ya], [%[wp]], #4\n\t"
        "ldr %[yb], [%[wp]], #4\n\t"
#if PM_PAIRS_ILV && PM_CONV_RAW /* ya = a0 b0' a2 b2', yb = a1 b1' a3 b3': used as loaded for b */
        "sxtb16 %[yae], %[ya]\n\t"
        "sxtb16 %[ybe], %[yb]\n\t"
        "ldr %[x], [%[a0]], #4\n\t"
        "sxtb16 %[xe], %[x]\n\t"
        "sxtb16 %[x], %[x], ror #8\n\t"
        "smlad %[s00], %[xe], %[yae], %[s00]\n\t"
        "smlad %[s01], %[xe], %[ya], %[s01]\n\t"
        "smlad %[s00], %[x], %[ybe], %[s00]\n\t"
        "smlad %[s01], %[x], %[yb], %[s01]\n\t"
        "ldr %[x], [%[a1]], #4\n\t"
        "sxtb16 %[xe], %[x]\n\t"
        "sxtb16 %[x], %[x], ror #8\n\t"
        "smlad %[s10], %[xe], %[yae], %[s10]\n\t"
        "smlad %[s11], %[xe], %[ya], %[s11]\n\t"
        "smlad %[s10], %[x], %[ybe], %[s10]\n\t"
        "smlad %[s11], %[x], %[yb], %[s11]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
#else
#if PM_PAIRS_ILV /* ya = a0 b0 a2 b2, yb = a1 b1 a3 b3 */
        "sxtb16 %[yae], %[ya]\n\t"
        "sxtb16 %[ybe], %[ya], ror #8\n\t"
        "sxtb16 %[ya], %[yb]\n\t"
        "sxtb16 %[yb], %[yb], ror #8\n\t"
#else
        "sxtb16 %[yae], %[ya]\n\t"
        "sxtb16 %[ybe], %[yb]\n\t"
        "sxtb16 %[ya], %[ya], ror #8\n\t"
        "sxtb16 %[yb], %[yb], ror #8\n\t"
#endif
        "ldr %[x], [%[a0]], #4\n\t"
        "sxtb16 %[xe], %[x]\n\t"
        "sxtb16 %[x], %[x], ror #8\n\t"
        "smlad %[s00], %[xe], %[yae], %[s00]\n\t"
        "smlad %[s01], %[xe], %[ybe], %[s01]\n\t"
        "smlad %[s00], %[x], %[ya], %[s00]\n\t"
        "smlad %[s01], %[x], %[yb], %[s01]\n\t"
        "ldr %[x], [%[a1]], #4\n\t"
        "sxtb16 %[xe], %[x]\n\t"
        "sxtb16 %[x], %[x], ror #8\n\t"
        "smlad %[s10], %[xe], %[yae], %[s10]\n\t"
        "smlad %[s11], %[xe], %[ybe], %[s11]\n\t"
        "smlad %[s10], %[x], %[ya], %[s10]\n\t"
        "smlad %[s11], %[x], %[yb], %[s11]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
#endif
        : [a0] "+r"(a0), [a1] "+r"(a1), [wp] "+r"(wp), [n] "+r"(n), [s00] "+r"(s00), [s01] "+r"(s01),
          [s10] "+r"(s10), [s11] "+r"(s11), [ya] "=&r"(ya), [yb] "=&r"(yb), [yae] "=&r"(yae), [ybe] "=&r"(ybe),
          [x] "=&r"(x), [xe] "=&r"(xe)
        :
        : "cc", "memory");
  }
#elif PM_SIMD32
  PM_NO_UNROLL
  for (; n > 0; --n) {
    const uint32_t ya = (uint32_t)pm_read_s8x4(wp), yb = (uint32_t)pm_read_s8x4(wp + 4);
    const uint32_t x0 = (uint32_t)pm_read_s8x4(a0), x1 = (uint32_t)pm_read_s8x4(a1);
#if PM_PAIRS_ILV && PM_CONV_RAW /* the words as loaded are b's raw lanes */
    const int32_t yae = (int32_t)__sxtb16(ya), ybe = (int32_t)ya;
    const int32_t yao = (int32_t)__sxtb16(yb), ybo = (int32_t)yb;
#elif PM_PAIRS_ILV /* ya = a0 b0 a2 b2, yb = a1 b1 a3 b3 */
    const int32_t yae = (int32_t)__sxtb16(ya), ybe = pm_sxtb16_ror8(ya);
    const int32_t yao = (int32_t)__sxtb16(yb), ybo = pm_sxtb16_ror8(yb);
#else
    const int32_t yae = (int32_t)__sxtb16(ya), yao = pm_sxtb16_ror8(ya);
    const int32_t ybe = (int32_t)__sxtb16(yb), ybo = pm_sxtb16_ror8(yb);
#endif
    const int32_t x0e = (int32_t)__sxtb16(x0), x0o = pm_sxtb16_ror8(x0);
    const int32_t x1e = (int32_t)__sxtb16(x1), x1o = pm_sxtb16_ror8(x1);
    s00 = __smlad(x0o, yao, __smlad(x0e, yae, s00));
    s01 = __smlad(x0o, ybo, __smlad(x0e, ybe, s01));
    s10 = __smlad(x1o, yao, __smlad(x1e, yae, s10));
    s11 = __smlad(x1o, ybo, __smlad(x1e, ybe, s11));
    a0 += 4;
    a1 += 4;
    wp += 8;
  }
#else
  PM_NO_UNROLL
  for (; n > 0; --n) {
    int32_t j;
    for (j = 0; j < 4; ++j) {
      const pm_mul_t x0 = a0[j], x1 = a1[j], ya = PM_LD_S8(&wp[PM_PAIR_A(j)]), yb = PM_LD_S8(&wp[PM_PAIR_B(j)]);
#if PM_CONV_RAW /* the raw lane 256 * b' + (a mod 256) = 256 * b + a, summed modulo 2^32 */
      const int32_t yr = 256 * (int32_t)yb + ((int32_t)ya & 255);
      s01 = (int32_t)((uint32_t)s01 + (uint32_t)(x0 * yr));
      s11 = (int32_t)((uint32_t)s11 + (uint32_t)(x1 * yr));
#else
      s01 += x0 * yb;
      s11 += x1 * yb;
#endif
      s00 += x0 * ya;
      s10 += x1 * ya;
    }
    a0 += 4;
    a1 += 4;
    wp += 8;
  }
#endif
#if PM_CONV_RAW
  s01 = pm_raw_b(s[1], s01, s00);
  s11 = pm_raw_b(s[3], s11, s10);
#endif
  for (k &= 3; k > 0; --k) {
    const pm_mul_t x0 = *a0++, x1 = *a1++, ya = PM_LD_S8(wp), yb = PM_LD_S8(&wp[1]);
    wp += 2;
    s00 += x0 * ya;
    s01 += x0 * yb;
    s10 += x1 * ya;
    s11 += x1 * yb;
  }
  s[0] = s00;
  s[1] = s01;
  s[2] = s10;
  s[3] = s11;
}


#if PM_ASM_DSP /* one chunk of the 1x2 loop: ya = a0 b0 a2 b2 (even values), yb the odd ones */
/* (PM_1X2_RAW_ON, PM_1X2_PLAIN_ON: into accumulators SA, SB, as named operands) */
#define PM_1X2_RAW_ON(SA, SB) /* raw lanes 256 b + a: the words as loaded are b's */                        \
  "sxtb16 %[t], %[ya]\n\t"                                                                                   \
  "smlad %[" SA "], %[xe], %[t], %[" SA "]\n\t"                                                              \
  "smlad %[" SB "], %[xe], %[ya], %[" SB "]\n\t"                                                             \
  "sxtb16 %[t], %[yb]\n\t"                                                                                   \
  "smlad %[" SA "], %[x], %[t], %[" SA "]\n\t"                                                               \
  "smlad %[" SB "], %[x], %[yb], %[" SB "]\n\t"
#if PM_PAIRS_ILV
#define PM_1X2_PLAIN_ON(SA, SB)                                                                              \
  "sxtb16 %[t], %[ya]\n\t"                                                                                   \
  "smlad %[" SA "], %[xe], %[t], %[" SA "]\n\t"                                                              \
  "sxtb16 %[ya], %[ya], ror #8\n\t"                                                                          \
  "smlad %[" SB "], %[xe], %[ya], %[" SB "]\n\t"                                                             \
  "sxtb16 %[t], %[yb]\n\t"                                                                                   \
  "smlad %[" SA "], %[x], %[t], %[" SA "]\n\t"                                                               \
  "sxtb16 %[yb], %[yb], ror #8\n\t"                                                                          \
  "smlad %[" SB "], %[x], %[yb], %[" SB "]\n\t"
#else /* ya = a0..a3, yb = b0..b3 */
#define PM_1X2_PLAIN_ON(SA, SB)                                                                              \
  "sxtb16 %[t], %[ya]\n\t"                                                                                   \
  "smlad %[" SA "], %[xe], %[t], %[" SA "]\n\t"                                                              \
  "sxtb16 %[ya], %[ya], ror #8\n\t"                                                                          \
  "smlad %[" SA "], %[x], %[ya], %[" SA "]\n\t"                                                              \
  "sxtb16 %[t], %[yb]\n\t"                                                                                   \
  "smlad %[" SB "], %[xe], %[t], %[" SB "]\n\t"                                                              \
  "sxtb16 %[yb], %[yb], ror #8\n\t"                                                                          \
  "smlad %[" SB "], %[x], %[yb], %[" SB "]\n\t"
#endif
#define PM_1X2_RAW PM_1X2_RAW_ON("s0", "s1")
#define PM_1X2_PLAIN PM_1X2_PLAIN_ON("s0", "s1")
#define PM_1X2_ASM(BODY)                                                                                     \
  __asm__ volatile("1:\n\t"                                                                                  \
                   "ldr %[ya], [%[wp]], #4\n\t"                                                              \
                   "ldr %[yb], [%[wp]], #4\n\t"                                                              \
                   "ldr %[x], [%[a]], #4\n\t"                                                                \
                   "sxtb16 %[xe], %[x]\n\t"                                                                  \
                   "sxtb16 %[x], %[x], ror #8\n\t" BODY "subs %[n], %[n], #1\n\t"                            \
                   "bne 1b\n\t"                                                                              \
                   : [a] "+r"(a), [wp] "+r"(wp), [n] "+r"(n), [s0] "+r"(s0), [s1] "+r"(s1), [ya] "=&r"(ya),   \
                     [yb] "=&r"(yb), [t] "=&r"(t), [x] "=&r"(x), [xe] "=&r"(xe)                               \
                   :                                                                                         \
                   : "cc", "memory")
#endif
/* s[0] += a.wa, s[1] += a.wb for one packed pair wp (FULLY_CONNECTED's pairs: PM_FC_RAW applies). */
PM_KERNEL void pm_dot_1x2_packed_s8(const int8_t *a, const int8_t *wp, int32_t k, int32_t *s) {
  int32_t s0 = s[0], s1 = PM_FC_RAW ? s[0] : s[1]; /* raw lanes: s1 sums 256 * b + a from a's start */
  int32_t n = k >> 2;
#if PM_ASM_DSP /* 10 registers: valid at any -O, with or without a frame pointer */
  if (n > 0) {
    int32_t ya, yb, t, x, xe;
#if PM_PAIRS_ILV && PM_FC_RAW
    PM_1X2_ASM(PM_1X2_RAW);
#else
    PM_1X2_ASM(PM_1X2_PLAIN);
#endif
  }
#else
  PM_NO_UNROLL
  for (; n > 0; --n) {
    int32_t j;
    for (j = 0; j < 4; ++j) {
      const int32_t wa = PM_LD_S8(&wp[PM_PAIR_A(j)]), wb = PM_LD_S8(&wp[PM_PAIR_B(j)]);
      s0 += a[j] * wa;
      /* raw lanes: the lane 256 * b' + (wa mod 256) = 256 * b + wa, summed modulo 2^32 */
      s1 = PM_FC_RAW ? (int32_t)((uint32_t)s1 + (uint32_t)(a[j] * (256 * wb + (wa & 255)))) : s1 + a[j] * wb;
    }
    a += 4;
    wp += 8;
  }
#endif
#if PM_FC_RAW
  s1 = pm_raw_b(s[1], s1, s0);
#endif
  for (k &= 3; k > 0; --k) {
    const pm_mul_t x = *a++;
    s0 += x * PM_LD_S8(wp);
    s1 += x * PM_LD_S8(&wp[1]);
    wp += 2;
  }
  s[0] = s0;
  s[1] = s1;
}

#if PM_SPECIALIZE && PM_ASM_DSP /* speed builds: a convolution's last odd pixel, one row (pm_conv_rows) */
#define PM_CONV_1X2 1
#if PM_PAIRS_ILV && PM_CONV_RAW
#define PM_1X2_CONV PM_1X2_RAW
#else
#define PM_1X2_CONV PM_1X2_PLAIN
#endif
/* the next chunk's loads and widening, inside a two-chunk pass */
#define PM_1X2_NEXT                                                                                          \
  "ldr %[ya], [%[wp]], #4\n\t"                                                                               \
  "ldr %[yb], [%[wp]], #4\n\t"                                                                               \
  "ldr %[x], [%[a]], #4\n\t"                                                                                 \
  "sxtb16 %[xe], %[x]\n\t"                                                                                   \
  "sxtb16 %[x], %[x], ror #8\n\t"
/* pm_dot_1x2_packed_s8 on a GEMM convolution's pair (PM_CONV_RAW applies), two chunks per pass */
PM_KERNEL void pm_dot_1x2_conv_s8(const int8_t *a, const int8_t *wp, int32_t k, int32_t *s) {
  int32_t s0 = s[0], s1 = PM_CONV_RAW ? s[0] : s[1];
  int32_t n = k >> 3;
  int32_t ya, yb, t, x, xe;
  if (n > 0) PM_1X2_ASM(PM_1X2_CONV PM_1X2_NEXT PM_1X2_CONV);
  if (k & 4) {
    n = 1;
    PM_1X2_ASM(PM_1X2_CONV);
  }
#if PM_CONV_RAW
  s1 = pm_raw_b(s[1], s1, s0);
#endif
  for (k &= 3; k > 0; --k) {
    const pm_mul_t x = *a++;
    s0 += x * PM_LD_S8(wp);
    s1 += x * PM_LD_S8(&wp[1]);
    wp += 2;
  }
  s[0] = s0;
  s[1] = s1;
}
#if PM_ASM_WIDE /* 13 registers */
#define PM_CONV_1X4 1
#if PM_PAIRS_ILV && PM_CONV_RAW
#define PM_1X4_CONV PM_1X2_RAW_ON
#else
#define PM_1X4_CONV PM_1X2_PLAIN_ON
#endif
/* one chunk of pm_dot_1x4_conv_s8: the row's 4 values widened once for both pairs */
#define PM_1X4_CHUNK                                                                                         \
  "ldr %[x], [%[a]], #4\n\t"                                                                                 \
  "ldr %[ya], [%[w0]], #4\n\t"                                                                               \
  "ldr %[yb], [%[w0]], #4\n\t"                                                                               \
  "sxtb16 %[xe], %[x]\n\t"                                                                                   \
  "sxtb16 %[x], %[x], ror #8\n\t" PM_1X4_CONV("s0", "s1") "ldr %[ya], [%[w1]], #4\n\t"                        \
  "ldr %[yb], [%[w1]], #4\n\t" PM_1X4_CONV("s2", "s3")
#define PM_1X4_ASM(BODY)                                                                                     \
  __asm__ volatile("1:\n\t" BODY "subs %[n], %[n], #1\n\t"                                                   \
                   "bne 1b\n\t"                                                                              \
                   : [a] "+r"(a), [w0] "+r"(wp), [w1] "+r"(w1), [n] "+r"(n), [s0] "+r"(s0), [s1] "+r"(s1),  \
                     [s2] "+r"(s2), [s3] "+r"(s3), [ya] "=&r"(ya), [yb] "=&r"(yb), [t] "=&r"(t), [x] "=&r"(x), \
                     [xe] "=&r"(xe)                                                                          \
                   :                                                                                         \
                   : "cc", "memory")
/* pm_dot_1x2_conv_s8 on two neighbouring pairs, wp and wp + ws (PM_PAIR_BYTES), at once: the
 * row's chunk is loaded and widened once for the 4 channels (21 cycles per 16 MACs, against 24 for
 * two 1x2 chunks), two chunks a pass. s[0..3]: channels a, b of the first pair, then of the
 * second. */
PM_KERNEL void pm_dot_1x4_conv_s8(const int8_t *a, const int8_t *wp, int32_t ws, int32_t k, int32_t *s) {
  const int8_t *w1 = wp + ws;
  int32_t s0 = s[0], s1 = PM_CONV_RAW ? s[0] : s[1], s2 = s[2], s3 = PM_CONV_RAW ? s[2] : s[3];
  int32_t n = k >> 3;
  int32_t ya, yb, t, x, xe;
  if (n > 0) PM_1X4_ASM(PM_1X4_CHUNK PM_1X4_CHUNK);
  if (k & 4) {
    n = 1;
    PM_1X4_ASM(PM_1X4_CHUNK);
  }
#if PM_CONV_RAW
  s1 = pm_raw_b(s[1], s1, s0);
  s3 = pm_raw_b(s[3], s3, s2);
#endif
  for (k &= 3; k > 0; --k) {
    const pm_mul_t v = *a++;
    s0 += v * PM_LD_S8(wp);
    s1 += v * PM_LD_S8(&wp[1]);
    s2 += v * PM_LD_S8(w1);
    s3 += v * PM_LD_S8(&w1[1]);
    wp += 2;
    w1 += 2;
  }
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
}
#else
#define PM_CONV_1X4 0
#endif
#else
#define PM_CONV_1X2 0
#define PM_CONV_1X4 0
#endif

/* ---------------------------------------------------------------------------------------
 * Four rows against one packed pair, on rows widened once to 16 bits (Armv7E-M assembly).
 * A row is used by every output channel, so widening it once (pm_widen_row_s8) costs ~2
 * instructions per value for the whole layer, while the 2x2 kernel above widens each row
 * chunk again for every channel pair. Widened layout of 4 rows: for each chunk j of 4 values,
 * 8 words: E0 O0 E1 O1 E2 O2 E3 O3 (Ep: SXTB16 of row p's word, values 0 and 2; Op: SXTB16 of
 * the word rotated by 8: values 1 and 3). The pair's weight words (PM_PAIRS_ILV) are widened
 * once per 4 rows. 32 cycles per 32 MACs and 4 per 8 chunks (the M4 timings of picoml.targets.cycles). Needs
 * k % 4 == 0; the code generator emits packed weights of this ISA as 32-bit words. */
#if PM_ASM_WIDE
#define PM_DOT_4X2 1

/* Row r (k4 chunks of 4 values) into slot p (0..3) of the widened 4-row block xw: four words per
 * pass, their loads grouped (N neighbouring loads: N + 1 cycles), a row's E and O words stored by one
 * STRD, 7.5 cycles per word; then the
 * k4 % 4 last words one at a time. */
#define PM_WIDEN1(V, OFF) "sxtb16 %[e]," V "\n\tsxtb16 " V "," V ",ror #8\n\tstrd %[e]," V ",[%[d],#" #OFF "]\n\t"
static inline void pm_widen_row_s8(const int8_t *r, int32_t k4, int32_t p, int32_t *xw) {
  int32_t *d = xw + 2 * p;
  int32_t v0, v1, v2, v3, e;
  __asm__ volatile(
      "subs %[n], %[n], #4\n\t"
      "blt 2f\n"
      "1:\n\t"
      "ldr %[v0], [%[r]], #4\n\t"
      "ldr %[v1], [%[r]], #4\n\t"
      "ldr %[v2], [%[r]], #4\n\t"
      "ldr %[v3], [%[r]], #4\n\t" PM_WIDEN1("%[v0]", 0) PM_WIDEN1("%[v1]", 32) PM_WIDEN1("%[v2]", 64)
          PM_WIDEN1("%[v3]", 96)
      "add %[d], %[d], #128\n\t"
      "subs %[n], %[n], #4\n\t"
      "bge 1b\n"
      "2:\n\t"
      "adds %[n], %[n], #4\n\t"
      "beq 4f\n"
      "3:\n\t"
      "ldr %[v0], [%[r]], #4\n\t" PM_WIDEN1("%[v0]", 0)
      "add %[d], %[d], #32\n\t"
      "subs %[n], %[n], #1\n\t"
      "bne 3b\n"
      "4:\n\t"
      : [r] "+r"(r), [d] "+r"(d), [n] "+r"(k4), [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=&r"(v3),
        [e] "=&r"(e)
      :
      : "cc", "memory");
}

/* Four neighbouring rows of k = 4 * k4 values (r, r + k, r + 2k, r + 3k: a pointwise layer's pixels)
 * into the widened 4-row block xw, chunk by chunk: pm_widen_row_s8 on each row in one loop. */
static inline void pm_widen_rows4_s8(const int8_t *r, int32_t k, int32_t k4, int32_t *xw) {
  const int8_t *r2 = r + 2 * k;
  int32_t v0, v1, v2, v3, e;
  __asm__ volatile(
      "1:\n\t"
      "ldr %[v1], [%[r], %[k]]\n\t"
      "ldr %[v0], [%[r]], #4\n\t"
      "ldr %[v3], [%[r2], %[k]]\n\t"
      "ldr %[v2], [%[r2]], #4\n\t" PM_WIDEN1("%[v0]", 0) PM_WIDEN1("%[v1]", 8) PM_WIDEN1("%[v2]", 16)
          PM_WIDEN1("%[v3]", 24)
      "add %[d], %[d], #32\n\t"
      "subs %[n], %[n], #1\n\t"
      "bne 1b\n\t"
      : [r] "+r"(r), [r2] "+r"(r2), [d] "+r"(xw), [n] "+r"(k4), [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2),
        [v3] "=&r"(v3), [e] "=&r"(e)
      : [k] "r"(k)
      : "cc", "memory");
}

/* Operands of the 4x2 assembly blocks, by position (ISO C99 limits a string literal to 4095
 * characters): xp widened rows, wp packed pair, the 8 accumulators (row 0-3, channel a/b),
 * scratch A, B (weights), X0, X1 (activations). */
#define PM_XP "%0"
#define PM_WP "%1"
#define PM_S0A "%2"
#define PM_S0B "%3"
#define PM_S1A "%4"
#define PM_S1B "%5"
#define PM_S2A "%6"
#define PM_S2B "%7"
#define PM_S3A "%8"
#define PM_S3B "%9"
#define PM_A "%10"
#define PM_B "%11"
#define PM_X0 "%12"
#define PM_X1 "%13"
#define PM_SMLAD(S, X, W) "smlad " S "," X "," W "," S "\n"
#define PM_4X2_MACS(S0, S1, SB0, SB1)                                                                        \
  PM_SMLAD(S0, PM_X0, PM_A) PM_SMLAD(SB0, PM_X0, PM_B) PM_SMLAD(S1, PM_X1, PM_A) PM_SMLAD(SB1, PM_X1, PM_B)

/* Half a chunk of the 4x2 kernel (PM_PAIRS_ILV pairs): the pair's weight word for these values
 * (a0 b0 a2 b2 or a1 b1 a3 b3) loaded next to two activation words (neighbouring loads pipeline:
 * N loads cost N + 1 cycles on the M4), widened into channel a's (A) and channel b's (B) lanes,
 * then 8 SMLADs over the 4 rows' words of these lanes. 34 cycles per chunk (32 MACs). Widened
 * rows: per chunk E0 O0 E1 O1 E2 O2 E3 O3 (see above). */
#if PM_CONV_RAW /* B as loaded: channel b's raw lanes (16 cycles per half) */
#define PM_4X2_WIDEN_B ""
#else
#define PM_4X2_WIDEN_B "sxtb16 " PM_B "," PM_B ",ror #8\n"
#endif
/* half a chunk: the even (E: offsets 0, 8, 16, 24 of the chunk) or odd (O: 4, 12, 20, 28) words of
 * the 4 rows; xp points at the chunk (moved there by the first load, pre-indexed) */
#define PM_4X2_HALF(L0, L1, L2, L3, END)                                                                     \
  "ldr " PM_B ",[" PM_WP "],#4\n"                                                                            \
  "ldr " PM_X0 ",[" PM_XP L0 "\n"                                                                            \
  "ldr " PM_X1 ",[" PM_XP L1 "\n" END                                                                        \
  "sxtb16 " PM_A "," PM_B "\n" PM_4X2_WIDEN_B PM_4X2_MACS(PM_S0A, PM_S1A, PM_S0B, PM_S1B) "ldr " PM_X0 ",[" PM_XP L2 "\n" \
  "ldr " PM_X1 ",[" PM_XP L3 "\n" PM_4X2_MACS(PM_S2A, PM_S3A, PM_S2B, PM_S3B)
/* the chunk; with last=1 (the loop's eighth) it also compares xp, final for the chunk, with the end
 * at [sp], loaded into A (free until the SXTB16) next to the activation loads; SMLAD and SXTB16
 * leave the flags for the loop's BNE */
#define PM_4X2_CHUNK                                                                                         \
  PM_4X2_HALF(",#32]!", ",#8]", ",#16]", ",#24]", "")                                                         \
  PM_4X2_HALF(",#4]", ",#12]", ",#20]", ",#28]", ".if \\last\nldr " PM_A ",[sp]\ncmp " PM_XP "," PM_A "\n.endif\n")

/* The 4x2 loop over k4 > 0 chunks of 4 widened rows at xp (X1: their end) and the packed pair at
 * wp, eight chunks per test, entered at the chunk that leaves a multiple of 8 (k4 % 8 = r > 0:
 * label 18 - r, a three-way search on r). The chunk is an assembler macro (pm_c4x2, defined
 * and purged in the block: ISO C99 limits a string literal to 4095 characters). All 14 core
 * registers are in use, so the end lives on the stack: pushed here, [sp] on exit (the caller's
 * block pops it: a block leaves sp as it found it). */
#define PM_4X2_LOOP                                                                                          \
  ".macro pm_c4x2 last=0\n" PM_4X2_CHUNK ".endm\n"                                                                  \
  "sub " PM_X0 "," PM_X1 "," PM_XP "\n"                                                                      \
  "push {" PM_X1 "}\n"                                                                                       \
  "ands " PM_X0 "," PM_X0 ",#224\n"                                                                          \
  "beq 10f\n"                                                                                                \
  "cmp " PM_X0 ",#128\n"                                                                                     \
  "beq 14f\n"                                                                                                \
  "bhi 20f\n"                                                                                                \
  "cmp " PM_X0 ",#64\n"                                                                                      \
  "beq 16f\n"                                                                                                \
  "bhi 15f\n"                                                                                                \
  "b 17f\n"                                                                                                  \
  "20:\n"                                                                                                    \
  "cmp " PM_X0 ",#192\n"                                                                                     \
  "beq 12f\n"                                                                                                \
  "bhi 11f\n"                                                                                                \
  "b 13f\n"                                                                                                  \
  "10:\npm_c4x2\n11:\npm_c4x2\n12:\npm_c4x2\n13:\npm_c4x2\n14:\npm_c4x2\n15:\npm_c4x2\n16:\npm_c4x2\n17:\npm_c4x2 1\n" \
  "bne 10b\n"                                                                                                \
  ".purgem pm_c4x2\n"

#define PM_4X2_OPERANDS(S0A, S0B, S1A, S1B, S2A, S2B, S3A, S3B)                                              \
  : "+r"(xp_), "+r"(wp_), "+r"(S0A), "+r"(S0B), "+r"(S1A), "+r"(S1B), "+r"(S2A), "+r"(S2B), "+r"(S3A),        \
    "+r"(S3B), "+&r"(A_), "=&r"(B_), "=&r"(X0_), "+&r"(X1_)                                                  \
  :                                                                                                          \
  : "cc", "memory"

/* S0A..S3B += the 4x2 block of widened rows XW (k4 > 0 chunks, END = XW + 8 * k4) and the
 * word-aligned packed pair WP. */
#define PM_DOT_4X2_ASM(XW, WP, END, S0A, S0B, S1A, S1B, S2A, S2B, S3A, S3B)                                   \
  do {                                                                                                       \
    int32_t A_ = 0, B_, X0_, X1_ = (int32_t)(uintptr_t)(END)-32; /* xp and the end one chunk back */          \
    int32_t xp_ = (int32_t)(uintptr_t)(XW)-32;                                                               \
    const int8_t *wp_ = (WP);                                                                                \
    __asm__ volatile(PM_4X2_LOOP "add sp,sp,#4\n" PM_4X2_OPERANDS(S0A, S0B, S1A, S1B, S2A, S2B, S3A, S3B));    \
  } while (0)

/* Requantization of one accumulator S in place (pm_requant_s8's arithmetic, full int8 range):
 * the channel's record in xp (multiplier), wp (round), X0 (left | right << 16: LSL reads its low
 * byte), X1 (right); A the output zero point; T scratch. */
#define PM_4X2_RQ(S, T)                                                                                      \
  "lsl " T "," S "," PM_X0 "\n"                                                                              \
  "smmulr " T "," T "," PM_XP "\n"                                                                           \
  "add " S "," PM_WP "," T ",lsl #1\n"                                                                       \
  "add " S "," S "," T ",asr #31\n"                                                                          \
  "asr " S "," S "," PM_X1 "\n"                                                                              \
  "add " S "," S "," PM_A "\n"                                                                               \
  "ssat " S ",#8," S "\n"

/* PM_4X2_RQ with the zero point already in the rounding term (wp + (zp << right): PM_4XP_FOLD) */
#define PM_4X2_RQ_NZ(S, T)                                                                                   \
  "lsl " T "," S "," PM_X0 "\n"                                                                              \
  "smmulr " T "," T "," PM_XP "\n"                                                                           \
  "add " S "," PM_WP "," T ",lsl #1\n"                                                                       \
  "add " S "," S "," T ",asr #31\n"                                                                          \
  "asr " S "," S "," PM_X1 "\n"                                                                              \
  "ssat " S ",#8," S "\n"

/* The channel record at byte OFF of the pair's records (B) into xp, wp, X0, X1 (OFFR: its right). */
#define PM_4X2_RQ_LOAD4(OFF, OFF4, OFF8, OFFR) PM_4X2_RQ_LOAD(OFF, OFF4, OFF8)
/* the same without the left shift (PM_4XP_RQ4M, PM_4XP_RQ4P): right loaded into X1 as a halfword */
#define PM_4X2_RQ_LOADH(OFF, OFF4, OFF8, OFFR)                                                               \
  "ldr " PM_XP ",[" PM_B ",#" #OFF "]\n"                                                                     \
  "ldr " PM_WP ",[" PM_B ",#" #OFF4 "]\n"                                                                    \
  "ldrh " PM_X1 ",[" PM_B ",#" #OFFR "]\n"
#define PM_4X2_RQ_LOAD(OFF, OFF4, OFF8)                                                                      \
  "ldr " PM_XP ",[" PM_B ",#" #OFF "]\n"                                                                     \
  "ldr " PM_WP ",[" PM_B ",#" #OFF4 "]\n"                                                                    \
  "ldr " PM_X0 ",[" PM_B ",#" #OFF8 "]\n"                                                                    \
  "lsr " PM_X1 "," PM_X0 ",#16\n"

/* pm_gemm_rq: what the fused block reads at the end: the pair's two records and the zero point */
typedef struct {
  const pm_requant *q;
  int32_t zp;
  int32_t b; /* PM_CONV_RAW: channel b's bias (its raw sums start at a's) */
} pm_gemm_rq;

#if PM_CONV_RAW /* the 4 b sums from their raw-lane sums (pm_raw_b), b's bias at [A, #8] */
/* b's sum SB from its raw-lane sum (pm_raw_b): SB = B + ((SB - SA) >> 8), T scratch, b's bias in B */
#define PM_RAW_FIX(SA, SB, T) "sub " T "," SB "," SA "\n" "add " SB "," PM_B "," T ",asr #8\n"
#define PM_4X2_RAW_B1(SA, SB) PM_RAW_FIX(SA, SB, PM_X0)
#define PM_4X2_RAW_B                                                                                         \
  "ldr " PM_B ",[" PM_A ",#8]\n" PM_4X2_RAW_B1(PM_S0A, PM_S0B) PM_4X2_RAW_B1(PM_S1A, PM_S1B)                    \
      PM_4X2_RAW_B1(PM_S2A, PM_S2B) PM_4X2_RAW_B1(PM_S3A, PM_S3B)
#else
#define PM_4X2_RAW_B ""
#endif

/* PM_DOT_4X2_ASM, then the 8 sums requantized in place to the full int8 range (SSAT; a narrower
 * activation clamp is the caller's, on these values) with the pair's records RQ->q[0], RQ->q[1]
 * (fast path, pm_requant_s8). s3b goes to the stack to free a scratch register. */
#define PM_GEMM_4X2_RQ_ASM(XW, WP, END, RQ, S0A, S0B, S1A, S1B, S2A, S2B, S3A, S3B)                          \
  do {                                                                                                       \
    int32_t A_ = (int32_t)(uintptr_t)(RQ), B_, X0_, X1_ = (int32_t)(uintptr_t)(END)-32;                      \
    int32_t xp_ = (int32_t)(uintptr_t)(XW)-32; /* pre-indexed loads move it to each chunk */                 \
    const int8_t *wp_ = (WP);                                                                                \
    __asm__ volatile("push {" PM_A "}\n" PM_4X2_LOOP "ldr " PM_A ",[sp,#4]\n" PM_4X2_RAW_B                   \
                     "str " PM_S3B ",[sp,#4]\n"                                                              \
                     "add sp,sp,#4\n"                                                                        \
                     "ldr " PM_B ",[" PM_A "]\n"                                                             \
                     "ldr " PM_A ",[" PM_A ",#4]\n" PM_4X2_RQ_LOAD(0, 4, 8) PM_4X2_RQ(PM_S0A, PM_S3B)        \
                         PM_4X2_RQ(PM_S1A, PM_S3B) PM_4X2_RQ(PM_S2A, PM_S3B) PM_4X2_RQ(PM_S3A, PM_S3B)        \
                             PM_4X2_RQ_LOAD(12, 16, 20) PM_4X2_RQ(PM_S0B, PM_S3B) PM_4X2_RQ(PM_S1B, PM_S3B)   \
                                 PM_4X2_RQ(PM_S2B, PM_S3B) "ldr " PM_B ",[sp],#4\n" PM_4X2_RQ(PM_B, PM_S3B)   \
                                     "mov " PM_S3B "," PM_B "\n"                                             \
                     PM_4X2_OPERANDS(S0A, S0B, S1A, S1B, S2A, S2B, S3A, S3B));                               \
  } while (0)

/* The whole channel-pair loop of a 4-row block in one assembly block (fast requantization to the
 * full int8 range only): per pair the sums start from the bias, PM_4X2_LOOP runs (entered by a
 * jump computed once per block), then the raw-lane b sums, the 8 requantizations and 4 halfword
 * stores (a row's two channels are neighbours: BFI puts b's byte above a's). What stays fixed or
 * moves by a constant step per pair lives in a stack frame, copied from the caller's
 * pm_gemm_frame (the loop needs every core register):
 *   [sp]: end, xw (both one chunk back), bias, q, o, out_c, zp, o_end (o + 2 * pairs);
 *   [sp, #32] the loop's entry, [sp, #36] b's bias (raw lanes), [sp, #40] the weight pointer. */
typedef struct {
  int32_t end, xw;
  const int32_t *bias;
  const pm_requant *q;
  int8_t *o;
  int32_t out_c, zp;
  int8_t *o_end;
} pm_gemm_frame;

#if PM_CONV_RAW /* b's sums start at a's; its bias kept for the end */
#define PM_4XP_START_B "str " PM_S0B ",[sp,#36]\n"
#define PM_4XP_BIAS_B PM_S0A /* b's start: a's bias */
#define PM_4XP_RAW_B                                                                                         \
  "ldr " PM_B ",[sp,#36]\n" PM_4X2_RAW_B1(PM_S0A, PM_S0B) PM_4X2_RAW_B1(PM_S1A, PM_S1B)                        \
      PM_4X2_RAW_B1(PM_S2A, PM_S2B) PM_4X2_RAW_B1(PM_S3A, PM_S3B)
#else
#define PM_4XP_START_B ""
#define PM_4XP_BIAS_B PM_S0B
#define PM_4XP_RAW_B ""
#endif
#define PM_4XP_COPY(OFF) "ldrd " PM_X0 "," PM_X1 ",[" PM_A ",#" #OFF "]\n" "strd " PM_X0 "," PM_X1 ",[sp,#" #OFF "]\n"
#define PM_4XP_PACK(SA, SB) "bfi " SA "," SB ",#8,#8\n" /* a row's two bytes, a's first */

/* The output zero point joined to the rounding term: with R the record's right (the ASR amount),
 * (t >> R) + zp == (t + (zp << R)) >> R while t + (zp << R) fits int32. On the fast path
 * (|acc << shift| < 2^29) |t| = |2v + round - [v < 0]| <= 2^30 + 2^(R - 1) + 1, and |zp << R| <=
 * 2^(R + 7): so every channel of the layer with R <= 22 (the caller checks, once per layer). */
#define PM_4XP_FOLD "lsl " PM_B "," PM_A "," PM_X1 "\n" "add " PM_WP "," PM_WP "," PM_B "\n"
#define PM_4XP_RQ4(SA, SB, SC, SD, FOLD)                                                                    \
  FOLD PM_4X2_RQ_NZ(SA, PM_B) PM_4X2_RQ_NZ(SB, PM_B) PM_4X2_RQ_NZ(SC, PM_B) PM_4X2_RQ_NZ(SD, PM_B)
#define PM_4XP_RQ4Z(SA, SB, SC, SD, FOLD)                                                                   \
  PM_4X2_RQ(SA, PM_B) PM_4X2_RQ(SB, PM_B) PM_4X2_RQ(SC, PM_B) PM_4X2_RQ(SD, PM_B)

/* Layers whose every channel has left == 1 (shift <= 0) and a multiplier M >= 2^30 (the caller
 * checks, once per layer): the shift and the high multiply in one SMMLAR. With M' = 2M - 2^32
 * (M << 1 read as int32, negative), SMMLAR(acc, M', acc) = floor((acc * 2^32 + acc * M' + 2^31) / 2^32)
 * = floor((2 acc * M + 2^31) / 2^32) = SMMULR(acc << 1, M): xp holds M' (PM_4XP_DOUBLE). The
 * zero point is folded (PM_4XP_FOLD). PM_4X2_RQ_M keeps the rounding's [v < 0] term; PM_4X2_RQ_P
 * drops it, for layers with output zero point -128 (full range): where v < 0 both forms give a
 * value <= 0 before the zero point, so -128 or less, which SSAT makes -128 either way. */
#define PM_4XP_DOUBLE "lsl " PM_XP "," PM_XP ",#1\n"
#define PM_4X2_RQ_M(S, T)                                                                                    \
  "smmlar " T "," S "," PM_XP "," S "\n"                                                                      \
  "add " S "," PM_WP "," T ",lsl #1\n"                                                                       \
  "add " S "," S "," T ",asr #31\n"                                                                          \
  "asr " S "," S "," PM_X1 "\n"                                                                              \
  "ssat " S ",#8," S "\n"
#define PM_4X2_RQ_P(S, T)                                                                                    \
  "smmlar " T "," S "," PM_XP "," S "\n"                                                                      \
  "add " S "," PM_WP "," T ",lsl #1\n"                                                                       \
  "asr " S "," S "," PM_X1 "\n"                                                                              \
  "ssat " S ",#8," S "\n"
#define PM_4XP_RQ4M(SA, SB, SC, SD, FOLD)                                                                   \
  FOLD PM_4XP_DOUBLE PM_4X2_RQ_M(SA, PM_B) PM_4X2_RQ_M(SB, PM_B) PM_4X2_RQ_M(SC, PM_B) PM_4X2_RQ_M(SD, PM_B)
#define PM_4XP_RQ4P(SA, SB, SC, SD, FOLD)                                                                   \
  FOLD PM_4XP_DOUBLE PM_4X2_RQ_P(SA, PM_B) PM_4X2_RQ_P(SB, PM_B) PM_4X2_RQ_P(SC, PM_B) PM_4X2_RQ_P(SD, PM_B)

/* A pair's first chunk, its sums started from the biases in s0a and (PM_4XP_BIAS_B) b's: rows 1-3
 * first, row 0 last, so that no sum needs a copy of a bias (one more unpipelined load than a chunk,
 * six MOVs fewer). An assembler macro like pm_c4x2 (the C99 string limit). */
#define PM_4XP_FIRST                                                                                         \
  "ldr " PM_B ",[" PM_WP "],#4\n"                                                                            \
  "ldr " PM_X0 ",[" PM_XP ",#32]!\n"                                                                         \
  "ldr " PM_X1 ",[" PM_XP ",#8]\n"                                                                           \
  "sxtb16 " PM_A "," PM_B "\n" PM_4X2_WIDEN_B                                                                \
  "smlad " PM_S1A "," PM_X1 "," PM_A "," PM_S0A "\n"                                                          \
  "smlad " PM_S1B "," PM_X1 "," PM_B "," PM_4XP_BIAS_B "\n"                                                   \
  "ldr " PM_X1 ",[" PM_XP ",#16]\n"                                                                          \
  "smlad " PM_S2A "," PM_X1 "," PM_A "," PM_S0A "\n"                                                          \
  "smlad " PM_S2B "," PM_X1 "," PM_B "," PM_4XP_BIAS_B "\n"                                                   \
  "ldr " PM_X1 ",[" PM_XP ",#24]\n"                                                                          \
  "smlad " PM_S3A "," PM_X1 "," PM_A "," PM_S0A "\n"                                                          \
  "smlad " PM_S3B "," PM_X1 "," PM_B "," PM_4XP_BIAS_B "\n"                                                   \
  "smlad " PM_S0B "," PM_X0 "," PM_B "," PM_4XP_BIAS_B "\n"                                                   \
  "smlad " PM_S0A "," PM_X0 "," PM_A "," PM_S0A "\n"                                                          \
  PM_4X2_HALF(",#4]", ",#12]", ",#20]", ",#28]", "")

/* the pair loops' operands (their locals: xp_, wp_, the sums s0a_..s3b_, A_, B_, X0_, X1_) */
#define PM_4XP_OPERANDS                                                                                      \
  : "=&r"(xp_), "+&r"(wp_), "=&r"(s0a_), "=&r"(s0b_), "=&r"(s1a_), "=&r"(s1b_), "=&r"(s2a_), "=&r"(s2b_),     \
    "=&r"(s3a_), "=&r"(s3b_), "+&r"(A_), "=&r"(B_), "=&r"(X0_), "=&r"(X1_)                                   \
  :                                                                                                          \
  : "cc", "memory"
/* The pair loops' entry, computed once per call into [sp, #32] from the frame's end and xw: after
 * the first chunk, chunk (1 - k4) % 8 of the unrolled eight, or past the loop (label 18) if k4 == 1;
 * then the chunk macros (pm_c4x2, pm_f4x2) defined for the block. */
#define PM_4XP_ENTRY                                                                                         \
  "ldrd " PM_X0 "," PM_X1 ",[sp]\n"                                                                          \
  "sub " PM_X0 "," PM_X1 "," PM_X0 "\n"                                                                      \
  "adds " PM_X0 "," PM_X0 ",#32\n"                                                                           \
  "and " PM_X0 "," PM_X0 ",#224\n"                                                                           \
  "lsr " PM_X0 "," PM_X0 ",#5\n"                                                                             \
  "adr.w " PM_X1 ",10f\n"                                                                                    \
  "adr.w " PM_B ",11f\n"                                                                                     \
  "sub " PM_B "," PM_B "," PM_X1 "\n"                                                                        \
  "mla " PM_X1 "," PM_X0 "," PM_B "," PM_X1 "\n"                                                             \
  "adr.w " PM_B ",18f\n"                                                                                     \
  "it eq\n"                                                                                                  \
  "moveq " PM_X1 "," PM_B "\n"                                                                               \
  "orr " PM_X1 "," PM_X1 ",#1\n"                                                                             \
  "str " PM_X1 ",[sp,#32]\n"                                                                                 \
  ".macro pm_c4x2 last=0\n" PM_4X2_CHUNK ".endm\n"                                                           \
  ".macro pm_f4x2\n" PM_4XP_FIRST ".endm\n"
/* the unrolled eight chunks (entered at [sp, #32]), label 18 past them; the chunk macros purged */
#define PM_4XP_LOOP                                                                                          \
  "10:\npm_c4x2\n11:\npm_c4x2\n12:\npm_c4x2\n13:\npm_c4x2\n14:\npm_c4x2\n15:\npm_c4x2\n16:\npm_c4x2\n17:\npm_c4x2 1\n"       \
  "bne 10b\n"                                                                                                \
  "18:\n"                                                                                                    \
  ".purgem pm_c4x2\n"                                                                                        \
  ".purgem pm_f4x2\n"

/* RQ4: PM_4XP_RQ4 (zero point folded, every right shift <= 22), PM_4XP_RQ4M or PM_4XP_RQ4P (also
 * folded, see above) or PM_4XP_RQ4Z; LOAD: PM_4X2_RQ_LOADH for RQ4M and RQ4P, else PM_4X2_RQ_LOAD4 */
#define PM_GEMM_4X2_PAIRS_ASM(FRAME, WP, RQ4, LOAD)                                                          \
  do {                                                                                                       \
    int32_t A_ = (int32_t)(uintptr_t)(FRAME), B_, X0_, X1_, xp_;                                             \
    int32_t s0a_, s0b_, s1a_, s1b_, s2a_, s2b_, s3a_, s3b_;                                                  \
    const int8_t *wp_ = (WP);                                                                                \
    __asm__ volatile(                                                                                        \
        "sub sp,sp,#48\n" PM_4XP_COPY(0) PM_4XP_COPY(8) PM_4XP_COPY(16) PM_4XP_COPY(24)                       \
        PM_4XP_ENTRY                                                                                         \
        "30:\n"                                                                                              \
        "ldr " PM_B ",[sp,#8]\n" /* loads and stores ordered so that each store follows a load */          \
        "ldr " PM_S0A ",[" PM_B "],#4\n"                                                                     \
        "ldr " PM_S0B ",[" PM_B "],#4\n"                                                                     \
        "str " PM_B ",[sp,#8]\n"                                                                             \
        "ldr " PM_XP ",[sp,#4]\n" PM_4XP_START_B                                                             \
        "pm_f4x2\n"                                                                                          \
        "ldr pc,[sp,#32]\n" /* into the loop (the entry's Thumb bit set) */                                  \
        PM_4XP_LOOP                                                                                          \
        "str " PM_WP ",[sp,#40]\n" PM_4XP_RAW_B                                                              \
        "ldr " PM_B ",[sp,#12]\n"                                                                            \
        "ldr " PM_A ",[sp,#24]\n" LOAD(0, 4, 8, 10) RQ4(PM_S0A, PM_S1A, PM_S2A, PM_S3A, PM_4XP_FOLD)    \
        "ldr " PM_B ",[sp,#12]\n" LOAD(12, 16, 20, 22)                                                       \
        "add " PM_B "," PM_B ",#24\n"                                                                        \
        "str " PM_B ",[sp,#12]\n" RQ4(PM_S0B, PM_S1B, PM_S2B, PM_S3B, PM_4XP_FOLD)                           \
        PM_4XP_PACK(PM_S0A, PM_S0B) PM_4XP_PACK(PM_S1A, PM_S1B) PM_4XP_PACK(PM_S2A, PM_S2B)                   \
            PM_4XP_PACK(PM_S3A, PM_S3B)                                                                      \
        "ldr " PM_XP ",[sp,#16]\n"                                                                           \
        "ldr " PM_X0 ",[sp,#20]\n"                                                                           \
        "strh " PM_S0A ",[" PM_XP "]\n"                                                                      \
        "strh " PM_S1A ",[" PM_XP "," PM_X0 "]\n"                                                            \
        "add " PM_X1 "," PM_XP ",#2\n"                                                                       \
        "add " PM_XP "," PM_XP "," PM_X0 ",lsl #1\n"                                                         \
        "strh " PM_S2A ",[" PM_XP "]\n"                                                                      \
        "strh " PM_S3A ",[" PM_XP "," PM_X0 "]\n"                                                            \
        "str " PM_X1 ",[sp,#16]\n"                                                                           \
        "ldr " PM_X0 ",[sp,#28]\n"                                                                           \
        "ldr " PM_WP ",[sp,#40]\n"                                                                           \
        "cmp " PM_X1 "," PM_X0 "\n"                                                                          \
        "bne 30b\n"                                                                                          \
        "add sp,sp,#48\n"                                                                                    \
        PM_4XP_OPERANDS);                                                                                    \
  } while (0)

#if PM_CONV_RAW
/* The pair loop over a pair stream (codegen/pair_records.py, PM_CONV_RAW layers whose every
 * channel in mode M or P: pm_conv_params.fold): per pair, bias_a | its packed weights | bias_b and
 * both channels' records (M' = 2M as int32, R = round + (zp << e), e = right), all read through
 * the weight pointer, which leaves each pair at the next pair's bias_a. What PM_GEMM_4X2_PAIRS_ASM
 * does per pair at the end (zero point fold, doubling, record and bias pointers kept on the stack)
 * the generator did once. Records: M' in A, R in X0, e in X1, B scratch. WP: the stream's start
 * (the first pair's bias_a). Frame: PM_GEMM_4X2_PAIRS_ASM's (bias, q, zp unused). */
#define PM_4XS_RQ_M(S)                                                                                       \
  "smmlar " PM_B "," S "," PM_A "," S "\n"                                                                   \
  "add " S "," PM_X0 "," PM_B ",lsl #1\n"                                                                    \
  "add " S "," S "," PM_B ",asr #31\n"                                                                       \
  "asr " S "," S "," PM_X1 "\n"                                                                              \
  "ssat " S ",#8," S "\n"
#define PM_4XS_RQ_P(S)                                                                                       \
  "smmlar " PM_B "," S "," PM_A "," S "\n"                                                                   \
  "add " S "," PM_X0 "," PM_B ",lsl #1\n"                                                                    \
  "asr " S "," S "," PM_X1 "\n"                                                                              \
  "ssat " S ",#8," S "\n"
#define PM_4XS_RAW_B1(SA, SB) PM_RAW_FIX(SA, SB, PM_XP) /* X0 holds a record here */
#define PM_4XS_REC "ldr " PM_A ",[" PM_WP "],#4\n" "ldr " PM_X0 ",[" PM_WP "],#4\n" "ldr " PM_X1 ",[" PM_WP "],#4\n"
#define PM_GEMM_4X2_STREAM_ASM(FRAME, WP, RQ)                                                                \
  do {                                                                                                       \
    int32_t A_ = (int32_t)(uintptr_t)(FRAME), B_, X0_, X1_, xp_;                                             \
    int32_t s0a_, s0b_, s1a_, s1b_, s2a_, s2b_, s3a_, s3b_;                                                  \
    const int8_t *wp_ = (WP);                                                                                \
    __asm__ volatile(                                                                                        \
        "sub sp,sp,#40\n" PM_4XP_COPY(0) PM_4XP_COPY(16) PM_4XP_COPY(24)                                     \
        PM_4XP_ENTRY                                                                                         \
        "30:\n"                                                                                              \
        "ldr " PM_S0A ",[" PM_WP "],#4\n" /* bias_a: both channels' sums start there */                     \
        "ldr " PM_XP ",[sp,#4]\n"                                                                            \
        "pm_f4x2\n"                                                                                          \
        "ldr pc,[sp,#32]\n" /* into the loop (the entry's Thumb bit set) */                                  \
        PM_4XP_LOOP                                                                                          \
        "ldr " PM_B ",[" PM_WP "],#4\n" PM_4XS_REC /* bias_b and a's record: one group of loads */          \
        PM_4XS_RAW_B1(PM_S0A, PM_S0B) PM_4XS_RAW_B1(PM_S1A, PM_S1B) PM_4XS_RAW_B1(PM_S2A, PM_S2B)               \
            PM_4XS_RAW_B1(PM_S3A, PM_S3B) RQ(PM_S0A) RQ(PM_S1A) RQ(PM_S2A) RQ(PM_S3A) PM_4XS_REC                \
                RQ(PM_S0B) RQ(PM_S1B) RQ(PM_S2B) RQ(PM_S3B) PM_4XP_PACK(PM_S0A, PM_S0B)                        \
                    PM_4XP_PACK(PM_S1A, PM_S1B) PM_4XP_PACK(PM_S2A, PM_S2B) PM_4XP_PACK(PM_S3A, PM_S3B)        \
        "ldr " PM_XP ",[sp,#16]\n" /* o, out_c, o_end: loads first, so the first store pipelines */         \
        "ldr " PM_A ",[sp,#20]\n"                                                                            \
        "ldr " PM_X0 ",[sp,#28]\n"                                                                           \
        "strh " PM_S0A ",[" PM_XP "]\n"                                                                      \
        "strh " PM_S1A ",[" PM_XP "," PM_A "]\n"                                                             \
        "add " PM_X1 "," PM_XP "," PM_A ",lsl #1\n"                                                          \
        "strh " PM_S2A ",[" PM_X1 "]\n"                                                                      \
        "strh " PM_S3A ",[" PM_X1 "," PM_A "]\n"                                                             \
        "add " PM_XP "," PM_XP ",#2\n"                                                                       \
        "str " PM_XP ",[sp,#16]\n"                                                                           \
        "cmp " PM_XP "," PM_X0 "\n"                                                                          \
        "bne 30b\n"                                                                                          \
        "add sp,sp,#40\n"                                                                                    \
        PM_4XP_OPERANDS);                                                                                    \
  } while (0)

#if PM_PW_SP_CHUNKS > 0
/* A pointwise block of 4 pixels against every pair of a stream (pm_conv_pw4s, pm_conv2d_s8.c), its
 * widened rows addressed from SP: with no activation pointer and channel b's SMLADs on the weight
 * word as loaded before SXTB16 widens it in place for channel a, a half chunk (2 values of 4 rows)
 * loads its weight word and 4 activation words together, 15 cycles per 16 MACs instead of 16. The
 * pair's values are a fully unrolled run of PM_PW_SP_CHUNKS chunks at fixed SP offsets, entered
 * where this layer's k4 chunks end with the run's; the first half from the biases, outside the run.
 * Every block of the layer in one call: after a block's last pair the next block's rows are widened
 * and its pairs run from the stream's start, until the args' block count is done.
 * Stack: [sp] o, out_c, o_end, the run's entry, the mode (M or P), the rows' base, the blocks left,
 * the stream's start, the next block's x, k; the rows from sp + 48 (per chunk E0 E1 E2 E3 O0 O1 O2
 * O3, the run's last chunk at the top). The mode rides in
 * the carry through each pair (no instruction of the first half or the run sets flags): set for P,
 * clear for M, by the first compare and then by each epilogue's loop test (P compares o_end with o,
 * M o with o_end), so the run falls through to P's epilogue and branches to M's. The args A_:
 * pm_pw_args. Operand names: PM_XP and PM_A serve as activation words X2, X3. */
#define PM_PW_STR_(x) #x
#define PM_PW_STR(x) PM_PW_STR_(x)
#define PM_PW_FRAME PM_PW_STR((48 + 32 * PM_PW_SP_CHUNKS))
#define PM_X2 PM_XP
#define PM_X3 PM_A
/* half a chunk: b's 4 sums on the raw word, then a's on it widened */
#define PM_PW_HALF(L, L4, L8, L12, ACC)                                                                      \
  "ldr.w " PM_B ",[" PM_WP "],#4\n"                                                                          \
  "ldr.w " PM_X0 "," L "\nldr.w " PM_X1 "," L4 "\nldr.w " PM_X2 "," L8 "\nldr.w " PM_X3 "," L12 "\n"           \
  "smlad " PM_S0B "," PM_X0 "," PM_B "," ACC(PM_S0B) "\nsmlad " PM_S1B "," PM_X1 "," PM_B "," ACC(PM_S1B) "\n"  \
  "smlad " PM_S2B "," PM_X2 "," PM_B "," ACC(PM_S2B) "\nsmlad " PM_S3B "," PM_X3 "," PM_B "," ACC(PM_S3B) "\n"  \
  "sxtb16 " PM_B "," PM_B "\n"                                                                              \
  "smlad " PM_S1A "," PM_X1 "," PM_B "," ACC(PM_S1A) "\nsmlad " PM_S2A "," PM_X2 "," PM_B "," ACC(PM_S2A) "\n"  \
  "smlad " PM_S3A "," PM_X3 "," PM_B "," ACC(PM_S3A) "\nsmlad " PM_S0A "," PM_X0 "," PM_B "," ACC(PM_S0A) "\n"
#define PM_PW_SELF(S) S
#define PM_PW_BIAS(S) PM_S0A
/* a pair's epilogue (assembler macro pm_pwe: m=1 mode M, keeping the [t < 0] term): b's sums from
 * their raw lanes, the 8 requantizations from the stream's records, 4 halfword stores */
#define PM_PW_RQ(S)                                                                                          \
  "smmlar " PM_B "," S "," PM_X1 "," S "\nadd " S "," PM_X2 "," PM_B ",lsl #1\n"                             \
  ".if \\m\nadd " S "," S "," PM_B ",asr #31\n.endif\nasr " S "," S "," PM_X3 "\nssat " S ",#8," S "\n"
#define PM_PW_REC "ldr " PM_X1 ",[" PM_WP "],#4\nldr " PM_X2 ",[" PM_WP "],#4\nldr " PM_X3 ",[" PM_WP "],#4\n"
#define PM_PW_EPILOGUE                                                                                       \
  ".macro pm_pwe m\nldr " PM_B ",[" PM_WP "],#4\n" PM_PW_REC PM_4X2_RAW_B1(PM_S0A, PM_S0B) /* 4 loads, one group */ \
      PM_4X2_RAW_B1(PM_S1A, PM_S1B) PM_4X2_RAW_B1(PM_S2A, PM_S2B) PM_4X2_RAW_B1(PM_S3A, PM_S3B) PM_PW_RQ(PM_S0A) PM_PW_RQ(PM_S1A) \
          PM_PW_RQ(PM_S2A) PM_PW_RQ(PM_S3A) PM_PW_REC PM_PW_RQ(PM_S0B) PM_PW_RQ(PM_S1B) PM_PW_RQ(PM_S2B)          \
              PM_PW_RQ(PM_S3B) PM_4XP_PACK(PM_S0A, PM_S0B) PM_4XP_PACK(PM_S1A, PM_S1B)                          \
                  PM_4XP_PACK(PM_S2A, PM_S2B) PM_4XP_PACK(PM_S3A, PM_S3B)                                       \
  "ldr " PM_X0 ",[sp]\nldr " PM_X1 ",[sp,#4]\nldr " PM_X2 ",[sp,#8]\nstrh " PM_S0A ",[" PM_X0 "]\n"            \
  "strh " PM_S1A ",[" PM_X0 "," PM_X1 "]\nadd " PM_X3 "," PM_X0 "," PM_X1 ",lsl #1\nstrh " PM_S2A ",[" PM_X3 "]\n" \
  "strh " PM_S3A ",[" PM_X3 "," PM_X1 "]\nadd " PM_X0 "," PM_X0 ",#2\nstr " PM_X0 ",[sp]\n"                       \
  ".if \\m\ncmp " PM_X0 "," PM_X2 "\nbne 30f\nb 70f\n.else\ncmp " PM_X2 "," PM_X0 "\nbne 30b\n.endif\n.endm\n"
#define PM_PW_SP_ASM(ARGS)                                                                                   \
  do {                                                                                                       \
    int32_t A_ = (int32_t)(uintptr_t)(ARGS), B_, X0_, X1_, xp_;                                              \
    int32_t s0a_, s0b_, s1a_, s1b_, s2a_, s2b_, s3a_, s3b_;                                                  \
    const int8_t *wp_ = 0; /* loaded from the args */                                                        \
    __asm__ volatile(                                                                                        \
        "sub sp,sp,#" PM_PW_FRAME "\n"                                                                       \
        "ldr " PM_X0 ",[" PM_A ",#12]\nldr " PM_X1 ",[" PM_A ",#16]\nldr " PM_X2 ",[" PM_A ",#20]\n"             \
        "ldr " PM_S2A ",[" PM_A ",#28]\n" /* blocks */                                                          \
        "ldr " PM_WP ",[" PM_A ",#8]\nldr " PM_S0A ",[" PM_A "]\nldr " PM_S1A ",[" PM_A ",#24]\n"               \
        "ldr " PM_A ",[" PM_A ",#4]\nstrd " PM_X0 "," PM_X1 ",[sp]\nstr " PM_X2 ",[sp,#8]\n"                    \
        "strd " PM_S2A "," PM_WP ",[sp,#24]\nadd " PM_X0 "," PM_S0A "," PM_A ",lsl #2\n"                         \
        "strd " PM_X0 "," PM_A ",[sp,#32]\n" /* the blocks, the stream, the next x, k */                      \
        "lsr " PM_X0 "," PM_A ",#2\nrsb " PM_X0 "," PM_X0 ",#" PM_PW_STR(PM_PW_SP_CHUNKS) "\n" /* d */         \
        "add " PM_X2 ",sp,#48\nadd " PM_X2 "," PM_X2 "," PM_X0 ",lsl #5\nstr " PM_X2 ",[sp,#20]\n"              \
        "adr.w " PM_X1 ",40f\nadd " PM_X1 "," PM_X1 "," PM_X0 ",lsl #7\nsub " PM_X1 "," PM_X1 "," PM_X0 ",lsl #4\n" \
        "orr " PM_X1 "," PM_X1 ",#1\nstr " PM_X1 ",[sp,#12]\n" /* the run's entry: 40 + 112 d */                \
        "str " PM_S1A ",[sp,#16]\n" /* the mode: C set after the compare below for P, clear for M */           \
        "add " PM_S1A "," PM_S0A "," PM_A ",lsl #1\nlsr " PM_S2A "," PM_A ",#2\n" /* widen the 4 rows */        \
        "1:\nldr " PM_S0B ",[" PM_S0A "," PM_A "]\nldr " PM_S1B ",[" PM_S0A "],#4\n"                            \
        "ldr " PM_S2B ",[" PM_S1A "," PM_A "]\nldr " PM_S3B ",[" PM_S1A "],#4\n"                                 \
        "sxtb16 " PM_X0 "," PM_S1B "\nsxtb16 " PM_S1B "," PM_S1B ",ror #8\nsxtb16 " PM_X1 "," PM_S0B "\n"         \
        "sxtb16 " PM_S0B "," PM_S0B ",ror #8\nstrd " PM_X0 "," PM_X1 ",[" PM_X2 "]\n"                             \
        "strd " PM_S1B "," PM_S0B ",[" PM_X2 ",#16]\nsxtb16 " PM_X0 "," PM_S3B "\n"                               \
        "sxtb16 " PM_S3B "," PM_S3B ",ror #8\nsxtb16 " PM_X1 "," PM_S2B "\nsxtb16 " PM_S2B "," PM_S2B ",ror #8\n"  \
        "strd " PM_X0 "," PM_X1 ",[" PM_X2 ",#8]\nstrd " PM_S3B "," PM_S2B ",[" PM_X2 ",#24]\n"                  \
        "add " PM_X2 "," PM_X2 ",#32\nsubs " PM_S2A "," PM_S2A ",#1\nbne 1b\n" PM_PW_EPILOGUE                  \
        "ldr " PM_X0 ",[sp,#16]\ncmp " PM_X0 ",#3\nb 30f\n50:\npm_pwe 1\n"                                      \
        "30:\nldr " PM_S0A ",[" PM_WP "],#4\nldr " PM_S3B ",[sp,#20]\n" /* bias a; the rows' first half */     \
        PM_PW_HALF("[" PM_S3B "]", "[" PM_S3B ",#4]", "[" PM_S3B ",#8]", "[" PM_S3B ",#12]", PM_PW_BIAS)          \
        "ldr pc,[sp,#12]\n40:\n.set pm_h,48+16\n.rept 2*" PM_PW_STR(PM_PW_SP_CHUNKS) "-1\n"                   \
        PM_PW_HALF("[sp,#pm_h]", "[sp,#pm_h+4]", "[sp,#pm_h+8]", "[sp,#pm_h+12]", PM_PW_SELF)                     \
        ".set pm_h,pm_h+16\n.endr\nbcc 50b\npm_pwe 0\n.purgem pm_pwe\n"                                      \
        "70:\nldr " PM_X0 ",[sp,#24]\nsubs " PM_X0 "," PM_X0 ",#1\nbeq 80f\n" /* the next block */              \
        "ldrd " PM_X1 "," PM_WP ",[sp,#4]\nstr " PM_X0 ",[sp,#24]\n" /* out_c; o_end, where o ended */          \
        "add " PM_X0 "," PM_WP "," PM_X1 ",lsl #1\nadd " PM_X0 "," PM_X0 "," PM_X1 "\n" /* its o */               \
        "add " PM_X2 "," PM_X0 "," PM_X1 "\nstr " PM_X0 ",[sp]\nstr " PM_X2 ",[sp,#8]\n"                           \
        "ldr " PM_WP ",[sp,#28]\nldrd " PM_S0A "," PM_A ",[sp,#32]\n" /* the stream; its x, k */               \
        "add " PM_X1 "," PM_S0A "," PM_A ",lsl #2\nstr " PM_X1 ",[sp,#32]\n"                                     \
        "add " PM_S1A "," PM_S0A "," PM_A ",lsl #1\nlsr " PM_S2A "," PM_A ",#2\nldr " PM_X2 ",[sp,#20]\nb 1b\n"  \
        "80:\nadd sp,sp,#" PM_PW_FRAME "\n" PM_4XP_OPERANDS);                                                  \
  } while (0)
#endif
#endif
#else
#define PM_DOT_4X2 0
#endif

/* ---------------------------------------------------------------------------------------
 * Offset-binary weights (PM_OFFSET_BINARY_WEIGHTS, written by the code generator for
 * Armv6-M): output channels go in blocks of 8, and for each input value j the block stores
 * w[c][j] + 128 as uint8 for its 8 channels (a last block of r < 8 channels stores r values).
 * Armv6-M's LDRSB has no immediate-offset form but LDRB has, so an unrolled loop loads each
 * weight with one instruction; the activation is loaded once and multiplied into 8
 * accumulators (LDRB, MULS, ADD per MAC; pm_dot_s8.c). The offset is removed exactly by the
 * caller:  sum a[j] * w[j] = sum a[j] * (w[j] + 128) - 128 * sum a[j],
 * and sum a[j] is computed once per input row for all output channels.
 * Sums wrap like uint32; the true result is bounded, so the wrapped one is exact. */
#define PM_OB_BLOCK 8

#if PM_USE_ASM && PM_OFFSET_BINARY_WEIGHTS && defined(__ARM_ARCH_6M__) && defined(__GNUC__)
#define PM_DOT_OB_ASM 1
void pm_dot_1x8_ob_loop_s8(const int8_t *a, const uint8_t *wb, int32_t n4, int32_t *s);
#else
#define PM_DOT_OB_ASM 0
#endif

/* sum of k int8 values (for the offset-binary correction) */
static inline int32_t pm_sum_s8(const int8_t *a, int32_t k) {
  int32_t s = 0;
  for (; k > 0; --k) s += *a++;
  return s;
}

/* s[i] += a . w_i for the r <= 8 channels of one offset-binary block wb (portable C). */
PM_KERNEL void pm_dot_1xr_ob_s8(const int8_t *a, const uint8_t *wb, int32_t k, int32_t r, int32_t *s) {
  int32_t j, i;
  for (j = 0; j < k; ++j) {
    for (i = 0; i < r; ++i) s[i] = (int32_t)((uint32_t)s[i] + (uint32_t)(a[j] * PM_LD_U8(&wb[i])));
    wb += r;
  }
}

/* o[c] = requant(bias[c] + row . w_c) for all n channels of offset-binary weights wb. */
PM_KERNEL void pm_row_ob_s8(const int8_t *row, int32_t k, const uint8_t *wb, const int32_t *bias,
                            const pm_requant *q, int32_t n, int32_t zp, int32_t lo, int32_t hi, int8_t *o) {
  const uint32_t corr = (uint32_t)(-128 * pm_sum_s8(row, k));
  int32_t c, i, s[PM_OB_BLOCK];
  for (c = 0; c < n; c += PM_OB_BLOCK) {
    const int32_t r = n - c < PM_OB_BLOCK ? n - c : PM_OB_BLOCK;
    PM_NO_UNROLL
    for (i = 0; i < r; ++i) s[i] = (int32_t)((uint32_t)PM_LD_I32(&bias[c + i]) + corr);
#if PM_DOT_OB_ASM
    if (r == PM_OB_BLOCK && k >= 4) {
      const int32_t k4 = k & ~3;
      pm_dot_1x8_ob_loop_s8(row, wb, k4 >> 2, s);
      if (k > k4) pm_dot_1xr_ob_s8(row + k4, wb + PM_OB_BLOCK * k4, k - k4, PM_OB_BLOCK, s);
    } else
#endif
    {
      pm_dot_1xr_ob_s8(row, wb, k, r, s);
    }
    PM_NO_UNROLL
    for (i = 0; i < r; ++i) o[c + i] = pm_requant_s8(s[i], &q[c + i], zp, lo, hi);
    wb += r * k;
  }
}

/* ---------------------------------------------------------------------------------------
 * Lanes (pm_conv2d_s8_lanes, Armv6-M): two output channels a, b in the two 16-bit lanes of one
 * 32-bit multiply. The code generator stores, per channel pair and input j, the word
 * W = w_a[j] + 65536 * w_b[j] (int32), and the input row is widened to int32 once per pixel, so
 * x[j] * W = x[j]*w_a[j] + 65536 * x[j]*w_b[j] is two MACs in one MULS. Inputs go in chunks of
 * two (j, j+1): the chunk's lane sums A (channel a) and B (channel b) each lie in
 * [-32512, 32767] when no channel has both weights of a chunk equal to -128 (the generator's
 * condition), so P = A + 65536*B is exact in int32 and B = (P >> 16) + bit 15 of P: ASRS #16
 * leaves that bit in the carry and ADCS adds it. Per chunk and pair: P added to a running sum
 * (low lane: sum A + 65536 * sum B modulo 2^32) and B to another; the caller recovers
 * sum A = P - 65536 * sum B. 15 instructions per 8 MACs (two pairs), weights and inputs by LDM.
 *
 * pm_lanes_block_s8(xw, wp, n, s): n > 0 chunks of the widened row xw (2n int32) against two
 * pairs' words wp (per chunk: pair 0's W[j], W[j+1], then pair 1's); s[0..3] = (P0, B0, P1, B1). */
#if PM_USE_ASM && PM_OFFSET_BINARY_WEIGHTS && defined(__ARM_ARCH_6M__) && defined(__GNUC__)
#define PM_LANES_ASM 1
void pm_lanes_block_s8(const int32_t *xw, const int32_t *wp, int32_t n, int32_t *s);
/* o[i] = pm_requant_s8(acc[i], &q[i], zlh[0], zlh[1], zlh[2]) for i < n (n > 0), the fast path's
 * arithmetic (pm_high_mul_doubled's 16-bit split) in 38 instructions per output; records of
 * the fast path only (the _exact translation units requantize in C). */
void pm_requant_n_v6m(const int32_t *acc, const pm_requant *q, int32_t n, int8_t *o, const int32_t *zlh);
#else
#define PM_LANES_ASM 0
/* the same sums in C (the carry as the rounding term 2^15 before the shift) */
PM_KERNEL void pm_lanes_block_s8(const int32_t *xw, const int32_t *wp, int32_t n, int32_t *s) {
  uint32_t p0 = 0, b0 = 0, p1 = 0, b1 = 0;
  for (; n > 0; --n) {
    const uint32_t x0 = (uint32_t)xw[0], x1 = (uint32_t)xw[1];
    const uint32_t t0 = x0 * (uint32_t)PM_LD_I32(&wp[0]) + x1 * (uint32_t)PM_LD_I32(&wp[1]);
    const uint32_t t1 = x0 * (uint32_t)PM_LD_I32(&wp[2]) + x1 * (uint32_t)PM_LD_I32(&wp[3]);
    p0 += t0;
    b0 += (uint32_t)((int32_t)(t0 + 0x8000u) >> 16);
    p1 += t1;
    b1 += (uint32_t)((int32_t)(t1 + 0x8000u) >> 16);
    xw += 2;
    wp += 4;
  }
  s[0] = (int32_t)p0;
  s[1] = (int32_t)b0;
  s[2] = (int32_t)p1;
  s[3] = (int32_t)b1;
}
#endif

#endif /* PM_DOT_S8_H */
