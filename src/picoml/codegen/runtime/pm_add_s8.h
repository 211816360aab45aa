/* ADD and SUB, int8 (reference_integer_ops::Add and reference_ops::Sub with TFLM's left_shift = 20
 * scheme, bit-exact; SUB shares ADD's parameters). */
#ifndef PM_ADD_S8_H
#define PM_ADD_S8_H

#include "pm_common.h"

typedef struct {
  int32_t input1_zp;         /* subtracted before scaling */
  int32_t input2_zp;
  int32_t output_zp;         /* added after scaling */
  int32_t left_shift;        /* 20 for int8 */
  int32_t input1_multiplier; /* in1_scale / (2 max_in_scale), Q31 */
  int32_t input1_shift;      /* <= 0 */
  int32_t input2_multiplier;
  int32_t input2_shift;
  int32_t output_multiplier; /* 2 max_in_scale / (2^20 out_scale) */
  int32_t output_shift;
  int32_t act_min;
  int32_t act_max;
} pm_add_params;

int pm_add_s8(const pm_add_params *params, const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out);

/* a - b: the scaled second input is subtracted from the scaled first (not negated before scaling). */
int pm_sub_s8(const pm_add_params *params, const pm_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out);

/* Same-shape a + b over n elements with each operand's rescaled value per int8 code precomputed:
 * tables[code + 128] for a, tables[256 + code + 128] for b, each
 * RoundingDivideByPOT(SRDHM((code - zp) << left_shift, multiplier), -shift); bit-exact with pm_add_s8. */
int pm_add_s8_tables(const pm_add_params *params, const int32_t *tables, const int8_t *a, const int8_t *b, int8_t *out,
                     int32_t n);

#endif /* PM_ADD_S8_H */
