/* DEPTHWISE_CONV_2D int8. Padded taps read the input zero point (folded bias, see conv).
 * Named variants (the code generator picks one per layer and calls it directly; pm_config.h
 * compiles only the variants called):
 *   pm_depthwise_conv2d_s8_mult1    depth multiplier 1, channels <= PM_DW_MAX_C, taps <= PM_DW_MAX_TAPS;
 *   pm_depthwise_conv2d_s8_generic  any depthwise layer (plain 1HWO weights), one MAC at a time.
 * Both first try pm_dw_planes on Armv7E-M speed builds (below: one channel at a time from a byte
 * plane of its input, SMLAD over tap pairs, requantization fused), then the pixel-order paths.
 * pm_depthwise_conv2d_s8_mult1: per output pixel, a table of tap
 * pointers (interior pixels: the window corner plus offsets computed once per call; border
 * pixels: into the input, or into a row of zero points for padded taps), then four channels
 * at a time accumulate over all taps. With the DSP extension one word load brings four
 * channels and SMLABB/SMLATT multiply-accumulate them; a 3x3 window runs as one assembly
 * block (12 instructions per tap and 4 channels). A 3x3 depthwise has only 9 MACs per output,
 * so the requantization (pm_requant_s8, precomputed per channel, branch-free) matters as
 * much as the taps. */
#include "pm_depthwise_conv2d_s8.h"

#include "pm_dot_s8.h"

#ifndef PM_DW_MAX_C
#define PM_DW_MAX_C 512 /* channels of the zero-point row on the stack (pm_config.h sets the model's) */
#endif
#ifndef PM_DEPTHWISE_CONV2D_S8_MULT1
#define PM_DEPTHWISE_CONV2D_S8_MULT1 1 /* pm_config.h: 1 when some layer calls the variant */
#endif
#ifndef PM_DEPTHWISE_CONV2D_S8_GENERIC
#define PM_DEPTHWISE_CONV2D_S8_GENERIC 1
#endif
#ifndef PM_DW_MAX_TAPS
#define PM_DW_MAX_TAPS 64 /* window taps (kh * kw) of the fast path (pm_config.h sets the model's) */
#endif

#ifndef PM_DW_ZP_MIN
#define PM_DW_ZP_MIN 0 /* pm_config.h: 1 when every depthwise output zero point is -128 (PM_DW_NEG) */
#endif
/* The fast requantization's [t < 0] rounding term on high product T into S, or nothing when every
 * output zero point is -128: where t < 0, (round + 2t - [t < 0]) >> e <= 0 with the term or without
 * (round = 2^(e-1)), so the output is -128 or below either way before the clamp (dw_planes.zp_min). */
#if PM_DW_ZP_MIN
#define PM_DW_NEG(S, T) ""
#else
#define PM_DW_NEG(S, T) "add %[" S "], %[" S "], %[" T "], asr #31\n\t"
#endif
#ifndef PM_DW_PLANE_MAX
#define PM_DW_PLANE_MAX 0 /* stack bytes of the plane (pm_config.h: the model's largest, codegen/dw_planes.py) */
#endif
#if PM_ASM_DSP && PM_SPECIALIZE && PM_DW_PLANE_MAX >= 24 && (PM_DEPTHWISE_CONV2D_S8_GENERIC || PM_DEPTHWISE_CONV2D_S8_MULT1)
/* ---------------------------------------------------------------------------------------
 * Armv7E-M speed builds: 3x3 windows (dilation 1, strides 1 or 2, any depth multiplier), one
 * channel at a time over "planes". For one input channel, the input rows a strip of output rows
 * reads are gathered into a stack plane of bytes (one plane row per input row; padding written
 * as the input zero point, which the folded bias expects), so border pixels run the same
 * branch-free code as interior ones. In a plane, neighbouring taps of one channel are
 * neighbouring bytes: one word load and two SXTB16 give the pairs (x0, x2) and (x1, x3), and
 * SMLAD against the weight pair (w0, w2) does two taps in one instruction. A block makes 6
 * outputs of a plane row when 6 divides the row (stride 1: 2 words per window row, 18 MACs in 14
 * multiplies; stride 2: 4 words, 18 in 15; a row of 6 outputs is one block, the loop stepping
 * plane row to plane row), else 5 at stride 1 (15 MACs in 12; 4-output blocks, 12 MACs in 10,
 * for the rest of a row) or 4 at stride 2 from 3 words. A channel's weights, bias and
 * requantization are prepared once per strip. With room for two planes, channels go in pairs: one
 * halfword gather fills both planes (pm_dwp_gather2); with room for four and short rows, in
 * fours (pm_dwp_gather4, word loads transposed); where one channel's plane needs strips, groups
 * take strips too when a cost estimate says so. Between strips only the plane rows outside the
 * input are re-padded.
 * Orientation: the plane holds input rows (blocks run along output rows) or, when the output is
 * taller than wide, input columns (blocks run down output columns, the window transposed).
 * Order: channel after channel. Output channel oc = ic * m + k reads input channel ic only, so
 * with depth multiplier 1 and the output a whole number of pixels (c bytes) below the input (the
 * planner's streaming overlap, graph/ops.py streams=1: every output byte overwrites an input byte
 * of its own channel that no later pixel reads), each output byte lands on an input byte of its
 * own channel already copied into the plane or never read again; other overlaps take the
 * pixel-order paths. */
#define PM_DW_PLANES 1

/* The per-channel constants of one output channel, as words: the window's three rows (ky, or kx
 * when transposed) as pairs (w0, w2) of int16 and w1, the bias, then the requantization of the
 * fused assembly (multiplier, left shift, round + output zero point << right, right shift). */
enum {
  PM_DWP_BIAS = 6,
  PM_DWP_M = 7, /* fast requantization (pm_requant_s8): multiplier, rounding + zero point, right shift */
  PM_DWP_RZ = 8,
  PM_DWP_RIGHT = 9,
  PM_DWP_KLO = 7, /* exact requantization (pm_requant_exact_s8): 64-bit rounding constant, multiplier, e - 1, zp */
  PM_DWP_KHI = 8,
  PM_DWP_XM = 9,
  PM_DWP_EM1 = 10,
  PM_DWP_ZP = 11,
  PM_DWP_OS = 12, /* the row loop's output step and end */
  PM_DWP_END = 13,
  PM_DWP_PADJ = 14, /* pm_dwp_loop5's row step: plane and output from a row's end to the next row's start, */
  PM_DWP_OADJ = 15,
  PM_DWP_SB = 16, /* plane bytes between rows (END's step), and the last row's END */
  PM_DWP_LAST = 17,
  PM_DWP_N6 = 18, /* the layer's block plan (pm_dw_planes, once): 6-output blocks a row (-1: one a row, */
  PM_DWP_N5 = 19, /* the rows contiguous: pm_dwp_loop6's row form), 5- and 4-output blocks a row */
  PM_DWP_N4 = 20,
  PM_DWP_WP = 21, /* the layer's plane geometry for pm_dwp_rows (OS and SB above): plane row bytes, */
  PM_DWP_SA = 22, /* bytes between a row's outputs, outputs a row, output zero point and clamp, */
  PM_DWP_NA = 23, /* output step between rows */
  PM_DWP_OZ = 24,
  PM_DWP_LO = 25,
  PM_DWP_HI = 26,
  PM_DWP_OB = 27,
  PM_DWP_FULL = 28, /* the block plan makes every output of a row (pm_dwp_blocks alone) */
  PM_DWP_WORDS = 29
};

