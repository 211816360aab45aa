/* FULLY_CONNECTED int8: out[b][u] = requant(bias[u] + sum_k in[b][k] * w[u][k]); the input
 * zero point is folded into the bias. Weights are packed in unit pairs, in offset-binary
 * blocks of 8 units when PM_OFFSET_BINARY_WEIGHTS, or plain rows when PM_PLAIN_WEIGHTS
 * (pm_dot_s8.h). */
#include "pm_fully_connected_s8.h"

#include "pm_dot_s8.h"

#ifndef PM_FC_MAX_DEPTH
#define PM_FC_MAX_DEPTH 1 /* "vector" hosts: input values of the deepest layer (pm_config.h) */
#endif
#ifndef PM_FC_MAX_UNITS
#define PM_FC_MAX_UNITS 1 /* "vector" hosts: units of the widest layer (pm_config.h) */
#endif

#ifndef PM_FC_W16_MAX
#define PM_FC_W16_MAX 0 /* Armv7E-M: stack bytes for one input row widened to 16 bits; 0: 4-unit kernel unused */
#endif
#if PM_ASM_WIDE && PM_SPECIALIZE && PM_FC_W16_MAX >= 8 && PM_PAIRS_ILV /* speed builds, every core register free */
#define PM_FC_4X1 1
/* Operands of the 4-unit block, by position: xp widened row, wp0 / wp1 the two packed pairs,
 * the 4 sums, scratch XE XO (activations), A B (first pair), D E (second pair), C. */
#define PM_FC_XP "%0"
#define PM_FC_W0 "%1"
#define PM_FC_W1 "%2"
#define PM_FC_S0 "%3"
#define PM_FC_S1 "%4"
#define PM_FC_S2 "%5"
#define PM_FC_S3 "%6"
#define PM_FC_XE "%7"
#define PM_FC_XO "%8"
#define PM_FC_A "%9"
#define PM_FC_B "%10"
#define PM_FC_C "%11"
#define PM_FC_D "%12"
#define PM_FC_E "%13"
/* the pair's sums SA, SB += the row's widened word X . the pair's weight word W for the same
 * values (PM_PAIRS_ILV: a0 b0 a2 b2 or a1 b1 a3 b3): channel a's lanes into C, b's in place */
#if PM_FC_RAW /* raw lanes (codegen/pairs_raw.py): SB sums 256 * b + a per value, W is used as loaded */
#define PM_FC_HALF(SA, SB, X, W)                                                                             \
  "sxtb16 " PM_FC_C "," W "\n"                                                                               \
  "smlad " SA "," X "," PM_FC_C "," SA "\n"                                                                  \
  "smlad " SB "," X "," W "," SB "\n"
#else
#define PM_FC_HALF(SA, SB, X, W)                                                                             \
  "sxtb16 " PM_FC_C "," W "\n"                                                                               \
  "sxtb16 " W "," W ",ror #8\n"                                                                              \
  "smlad " SA "," X "," PM_FC_C "," SA "\n"                                                                  \
  "smlad " SB "," X "," W "," SB "\n"
#endif
/* one chunk of 4 values for 4 units: the row's two widened words and the pairs' four weight words
 * in one group of loads (N neighbouring loads: N + 1 cycles), then 8 SXTB16 and 8 SMLAD */
#define PM_FC_CHUNK                                                                                          \
  "ldr " PM_FC_XE ",[" PM_FC_XP "],#4\n"                                                                     \
  "ldr " PM_FC_XO ",[" PM_FC_XP "],#4\n"                                                                     \
  "ldr " PM_FC_B ",[" PM_FC_W0 ",#4]\n"                                                                      \
  "ldr " PM_FC_A ",[" PM_FC_W0 "],#8\n"                                                                      \
  "ldr " PM_FC_E ",[" PM_FC_W1 ",#4]\n"                                                                      \
  "ldr " PM_FC_D ",[" PM_FC_W1 "],#8\n" PM_FC_HALF(PM_FC_S0, PM_FC_S1, PM_FC_XE, PM_FC_A)                     \
      PM_FC_HALF(PM_FC_S0, PM_FC_S1, PM_FC_XO, PM_FC_B) PM_FC_HALF(PM_FC_S2, PM_FC_S3, PM_FC_XE, PM_FC_D)     \
          PM_FC_HALF(PM_FC_S2, PM_FC_S3, PM_FC_XO, PM_FC_E)

