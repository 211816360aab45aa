/* ADD int8: each input is offset, shifted left by 20, scaled to a common scale, summed,
 * rescaled to the output. Writing over an input in place is safe (element i is read first;
 * the planner only ever places the output exactly on an input, never partly over one).
 * Every product is bounded, so the high multiplies need no 64-bit arithmetic: |a - zp| <= 255
 * gives |a << 20| < 2^28, the input multipliers are below 1 so each scaled input stays below
 * 2^28 and their sum below 2^29, and the multipliers are non-negative Q31 values
 * (pm_srdhm_bounded: SMMULR on Armv7E-M, 16-bit halves on Armv6-M and vectorizing hosts). */
#include "pm_add_s8.h"

static inline int8_t pm_add_one(const pm_add_params *p, int32_t a, int32_t b) {
  const int32_t sa = (a - p->input1_zp) * ((int32_t)1 << p->left_shift);
  const int32_t sb = (b - p->input2_zp) * ((int32_t)1 << p->left_shift);
  const int32_t ra = pm_rounding_divide_by_pot(pm_srdhm_bounded(sa, p->input1_multiplier), -p->input1_shift);
  const int32_t rb = pm_rounding_divide_by_pot(pm_srdhm_bounded(sb, p->input2_multiplier), -p->input2_shift);
  const int32_t sum = ra + rb;
  const int32_t o =
      pm_rounding_divide_by_pot(pm_srdhm_bounded(sum, p->output_multiplier), -p->output_shift) + p->output_zp;
  return (int8_t)pm_clamp_i32(o, p->act_min, p->act_max);
}

/* Same-shape operands. The arena planner lets the output take an input's place exactly (never a
 * partial overlap), so each case gets restrict-qualified arrays, a loop compilers vectorize. */
static void pm_add_rows(const pm_add_params *p, const int8_t *restrict a, const int8_t *restrict b,
                        int8_t *restrict out, int32_t n) {
  const pm_add_params q = *p; /* a local copy: the int8 stores can't alias it */
  int32_t i;
  for (i = 0; i < n; ++i) out[i] = pm_add_one(&q, a[i], b[i]);
}

static void pm_add_in_place(const pm_add_params *p, int8_t *restrict io, const int8_t *restrict other, int first,
                            int32_t n) {
  const pm_add_params q = *p;
  int32_t i;
  if (first) { /* io holds operand a */
    for (i = 0; i < n; ++i) io[i] = pm_add_one(&q, io[i], other[i]);
  } else {
    for (i = 0; i < n; ++i) io[i] = pm_add_one(&q, other[i], io[i]);
  }
}

#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
/* Armv7E-M speed builds: each operand's rescaled value depends on its int8 code alone, so for a
 * long same-shape ADD both are tabulated once (2 x 256 int32 on the stack, ~25 cycles per entry)
 * and each element costs two table reads, the sum's rescale and a clamp (about a quarter of the
 * three rescales per element it replaces). The same arithmetic: bit-exact by construction. */
#define PM_ADD_LUT_MIN 1024 /* elements from which building the tables pays */

static int32_t pm_add_scaled(int32_t v, int32_t zp, int32_t left, int32_t mult, int32_t shift) {
  return pm_rounding_divide_by_pot(pm_srdhm_bounded((v - zp) * ((int32_t)1 << left), mult), -shift);
}