#define PM_DWP_ASM_OPS                                                                                      \
  [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [pr] "+&r"(pr), [w02] "=&r"(w02), [w1] "=&r"(w1), \
      [a] "=&r"(a), [x] "=&r"(x)                                                                          \
      : [wp] "r"(wp), [kp] "r"(k)                                                                         \
      : "memory"

/* stride 1, one window row: 4 outputs from bytes pr[0..7], weights at word offset WOFF of kp */
#define PM_DWP_S1_ROW(WOFF, WOFF4, Q0, Q1, Q2, ADV)                                                            \
  "ldr %[w02], [%[kp], #" #WOFF "]\n\t"                                                                   \
  "ldr %[w1], [%[kp], #" #WOFF4 "]\n\t"                                                                   \
  "ldr %[x], [%[pr]]\n\t"                                                                                 \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                         \
  "smlad %[s0], %[a], %[w02], %[" Q0 "]\n\t"                                                              \
  "smlabb %[s0], %[x], %[w1], %[s0]\n\t"                                                                  \
  "smlad %[s1], %[x], %[w02], %[" Q1 "]\n\t"                                                              \
  "smlatb %[s1], %[a], %[w1], %[s1]\n\t"                                                                  \
  "smlatb %[s2], %[a], %[w02], %[" Q2 "]\n\t"                                                             \
  "smlatb %[s2], %[x], %[w1], %[s2]\n\t"                                                                  \
  "smlatb %[s3], %[x], %[w02], %[s3]\n\t"                                                                 \
  "ldr %[x], [%[pr], #4]\n\t"                                                                             \
  ADV                                                                                                     \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                         \
  "smlabt %[s2], %[a], %[w02], %[s2]\n\t"                                                                 \
  "smlabb %[s3], %[a], %[w1], %[s3]\n\t"                                                                  \
  "smlabt %[s3], %[x], %[w02], %[s3]\n\t"

/* stride 2, one window row: 4 outputs from bytes pr[0..8] */
#define PM_DWP_S2_ROW(WOFF, WOFF4, Q0, Q1, Q2, ADV)                                                            \
  "ldr %[w02], [%[kp], #" #WOFF "]\n\t"                                                                   \
  "ldr %[w1], [%[kp], #" #WOFF4 "]\n\t"                                                                   \
  "ldr %[x], [%[pr]]\n\t"                                                                                 \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                         \
  "smlad %[s0], %[a], %[w02], %[" Q0 "]\n\t"                                                              \
  "smlabb %[s0], %[x], %[w1], %[s0]\n\t"                                                                  \
  "smlatb %[s1], %[a], %[w02], %[" Q1 "]\n\t"                                                             \
  "smlatb %[s1], %[x], %[w1], %[s1]\n\t"                                                                  \
  "ldr %[x], [%[pr], #4]\n\t"                                                                             \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                         \
  "smlabt %[s1], %[a], %[w02], %[s1]\n\t"                                                                 \
  "smlad %[s2], %[a], %[w02], %[" Q2 "]\n\t"                                                              \
  "smlabb %[s2], %[x], %[w1], %[s2]\n\t"                                                                  \
  "smlatb %[s3], %[a], %[w02], %[s3]\n\t"                                                                 \
  "smlatb %[s3], %[x], %[w1], %[s3]\n\t"                                                                  \
  "ldr %[x], [%[pr], #8]\n\t"                                                                             \
  ADV                                                                                                     \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "smlabt %[s3], %[a], %[w02], %[s3]\n\t"

/* a 4-output block's three window rows, the first from the bias in s3; pr ends two plane rows down */
#define PM_DWP_ADV "add %[pr], %[pr], %[wp]\n\t"
#define PM_DWP_S1_ROWS                                                                                    \
  PM_DWP_S1_ROW(0, 4, "s3", "s3", "s3", PM_DWP_ADV)                                                         \
  PM_DWP_S1_ROW(8, 12, "s0", "s1", "s2", PM_DWP_ADV) PM_DWP_S1_ROW(16, 20, "s0", "s1", "s2", "")
#define PM_DWP_S2_ROWS                                                                                    \
  PM_DWP_S2_ROW(0, 4, "s3", "s3", "s3", PM_DWP_ADV)                                                         \
  PM_DWP_S2_ROW(8, 12, "s0", "s1", "s2", PM_DWP_ADV) PM_DWP_S2_ROW(16, 20, "s0", "s1", "s2", "")
/* the bias in s3, the addend of s0-s2's first multiplies (PM_DWP_ROWS) */
#define PM_DWP_INIT "ldr %[s3], [%[kp], #24]\n\t"

/* Requantize accumulator S (pm_requant_s8's arithmetic; the output zero point folded into the
 * rounding constant rz) and store it at ADDR. */
#define PM_DWP_RQ(S, ADDR)                                                                                \
  "smmulr %[t], %[" S "], %[m]\n\t"                                                                         \
  "add %[" S "], %[rz], %[t], lsl #1\n\t"                                                                 \
  PM_DW_NEG(S, "t")                                                                                         \
  "asr %[" S "], %[" S "], %[r]\n\t"                                                                       \
  "ssat %[" S "], #8, %[" S "]\n\t"                                                                       \
  "strb %[" S "], " ADDR "\n\t"

/* 4 outputs (full int8 range, zero point folded) stored at o, o + os, o + 2 os, o + 3 os */
PM_HOT void pm_dwp_store4(int32_t s0, int32_t s1, int32_t s2, int32_t s3, const int32_t *k, int8_t *o, int32_t os) {
  int32_t m, rz, r, t;
  __asm__ volatile("ldr %[m], [%[kp], #28]\n\t"
                   "ldr %[rz], [%[kp], #32]\n\t"
                   "ldr %[r], [%[kp], #36]\n\t" PM_DWP_RQ("s0", "[%[o]]") PM_DWP_RQ("s1", "[%[o], %[os]]")
                       PM_DWP_RQ("s2", "[%[o], %[os], lsl #1]") "add %[o], %[o], %[os], lsl #1\n\t"
                       PM_DWP_RQ("s3", "[%[o], %[os]]")
                   : [s0] "+&r"(s0), [s1] "+&r"(s1), [s2] "+&r"(s2), [s3] "+&r"(s3), [o] "+&r"(o), [m] "=&r"(m),
                     [rz] "=&r"(rz), [r] "=&r"(r), [t] "=&r"(t)
                   : [kp] "r"(k), [os] "r"(os)
                   : "memory");
}

#if PM_ASM_WIDE
/* pm_dwp_store4's requantization inside the row loop: multiplier in w02, rz in w1, right in a */
#define PM_DWP_RQL(S, ADDR)                                                                                 \
  "smmulr %[x], %[" S "], %[w02]\n\t"                                                                     \
  "add %[" S "], %[w1], %[x], lsl #1\n\t"                                                                 \
  PM_DW_NEG(S, "x")                                                                                         \
  "asr %[" S "], %[" S "], %[a]\n\t"                                                                       \
  "ssat %[" S "], #8, %[" S "]\n\t"                                                                       \
  "strb %[" S "], " ADDR "\n\t"
/* At a plane row's end (x holding k[PM_DWP_END]): END steps by k[PM_DWP_SB]; past k[PM_DWP_LAST]
 * the loop ends, else the plane and output pointers step by k[PM_DWP_PADJ], k[PM_DWP_OADJ] to the
 * next row's first block (pm_dwp_loop5, and pm_dwp_loop's fast tail) */
#define PM_DWP_NEXT_ROW                                                                                     \
  "ldrd %[a], %[w02], [%[kp], #64]\n\t" /* SB, LAST (w02: reloaded at the loop's top) */                  \
  "add %[x], %[x], %[a]\n\t"                                                                               \
  "cmp %[x], %[w02]\n\t"                                                                                   \
  "bhi 2f\n\t"                                                                                             \
  "str %[x], [%[kp], #52]\n\t"                                                                             \
  "ldrd %[a], %[w02], [%[kp], #56]\n\t" /* PADJ, OADJ */                                                   \
  "add %[pr], %[pr], %[a]\n\t"                                                                             \
  "add %[o], %[o], %[w02]\n\t"                                                                             \
  "b 1b\n\t"                                                                                               \
  "2:\n\t"
#define PM_DWP_LOOP_TAIL(STEP)                                                                              \
  "sub %[pr], %[pr], %[wp], lsl #1\n\t"                                                                   \
  "add %[pr], %[pr], #" #STEP "\n\t"                                                                      \
  "ldr %[w02], [%[kp], #28]\n\t"                                                                          \
  "ldr %[w1], [%[kp], #32]\n\t"                                                                           \
  "ldr %[a], [%[kp], #36]\n\t" PM_DWP_RQL("s0", "[%[o]]") PM_DWP_RQL("s1", "[%[o], %[os]]")              \
      PM_DWP_RQL("s2", "[%[o], %[os], lsl #1]") "add %[o], %[o], %[os], lsl #1\n\t"                       \
          PM_DWP_RQL("s3", "[%[o], %[os]]") "add %[o], %[o], %[os], lsl #1\n\t"                           \
              "ldr %[x], [%[kp], #52]\n\t"                                                                \
              "cmp %[pr], %[x]\n\t"                                                                       \
              "blo 1b\n\t" PM_DWP_NEXT_ROW
/* pm_requant_exact_s8 of accumulator S (already shifted left) for e >= 1, stored at ADDR: with
 * P = S * m, v = floor((P + 2^30) / 2^31) and gemmlowp's RoundingDivideByPOT(v, e) =
 * floor((v + 2^(e-1) - [v < 0]) / 2^e) = floor((P + 2^30 + 2^(e+30) - [v < 0] 2^31) / 2^(e+31))
 * (nested floor divisions), one SMLAL onto the constant K = 2^30 + 2^(e+30) less 2^31 when
 * S < 0 (v < 0 only if S < 0, and S < 0 with v = 0 rounds to 0 either way), then the high word
 * shifted right by e - 1; then clamped to [-256, 255], plus the zero point, clamped to int8. */
#define PM_DWP_RQX(S, ADDR)                                                                                 \
  "asr %[a], %[" S "], #31\n\t"                                                                          \
  "ldrd %[w02], %[w1], [%[kp], #28]\n\t"                                                                 \
  "adds %[w02], %[w02], %[a], lsl #31\n\t"                                                               \
  "adc %[w1], %[w1], %[a]\n\t"                                                                           \
  "ldr %[x], [%[kp], #36]\n\t"                                                                           \
  "smlal %[w02], %[w1], %[" S "], %[x]\n\t"                                                              \
  "ldr %[a], [%[kp], #40]\n\t"                                                                           \
  "asr %[" S "], %[w1], %[a]\n\t"                                                                        \
  "ldr %[a], [%[kp], #44]\n\t"                                                                           \
  "ssat %[" S "], #9, %[" S "]\n\t"                                                                      \
  "add %[" S "], %[" S "], %[a]\n\t"                                                                     \
  "ssat %[" S "], #8, %[" S "]\n\t"                                                                      \
  "strb %[" S "], " ADDR "\n\t"
#define PM_DWP_LOOP_TAIL_X(STEP)                                                                            \
  "sub %[pr], %[pr], %[wp], lsl #1\n\t"                                                                  \
  "add %[pr], %[pr], #" #STEP "\n\t" PM_DWP_RQX("s0", "[%[o]]") "ldr %[s0], [%[kp], #48]\n\t"           \
      PM_DWP_RQX("s1", "[%[o], %[s0]]") "ldr %[s0], [%[kp], #48]\n\t" PM_DWP_RQX("s2", "[%[o], %[s0], lsl #1]") \
          "ldr %[s0], [%[kp], #48]\n\t"                                                                  \
          "add %[o], %[o], %[s0], lsl #1\n\t" PM_DWP_RQX("s3", "[%[o], %[s0]]")                         \
              "ldr %[s0], [%[kp], #48]\n\t"                                                              \
              "add %[o], %[o], %[s0], lsl #1\n\t"                                                        \
              "ldr %[x], [%[kp], #52]\n\t"                                                               \
              "cmp %[pr], %[x]\n\t"                                                                      \
              "blo 1b\n\t"
/* stride 1, one window row of a 5-output block (pm_dwp_loop5): bytes pr[0..7]; ADV advances pr
 * to the next plane row (the last row does not: the loop tail steps back two rows). The weight
 * words come in two single loads, so that the plane's load pipelines behind them. Q0-Q4: the
 * addends of s0-s4's first multiply, the accumulator itself, or in the first row s4 holding the
 * bias (no copies of the bias). */
#define PM_DWP_S1_ROW5(WOFF, WOFF4, ADV, Q0, Q1, Q2, Q3, Q4)                                                 \
  "ldr %[w02], [%[kp], #" #WOFF "]\n\t"                                                                   \
  "ldr %[w1], [%[kp], #" #WOFF4 "]\n\t"                                                                   \
  "ldr %[x], [%[pr]]\n\t"                                                                                 \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                         \
  "smlad %[s0], %[a], %[w02], %[" Q0 "]\n\t"                                                              \
  "smlabb %[s0], %[x], %[w1], %[s0]\n\t"                                                                  \
  "smlad %[s1], %[x], %[w02], %[" Q1 "]\n\t"                                                              \
  "smlatb %[s1], %[a], %[w1], %[s1]\n\t"                                                                  \
  "smlatb %[s2], %[a], %[w02], %[" Q2 "]\n\t"                                                             \
  "smlatb %[s2], %[x], %[w1], %[s2]\n\t"                                                                  \
  "smlatb %[s3], %[x], %[w02], %[" Q3 "]\n\t"                                                             \
  "ldr %[x], [%[pr], #4]\n\t" ADV                                                                         \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                         \
  "smlabt %[s2], %[a], %[w02], %[s2]\n\t"                                                                 \
  "smlabb %[s3], %[a], %[w1], %[s3]\n\t"                                                                  \
  "smlabt %[s3], %[x], %[w02], %[s3]\n\t"                                                                 \
  "smlad %[s4], %[a], %[w02], %[" Q4 "]\n\t"                                                              \
  "smlabb %[s4], %[x], %[w1], %[s4]\n\t"

#define PM_DWP_LOOP_OPS                                                                                     \
  [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [pr] "+&r"(pr), [o] "+&r"(o), [w02] "=&r"(w02), \
      [w1] "=&r"(w1), [a] "=&r"(a), [x] "=&r"(x)                                                          \
      : [wp] "r"(wp), [kp] "r"(k)                                                                         \
      : "cc", "memory"
/* the fast tail's operands: the output step in a register */
#define PM_DWP_LOOP_OPS_OS \
  [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [pr] "+&r"(pr), [o] "+&r"(o), [w02] "=&r"(w02), \
      [w1] "=&r"(w1), [a] "=&r"(a), [x] "=&r"(x)                                                          \
      : [wp] "r"(wp), [kp] "r"(k), [os] "r"(k[PM_DWP_OS]) \
      : "cc", "memory"

#if !PM_REQUANT_EXACT
/* The 5-output stride-1 blocks of plane rows, requantized (fast, fused) and stored, in one loop
 * (k[PM_DWP_OS], k[PM_DWP_END] as pm_dwp_loop's): 12 multiplies per window row for 5 outputs
 * (10 for 4), the weights, requantization constants and loop control once per 5 outputs. At a
 * row's end, END steps by k[PM_DWP_SB]; past k[PM_DWP_LAST] the loop ends, else the plane and
 * output pointers step by k[PM_DWP_PADJ] and k[PM_DWP_OADJ] to the next row (rows without a
 * remainder: one call per channel). k[PM_DWP_END] is left advanced. */
PM_HOT void pm_dwp_loop5(const int8_t *pr, int32_t wp, int32_t *k, int8_t *o) {
  int32_t s0, s1, s2, s3, s4, w02, w1, a, x;
  __asm__ volatile(
      "1:\n\t"
      "ldr %[s4], [%[kp], #24]\n\t" PM_DWP_S1_ROW5(0, 4, PM_DWP_ADV, "s4", "s4", "s4", "s4", "s4")
          PM_DWP_S1_ROW5(8, 12, PM_DWP_ADV, "s0", "s1", "s2", "s3", "s4")
          PM_DWP_S1_ROW5(16, 20, "", "s0", "s1", "s2", "s3", "s4")
      "sub %[pr], %[pr], %[wp], lsl #1\n\t"
      "add %[pr], %[pr], #5\n\t"
      "ldr %[w02], [%[kp], #28]\n\t"
      "ldr %[w1], [%[kp], #32]\n\t"
      "ldr %[a], [%[kp], #36]\n\t" PM_DWP_RQL("s0", "[%[o]]") PM_DWP_RQL("s1", "[%[o], %[os]]")
          PM_DWP_RQL("s2", "[%[o], %[os], lsl #1]") "add %[o], %[o], %[os], lsl #1\n\t"
          PM_DWP_RQL("s3", "[%[o], %[os]]") PM_DWP_RQL("s4", "[%[o], %[os], lsl #1]")
      "add %[o], %[o], %[os], lsl #1\n\t"
      "add %[o], %[o], %[os]\n\t"
      "ldr %[x], [%[kp], #52]\n\t"
      "cmp %[pr], %[x]\n\t"
      "blo 1b\n\t" PM_DWP_NEXT_ROW
      : [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [s4] "=&r"(s4), [pr] "+&r"(pr), [o] "+&r"(o),
        [w02] "=&r"(w02), [w1] "=&r"(w1), [a] "=&r"(a), [x] "=&r"(x)
      : [wp] "r"(wp), [kp] "r"(k), [os] "r"(k[PM_DWP_OS])
      : "cc", "memory");
}
#endif

/* stride 1, one window row of a 6-output block (pm_dwp_loop6): bytes pr[0..7], 14 multiplies for
 * 18 MACs; as PM_DWP_S1_ROW5 with s5 (x5 w0 + x7 w2, then x6 w1). In the first row s5 holds the
 * bias: every other accumulator's first multiply reads it before s5's own. */
#define PM_DWP_S1_ROW6(WOFF, WOFF4, ADV, Q0, Q1, Q2, Q3, Q4, Q5)                                             \
  PM_DWP_S1_ROW5(WOFF, WOFF4, ADV, Q0, Q1, Q2, Q3, Q4)                                                       \
  "smlad %[s5], %[x], %[w02], %[" Q5 "]\n\t"                                                              \
  "smlatb %[s5], %[a], %[w1], %[s5]\n\t"

#if !PM_REQUANT_EXACT
/* pm_dwp_loop5 with 6-output blocks (rows of 6, 12, 24, 48 outputs: no 4-blocks or tails). Four
 * more registers than a 5-block's: the output step is read from k[PM_DWP_OS] into the stored
 * s0 (the loop holds 14 registers, as pm_dwp_loop5). */
/* stride 2, one window row of a 6-output block: bytes pr[0..12], 15 multiplies for 18 MACs (the
 * even outputs' taps 0 and 2 one SMLAD) */
#define PM_DWP_S2_ROW6(WOFF, WOFF4, ADV, Q0, Q1, Q2, Q3, Q4, Q5)                                             \
  "ldr %[w02], [%[kp], #" #WOFF "]\n\t"                                                                   \
  "ldr %[w1], [%[kp], #" #WOFF4 "]\n\t"                                                                   \
  "ldr %[x], [%[pr]]\n\t"                                                                                 \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                         \
  "smlad %[s0], %[a], %[w02], %[" Q0 "]\n\t"                                                              \
  "smlabb %[s0], %[x], %[w1], %[s0]\n\t"                                                                  \
  "smlatb %[s1], %[a], %[w02], %[" Q1 "]\n\t"                                                             \
  "smlatb %[s1], %[x], %[w1], %[s1]\n\t"                                                                  \
  "ldr %[x], [%[pr], #4]\n\t"                                                                             \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                         \
  "smlabt %[s1], %[a], %[w02], %[s1]\n\t"                                                                 \
  "smlad %[s2], %[a], %[w02], %[" Q2 "]\n\t"                                                              \
  "smlabb %[s2], %[x], %[w1], %[s2]\n\t"                                                                  \
  "smlatb %[s3], %[a], %[w02], %[" Q3 "]\n\t"                                                             \
  "smlatb %[s3], %[x], %[w1], %[s3]\n\t"                                                                  \
  "ldr %[x], [%[pr], #8]\n\t"                                                                             \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                         \
  "smlabt %[s3], %[a], %[w02], %[s3]\n\t"                                                                 \
  "smlad %[s4], %[a], %[w02], %[" Q4 "]\n\t"                                                              \
  "smlabb %[s4], %[x], %[w1], %[s4]\n\t"                                                                  \
  "smlatb %[s5], %[a], %[w02], %[" Q5 "]\n\t"                                                             \
  "smlatb %[s5], %[x], %[w1], %[s5]\n\t"                                                                  \
  "ldr %[x], [%[pr], #12]\n\t" ADV                                                                        \
  "sxtb16 %[a], %[x]\n\t"                                                                                 \
  "smlabt %[s5], %[a], %[w02], %[s5]\n\t"

#define PM_DWP_LOOP6(ROW, STEP, NEXT)                                                                       \
  __asm__ volatile(                                                                                         \
      "1:\n\t"                                                                                             \
      "ldr %[s5], [%[kp], #24]\n\t" ROW(0, 4, PM_DWP_ADV, "s5", "s5", "s5", "s5", "s5", "s5")                 \
          ROW(8, 12, PM_DWP_ADV, "s0", "s1", "s2", "s3", "s4", "s5")                                            \
              ROW(16, 20, "", "s0", "s1", "s2", "s3", "s4", "s5") STEP                                         \
      "ldr %[w02], [%[kp], #28]\n\t"                                                                        \
      "ldr %[w1], [%[kp], #32]\n\t"                                                                         \
      "ldr %[a], [%[kp], #36]\n\t" PM_DWP_RQL("s0", "[%[o]]")                                                \
      "ldr %[s0], [%[kp], #48]\n\t" PM_DWP_RQL("s1", "[%[o], %[s0]]") PM_DWP_RQL("s2", "[%[o], %[s0], lsl #1]") \
      "add %[o], %[o], %[s0], lsl #1\n\t" PM_DWP_RQL("s3", "[%[o], %[s0]]")                                  \
          PM_DWP_RQL("s4", "[%[o], %[s0], lsl #1]") "add %[o], %[o], %[s0], lsl #1\n\t"                       \
          PM_DWP_RQL("s5", "[%[o], %[s0]]") "add %[o], %[o], %[s0], lsl #1\n\t"                               \
      "ldr %[x], [%[kp], #52]\n\t"                                                                          \
      "cmp %[pr], %[x]\n\t"                                                                                 \
      "blo 1b\n\t" NEXT                                                                                     \
      : [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [s4] "=&r"(s4), [s5] "=&r"(s5),         \
        [pr] "+&r"(pr), [o] "+&r"(o), [w02] "=&r"(w02), [w1] "=&r"(w1), [a] "=&r"(a), [x] "=&r"(x)               \
      : [wp] "r"(wp), [kp] "r"(k)                                                                           \
      : "cc", "memory")
/* row: one block per plane row (6 outputs a row, the output rows contiguous: ob = 6 oa, the next
 * block one plane row down), the loop ends at k[PM_DWP_END] (set to the plane past the last row);
 * else the blocks of a region (pm_dwp_region). */
PM_HOT void pm_dwp_loop6(const int8_t *pr, int32_t wp, int32_t sa, int32_t *k, int8_t *o, int row) {
  int32_t s0, s1, s2, s3, s4, s5, w02, w1, a, x;
  if (sa == 1 && row) {
    PM_DWP_LOOP6(PM_DWP_S1_ROW6, "sub %[pr], %[pr], %[wp]\n\t", "");
  } else if (sa == 1) {
    PM_DWP_LOOP6(PM_DWP_S1_ROW6, "sub %[pr], %[pr], %[wp], lsl #1\n\tadd %[pr], %[pr], #6\n\t", PM_DWP_NEXT_ROW);
  } else if (row) { /* stride 2: the next row's block two plane rows down, where pr is */
    PM_DWP_LOOP6(PM_DWP_S2_ROW6, "", "");
  } else {
    PM_DWP_LOOP6(PM_DWP_S2_ROW6, "sub %[pr], %[pr], %[wp], lsl #1\n\tadd %[pr], %[pr], #12\n\t", PM_DWP_NEXT_ROW);
  }
}
#endif

/* The 4-output blocks of one plane row, requantized (fused) and stored, in one loop: k[PM_DWP_OS]
 * holds the output step, k[PM_DWP_END] the plane address past the last block's first window;
 * the fast requantization's loop goes on to further rows as pm_dwp_loop5 (PM_DWP_NEXT_ROW). */
PM_HOT void pm_dwp_loop(const int8_t *pr, int32_t wp, int32_t sa, int32_t *k, int8_t *o) {
  int32_t s0, s1, s2, s3, w02, w1, a, x;
#if PM_REQUANT_EXACT
  if (sa == 1) {
    __asm__ volatile("1:\n\t" PM_DWP_INIT PM_DWP_S1_ROWS PM_DWP_LOOP_TAIL_X(4)
                     : PM_DWP_LOOP_OPS);
  } else {
    __asm__ volatile("1:\n\t" PM_DWP_INIT PM_DWP_S2_ROWS PM_DWP_LOOP_TAIL_X(8)
                     : PM_DWP_LOOP_OPS);
  }
#else
  if (sa == 1) {
    __asm__ volatile("1:\n\t" PM_DWP_INIT PM_DWP_S1_ROWS PM_DWP_LOOP_TAIL(4)
                     : PM_DWP_LOOP_OPS_OS);
  } else {
    __asm__ volatile("1:\n\t" PM_DWP_INIT PM_DWP_S2_ROWS PM_DWP_LOOP_TAIL(8)
                     : PM_DWP_LOOP_OPS_OS);
  }
#endif
}
#endif

/* n < 4 outputs at plane bytes pr + i * sa (C; the blocks' last outputs of a plane row). Reads
 * at most the bytes a 4-output block would. */
PM_KERNEL void pm_dwp_tail(const int8_t *pr, int32_t wp, int32_t sa, int32_t n, const int32_t *k,
                           const pm_requant *rq, int32_t zp, int32_t lo, int32_t hi, int8_t *o, int32_t os) {
  int32_t i, r;
  for (i = 0; i < n; ++i, pr += sa, o += os) {
    int32_t acc = k[PM_DWP_BIAS];
    for (r = 0; r < 3; ++r) {
      const uint32_t u = (uint32_t)pm_read_s8x4(pr + r * wp);
      acc = __smlad((int32_t)__sxtb16(u), k[2 * r], acc);
      acc = __smlabb(pm_sxtb16_ror8(u), k[2 * r + 1], acc);
    }
    *o = pm_requant_s8(acc, rq, zp, lo, hi); /* fused: rq's left shift is 0, the weights carry it */
  }
}

#if PM_ASM_WIDE && !PM_REQUANT_EXACT
/* Columns [a0, a1) of all nb rows in one call of the 6-, 5- or 4-output (block) block loop:
 * the loop steps from a row's last block to the next row's first (k[PM_DWP_PADJ], OADJ) until
 * END passes LAST. */
PM_HOT void pm_dwp_region(const int8_t *plane, int32_t wp, int32_t sa, int32_t sb, int32_t nb, int32_t a0,
                          int32_t a1, int32_t *k, int8_t *o, int32_t oa, int32_t ob, int block) {
  k[PM_DWP_END] = (int32_t)(uintptr_t)(plane + a1 * sa);
  k[PM_DWP_LAST] = (int32_t)(uintptr_t)(plane + (nb - 1) * sb + a1 * sa);
  k[PM_DWP_PADJ] = sb - (a1 - a0) * sa;
  k[PM_DWP_OADJ] = ob - (a1 - a0) * oa;
  if (block == 6) {
    pm_dwp_loop6(plane + a0 * sa, wp, sa, k, o + a0 * oa, 0);
  } else if (block == 5) {
    pm_dwp_loop5(plane + a0, wp, k, o + a0 * oa);
  } else {
    pm_dwp_loop(plane + a0 * sa, wp, sa, k, o + a0 * oa);
  }
}
#endif

#if PM_ASM_WIDE && !PM_REQUANT_EXACT
/* The fused blocks of one channel's rows (k[PM_DWP_N6], N5, N4: pm_dw_planes' plan), each kind
 * over its columns of every row in one call (a region); returns the outputs of a row made. A
 * small function of its own: when the plan covers the rows (pm_dw_planes calls it directly), no
 * tail code's frame. */
PM_KERNEL int32_t pm_dwp_blocks(const int8_t *plane, int32_t nb, int32_t *k, int8_t *o) {
  const int32_t n6 = k[PM_DWP_N6], n5 = k[PM_DWP_N5], n4 = k[PM_DWP_N4];
  const int32_t wp = k[PM_DWP_WP], sa = k[PM_DWP_SA], sb = k[PM_DWP_SB], oa = k[PM_DWP_OS], ob = k[PM_DWP_OB];
  int32_t done = 0;
  if (n6 < 0) { /* one 6-block a row, the rows contiguous */
    k[PM_DWP_END] = (int32_t)(uintptr_t)(plane + nb * sb);
    pm_dwp_loop6(plane, wp, sa, k, o, 1);
    return 6;
  }
  if (n6 > 0) {
    pm_dwp_region(plane, wp, sa, sb, nb, 0, 6 * n6, k, o, oa, ob, 6);
    done = 6 * n6;
  }
  if (n5 > 0) {
    pm_dwp_region(plane, wp, 1, sb, nb, done, done + 5 * n5, k, o, oa, ob, 5);
    done += 5 * n5;
  }
  if (n4 > 0) {
    pm_dwp_region(plane, wp, sa, sb, nb, done, done + 4 * n4, k, o, oa, ob, 4);
    done += 4 * n4;
  }
  return done;
}
#endif

#if PM_ASM_WIDE && !PM_REQUANT_EXACT
/* k[2 t], k[2 t + 1] of window row t from its taps at byte offsets O0, O1, O2 of w (grouped weights:
 * immediate offsets), each shifted left by sc */
#define PM_DWP_KROW(O0, O1, O2, KOFF)                                                                       \
  "ldrsb %[a], [%[w], #" #O0 "]\n\t"                                                                      \
  "ldrsb %[b], [%[w], #" #O2 "]\n\t"                                                                      \
  "ldrsb %[c], [%[w], #" #O1 "]\n\t"                                                                      \
  "lsl %[a], %[a], %[sc]\n\t"                                                                             \
  "lsl %[b], %[b], %[sc]\n\t"                                                                             \
  "lsl %[c], %[c], %[sc]\n\t"                                                                             \
  "pkhbt %[a], %[a], %[b], lsl #16\n\t"                                                                   \
  "strd %[a], %[c], [%[k], #" #KOFF "]\n\t"
#define PM_DWP_KROW_OPS \
  [a] "=&r"(ra), [b] "=&r"(rb), [c] "=&r"(rc) : [w] "r"(w), [sc] "r"(sc), [k] "r"(k) : "memory"
/* Channels [oc, oc + n) (depth multiplier 1, grouped weights, full int8 range, a block plan that
 * makes every output: k[PM_DWP_FULL]) of nb plane rows, channel oc + i from the plane ps bytes after
 * channel oc + i - 1's: each channel's k (weights shifted left by its record's left, bias, fused
 * requantization) then pm_dwp_blocks. A function of its own, with few values live across its loop
 * (pm_dw_planes' loop keeps its many on the stack): for the channels of a four-channel gather, whose
 * weights are neighbouring bytes of one group (w: the first's; cols: the plane holds columns, the
 * window transposed). Returns the channels done: it stops at a channel whose requantization does
 * not fuse (right > 21 or left > 8), which pm_dw_planes' own loop then takes. */
/* channel i's k from its weights at w, bias and record (PM_DWP_FAST_* below): 0 if it does not fuse */
PM_HOT int pm_dwp_fast_k(const int8_t *w, int cols, const int32_t *bias, const pm_requant *q, int32_t zp,
                         int32_t *k) {
  const int32_t sc = q->left, right = q->right;
  int32_t ra, rb, rc;
  if (right > 21 || sc > 8) return 0;
  if (cols) {
    __asm__ volatile(PM_DWP_KROW(0, 12, 24, 0) PM_DWP_KROW(4, 16, 28, 8) PM_DWP_KROW(8, 20, 32, 16)
                     : PM_DWP_KROW_OPS);
  } else {
    __asm__ volatile(PM_DWP_KROW(0, 4, 8, 0) PM_DWP_KROW(12, 16, 20, 8) PM_DWP_KROW(24, 28, 32, 16)
                     : PM_DWP_KROW_OPS);
  }
  k[PM_DWP_BIAS] = (int32_t)((uint32_t)PM_LD_I32(bias) << sc);
  k[PM_DWP_M] = q->multiplier;
  k[PM_DWP_RZ] = (int32_t)((uint32_t)q->round + ((uint32_t)zp << right));
  k[PM_DWP_RIGHT] = right;
  return 1;
}
PM_KERNEL int32_t pm_dwp_fast(const int8_t *pl, int32_t ps, int32_t n, int32_t nb, const int8_t *w, int cols,
                              const int32_t *bias, const pm_requant *q, int32_t zp, int32_t *k, int8_t *o) {
  int32_t i;
  for (i = 0; i < n && pm_dwp_fast_k(w + i, cols, &bias[i], &q[i], zp, k); ++i, pl += ps) {
    pm_dwp_blocks(pl, nb, k, o + i);
  }
  return i;
}
/* pm_dwp_fast for the block plan of one 6-block a row (k[PM_DWP_N6] < 0), pm_dwp_loop6's row form
 * here (no pm_dwp_blocks call a channel) */
PM_KERNEL int32_t pm_dwp_fast6(const int8_t *pl, int32_t ps, int32_t n, int32_t nb, const int8_t *w, int cols,
                               const int32_t *bias, const pm_requant *q, int32_t zp, int32_t *k, int8_t *o) {
  const int32_t span = nb * k[PM_DWP_SB];
  int32_t i;
  for (i = 0; i < n && pm_dwp_fast_k(w + i, cols, &bias[i], &q[i], zp, k); ++i, pl += ps) {
    k[PM_DWP_END] = (int32_t)(uintptr_t)(pl + span);
    pm_dwp_loop6(pl, k[PM_DWP_WP], k[PM_DWP_SA], k, o + i, 1);
  }
  return i;
}
#endif

/* Output rows of one channel from a plane: nb rows of na outputs; plane row step sb bytes between
 * output rows, sa bytes between outputs of a row; output steps ob (rows) and oa. The layer's
 * geometry comes in k (PM_DWP_WP, SA, SB, NA, OS = oa, OB; OZ, LO, HI: the output zero point and
 * clamp), set once per layer. fused: the assembly requantization applies (full int8 range,
 * zero point folds). */
PM_KERNEL void pm_dwp_rows(const int8_t *plane, int32_t nb, int32_t *k, const pm_requant *rq, int fused, int8_t *o) {
  const int32_t wp = k[PM_DWP_WP], sa = k[PM_DWP_SA], sb = k[PM_DWP_SB], na = k[PM_DWP_NA];
  const int32_t oa = k[PM_DWP_OS], ob = k[PM_DWP_OB];
  int32_t zp, lo, hi;
  pm_requant rq0;
  int32_t rb, i, done = 0; /* outputs of every row the block regions made */
#if PM_ASM_WIDE && !PM_REQUANT_EXACT
  if (fused && na >= 4) {
    done = pm_dwp_blocks(plane, nb, k, o);
    if (done == na) return;
  }
#endif
  zp = k[PM_DWP_OZ];
  lo = k[PM_DWP_LO];
  hi = k[PM_DWP_HI];
  rq0 = *rq; /* fused: the left shift is in the weights and bias */
  rq0.left = 0;
  for (rb = 0; rb < nb; ++rb, plane += sb, o += ob) {
    const int8_t *pb = plane + done * sa;
    int8_t *ob4 = o + done * oa;
#if PM_ASM_WIDE && PM_REQUANT_EXACT
    if (fused && na >= 4) {
      const int32_t blocks = na >> 2;
      k[PM_DWP_OS] = oa;
      k[PM_DWP_END] = (int32_t)(uintptr_t)(pb + blocks * 4 * sa);
      pm_dwp_loop(pb, wp, sa, k, ob4);
      i = blocks * 4;
      pb += i * sa;
      ob4 += i * oa;
    } else
#endif
      i = done;
    for (; i + 4 <= na; i += 4, pb += 4 * sa, ob4 += 4 * oa) {
      int32_t s0, s1, s2, s3, w02, w1, a, x;
      const int8_t *pr = pb;
      if (sa == 1) {
        __asm__(PM_DWP_INIT PM_DWP_S1_ROWS : PM_DWP_ASM_OPS);
      } else {
        __asm__(PM_DWP_INIT PM_DWP_S2_ROWS : PM_DWP_ASM_OPS);
      }
      if (fused && !PM_REQUANT_EXACT) {
        pm_dwp_store4(s0, s1, s2, s3, k, ob4, oa);
      } else if (fused) {
        ob4[0] = pm_requant_s8(s0, &rq0, zp, lo, hi);
        ob4[oa] = pm_requant_s8(s1, &rq0, zp, lo, hi);
        ob4[2 * oa] = pm_requant_s8(s2, &rq0, zp, lo, hi);
        ob4[3 * oa] = pm_requant_s8(s3, &rq0, zp, lo, hi);
      } else {
        ob4[0] = pm_requant_s8(s0, rq, zp, lo, hi);
        ob4[oa] = pm_requant_s8(s1, rq, zp, lo, hi);
        ob4[2 * oa] = pm_requant_s8(s2, rq, zp, lo, hi);
        ob4[3 * oa] = pm_requant_s8(s3, rq, zp, lo, hi);
      }
    }
#if PM_ASM_WIDE && !PM_REQUANT_EXACT
    if (fused && na - i == 1) { /* one output (a block's first): its window rows are one word each */
      int32_t acc, w02, w1, a, x;
      __asm__ volatile("ldr %[s], [%[kp], #24]\n\t"
                       "ldrd %[w02], %[w1], [%[kp]]\n\t"
                       "ldr %[x], [%[pr]]\n\t"
                       "sxtb16 %[a], %[x]\n\t"
                       "sxtb16 %[x], %[x], ror #8\n\t"
                       "smlad %[s], %[a], %[w02], %[s]\n\t"
                       "smlabb %[s], %[x], %[w1], %[s]\n\t"
                       "ldrd %[w02], %[w1], [%[kp], #8]\n\t"
                       "ldr %[x], [%[pr], %[wp]]\n\t"
                       "sxtb16 %[a], %[x]\n\t"
                       "sxtb16 %[x], %[x], ror #8\n\t"
                       "smlad %[s], %[a], %[w02], %[s]\n\t"
                       "smlabb %[s], %[x], %[w1], %[s]\n\t"
                       "ldrd %[w02], %[w1], [%[kp], #16]\n\t"
                       "ldr %[x], [%[pr], %[wp], lsl #1]\n\t"
                       "sxtb16 %[a], %[x]\n\t"
                       "sxtb16 %[x], %[x], ror #8\n\t"
                       "smlad %[s], %[a], %[w02], %[s]\n\t"
                       "smlabb %[s], %[x], %[w1], %[s]\n\t"
                       "ldr %[w02], [%[kp], #28]\n\t"
                       "ldr %[w1], [%[kp], #32]\n\t"
                       "ldr %[a], [%[kp], #36]\n\t"
                       "smmulr %[x], %[s], %[w02]\n\t"
                       "add %[s], %[w1], %[x], lsl #1\n\t"
                       PM_DW_NEG("s", "x")
                       "asr %[s], %[s], %[a]\n\t"
                       "ssat %[s], #8, %[s]\n\t"
                       "strb %[s], [%[o]]\n\t"
                       : [s] "=&r"(acc), [w02] "=&r"(w02), [w1] "=&r"(w1), [a] "=&r"(a), [x] "=&r"(x)
                       : [pr] "r"(pb), [wp] "r"(wp), [kp] "r"(k), [o] "r"(ob4)
                       : "memory");
      continue;
    }
#endif
    if (i < na) pm_dwp_tail(pb, wp, sa, na - i, k, fused ? &rq0 : rq, zp, lo, hi, ob4, oa);
  }
}

/* Plane rows [0, rows) from input lines b0 .. b0 + rows - 1 (step sb bytes, nb lines): column j
 * from position j - pad along the line (step sa bytes, na positions). Only positions inside the
 * input are written: the plane holds the input zero point everywhere else (pm_dwp_pad, once per
 * layer when one plane covers the channel, the padding being the same for every channel). */
PM_KERNEL void pm_dwp_gather(uint32_t *plane, int32_t wp, const int8_t *src, int32_t nb, int32_t sb, int32_t na,
                             int32_t sa, int32_t b0, int32_t rows, int32_t pad) {
  const int32_t x0 = pad < 0 ? -pad : 0;       /* first position the plane holds */
  const int32_t end = pm_min_i32(na, wp - pad); /* past the last */
  const int32_t r0 = pm_max_i32(0, -b0), r1 = pm_min_i32(rows, nb - b0);
  const int32_t n8 = (end - x0) >> 3, nt = (end - x0) & 7;
  const int32_t sa2 = 2 * sa, sa3 = 3 * sa;
  const int8_t *line = src + (b0 + r0) * sb + x0 * sa;
  int8_t *row = (int8_t *)(void *)plane + r0 * wp + pad + x0;
  int32_t r;
  if (end <= x0) return;
  for (r = r0; r < r1; ++r, line += sb, row += wp) {
    const int8_t *s = line;
    int8_t *d = row;
    int32_t n = n8, t = nt, b0_, b1_, b2_, b3_;
    /* 8 positions a pass (two words of 4 bytes gathered at stride sa), then the last 0-7 one by one */
    __asm__ volatile("cmp %[n], #0\n\t"
                     "beq 2f\n\t"
                     "1:\n\t"
                     "ldrb %[b0], [%[s]]\n\t"
                     "ldrb %[b1], [%[s], %[sa]]\n\t"
                     "ldrb %[b2], [%[s], %[sa2]]\n\t"
                     "ldrb %[b3], [%[s], %[sa3]]\n\t"
                     "add %[s], %[s], %[sa2], lsl #1\n\t"
                     "orr %[b0], %[b0], %[b1], lsl #8\n\t"
                     "ldrb %[b1], [%[s]]\n\t"
                     "orr %[b0], %[b0], %[b2], lsl #16\n\t"
                     "ldrb %[b2], [%[s], %[sa]]\n\t"
                     "orr %[b0], %[b0], %[b3], lsl #24\n\t"
                     "ldrb %[b3], [%[s], %[sa2]]\n\t"
                     "str %[b0], [%[d]], #4\n\t"
                     "ldrb %[b0], [%[s], %[sa3]]\n\t"
                     "add %[s], %[s], %[sa2], lsl #1\n\t"
                     "orr %[b1], %[b1], %[b2], lsl #8\n\t"
                     "orr %[b1], %[b1], %[b3], lsl #16\n\t"
                     "orr %[b1], %[b1], %[b0], lsl #24\n\t"
                     "subs %[n], %[n], #1\n\t"
                     "str %[b1], [%[d]], #4\n\t"
                     "bne 1b\n\t"
                     "2:\n\t"
                     "cmp %[t], #0\n\t"
                     "beq 4f\n\t"
                     "3:\n\t"
                     "ldrb %[b0], [%[s]]\n\t"
                     "add %[s], %[s], %[sa]\n\t"
                     "subs %[t], %[t], #1\n\t"
                     "strb %[b0], [%[d]], #1\n\t"
                     "bne 3b\n\t"
                     "4:\n\t"
                     : [s] "+&r"(s), [d] "+&r"(d), [n] "+&r"(n), [t] "+&r"(t), [b0] "=&r"(b0_), [b1] "=&r"(b1_),
                       [b2] "=&r"(b2_), [b3] "=&r"(b3_)
                     : [sa] "r"(sa), [sa2] "r"(sa2), [sa3] "r"(sa3)
                     : "cc", "memory");
  }
}

#if PM_ASM_WIDE
/* one pass of pm_dwp_gather2: 4 positions of 2 channels, transposed by REV16 and SEL (GE = 0101) */
#define PM_DWP_G2_PASS                                                                                      \
  "ldrh %[b0], [%[s]]\n\t"                                                                                 \
  "ldrh %[b1], [%[s], %[sa]]\n\t"                                                                          \
  "ldrh %[b2], [%[s], %[sa2]]\n\t"                                                                         \
  "ldrh %[b3], [%[s], %[sa3]]\n\t"                                                                         \
  "add %[s], %[s], %[sa2], lsl #1\n\t"                                                                     \
  "orr %[b0], %[b0], %[b2], lsl #16\n\t" /* a0 b0 a2 b2 */                                                 \
  "orr %[b1], %[b1], %[b3], lsl #16\n\t" /* a1 b1 a3 b3 */                                                 \
  "rev16 %[b2], %[b1]\n\t"               /* b1 a1 b3 a3 */                                                 \
  "rev16 %[b3], %[b0]\n\t"               /* b0 a0 b2 a2 */                                                 \
  "sel %[b2], %[b0], %[b2]\n\t"          /* a0 a1 a2 a3 */                                                 \
  "sel %[b1], %[b3], %[b1]\n\t"          /* b0 b1 b2 b3 */                                                 \
  "str %[b1], [%[d], %[ps]]\n\t"                                                                           \
  "str %[b2], [%[d]], #4\n\t"
/* pm_dwp_gather for two neighbouring channels at once: one halfword load brings both, channel
 * src[0] goes to the plane at row, src[1] to the one ps bytes further (4 positions a pass: the
 * halfwords paired into two words, then split into each plane's word by REV16 and SEL; two passes
 * a loop turn). */
PM_KERNEL void pm_dwp_gather2(uint32_t *plane, int32_t wp, const int8_t *src, int32_t nb, int32_t sb, int32_t na,
                              int32_t sa, int32_t b0, int32_t rows, int32_t pad, int32_t ps) {
  const int32_t x0 = pad < 0 ? -pad : 0;
  const int32_t end = pm_min_i32(na, wp - pad);
  const int32_t r0 = pm_max_i32(0, -b0), r1 = pm_min_i32(rows, nb - b0);
  const int32_t n4 = (end - x0) >> 2, nt = (end - x0) & 3;
  const int32_t sa2 = 2 * sa, sa3 = 3 * sa;
  const int8_t *line = src + (b0 + r0) * sb + x0 * sa;
  int8_t *row = (int8_t *)(void *)plane + r0 * wp + pad + x0;
  int32_t r;
  if (end <= x0) return;
  for (r = r0; r < r1; ++r, line += sb, row += wp) {
    const int8_t *s = line;
    int8_t *d = row;
    int32_t n = n4, t = nt, b0_, b1_, b2_, b3_;
    __asm__ volatile("cmp %[n], #0\n\t"
                     "beq 2f\n\t"
                     "mov %[b3], #0x00800080\n\t"
                     "uadd8 %[b3], %[b3], %[b3]\n\t" /* GE = 0101: SEL takes bytes 0 and 2 from its first operand */
                     "lsrs %[n], %[n], #1\n\t"       /* passes in pairs; an odd one first */
                     "bcc 1f\n\t" PM_DWP_G2_PASS
                     "cmp %[n], #0\n\t"
                     "beq 2f\n\t"
                     "1:\n\t" PM_DWP_G2_PASS PM_DWP_G2_PASS
                     "subs %[n], %[n], #1\n\t"
                     "bne 1b\n\t"
                     "2:\n\t"
                     "cmp %[t], #0\n\t"
                     "beq 4f\n\t"
                     "3:\n\t"
                     "ldrh %[b0], [%[s]]\n\t"
                     "add %[s], %[s], %[sa]\n\t"
                     "strb %[b0], [%[d]]\n\t"
                     "lsr %[b0], %[b0], #8\n\t"
                     "strb %[b0], [%[d], %[ps]]\n\t"
                     "add %[d], %[d], #1\n\t"
                     "subs %[t], %[t], #1\n\t"
                     "bne 3b\n\t"
                     "4:\n\t"
                     : [s] "+&r"(s), [d] "+&r"(d), [n] "+&r"(n), [t] "+&r"(t), [b0] "=&r"(b0_), [b1] "=&r"(b1_),
                       [b2] "=&r"(b2_), [b3] "=&r"(b3_)
                     : [sa] "r"(sa), [sa2] "r"(sa2), [sa3] "r"(sa3), [ps] "r"(ps)
                     : "cc", "memory");
  }
}
/* pm_dwp_gather for four neighbouring channels at once (a channel count and input address that
 * are multiples of 4: word loads): channel src[i] goes to the plane i * ps bytes from row. Four
 * positions a pass: four words (4 channels each), transposed by SEL and PKHBT/PKHTB into
 * one word per plane; the last 0-3 positions one word each, stored byte by byte (two: one
 * transpose, halfword stores). */
PM_KERNEL void pm_dwp_gather4(uint32_t *plane, int32_t wp, const int8_t *src, int32_t nb, int32_t sb, int32_t na,
                              int32_t sa, int32_t b0, int32_t rows, int32_t pad, int32_t ps) {
  const int32_t x0 = pad < 0 ? -pad : 0;
  const int32_t end = pm_min_i32(na, wp - pad);
  const int32_t r0 = pm_max_i32(0, -b0), r1 = pm_min_i32(rows, nb - b0);
  const int32_t n4 = (end - x0) >> 2, nt = (end - x0) & 3;
  const int8_t *line = src + (b0 + r0) * sb + x0 * sa;
  int8_t *row = (int8_t *)(void *)plane + r0 * wp + pad + x0;
  int32_t r, i;
  if (end <= x0) return;
  for (r = r0; r < r1; ++r, line += sb, row += wp) {
    const int8_t *s = line, *s2;
    int8_t *d = row, *d2;
    int32_t n = n4, va, vb, vc, vd, t, u;
    if (n > 0) {
      __asm__ volatile("mov %[t], #0x00800080\n\t"
                       "uadd8 %[t], %[t], %[t]\n\t" /* GE = 0101: SEL takes bytes 0 and 2 from its first operand */
                       "add %[s2], %[s], %[sa], lsl #1\n\t"
                       "add %[d2], %[d], %[ps], lsl #1\n\t"
                       "1:\n\t"
                       "ldr %[va], [%[s]]\n\t"
                       "ldr %[vb], [%[s], %[sa]]\n\t"
                       "ldr %[vc], [%[s2]]\n\t"
                       "ldr %[vd], [%[s2], %[sa]]\n\t"
                       "add %[s], %[s], %[sa], lsl #2\n\t"
                       "add %[s2], %[s2], %[sa], lsl #2\n\t"
                       "lsl %[t], %[vb], #8\n\t"
                       "sel %[t], %[va], %[t]\n\t" /* a0 b0 a2 b2 */
                       "lsr %[va], %[va], #8\n\t"
                       "sel %[va], %[va], %[vb]\n\t" /* a1 b1 a3 b3 */
                       "lsl %[u], %[vd], #8\n\t"
                       "sel %[u], %[vc], %[u]\n\t" /* c0 d0 c2 d2 */
                       "lsr %[vc], %[vc], #8\n\t"
                       "sel %[vc], %[vc], %[vd]\n\t" /* c1 d1 c3 d3 */
                       "pkhbt %[vb], %[t], %[u], lsl #16\n\t" /* channel 0: a0 b0 c0 d0 */
                       "pkhtb %[vd], %[u], %[t], asr #16\n\t" /* channel 2 */
                       "str %[vb], [%[d]]\n\t"
                       "str %[vd], [%[d2]]\n\t"
                       "pkhbt %[vb], %[va], %[vc], lsl #16\n\t" /* channel 1 */
                       "pkhtb %[vd], %[vc], %[va], asr #16\n\t" /* channel 3 */
                       "str %[vb], [%[d], %[ps]]\n\t"
                       "str %[vd], [%[d2], %[ps]]\n\t"
                       "add %[d], %[d], #4\n\t"
                       "add %[d2], %[d2], #4\n\t"
                       "subs %[n], %[n], #1\n\t"
                       "bne 1b\n\t"
                       : [s] "+&r"(s), [s2] "=&r"(s2), [d] "+&r"(d), [d2] "=&r"(d2), [n] "+&r"(n), [va] "=&r"(va),
                         [vb] "=&r"(vb), [vc] "=&r"(vc), [vd] "=&r"(vd), [t] "=&r"(t), [u] "=&r"(u)
                       : [sa] "r"(sa), [ps] "r"(ps)
                       : "cc", "memory");
    }
    if (nt == 2) { /* two positions (6-wide rows): one halfword a plane, transposed as above */
      __asm__ volatile("mov %[t], #0x00800080\n\t"
                       "uadd8 %[t], %[t], %[t]\n\t"
                       "ldr %[va], [%[s]]\n\t"
                       "ldr %[vb], [%[s], %[sa]]\n\t"
                       "lsl %[t], %[vb], #8\n\t"
                       "sel %[t], %[va], %[t]\n\t" /* a0 b0 a2 b2 */
                       "lsr %[va], %[va], #8\n\t"
                       "sel %[va], %[va], %[vb]\n\t" /* a1 b1 a3 b3 */
                       "strh %[t], [%[d]]\n\t"
                       "strh %[va], [%[d], %[ps]]\n\t"
                       "lsr %[t], %[t], #16\n\t"
                       "lsr %[va], %[va], #16\n\t"
                       "add %[d], %[d], %[ps]\n\t"
                       "strh %[t], [%[d], %[ps]]\n\t"
                       "strh %[va], [%[d], %[ps], lsl #1]\n\t"
                       : [d] "+&r"(d), [va] "=&r"(va), [vb] "=&r"(vb), [t] "=&r"(t)
                       : [s] "r"(s), [sa] "r"(sa), [ps] "r"(ps)
                       : "cc", "memory");
      continue;
    }
    for (i = 0; i < nt; ++i, s += sa, ++d) {
      const uint32_t v = (uint32_t)pm_read_s8x4(s);
      d[0] = (int8_t)v;
      d[ps] = (int8_t)(v >> 8);
      d[2 * ps] = (int8_t)(v >> 16);
      d[3 * ps] = (int8_t)(v >> 24);
    }
  }
}
#define PM_DWP_PAIRS 1
#else
#define PM_DWP_PAIRS 0
#endif

/* n words of the plane set to zp4, two a pass (STRD) */
PM_KERNEL void pm_dwp_pad(uint32_t *plane, int32_t n, uint32_t zp4) {
  if (n & 1) *plane++ = zp4;
  n >>= 1;
  if (n > 0) {
    uint32_t z0 = zp4, z1 = zp4; /* two operands: two registers */
    __asm__ volatile("1:\n\t"
                     "strd %[z0], %[z1], [%[p]], #8\n\t"
                     "subs %[n], %[n], #1\n\t"
                     "bne 1b\n\t"
                     : [p] "+&r"(plane), [n] "+&r"(n), [z0] "+&r"(z0), [z1] "+&r"(z1)
                     :
                     : "cc", "memory");
  }
}

#ifndef PM_DWP_ANY_WORDS
#define PM_DWP_ANY_WORDS 64 /* weight words of a window other than 3x3: kh * ceil(kw / 4) * 2 at most */
#endif

#if PM_DEPTHWISE_CONV2D_S8_GENERIC /* other windows: depth multiplier > 1, the generic variant only */
/* Output rows of one channel from a plane, any kh x kw window (dilation 1), in C: per window row
 * and group of 4 taps one word of the plane, SXTB16 into (x0, x2) and (x1, x3), two SMLAD
 * against the channel's words (w0, w2) and (w1, w3) (taps past kw weigh 0). wk: kh rows of g
 * groups of 2 words. */
PM_KERNEL void pm_dwp_rows_any(const int8_t *plane, int32_t wp, int32_t sa, int32_t sb, int32_t na, int32_t nb,
                               int32_t kh, int32_t g, const int32_t *wk, int32_t bias, const pm_requant *rq,
                               int32_t zp, int32_t lo, int32_t hi, int8_t *o, int32_t oa, int32_t ob) {
  int32_t rb, i, ky, u;
  for (rb = 0; rb < nb; ++rb, plane += sb, o += ob) {
    for (i = 0; i < na; ++i) {
      const int8_t *x = plane + i * sa;
      const int32_t *w = wk;
      int32_t acc = bias;
      for (ky = 0; ky < kh; ++ky, x += wp) {
        for (u = 0; u < g; ++u, w += 2) {
          const uint32_t v = (uint32_t)pm_read_s8x4(x + 4 * u);
          acc = __smlad((int32_t)__sxtb16(v), w[0], acc);
          acc = __smlad(pm_sxtb16_ror8(v), w[1], acc);
        }
      }
      o[i * oa] = pm_requant_s8(acc, rq, zp, lo, hi);
    }
  }
}

/* One output channel of any kh x kw window: its weights (tap t of row ky at w[(ky * kw + t) * st])
 * as kh rows of g groups of words (w0, w2), (w1, w3), then pm_dwp_rows_any. */
PM_KERNEL void pm_dwp_channel_any(const int8_t *plane, int32_t wp, int32_t sa, int32_t sb, int32_t na, int32_t nb,
                                  int32_t kh, int32_t kw, const int8_t *w, int32_t st, int32_t bias,
                                  const pm_requant *rq, int32_t zp, int32_t lo, int32_t hi, int8_t *o, int32_t oa,
                                  int32_t ob) {
  const int32_t g = (kw + 3) >> 2;
  int32_t wk[PM_DWP_ANY_WORDS];
  int32_t t, u, v;
  for (t = 0; t < kh; ++t) {
    for (u = 0; u < g; ++u) {
      int32_t wv[4];
      for (v = 0; v < 4; ++v) wv[v] = 4 * u + v < kw ? PM_LD_S8(&w[(t * kw + 4 * u + v) * st]) : 0;
      wk[(t * g + u) * 2] = (int32_t)((uint32_t)(uint16_t)(int16_t)wv[0] | ((uint32_t)wv[2] << 16));
      wk[(t * g + u) * 2 + 1] = (int32_t)((uint32_t)(uint16_t)(int16_t)wv[1] | ((uint32_t)wv[3] << 16));
    }
  }
  pm_dwp_rows_any(plane, wp, sa, sb, na, nb, kh, g, wk, bias, rq, zp, lo, hi, o, oa, ob);
}
#define PM_DWP_ANY 1
#else
#define PM_DWP_ANY 0
#endif

/* The whole layer on planes, or 0 (nothing written) when it is outside this path's constraints
 * (dilation, stride, plane size; a 3x3 window's short rows or exact requantization; other
 * windows with depth multiplier 1, where the pixel-order paths are as fast). Two
 * orders: channel after channel over one plane (the output apart from the input, or with depth
 * multiplier 1 a whole number of pixels below it), else strip after strip (rows first), every
 * channel's plane of the strip gathered before any of its outputs is written, which the
 * planner's streaming overlap allows for any depth multiplier. */
static __attribute__((__noinline__)) int pm_dw_planes(const pm_conv_params *p, const pm_requant *q,
                                                      const pm_dims *in_dims, const int8_t *in, const pm_dims *f_dims,
                                                      const int8_t *filter, const int32_t *bias,
                                                      const pm_dims *out_dims, int8_t *out) {
  const int32_t in_h = in_dims->h, in_w = in_dims->w, c = in_dims->c;
  const int32_t oh = out_dims->h, ow = out_dims->w, oc_n = out_dims->c, m = p->depth_multiplier;
  const int32_t kh = f_dims->h, kw = f_dims->w, g = (kw + 3) >> 2;
  const int32_t lo = p->act_min, hi = p->act_max, zp = p->output_zp;
  const int grouped = p->filter_layout == PM_FILTER_DW4, any = kh != 3 || kw != 3;
  const uintptr_t ia = (uintptr_t)in, oa = (uintptr_t)out;
  const uintptr_t in_bytes = (uintptr_t)in_dims->n * (uintptr_t)(in_h * in_w * c);
  const uintptr_t out_bytes = (uintptr_t)out_dims->n * (uintptr_t)(oh * ow * oc_n);
  const int disjoint = oa + out_bytes <= ia || ia + in_bytes <= oa;
  const int by_channel = disjoint || (m == 1 && oa <= ia && (ia - oa) % (uintptr_t)c == 0);
  const int32_t planes = by_channel ? 1 : c; /* planes the buffer holds at once */
  const uint32_t zp4 = (uint32_t)(uint8_t)p->input_zp * 0x01010101u;
  uint32_t plane[PM_DW_PLANE_MAX / 4];
  int32_t k[PM_DWP_WORDS];
  /* the two orientations: A = the axis blocks run along, B = the plane rows' axis */
  int32_t na, nb, sa, sb, pad_a, pad_b, in_a, in_b, step_a, step_b, out_a, out_b, wp, strip, pw, rk;
  int32_t b, ic, j, o0, t, tr, sc, pairs;
  int tb_t;
#if PM_ASM_WIDE && !PM_REQUANT_EXACT
  int fast; /* pm_dwp_fast takes each group's channels */
#endif
  if (f_dims->n != 1 || kh < 1 || kw < 1 || p->dilation_h != 1 || p->dilation_w != 1 || p->stride_h < 1 ||
      p->stride_h > 2 || p->stride_w < 1 || p->stride_w > 2 || m < 1 || oc_n != c * m || (grouped && m != 1) ||
      ow < 1 || oh < 1 || (any && (!PM_DWP_ANY || m == 1 || kh * g * 2 > PM_DWP_ANY_WORDS))) {
    return 0;
  }
  rk = any ? kh : 3; /* plane rows an output row's window spans */
  for (tr = 0;; ++tr) { /* 3x3: columns first when the output is taller than wide, else (or failing) rows first */
    const int transposed = tr == 0 && oh > ow && !any && by_channel;
    int32_t max_rows;
    if (tr > 1 || (tr == 1 && !(oh > ow && !any && by_channel))) return 0;
    na = transposed ? oh : ow;
    nb = transposed ? ow : oh;
    sa = transposed ? p->stride_h : p->stride_w;
    sb = transposed ? p->stride_w : p->stride_h;
    pad_a = transposed ? p->pad_h : p->pad_w;
    pad_b = transposed ? p->pad_w : p->pad_h;
    in_a = transposed ? in_h : in_w;
    in_b = transposed ? in_w : in_h;
    step_a = transposed ? in_w * c : c;
    step_b = transposed ? c : in_w * c;
    out_a = transposed ? ow * oc_n : oc_n;
    out_b = transposed ? oc_n : ow * oc_n;
    /* plane columns: the bytes a 4-output block (3x3) or an output's word groups read */
    wp = any ? (((na - 1) * sa + 4 * g + 3) & ~3) : ((na - 1) & ~3) * sa + (sa == 1 ? 8 : 12);
    if (!any && sa == 2 && na == 6) wp = 16; /* a 6-output block reads 15 bytes, its tails 14 */
    max_rows = PM_DW_PLANE_MAX / (wp * planes);
    if (max_rows < rk) continue;
    strip = (max_rows - rk) / sb + 1; /* output rows per plane */
    /* columns first only with one plane per channel (no output byte can then land on an input
     * byte still to be read) or with the output apart */
    if (transposed && strip < nb && !disjoint) continue;
    tb_t = transposed;
    break;
  }
  /* 3x3, multiplier 1, short plane rows: the gather (at stride 2, 4 input bytes per output)
   * and the per-channel work outweigh what the blocks save; output pixel order is as fast or
   * faster (measured on the VWW-shaped MobileNet's layers: 6 outputs a row lose at both strides,
   * 12 and 24 at stride 2 win). With a larger multiplier one gather serves m channels. */
  if (!any && m == 1 && na < (sa == 1 ? 8 : 12) && na != 6) return 0;
  k[PM_DWP_WP] = wp;
  k[PM_DWP_SA] = sa;
  k[PM_DWP_SB] = sb * wp;
  k[PM_DWP_NA] = na;
  k[PM_DWP_OS] = out_a;
  k[PM_DWP_OB] = out_b;
  k[PM_DWP_OZ] = zp;
  k[PM_DWP_LO] = lo;
  k[PM_DWP_HI] = hi;
#if PM_ASM_WIDE && !PM_REQUANT_EXACT
  /* the block plan of pm_dwp_rows' fused rows, cheaper per output the larger: stride 1, blocks
   * of 6 when 6 divides na (one a row: pm_dwp_loop6's row form), else of 5 and 4, na = 5 n5 + 4 n4
   * when it can, else the remainder of na / 5 goes to a 4-block or the tails; stride 2: of 4 */
  k[PM_DWP_N6] = 0;
  k[PM_DWP_N5] = 0;
  k[PM_DWP_N4] = na >> 2;
  if (!any && na % 6 == 0) {
    k[PM_DWP_N6] = na == 6 && sb == sa && out_b == 6 * out_a ? -1 : na / 6;
    k[PM_DWP_N4] = 0;
  } else if (!any && sa == 1 && na >= 5) {
    k[PM_DWP_N4] = (4 * na) % 5;
    if (4 * k[PM_DWP_N4] > na) k[PM_DWP_N4] = 0;
    k[PM_DWP_N5] = (na - 4 * k[PM_DWP_N4]) / 5;
  }
  k[PM_DWP_FULL] = na >= 4 && (k[PM_DWP_N6] < 0 ? 6 : 6 * k[PM_DWP_N6] + 5 * k[PM_DWP_N5] + 4 * k[PM_DWP_N4]) == na;
#endif
  /* channel order with one strip per channel and room for two planes: channels in pairs (one
   * gather for both, halfword loads: an even channel count and input address); with room for
   * four and short rows (na <= 16, where a gather's per-row work weighs most), in fours (word
   * loads: a channel count and input address that are multiples of 4). When one channel's plane
   * needs strips, pairs and fours may too (below). pairs: the channels a gather fills beyond the
   * first (0, 1 or 3). */
  pairs = PM_DWP_PAIRS && by_channel && strip >= nb && c % 2 == 0 && (ia & 1) == 0 &&
          2 * ((nb - 1) * sb + rk) * wp <= PM_DW_PLANE_MAX;
  if (pairs && na <= 16 && c % 4 == 0 && (ia & 3) == 0 && 4 * ((nb - 1) * sb + rk) * wp <= PM_DW_PLANE_MAX) {
    pairs = 3;
  }
#if PM_DWP_PAIRS
  if (by_channel && (strip < nb || !pairs) && c % 2 == 0 && (ia & 1) == 0) { /* strips: groups of strips too */
    /* channels a gather fills: 1, 2 or 4, whichever costs least by an estimate in eighths of
     * a cycle per channel (fitted to the VWW-shaped MobileNet's layers on the cortex-m4 model):
     * the plane rows gathered over all strips (a group's planes share the buffer: shorter
     * strips, more rows gathered twice) at 3.5, 2.6 or 2.25 cycles a byte plus 18 / g a row, and
     * some 190 a strip (a channel's weights, its rows' calls: pm_dwp_fast). Also where one
     * channel's whole plane fits but not two: groups in strips can gather for less (the
     * 24x24x32 layers). Columns first over the input (not apart) keep one strip. */
    int32_t best = 0, gg;
    for (gg = 1; gg <= 4; gg *= 2) {
      const int32_t mr = PM_DW_PLANE_MAX / (wp * gg), st = mr < rk ? 0 : (mr - rk) / sb + 1;
      int32_t full, rem, cost;
      if (st == 0 || (gg == 4 && (c % 4 != 0 || (ia & 3) != 0)) || (tb_t && st < nb && !disjoint)) continue;
      full = nb / st;
      rem = nb % st;
      cost = (full * ((st - 1) * sb + rk) + (rem ? (rem - 1) * sb + rk : 0)) *
                 (in_a * (gg == 1 ? 28 : gg == 2 ? 21 : 18) + 144 / gg) +
             (full + (rem > 0)) * 1500;
      if (best == 0 || cost < best) {
        best = cost;
        pairs = gg - 1;
        strip = st;
      }
    }
  }
#endif
  /* the padding: the whole buffer once (a plane's layout is the same in every strip, pstep
   * words apart); the gather writes only input positions, so later strips re-pad only their
   * plane rows outside the input (the top and bottom strips') */
#if PM_ASM_WIDE && !PM_REQUANT_EXACT
  fast = m == 1 && !any && grouped && by_channel && lo == -128 && hi == 127 && k[PM_DWP_FULL];
#endif
  pw = ((pm_min_i32(strip, nb) - 1) * sb + rk) * (wp >> 2); /* words of a whole strip's plane */
  pm_dwp_pad(plane, pw * (planes + pairs), zp4);
  for (b = 0; b < in_dims->n; ++b) {
    const int8_t *img = in + b * in_h * in_w * c;
    int8_t *oimg = out + b * oh * ow * oc_n;
    for (o0 = 0, ic = 0; by_channel ? ic < c : o0 < nb;) {
      const int32_t rows = pm_min_i32(strip, nb - o0), in_rows = (rows - 1) * sb + rk;
      const int32_t ic_end = by_channel ? ic + 1 + pairs : c, words = pw;
      const int32_t pstep = by_channel && !pairs ? 0 : words; /* words between channels' planes */
      int32_t i2;
      if (strip < nb) { /* rows [0, top) and [bot, in_rows) lie outside the input */
        const int32_t b0r = o0 * sb - pad_b, top = pm_min_i32(in_rows, pm_max_i32(0, -b0r));
        const int32_t bot = pm_max_i32(top, pm_min_i32(in_rows, in_b - b0r));
        for (i2 = 0; i2 < planes + pairs; ++i2) {
          uint32_t *pp = plane + i2 * pstep;
          if (top > 0) pm_dwp_pad(pp, top * (wp >> 2), zp4);
          if (bot < in_rows) pm_dwp_pad(pp + bot * (wp >> 2), (in_rows - bot) * (wp >> 2), zp4);
        }
      }
#if PM_DWP_PAIRS
      if (pairs == 3) {
        pm_dwp_gather4(plane, wp, img + ic, in_b, step_b, in_a, step_a, o0 * sb - pad_b, in_rows, pad_a, 4 * words);
      } else if (pairs) {
        pm_dwp_gather2(plane, wp, img + ic, in_b, step_b, in_a, step_a, o0 * sb - pad_b, in_rows, pad_a, 4 * words);
      } else
#endif
        for (i2 = ic; i2 < ic_end; ++i2) {
          pm_dwp_gather(plane + (i2 - (by_channel ? ic : 0)) * pstep, wp, img + i2, in_b, step_b, in_a, step_a,
                        o0 * sb - pad_b, in_rows, pad_a);
        }
      i2 = ic;
#if PM_ASM_WIDE && !PM_REQUANT_EXACT
      if (fast) { /* the channels of one gather (1, 2 or 4, within one group of 4) */
        const int8_t *wg = filter + (ic >> 2) * 36 + (ic & 3);
        i2 += (k[PM_DWP_N6] < 0 ? pm_dwp_fast6 : pm_dwp_fast)((const int8_t *)plane, 4 * pstep, ic_end - ic, rows, wg,
                                                               tb_t, bias + ic, q + ic, zp, k, oimg + o0 * out_b + ic);
      }
#endif
      for (; i2 < ic_end; ++i2) {
        const int8_t *pl = (const int8_t *)(plane + (i2 - (by_channel ? ic : 0)) * pstep);
        for (j = 0; j < m; ++j) {
          const int32_t oc = i2 * m + j;
          const pm_requant rq = q[oc];
          int8_t *o = oimg + o0 * out_b + oc;
          int fused = 0;
          if (PM_DWP_ANY && any) {
#if PM_DWP_ANY
            pm_dwp_channel_any(pl, wp, sa, sb * wp, na, rows, kh, kw, filter + oc, oc_n, PM_LD_I32(&bias[oc]), &rq,
                               zp, lo, hi, o, out_a, out_b);
#endif
            continue;
          }
#if !PM_REQUANT_EXACT
          /* the assembly requantization: full int8 range, the output zero point folded into the
           * rounding constant (zp << right below 2^29), the left shift into the weights and bias
           * (acc << left: pm_requant_s8's first step; weights << left stay int16). The fast
           * record's left is the shift + 1 (SMMULR's doubling): the weights take it all. */
          fused = lo == -128 && hi == 127 && rq.right <= 21 && rq.left <= 8;
          k[PM_DWP_M] = rq.multiplier;
          k[PM_DWP_RZ] = (int32_t)((uint32_t)rq.round + ((uint32_t)zp << rq.right));
          k[PM_DWP_RIGHT] = rq.right;
          sc = fused ? rq.left : 0;
#else
          /* exact records: left = max(shift, 0), right = e (PM_DWP_RQX needs e >= 1) */
          fused = PM_ASM_WIDE && lo == -128 && hi == 127 && rq.right >= 1 && rq.left <= 8;
          {
            const uint64_t kk = ((uint64_t)1 << 30) + ((uint64_t)1 << (rq.right + 30));
            k[PM_DWP_KLO] = (int32_t)(uint32_t)kk;
            k[PM_DWP_KHI] = (int32_t)(uint32_t)(kk >> 32);
            k[PM_DWP_XM] = rq.multiplier;
            k[PM_DWP_EM1] = rq.right - 1;
            k[PM_DWP_ZP] = zp;
          }
          sc = fused ? rq.left : 0;
#endif
          for (t = 0; t < 3; ++t) { /* window row t: (ky = t, kx) or, transposed, (ky, kx = t) */
            const int32_t st = grouped ? 4 : oc_n; /* bytes between taps */
            const int32_t ta = tb_t ? 3 * st : st; /* between the row's taps */
            const int32_t tb = tb_t ? st : 3 * st; /* between rows */
            const int8_t *w = (grouped ? filter + (oc >> 2) * 36 + (oc & 3) : filter + oc) + t * tb;
            const int32_t w0 = PM_LD_S8(w) * (1 << sc), w1 = PM_LD_S8(&w[ta]) * (1 << sc);
            const int32_t w2 = PM_LD_S8(&w[2 * ta]) * (1 << sc);
            k[2 * t] = (int32_t)((uint32_t)(uint16_t)(int16_t)w0 | ((uint32_t)w2 << 16));
            k[2 * t + 1] = w1;
          }
          k[PM_DWP_BIAS] = (int32_t)((uint32_t)PM_LD_I32(&bias[oc]) << sc);
#if PM_ASM_WIDE && !PM_REQUANT_EXACT
          if (fused && k[PM_DWP_FULL]) { /* the blocks make every output */
            pm_dwp_blocks(pl, rows, k, o);
            continue;
          }
#endif
          pm_dwp_rows(pl, rows, k, &rq, fused, o);
        }
      }
      /* next: the channel's next strip (channel order) or the next strip (strip order) */
      o0 += strip;
      if (by_channel && o0 >= nb) {
        o0 = 0;
        ic += 1 + pairs;
      }
    }
  }
  return 1;
}
#else
#define PM_DW_PLANES 0
#endif

#if PM_DEPTHWISE_CONV2D_S8_GENERIC
#if PM_DW_PLANES
/* pm_depthwise_conv2d_s8_generic in output pixel order, where planes do not apply (its stack
 * tables are not under the planes' frame) */
PM_KERNEL int pm_dw_generic_pixels(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                                   const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                   const pm_dims *out_dims, int8_t *out);
int pm_depthwise_conv2d_s8_generic(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                                   const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                   const pm_dims *out_dims, int8_t *out) {
  if (pm_dw_planes(p, q, in_dims, in, f_dims, filter, bias, out_dims, out)) return PM_OK;
  return pm_dw_generic_pixels(p, q, in_dims, in, f_dims, filter, bias, out_dims, out);
}
PM_KERNEL int pm_dw_generic_pixels(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                                   const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                   const pm_dims *out_dims, int8_t *out) {
#else
int pm_depthwise_conv2d_s8_generic(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                                   const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                   const pm_dims *out_dims, int8_t *out) {
#endif
  const int32_t in_h = in_dims->h, in_w = in_dims->w, in_c = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w;
  const int32_t out_h = out_dims->h, out_w = out_dims->w, out_c = out_dims->c;
  const int32_t m = p->depth_multiplier;
  int32_t b, oy, ox, oc, ky, kx;
#if PM_SIMD32 && PM_SPECIALIZE
  if (kh * kw <= PM_DW_MAX_TAPS && in_c <= PM_DW_MAX_C && m >= 1 && out_c == in_c * m) {
    /* Armv7E-M speed builds (any depth multiplier): per output pixel a table of tap pointers
     * (padded taps read a row of input zero points), then per input channel its taps' values
     * read once into xv and multiplied into its m output channels: no bounds test per MAC */
    const int32_t taps = kh * kw;
    int8_t zrow[PM_DW_MAX_C];
    const int8_t *tap[PM_DW_MAX_TAPS];
    int32_t xv[PM_DW_MAX_TAPS];
    int32_t t, ic, j;
    for (t = 0; t < in_c; ++t) zrow[t] = (int8_t)p->input_zp;
    for (t = 0; t < PM_DW_MAX_TAPS; ++t) tap[t] = zrow; /* every tap is set before use; GCC cannot always see it */
    for (t = 0; t < PM_DW_MAX_TAPS; ++t) xv[t] = 0;
    for (b = 0; b < in_dims->n; ++b) {
      for (oy = 0; oy < out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < out_w; ++ox) {
          const int32_t x0 = ox * p->stride_w - p->pad_w;
          int8_t *o = out + ((b * out_h + oy) * out_w + ox) * out_c;
          for (ky = 0, t = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            for (kx = 0; kx < kw; ++kx, ++t) {
              const int32_t x = x0 + kx * p->dilation_w;
              tap[t] = (y < 0 || y >= in_h || x < 0 || x >= in_w) ? zrow : in + ((b * in_h + y) * in_w + x) * in_c;
            }
          }
          for (ic = 0, oc = 0; ic < in_c; ++ic) {
            for (t = 0; t < taps; ++t) xv[t] = tap[t][ic];
            for (j = 0; j < m; ++j, ++oc) {
              const int8_t *w = filter + oc;
              int32_t acc = PM_LD_I32(&bias[oc]);
              if (PM_DW_MAX_TAPS >= 9 && taps == 9) { /* 3x3: straight-line */
                acc += xv[0] * w[0] + xv[1] * w[out_c] + xv[2] * w[2 * out_c] + xv[3] * w[3 * out_c] +
                       xv[4] * w[4 * out_c] + xv[5] * w[5 * out_c] + xv[6] * w[6 * out_c] + xv[7] * w[7 * out_c] +
                       xv[8] * w[8 * out_c];
              } else {
                PM_NO_UNROLL
                for (t = 0; t < taps; ++t, w += out_c) acc += xv[t] * PM_LD_S8(w);
              }
              o[oc] = pm_requant_s8(acc, &q[oc], p->output_zp, p->act_min, p->act_max);
            }
          }
        }
      }
    }
    return PM_OK;
  }
#endif
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < out_w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *o = out + ((b * out_h + oy) * out_w + ox) * out_c;
        for (oc = 0; oc < out_c; ++oc) {
          int32_t acc = PM_LD_I32(&bias[oc]);
          for (ky = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            for (kx = 0; kx < kw; ++kx) {
              const int32_t x = x0 + kx * p->dilation_w;
              const int32_t w = PM_LD_S8(&filter[(ky * kw + kx) * out_c + oc]);
              const int outside = y < 0 || y >= in_h || x < 0 || x >= in_w;
              acc += (outside ? p->input_zp : in[((b * in_h + y) * in_w + x) * in_c + oc / m]) * w;
            }
          }
          o[oc] = pm_requant_s8(acc, &q[oc], p->output_zp, p->act_min, p->act_max);
        }
      }
    }
  }
  return PM_OK;
}
#endif

#if PM_DEPTHWISE_CONV2D_S8_MULT1
#if PM_ASM_DSP /* pm_dot_s8.h */
#define PM_DW_ASM 1
/* One tap of 4 channels: 4 inputs (one word) and the group's 4 weights of this tap (one word),
 * widened in pairs with SXTB16, SMLABB/SMLATT into 4 accumulators. ADDR is the input word's
 * address, WOFF the tap's byte offset in the group's weights (channel groups of 4, see
 * PM_FILTER_DW4). 10 instructions per 4 MACs. */
#define PM_DW_TAP(ADDR, WOFF)                                                                                \
  "ldr %[x], " ADDR "\n\t"                                                                                  \
  "ldr %[w], [%[wp], #" #WOFF "]\n\t"                                                                      \
  "sxtb16 %[xe], %[x]\n\t"                                                                                  \
  "sxtb16 %[x], %[x], ror #8\n\t"                                                                           \
  "sxtb16 %[we], %[w]\n\t"                                                                                  \
  "sxtb16 %[w], %[w], ror #8\n\t"                                                                           \
  "smlabb %[s0], %[xe], %[we], %[s0]\n\t"                                                                   \
  "smlatt %[s2], %[xe], %[we], %[s2]\n\t"                                                                   \
  "smlabb %[s1], %[x], %[w], %[s1]\n\t"                                                                     \
  "smlatt %[s3], %[x], %[w], %[s3]\n\t"
/* the three taps of window row ROW (its columns [ROW], [ROW, c], [ROW, c, lsl #1]) whose weights
 * are at byte offsets W0, W1, W2 of the group: pm_dw_3x3_pixel's locals */
#define PM_DW_ROW_ASM(ROW, W0, W1, W2)                                                                   \
  __asm__(PM_DW_TAP("[%[r]]", W0) PM_DW_TAP("[%[r], %[c]]", W1) PM_DW_TAP("[%[r], %[c], lsl #1]", W2)       \
          : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [x] "=&r"(x), [xe] "=&r"(xe),         \
            [w] "=&r"(wv), [we] "=&r"(we)                                                                 \
          : [r] "r"(ROW), [c] "r"(c), [wp] "r"(w)                                                         \
          : "memory")
/* a tap whose input address comes from the pointer table (border pixels): one more load */
#define PM_DW_TAP_T(TOFF, WOFF) "ldr %[x], [%[tt], #" #TOFF "]\n\t" PM_DW_TAP("[%[x], %[ch]]", WOFF)
#else
#define PM_DW_ASM 0
#endif

#define PM_DW_INLINE PM_HOT /* pm_dot_s8.h: inlined in speed builds, one copy at -Os */

/* Store 4 requantized channels. Callers pass constant bounds (-128, 127) for the usual layer
 * without a narrower activation clamp, so the compiler clamps with one SSAT. */
PM_DW_INLINE void pm_dw_store4(int32_t s0, int32_t s1, int32_t s2, int32_t s3, const pm_requant *q, int32_t zp,
                               int32_t lo, int32_t hi, int8_t *o) {
  o[0] = pm_requant_s8(s0, &q[0], zp, lo, hi);
  o[1] = pm_requant_s8(s1, &q[1], zp, lo, hi);
  o[2] = pm_requant_s8(s2, &q[2], zp, lo, hi);
  o[3] = pm_requant_s8(s3, &q[3], zp, lo, hi);
}

#if PM_DW_ASM && !PM_REQUANT_EXACT && PM_SPECIALIZE /* speed builds */
/* One accumulator S to int8 (pm_requant_s8's arithmetic, full int8 range) with the record at byte
 * OFF of q, left in S (saturated: its low byte is the output). */
#define PM_DW_RQ1(S, OFF, OFF4, OFF8)                                                                        \
  "ldr %[m], [%[q], #" #OFF "]\n\t"                                                                         \
  "ldr %[rnd], [%[q], #" #OFF4 "]\n\t"                                                                      \
  "ldr %[lr], [%[q], #" #OFF8 "]\n\t"                                                                       \
  "lsr %[e], %[lr], #16\n\t"                                                                               \
  "lsl %[t], %[" S "], %[lr]\n\t"                                                                           \
  "smmulr %[t], %[t], %[m]\n\t"                                                                            \
  "add %[" S "], %[rnd], %[t], lsl #1\n\t"                                                                  \
  PM_DW_NEG(S, "t")                                                                                           \
  "asr %[" S "], %[" S "], %[e]\n\t"                                                                        \
  "add %[" S "], %[" S "], %[zp]\n\t"                                                                       \
  "ssat %[" S "], #8, %[" S "]\n\t"

/* pm_dw_store4 for the full int8 range in one block: each record's three words are loaded
 * together (neighbouring loads pipeline); the four bytes go out in one word. */
PM_DW_INLINE void pm_dw_store4_full(int32_t s0, int32_t s1, int32_t s2, int32_t s3, const pm_requant *q, int32_t zp,
                                    int8_t *o) {
  int32_t m, rnd, lr, e, t;
  __asm__ volatile(PM_DW_RQ1("s0", 0, 4, 8) PM_DW_RQ1("s1", 12, 16, 20) PM_DW_RQ1("s2", 24, 28, 32)
                       PM_DW_RQ1("s3", 36, 40, 44) "bfi %[s0], %[s1], #8, #8\n\t"
                                                   "bfi %[s0], %[s2], #16, #8\n\t"
                                                   "bfi %[s0], %[s3], #24, #8\n\t"
                                                   "str %[s0], [%[o]]\n\t"
                   : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [m] "=&r"(m), [rnd] "=&r"(rnd),
                     [lr] "=&r"(lr), [e] "=&r"(e), [t] "=&r"(t)
                   : [q] "r"(q), [zp] "r"(zp), [o] "r"(o)
                   : "memory");
}
#define PM_DW_STORE4(s0, s1, s2, s3, q, zp, lo, hi, o)                                                       \
  do {                                                                                                     \
    if ((lo) == -128 && (hi) == 127) {                                                                     \
      pm_dw_store4_full(s0, s1, s2, s3, q, zp, o);                                                         \
    } else {                                                                                               \
      pm_dw_store4(s0, s1, s2, s3, q, zp, lo, hi, o);                                                      \
    }                                                                                                      \
  } while (0)
#else
#define PM_DW_STORE4 pm_dw_store4
#endif

/* Channels 0 .. 4*floor(c/4) - 1 of one output pixel whose taps are tap[0 .. taps-1]. Grouped
 * (PM_FILTER_DW4) weights: group ch / 4 holds its taps' 4-byte words from filter + ch * taps;
 * plain 1HWO weights: tap t of channel ch at filter + t * c + ch. Returns the first channel
 * not done. */
PM_DW_INLINE int32_t pm_dw_groups4(const int8_t *const *tap, const int8_t *filter, int grouped, const int32_t *bias,
                                   const pm_requant *q, int32_t taps, int32_t c, int32_t zp, int32_t lo, int32_t hi,
                                   int8_t *o) {
  const int32_t step = grouped ? 4 : c; /* bytes between one channel's consecutive taps */
  int32_t ch, t;
  for (ch = 0; ch + 3 < c; ch += 4) {
    int32_t s0 = PM_LD_I32(&bias[ch]), s1 = PM_LD_I32(&bias[ch + 1]), s2 = PM_LD_I32(&bias[ch + 2]),
            s3 = PM_LD_I32(&bias[ch + 3]);
    const int8_t *w = grouped ? filter + ch * taps : filter + ch;
#if PM_DW_ASM
    if (PM_SPECIALIZE && PM_DW_MAX_TAPS >= 9 && grouped && taps == 9) { /* speed builds; compiled out where no layer has 9 taps */
      int32_t x, xe, wv, we;
      __asm__(PM_DW_TAP_T(0, 0) PM_DW_TAP_T(4, 4) PM_DW_TAP_T(8, 8) PM_DW_TAP_T(12, 12) PM_DW_TAP_T(16, 16)
                  PM_DW_TAP_T(20, 20) PM_DW_TAP_T(24, 24) PM_DW_TAP_T(28, 28) PM_DW_TAP_T(32, 32)
              : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [x] "=&r"(x), [xe] "=&r"(xe),
                [w] "=&r"(wv), [we] "=&r"(we)
              : [tt] "r"(tap), [ch] "r"(ch), [wp] "r"(w)
              : "memory");
    } else
#endif
    {
      PM_NO_UNROLL
      for (t = 0; t < taps; ++t, w += step) {
        const int8_t *x = tap[t] + ch;
#if PM_SIMD32
        const uint32_t xv = (uint32_t)pm_read_s8x4(x), wv = (uint32_t)pm_read_s8x4(w);
        const int32_t xe = (int32_t)__sxtb16(xv), xo = pm_sxtb16_ror8(xv);
        const int32_t we = (int32_t)__sxtb16(wv), wo = pm_sxtb16_ror8(wv);
        s0 = __smlabb(xe, we, s0);
        s2 = __smlatt(xe, we, s2);
        s1 = __smlabb(xo, wo, s1);
        s3 = __smlatt(xo, wo, s3);
#else
        s0 += x[0] * PM_LD_S8(w);
        s1 += x[1] * PM_LD_S8(&w[1]);
        s2 += x[2] * PM_LD_S8(&w[2]);
        s3 += x[3] * PM_LD_S8(&w[3]);
#endif
      }
    }
    PM_DW_STORE4(s0, s1, s2, s3, &q[ch], zp, lo, hi, o + ch);
  }
  return ch;
}

#if PM_DW_ASM && PM_ASM_WIDE && PM_SPECIALIZE
/* speed builds with all core registers free (pm_dot_s8.h); else interior pixels take the
 * tap-table path too */
#define PM_DW_ROWS3X3 1
/* All channels (c % 4 == 0, grouped weights) of an interior output pixel of a 3x3, dilation-1
 * window whose top-left input is at corner; rs = bytes per input row. The three window rows
 * are three pointers and the columns are [row], [row, c], [row, c, lsl #1]: no tap table. */
PM_DW_INLINE void pm_dw_3x3_pixel(const int8_t *corner, int32_t rs, int32_t c, const int8_t *filter,
                                  const int32_t *bias, const pm_requant *q, int32_t zp, int32_t lo, int32_t hi,
                                  int8_t *o) {
  int32_t ch;
  for (ch = 0; ch < c; ch += 4) {
    int32_t s0 = PM_LD_I32(&bias[ch]), s1 = PM_LD_I32(&bias[ch + 1]), s2 = PM_LD_I32(&bias[ch + 2]),
            s3 = PM_LD_I32(&bias[ch + 3]);
    const int8_t *r0 = corner + ch, *r1 = r0 + rs, *r2 = r1 + rs, *w = filter + 9 * ch;
    int32_t x, xe, wv, we;
    /* one statement per window row: 11 operands each (13 in one statement: GCC with an FPU
     * cannot always allocate them); the same instructions */
    PM_DW_ROW_ASM(r0, 0, 4, 8);
    PM_DW_ROW_ASM(r1, 12, 16, 20);
    PM_DW_ROW_ASM(r2, 24, 28, 32);
    PM_DW_STORE4(s0, s1, s2, s3, &q[ch], zp, lo, hi, o + ch);
  }
}
#else
#define PM_DW_ROWS3X3 0
#endif

#if PM_PLAIN_WEIGHTS
/* acc[i] += x[i] * w[i]: restrict tells the compiler the int32 accumulators don't overlap the
 * inputs, so it vectorizes without a runtime overlap check and a scalar fallback. */
PM_KERNEL void pm_macc_s8(int32_t *restrict acc, const int8_t *restrict x, const int8_t *restrict w, int32_t n) {
  int32_t i;
  for (i = 0; i < n; ++i) acc[i] += x[i] * PM_LD_S8(&w[i]);
}
#endif

/* One output pixel, all channels; tap[] must hold its taps (unused by the 3x3 row path). */
PM_DW_INLINE void pm_dw_pixel(const pm_conv_params *p, const int8_t *const *tap, const int8_t *corner, int32_t rs,
                              const int8_t *filter, const int32_t *bias, const pm_requant *q, int32_t taps, int32_t c,
                              int32_t lo, int32_t hi, int8_t *o) {
  const int grouped = p->filter_layout == PM_FILTER_DW4;
  const int32_t zp = p->output_zp;
  int32_t ch, t;
#if PM_DW_ROWS3X3
  if (corner) { /* interior pixel of a grouped 3x3 dilation-1 layer */
    pm_dw_3x3_pixel(corner, rs, c, filter, bias, q, zp, lo, hi, o);
    return;
  }
#else
  (void)corner;
  (void)rs;
#endif
#if PM_PLAIN_WEIGHTS
  {
    /* across channels, tap by tap: contiguous loops the compiler vectorizes */
    int32_t acc[PM_DW_MAX_C];
    (void)grouped;
    for (ch = 0; ch < c; ++ch) acc[ch] = PM_LD_I32(&bias[ch]);
    for (t = 0; t < taps; ++t) pm_macc_s8(acc, tap[t], filter + t * c, c);
    pm_requant_row_s8(acc, q, c, zp, lo, hi, o);
    return;
  }
#endif
  ch = pm_dw_groups4(tap, filter, grouped, bias, q, taps, c, zp, lo, hi, o);
  for (; ch < c; ++ch) { /* only plain layouts have channels beyond the last full group */
    const int8_t *w = filter + ch;
    int32_t s = PM_LD_I32(&bias[ch]);
    for (t = 0; t < taps; ++t, w += c) s += tap[t][ch] * PM_LD_S8(w);
    o[ch] = pm_requant_s8(s, &q[ch], zp, lo, hi);
  }
}

#if PM_DW_PLANES
/* pm_depthwise_conv2d_s8_mult1 in output pixel order, where planes do not apply (a function of its
 * own: its stack tables are not under the planes' frame) */
PM_KERNEL int pm_dw_mult1_pixels(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                                 const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                 const pm_dims *out_dims, int8_t *out) {
#else
int pm_depthwise_conv2d_s8_mult1(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                                 const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                 const pm_dims *out_dims, int8_t *out) {
#endif
  const int32_t in_h = in_dims->h, in_w = in_dims->w, c = in_dims->c;
  const int32_t kh = f_dims->h, kw = f_dims->w, taps = kh * kw;
  const int32_t dh = p->dilation_h, dw = p->dilation_w;
  const int32_t lo = p->act_min, hi = p->act_max;
  const int full = PM_SPECIALIZE && lo == -128 && hi == 127;
  const int rows3x3 = PM_DW_ROWS3X3 && p->filter_layout == PM_FILTER_DW4 && kh == 3 && kw == 3 && dh == 1 && dw == 1;
  int8_t zrow[PM_DW_MAX_C];
  const int8_t *tap[PM_DW_MAX_TAPS];
  int32_t off[PM_DW_MAX_TAPS];
  int32_t b, oy, ox, i, t, ky, kx;
  if (p->depth_multiplier != 1 || c > PM_DW_MAX_C || taps < 1 || taps > PM_DW_MAX_TAPS) {
    return PM_ERROR; /* never: the generator calls this variant only for such layers */
  }
  if (p->filter_layout == PM_FILTER_DW4 && c % 4 != 0) return PM_ERROR;
  for (i = 0; i < c; ++i) zrow[i] = (int8_t)p->input_zp;
  for (t = 0; t < PM_DW_MAX_TAPS; ++t) tap[t] = zrow; /* every tap is set before use; GCC cannot always see it */
  /* input offsets of the taps from the window's top-left corner (valid for interior pixels);
   * one loop over t < taps, as every use, so that GCC sees each read entry written */
  for (t = 0, ky = 0, kx = 0; t < taps; ++t) {
    off[t] = (ky * dh * in_w + kx * dw) * c;
    if (++kx == kw) {
      kx = 0;
      ++ky;
    }
  }
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_dims->h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int rows_inside = y0 >= 0 && y0 + (kh - 1) * dh < in_h;
      for (ox = 0; ox < out_dims->w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *o = out + ((b * out_dims->h + oy) * out_dims->w + ox) * c;
        const int8_t *corner = NULL;
        if (rows_inside && x0 >= 0 && x0 + (kw - 1) * dw < in_w) {
          corner = in + ((b * in_h + y0) * in_w + x0) * c;
          if (!rows3x3) {
            for (t = 0; t < taps; ++t) tap[t] = corner + off[t];
            corner = NULL;
          }
        } else {
          /* border: padded taps read a row of input zero points (the bias holds the fold) */
          for (ky = 0, t = 0; ky < kh; ++ky) {
            const int32_t y = y0 + ky * dh;
            for (kx = 0; kx < kw; ++kx, ++t) {
              const int32_t x = x0 + kx * dw;
              tap[t] = (y < 0 || y >= in_h || x < 0 || x >= in_w) ? zrow : in + ((b * in_h + y) * in_w + x) * c;
            }
          }
        }
        if (full) {
          pm_dw_pixel(p, tap, corner, in_w * c, filter, bias, q, taps, c, -128, 127, o);
        } else {
          pm_dw_pixel(p, tap, corner, in_w * c, filter, bias, q, taps, c, lo, hi, o);
        }
      }
    }
  }
  return PM_OK;
}
#if PM_DW_PLANES
int pm_depthwise_conv2d_s8_mult1(const pm_conv_params *p, const pm_requant *q, const pm_dims *in_dims,
                                 const int8_t *in, const pm_dims *f_dims, const int8_t *filter, const int32_t *bias,
                                 const pm_dims *out_dims, int8_t *out) {
  if (p->depth_multiplier == 1 && !(p->filter_layout == PM_FILTER_DW4 && in_dims->c % 4 != 0) &&
      pm_dw_planes(p, q, in_dims, in, f_dims, filter, bias, out_dims, out)) {
    return PM_OK;
  }
  return pm_dw_mult1_pixels(p, q, in_dims, in, f_dims, filter, bias, out_dims, out);
}
#endif
#endif /* PM_DEPTHWISE_CONV2D_S8_MULT1 */