/* the 4-unit loop over k4 > 0 chunks: eight per test, entered at the chunk that leaves a multiple
 * of 8 (labels 10-17, as the GEMM 4x2 loop; the chunk an assembler macro, pm_cfc); XE holds the
 * row's end, pushed here ([sp] on exit: the caller's block pops it; all 14 core registers are in
 * use) */
#define PM_FC_LOOP                                                                                           \
  ".macro pm_cfc\n" PM_FC_CHUNK ".endm\n"                                                                    \
  "sub " PM_FC_XO "," PM_FC_XE "," PM_FC_XP "\n"                                                              \
  "push {" PM_FC_XE "}\n"                                                                                     \
  "ands " PM_FC_XO "," PM_FC_XO ",#56\n"                                                                      \
  "beq 10f\n"                                                                                                 \
  "cmp " PM_FC_XO ",#32\n"                                                                                    \
  "beq 14f\n"                                                                                                 \
  "bhi 20f\n"                                                                                                 \
  "cmp " PM_FC_XO ",#16\n"                                                                                    \
  "beq 16f\n"                                                                                                 \
  "bhi 15f\n"                                                                                                 \
  "b 17f\n"                                                                                                   \
  "20:\n"                                                                                                     \
  "cmp " PM_FC_XO ",#48\n"                                                                                    \
  "beq 12f\n"                                                                                                 \
  "bhi 11f\n"                                                                                                 \
  "b 13f\n"                                                                                                   \
  "10:\npm_cfc\n11:\npm_cfc\n12:\npm_cfc\n13:\npm_cfc\n14:\npm_cfc\n15:\npm_cfc\n16:\npm_cfc\n17:\npm_cfc\n"   \
  "ldr " PM_FC_XE ",[sp]\n"                                                                                   \
  "cmp " PM_FC_XP "," PM_FC_XE "\n"                                                                           \
  "bne 10b\n"                                                                                                 \
  ".purgem pm_cfc\n"
#define PM_FC_OPERANDS                                                                                       \
  : "+r"(xp), "+r"(w0), "+r"(w1), "+r"(s0), "+r"(s1), "+r"(s2), "+r"(s3), "+&r"(xe), "=&r"(xo), "=&r"(a),     \
    "=&r"(b), "=&r"(c), "=&r"(d), "=&r"(e)                                                                   \
  :                                                                                                          \
  : "cc", "memory"

/* pm_fc_rq: what the fused block reads after its loop: the 4 units' records and the zero point */
typedef struct {
  const pm_requant *q;
  int32_t zp;
  const int32_t *end; /* the widened row's end */
  int32_t b1, b3;     /* PM_FC_RAW: units 1 and 3's sums before the block (their raw sums start at 0's, 2's) */
} pm_fc_rq;


/* s[0..3] += row . w for the 4 units of the packed pairs wp0, wp1: xw the row widened by
 * pm_fc_widen (k4 > 0 chunks). Four chunks per loop test, entered at the chunk that leaves a
 * multiple of 4 (labels 5-8, as the GEMM 4x2 loop); all 14 core registers are in use, so the end
 * lives on the stack (pushed and popped in the block). Returns the pairs' tails through wp0, wp1. */
PM_HOT void pm_fc_dot_4x1(const int32_t *xw, const int8_t **wp0, const int8_t **wp1, int32_t k4, int32_t *s) {
  const int32_t *xp = xw;
  const int8_t *w0 = *wp0, *w1 = *wp1;
  int32_t s0 = s[0], s1 = PM_FC_RAW ? s[0] : s[1], s2 = s[2], s3 = PM_FC_RAW ? s[2] : s[3];
  int32_t xe = (int32_t)(uintptr_t)(xw + 2 * k4), xo, a, b, c, d, e;
  __asm__ volatile(PM_FC_LOOP "add sp,sp,#4\n" PM_FC_OPERANDS);
  *wp0 = w0;
  *wp1 = w1;
#if PM_FC_RAW
  s1 = pm_raw_b(s[1], s1, s0);
  s3 = pm_raw_b(s[3], s3, s2);
#endif
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
}

#if !PM_REQUANT_EXACT
/* One sum S requantized in place (pm_requant_s8's arithmetic, full int8 range) with the record at
 * byte OFF of the records (B): multiplier into W0, round into W1, left | right << 16 into XE
 * (LSL reads its low byte), right into XO; A holds the output zero point, C is scratch. */
