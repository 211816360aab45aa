/* float32 kernels of MIRROR_PAD / PADV2 / REVERSE_V2 (pm_axis_gather's tables), SELECT_V2, the
 * comparisons (float -> bool byte) and ADD_N. The other float copies (SPACE_TO_BATCH_ND,
 * BATCH_TO_SPACE_ND, GATHER_ND, EMBEDDING_LOOKUP, FILL, ZEROS_LIKE, BROADCAST_TO) reuse the byte
 * kernels with 4-byte elements. Copies and comparisons are exact; no libm. */
#ifndef PM_EXTRA_F32_H
#define PM_EXTRA_F32_H

#include "pm_axis_gather.h"
#include "pm_common.h"
#include "pm_logic.h"
#include "pm_nn_f32.h"

/* out[i0, i1, ...] = in[t_0[i0], t_1[i1], ...], or value where some t_d[i_d] < 0 (params->value
 * unused). in and out must not overlap. */
int pm_axis_gather_f32(const pm_axis_gather_params *params, const int32_t *tables, float value, const float *in,
                       float *out);

/* SELECT_V2: out = cond ? x : y, broadcast as bc says. */
int pm_select_f32(const pm_select_broadcast *bc, const uint8_t *cond, const float *x, const float *y, float *out);

/* EQUAL ... LESS_EQUAL (op: PM_CMP_*) of float operands, IEEE comparisons (NaN unequal). */
int pm_compare_f32(const pm_broadcast *bc, int32_t op, const float *a, const float *b, uint8_t *out);

/* ADD_N: out = ((0 + in[0]) + in[1]) + ..., in input order, size elements each. */
int pm_add_n_f32(int32_t count, int32_t size, const float *const *in, float *out);

/* erf(x) in float arithmetic, freestanding: a Taylor series for |x| < 1 (truncation below
 * 2e-8), Abramowitz & Stegun 7.1.26 beyond (absolute error below 2e-7); +-1 from |x| >= 4. */
float pm_erff(float x);

/* GELU: 0.5 x (1 + erf(x / sqrt 2)), or with approximate: 0.5 x (1 + tanh(c (x + 0.044715 x^3))). */
int pm_gelu_f32(int32_t approximate, int32_t size, const float *in, float *out);

/* FLOOR_DIV: floor(a / b), the quotient in double as the reference (PM_ERROR and no output when
 * one of the b_size divisors is 0); FLOOR_MOD: fmod(a, b) (exact) moved to b's sign. */
int pm_floor_div_f32(const pm_broadcast *bc, int32_t b_size, const float *a, const float *b, float *out);
int pm_floor_mod_f32(const pm_broadcast *bc, const float *a, const float *b, float *out);

/* CAST to or from float32 (src, dst: PM_TYPE_* or PM_TYPE_FLOAT32): static_cast; a float out of
 * the int32 range or NaN becomes INT32_MIN before an int8 keeps its low byte. */
#define PM_TYPE_FLOAT32 3
int pm_cast_f32(int32_t count, int32_t src, int32_t dst, const void *in, void *out);

/* L2_NORMALIZATION over rows of depth: x / max(sqrt(sum x^2), 1e-6), the sum in order. */
int pm_l2norm_f32(int32_t rows, int32_t depth, const float *in, float *out);

/* LOG_SOFTMAX over rows of depth: (x - max) - log(sum exp(x - max)), the sum in order. */
int pm_log_softmax_f32(int32_t rows, int32_t depth, const float *in, float *out);

/* CUMSUM along the middle axis of [outer, depth, inner]: the float32 running sum in traversal
 * order (from the end with reverse; exclusive: the sum before the element). */
int pm_cumsum_f32(int32_t outer, int32_t depth, int32_t inner, int32_t exclusive, int32_t reverse, const float *in,
                  float *out);

/* L2_POOL_2D: sqrt(sum v^2 / taps) over the window taps inside the input (row by row), clamped to
 * [act_min, act_max]; p->kh / kw / stride / pad as the pools, dilation 1. */
int pm_l2_pool2d_f32(const pm_window_f32_params *p, const float *in, float *out);

#endif /* PM_EXTRA_F32_H */