/* out of line: its 2 KB of tables are on the stack only while it runs, not in every ADD's frame */
static __attribute__((__noinline__)) void pm_add_lut(const pm_add_params *p, const int8_t *a, const int8_t *b,
                                                     int8_t *out, int32_t n) {
  int32_t ta[256], tb[256];
  const int32_t om = p->output_multiplier, os = -p->output_shift, zp = p->output_zp;
  const int32_t lo = p->act_min, hi = p->act_max;
  int32_t v, i;
  for (v = -128; v < 128; ++v) {
    ta[v + 128] = pm_add_scaled(v, p->input1_zp, p->left_shift, p->input1_multiplier, p->input1_shift);
    tb[v + 128] = pm_add_scaled(v, p->input2_zp, p->left_shift, p->input2_multiplier, p->input2_shift);
  }
  /* element i is read before it is written: out may be a or b (exactly, never a partial overlap) */
  for (i = 0; i < n; ++i) {
    const int32_t sum = ta[a[i] + 128] + tb[b[i] + 128];
    out[i] = (int8_t)pm_clamp_i32(pm_rounding_divide_by_pot(pm_srdhm_bounded(sum, om), os) + zp, lo, hi);
  }
}
#else
#define PM_ADD_LUT_MIN 0
#endif

int pm_add_s8(const pm_add_params *p, const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out) {
  int32_t i;
#if PM_ADD_LUT_MIN
  if (bc->same_shape && bc->size >= PM_ADD_LUT_MIN) {
    pm_add_lut(p, a, b, out, bc->size);
    return PM_OK;
  }
#endif
  if (bc->same_shape) {
    const int32_t n = bc->size;
    if (out == a && out == b) {
      for (i = 0; i < n; ++i) out[i] = pm_add_one(p, out[i], out[i]);
    } else if (out == a) {
      pm_add_in_place(p, out, b, 1, n);
    } else if (out == b) {
      pm_add_in_place(p, out, a, 0, n);
    } else {
      pm_add_rows(p, a, b, out, n);
    }
  } else {
    int32_t idx[PM_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
    int32_t oa = 0, ob = 0;
    for (i = 0; i < bc->size; ++i) {
      out[i] = pm_add_one(p, a[oa], b[ob]);
      pm_broadcast_next(bc, idx, &oa, &ob);
    }
  }
  return PM_OK;
}

static inline int8_t pm_sub_one(const pm_add_params *p, int32_t a, int32_t b) {
  const int32_t sa = (a - p->input1_zp) * ((int32_t)1 << p->left_shift);
  const int32_t sb = (b - p->input2_zp) * ((int32_t)1 << p->left_shift);
  const int32_t ra = pm_rounding_divide_by_pot(pm_srdhm_bounded(sa, p->input1_multiplier), -p->input1_shift);
  const int32_t rb = pm_rounding_divide_by_pot(pm_srdhm_bounded(sb, p->input2_multiplier), -p->input2_shift);
  const int32_t o =
      pm_rounding_divide_by_pot(pm_srdhm_bounded(ra - rb, p->output_multiplier), -p->output_shift) + p->output_zp;
  return (int8_t)pm_clamp_i32(o, p->act_min, p->act_max);
}

int pm_sub_s8(const pm_add_params *p, const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out) {
  const pm_add_params q = *p;
#define PM_SUB_ONE(x, y) pm_sub_one(&q, (x), (y))
  PM_BROADCAST_EACH(bc, a, b, out, PM_SUB_ONE);
#undef PM_SUB_ONE
  return PM_OK;
}

/* Same-shape ADD of n elements with both operands' rescaled values read from tables the code
 * generator computed (256 int32 for input 1 then 256 for input 2, at code + 128; flash): the
 * arithmetic of the table path above without building the tables, for short runs such as the
 * rows of a fused residual block. out may be a or b (exactly, never a partial overlap). */
int pm_add_s8_tables(const pm_add_params *p, const int32_t *tables, const int8_t *a, const int8_t *b, int8_t *out,
                     int32_t n) {
  const int32_t om = p->output_multiplier, os = -p->output_shift, zp = p->output_zp;
  const int32_t lo = p->act_min, hi = p->act_max;
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t sum = PM_LD_I32(&tables[a[i] + 128]) + PM_LD_I32(&tables[b[i] + 384]);
    out[i] = (int8_t)pm_clamp_i32(pm_rounding_divide_by_pot(pm_srdhm_bounded(sum, om), os) + zp, lo, hi);
  }
  return PM_OK;
}