#define PM_FC_RQ(S, OFF, OFF4, OFF8)                                                                          \
  "ldr " PM_FC_W0 ",[" PM_FC_B ",#" #OFF "]\n"                                                                \
  "ldr " PM_FC_W1 ",[" PM_FC_B ",#" #OFF4 "]\n"                                                               \
  "ldr " PM_FC_XE ",[" PM_FC_B ",#" #OFF8 "]\n"                                                               \
  "lsr " PM_FC_XO "," PM_FC_XE ",#16\n"                                                                       \
  "lsl " PM_FC_C "," S "," PM_FC_XE "\n"                                                                      \
  "smmulr " PM_FC_C "," PM_FC_C "," PM_FC_W0 "\n"                                                             \
  "add " S "," PM_FC_W1 "," PM_FC_C ",lsl #1\n"                                                               \
  "add " S "," S "," PM_FC_C ",asr #31\n"                                                                     \
  "asr " S "," S "," PM_FC_XO "\n"                                                                            \
  "add " S "," S "," PM_FC_A "\n"                                                                             \
  "ssat " S ",#8," S "\n"

#if PM_FC_RAW /* units 1 and 3 from their raw-lane sums (pm_raw_b), their start values in rq */
#define PM_FC_RAW_B                                                                                          \
  "ldr " PM_FC_B ",[" PM_FC_A ",#12]\n"                                                                       \
  "sub " PM_FC_C "," PM_FC_S1 "," PM_FC_S0 "\n"                                                              \
  "add " PM_FC_S1 "," PM_FC_B "," PM_FC_C ",asr #8\n"                                                        \
  "ldr " PM_FC_B ",[" PM_FC_A ",#16]\n"                                                                       \
  "sub " PM_FC_C "," PM_FC_S3 "," PM_FC_S2 "\n"                                                              \
  "add " PM_FC_S3 "," PM_FC_B "," PM_FC_C ",asr #8\n"
#else
#define PM_FC_RAW_B ""
#endif

/* pm_fc_dot_4x1 for k % 4 == 0, then the 4 sums requantized in the same block with the records
 * rq->q[0..3] to the full int8 range (a narrower activation clamp is the caller's). rq is pushed
 * first and read back after the loop. PM_FC_RAW: s[1], s[3] are not read (rq->b1, rq->b3 are). */
PM_HOT void pm_fc_dot_4x1_rq(const int32_t *xw, const int8_t *w0, const int8_t *w1, int32_t k4,
                             const pm_fc_rq *rq, int32_t *s) {
  const int32_t *xp = xw;
  int32_t s0 = s[0], s1 = PM_FC_RAW ? s[0] : s[1], s2 = s[2], s3 = PM_FC_RAW ? s[2] : s[3];
  int32_t xe = (int32_t)(uintptr_t)rq, xo, a, b, c, d, e;
  (void)k4; /* rq->end: xw + 2 * k4, set by the caller */
  /* xe brings rq: pushed, then replaced by the row's end (rq->end) for the loop */
  __asm__ volatile("push {" PM_FC_XE "}\n"
                   "ldr " PM_FC_XE ",[" PM_FC_XE ",#8]\n" PM_FC_LOOP "ldr " PM_FC_A ",[sp,#4]\n"
                   "add sp,sp,#8\n" PM_FC_RAW_B
                   "ldr " PM_FC_B ",[" PM_FC_A "]\n"
                   "ldr " PM_FC_A ",[" PM_FC_A ",#4]\n" PM_FC_RQ(PM_FC_S0, 0, 4, 8) PM_FC_RQ(PM_FC_S1, 12, 16, 20)
                       PM_FC_RQ(PM_FC_S2, 24, 28, 32) PM_FC_RQ(PM_FC_S3, 36, 40, 44) PM_FC_OPERANDS);
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
}
#endif

/* The k4 chunks of row x widened once for every unit: per chunk its even values (SXTB16) and
 * its odd values (SXTB16 of the word rotated by 8), as the weights are widened. */
static void pm_fc_widen(const int8_t *x, int32_t k4, int32_t *xw) {
  for (; k4 > 0; --k4) {
    const uint32_t v = (uint32_t)pm_read_s8x4(x);
    xw[0] = (int32_t)__sxtb16(v);
    xw[1] = pm_sxtb16_ror8(v);
    x += 4;
    xw += 2;
  }
}

#ifndef PM_FC_SLICE_UNITS
#define PM_FC_SLICE_UNITS 0 /* units of the widest layer whose row is sliced (0: no layer is) */
#endif
/* The 4-unit kernel for a row deeper than the widened buffer xw (PM_FC_W16_MAX bytes): the row is
 * widened one slice at a time and every unit's partial sum kept in acc[] between slices, so the
 * stack holds one slice and the sums instead of the whole widened row (the code generator picks
 * the slice to lower the stack peak: AD's 640-value rows take 256 + 512 B instead of 1,280 B).
 * The last slice requantizes in the block as pm_fc_units4 does. Returns the first unit not done. */
static int32_t pm_fc_units4_sliced(const pm_fully_connected_params *p, const pm_requant *q, const int8_t *x,
                                   const int8_t *weights, const int32_t *bias, int8_t *o, int32_t *xw) {
#if PM_FC_SLICE_UNITS >= 4
  const int32_t k = p->depth, units = p->units, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
  const int32_t k4 = k >> 2, n4 = PM_FC_W16_MAX / 8, u4 = units & ~3;
  int32_t acc[PM_FC_SLICE_UNITS];
  int32_t c0, u, j, r;
  if (n4 == 0 || u4 > PM_FC_SLICE_UNITS) return 0;
  for (u = 0; u < u4; ++u) acc[u] = PM_LD_I32(&bias[u]);
  for (c0 = 0; c0 < k4; c0 += n4) {
    const int32_t n = pm_min_i32(n4, k4 - c0);
    const int last = c0 + n == k4;
    pm_fc_widen(x + 4 * c0, n, xw);
    for (u = 0; u < u4; u += 4) {
      const int8_t *w0 = weights + u * k + 8 * c0, *w1 = weights + (u + 2) * k + 8 * c0;
      int32_t *s = &acc[u];
#if !PM_REQUANT_EXACT
      if (last && k == 4 * k4) { /* no tail: the last slice requantizes in the block */
        pm_fc_rq rq;
        rq.q = &q[u];
        rq.zp = zp;
        rq.end = xw + 2 * n;
        rq.b1 = s[1];
        rq.b3 = s[3];
        pm_fc_dot_4x1_rq(xw, w0, w1, n, &rq, s);
        for (r = 0; r < 4; ++r) o[u + r] = (int8_t)pm_clamp_i32(s[r], lo, hi); /* on SSAT's [-128, 127] */
        continue;
      }
#endif
      pm_fc_dot_4x1(xw, &w0, &w1, n, s);
      if (!last) continue;
      for (j = 4 * k4; j < k; ++j, w0 += 2, w1 += 2) { /* the k % 4 tail */
        const int32_t v = x[j];
        s[0] += v * w0[0];
        s[1] += v * w0[1];
        s[2] += v * w1[0];
        s[3] += v * w1[1];
      }
      for (r = 0; r < 4; ++r) o[u + r] = pm_requant_s8(s[r], &q[u + r], zp, lo, hi);
    }
  }
  return u4;
#else
  (void)p;
  (void)q;
  (void)x;
  (void)weights;
  (void)bias;
  (void)o;
  (void)xw;
  return 0;
#endif
}

/* Units [0, 4 * floor(units / 4)) of one row: 4 units (two packed pairs) per pass over the row
 * widened once; the k % 4 tail of each pair (a_t b_t per value) in C. Returns the first unit
 * not done. */
static int32_t pm_fc_units4(const pm_fully_connected_params *p, const pm_requant *q, const int8_t *x,
                            const int8_t *weights, const int32_t *bias, int8_t *o) {
  const int32_t k = p->depth, units = p->units, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
  const int32_t k4 = k >> 2;
  int32_t xw[PM_FC_W16_MAX / 4];
  int32_t u, j, r;
  if (k4 == 0) return 0;
  if (8 * k4 > PM_FC_W16_MAX) return pm_fc_units4_sliced(p, q, x, weights, bias, o, xw); /* xw: one slice */
  pm_fc_widen(x, k4, xw);
  for (u = 0; u + 3 < units; u += 4) {
    const int8_t *w0 = weights + u * k, *w1 = weights + (u + 2) * k;
    int32_t s[4];
    for (r = 0; r < 4; ++r) s[r] = PM_LD_I32(&bias[u + r]);
#if !PM_REQUANT_EXACT
    if (k == 4 * k4) { /* no tail: requantize in the block */
      pm_fc_rq rq;
      rq.q = &q[u];
      rq.zp = zp;
      rq.end = xw + 2 * k4;
      rq.b1 = s[1];
      rq.b3 = s[3];
      pm_fc_dot_4x1_rq(xw, w0, w1, k4, &rq, s);
      if (lo > -128 || hi < 127) {
        for (r = 0; r < 4; ++r) s[r] = pm_clamp_i32(s[r], lo, hi); /* on SSAT's [-128, 127] */
      }
      for (r = 0; r < 4; ++r) o[u + r] = (int8_t)s[r];
      continue;
    }
#endif
    pm_fc_dot_4x1(xw, &w0, &w1, k4, s);
    for (j = 4 * k4; j < k; ++j, w0 += 2, w1 += 2) { /* the k % 4 tail */
      const int32_t v = x[j];
      s[0] += v * w0[0];
      s[1] += v * w0[1];
      s[2] += v * w1[0];
      s[3] += v * w1[1];
    }
    for (r = 0; r < 4; ++r) o[u + r] = pm_requant_s8(s[r], &q[u + r], zp, lo, hi);
  }
  return u;
}
#else
#define PM_FC_4X1 0
#endif

int pm_fully_connected_s8(const pm_fully_connected_params *p, const pm_requant *q, const int8_t *in,
                          const int8_t *weights, const int32_t *bias, int8_t *out) {
  const int32_t k = p->depth, units = p->units, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
  int32_t b;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *x = in + b * k;
    int8_t *o = out + b * units;
#if PM_PLAIN_WEIGHTS
    /* int16 weight rows, the input row widened once (pm_dot_s8.h) */
    const int16_t *w = (const int16_t *)(const void *)weights;
    int16_t xw[PM_FC_MAX_DEPTH];
    int32_t acc[PM_FC_MAX_UNITS];
    int32_t u;
    if (k > PM_FC_MAX_DEPTH || units > PM_FC_MAX_UNITS) return PM_ERROR; /* the generator sizes both */
    pm_widen_s8(x, k, xw);
    for (u = 0; u < units; ++u) acc[u] = PM_LD_I32(&bias[u]) + pm_dot_plain_s16(xw, w + u * k, k);
    pm_requant_row_s8(acc, q, units, zp, lo, hi, o);
#elif PM_OFFSET_BINARY_WEIGHTS
    pm_row_ob_s8(x, k, (const uint8_t *)weights, bias, q, units, zp, lo, hi, o); /* pm_dot_s8.h */
#else
    int32_t u = 0;
#if PM_FC_4X1
    u = pm_fc_units4(p, q, x, weights, bias, o);
#endif
    for (; u + 1 < units; u += 2) {
      int32_t s[2];
      s[0] = PM_LD_I32(&bias[u]);
      s[1] = PM_LD_I32(&bias[u + 1]);
      pm_dot_1x2_packed_s8(x, weights + u * k, k, s); /* packed pair, see pm_dot_s8.h */
      o[u] = pm_requant_s8(s[0], &q[u], zp, lo, hi);
      o[u + 1] = pm_requant_s8(s[1], &q[u + 1], zp, lo, hi);
    }
    for (; u < units; ++u) o[u] = pm_requant_s8(pm_dot_1x1_s8(x, weights + u * k, k, PM_LD_I32(&bias[u])), &q[u], zp, lo, hi);
#endif
  }
  return PM_OK;
}

#if PM_SPARSE_WEIGHTS
#include "pm_sparse_s8.h"

/* Sparse weights (pm_sparse_s8.h): only the non-zeros are multiplied; two batch rows share
 * each decode of the weight stream. */
int pm_fully_connected_sparse_s8(const pm_fully_connected_params *p, const pm_sparse_quant *q, int32_t encoding,
                                 const int8_t *in, const int8_t *weights, const int32_t *bias, int8_t *out) {
  const int32_t k = p->depth, units = p->units, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
  int32_t b;
  for (b = 0; b + 1 < p->batches; b += 2) {
    pm_sparse_rows_2_s8(encoding, in + b * k, in + (b + 1) * k, k, weights, bias, q, units, zp, lo, hi,
                        out + b * units, out + (b + 1) * units);
  }
  if (b < p->batches) pm_sparse_rows_1_s8(encoding, in + b * k, k, weights, bias, q, units, zp, lo, hi, out + b * units);
  return PM_OK;
}
#endif
