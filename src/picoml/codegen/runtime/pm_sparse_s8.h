/* Sparse int8 weight rows for FULLY_CONNECTED and the GEMM paths of CONV_2D.
 *
 * The code generator stores a layer's weights [rows][k] (rows = output channels, k = inputs
 * per channel in OHWI order) in one of these encodings when it is smaller than dense, as one
 * int8 stream with the rows one after another (no row pointers: every kernel walks the rows in
 * order and each row's decoder returns where the next row starts):
 *
 *   PM_SPARSE_BITMASK  per chunk of 32 columns, its mask bytes (4; ceil(rest / 8) for a last,
 *                      shorter chunk; bit i of byte b set: column 32c + 8b + i is non-zero),
 *                      then that chunk's non-zero values in column order. ceil(k / 8) + nnz
 *                      bytes per row. 32-column chunks: one mask word per loop keeps the
 *                      per-chunk overhead small next to the per-non-zero work.
 *   PM_SPARSE_CSR      the row's entry count n as two bytes (low, high), then n (delta, value)
 *                      pairs: delta (uint8) moves the column from the previous entry (the first
 *                      from column 0). A gap over 255 is bridged by (255, 0) entries, which add
 *                      0 * x: exact, and no escape test in the loop. 2 + 2 * entries bytes per row.
 *
 * The input zero point is folded into the bias (bias - input_zp * sum(w)), so a row's dot
 * product is a plain int8 sum over its non-zeros: skipping the zeros changes nothing.
 * Bytes are read through int8_t and converted to uint8_t (defined modulo 2^8 in C99). */
#ifndef PM_SPARSE_S8_H
#define PM_SPARSE_S8_H

#include "pm_common.h"
#include "pm_dot_s8.h" /* PM_KERNEL, PM_NO_UNROLL */

#define PM_SPARSE_BITMASK 1
#define PM_SPARSE_CSR 2

/* Index of the lowest set bit of a non-zero mask word: CLZ(RBIT) on Armv7-M, BSF/TZCNT on x86,
 * CTZ with RISC-V Zbb; elsewhere (Armv6-M has no CLZ, and __builtin_ctz would be a libgcc call)
 * de Bruijn: the isolated bit times 0x077CB531 has a distinct top 5 bits for each of the 32
 * positions, looked up in a 32-byte table in pm_dot_s8.c. */
#if defined(__GNUC__) && (defined(__ARM_FEATURE_CLZ) || defined(__x86_64__) || defined(__i386__) || \
                          defined(__aarch64__) || defined(__riscv_zbb))
#define PM_SPARSE_CTZ_TABLE 0
#else
#define PM_SPARSE_CTZ_TABLE 1
extern const uint8_t pm_sparse_debruijn[32];
#endif

/* The (folded) bias of output channel c: 3 bytes from q->bias3 when the generator stored the
 * layer's biases so (each fits 24 bits), else bias[c]. The sign is extended through uint32_t
 * arithmetic: (x ^ 2^23) - 2^23 is x - 2^24 for x >= 2^23, x otherwise. */
static inline int32_t pm_sparse_bias(const pm_sparse_quant *q, const int32_t *bias, int32_t c) {
  if (q->bias3) {
    const int8_t *b = q->bias3 + 3 * c;
    const uint32_t x = (uint32_t)(uint8_t)b[0] | ((uint32_t)(uint8_t)b[1] << 8) | ((uint32_t)(uint8_t)b[2] << 16);
    return (int32_t)((x ^ 0x800000u) - 0x800000u);
  }
  return bias[c];
}

/* Column of the lowest set bit of a non-zero mask, which is cleared. */
static inline int32_t pm_sparse_pop(uint32_t *m) {
#if PM_SPARSE_CTZ_TABLE
  /* clearing with m & (m - 1) rather than m ^ bit measured 7% fewer instructions on Cortex-M0+ */
  const int32_t j = pm_sparse_debruijn[((*m & (0u - *m)) * 0x077CB531u) >> 27];
  *m &= *m - 1u;
  return j;
#else
  const int32_t j = __builtin_ctz(*m);
  *m &= *m - 1u;
  return j;
#endif
}

/* The mask word of a full 32-column chunk at p (little-endian bytes). */
static inline uint32_t pm_sparse_mask32(const int8_t *p) {
  return (uint32_t)(uint8_t)p[0] | ((uint32_t)(uint8_t)p[1] << 8) | ((uint32_t)(uint8_t)p[2] << 16) |
         ((uint32_t)(uint8_t)p[3] << 24);
}

/* The mask word of a last chunk of 0 < cols < 32 columns at p (ceil(cols / 8) bytes). */
static inline uint32_t pm_sparse_mask_tail(const int8_t *p, int32_t cols) {
  uint32_t m = 0;
  int32_t b;
  PM_NO_UNROLL
  for (b = 0; 8 * b < cols; ++b) m |= (uint32_t)(uint8_t)p[b] << (8 * b);
  return m;
}

/* *s += x . row for one bitmask row at p; returns the next row. The last, short chunk goes
 * through the same loop body with its mask read by pm_sparse_mask_tail. */
PM_KERNEL const int8_t *pm_sparse_bitmask_1x1_s8(const int8_t *x, int32_t k, const int8_t *p, int32_t *s) {
  int32_t acc = *s, g;
  PM_NO_UNROLL
  for (g = 0; g < k; g += 32) {
    const int8_t *xg = x + g;
    uint32_t m;
    if (k - g >= 32) {
      m = pm_sparse_mask32(p);
      p += 4;
    } else {
      m = pm_sparse_mask_tail(p, k - g);
      p += (k - g + 7) >> 3;
    }
    PM_NO_UNROLL
    while (m) {
      acc += xg[pm_sparse_pop(&m)] * *p++;
    }
  }
  *s = acc;
  return p;
}

/* s[0] += x0 . row, s[1] += x1 . row: two input rows share one decode of the row. */
PM_KERNEL const int8_t *pm_sparse_bitmask_2x1_s8(const int8_t *x0, const int8_t *x1, int32_t k, const int8_t *p,
                                                 int32_t *s) {
  int32_t s0 = s[0], s1 = s[1], g;
  PM_NO_UNROLL
  for (g = 0; g < k; g += 32) {
    uint32_t m;
    if (k - g >= 32) {
      m = pm_sparse_mask32(p);
      p += 4;
    } else {
      m = pm_sparse_mask_tail(p, k - g);
      p += (k - g + 7) >> 3;
    }
    PM_NO_UNROLL
    while (m) {
      const int32_t j = g + pm_sparse_pop(&m), v = *p++;
      s0 += x0[j] * v;
      s1 += x1[j] * v;
    }
  }
  s[0] = s0;
  s[1] = s1;
  return p;
}

/* PM_SPARSE_ROWS4 (pm_config.h): four input rows share one decode of the row. The code generator
 * sets it for every ISA but Armv6-M, whose eight low registers cannot hold the four row pointers
 * and sums (it keeps two), and sizes the im2col buffer for four windows. */
#ifndef PM_SPARSE_ROWS4
#define PM_SPARSE_ROWS4 0
#endif

#if PM_SPARSE_ROWS4
/* s[r] += x[r] . row for r < 4, one bitmask row at p; returns the next row. */
PM_KERNEL const int8_t *pm_sparse_bitmask_4x1_s8(const int8_t *const *x, int32_t k, const int8_t *p, int32_t *s) {
  const int8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], rest;
  PM_NO_UNROLL
  for (rest = k; rest > 0; rest -= 32, x0 += 32, x1 += 32, x2 += 32, x3 += 32) {
    uint32_t m;
    if (rest >= 32) {
      m = pm_sparse_mask32(p);
      p += 4;
    } else {
      m = pm_sparse_mask_tail(p, rest);
      p += (rest + 7) >> 3;
    }
    PM_NO_UNROLL
    while (m) {
      const int32_t j = pm_sparse_pop(&m), v = *p++;
      s0 += x0[j] * v;
      s1 += x1[j] * v;
      s2 += x2[j] * v;
      s3 += x3[j] * v;
    }
  }
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
  return p;
}
#endif

static inline uint32_t pm_sparse_csr_count(const int8_t *p) {
  return (uint32_t)(uint8_t)p[0] | ((uint32_t)(uint8_t)p[1] << 8);
}

/* *s += x . row for one CSR row at p; returns the next row. */
PM_KERNEL const int8_t *pm_sparse_csr_1x1_s8(const int8_t *x, const int8_t *p, int32_t *s) {
  int32_t acc = *s;
  uint32_t n = pm_sparse_csr_count(p);
  p += 2;
  PM_NO_UNROLL
  for (; n > 0; --n) {
    x += (uint8_t)p[0]; /* stays inside the row: the last entry is at a column < k */
    acc += *x * p[1];
    p += 2;
  }
  *s = acc;
  return p;
}

/* s[0] += x0 . row, s[1] += x1 . row for one CSR row. */
PM_KERNEL const int8_t *pm_sparse_csr_2x1_s8(const int8_t *x0, const int8_t *x1, const int8_t *p, int32_t *s) {
  int32_t s0 = s[0], s1 = s[1], j = 0;
  uint32_t n = pm_sparse_csr_count(p);
  p += 2;
  PM_NO_UNROLL
  for (; n > 0; --n) {
    const int32_t v = p[1];
    j += (uint8_t)p[0];
    s0 += x0[j] * v;
    s1 += x1[j] * v;
    p += 2;
  }
  s[0] = s0;
  s[1] = s1;
  return p;
}

#if PM_SPARSE_ROWS4
/* s[r] += x[r] . row for r < 4, one CSR row. */
PM_KERNEL const int8_t *pm_sparse_csr_4x1_s8(const int8_t *const *x, const int8_t *p, int32_t *s) {
  const int8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], j = 0;
  uint32_t n = pm_sparse_csr_count(p);
  p += 2;
  PM_NO_UNROLL
  for (; n > 0; --n) {
    const int32_t v = p[1];
    j += (uint8_t)p[0];
    s0 += x0[j] * v;
    s1 += x1[j] * v;
    s2 += x2[j] * v;
    s3 += x3[j] * v;
    p += 2;
  }
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
  return p;
}

/* o[r][c] = requant(bias[c] + x[r] . row_c) for r < 4 and all n rows of one encoded matrix:
 * each row is decoded, and its requantization unpacked, once for four outputs. */
static inline void pm_sparse_rows_4_s8(int32_t encoding, const int8_t *const *x, int32_t k, const int8_t *w,
                                       const int32_t *bias, const pm_sparse_quant *sq, int32_t n, int32_t zp,
                                       int32_t lo, int32_t hi, int8_t *const *o) {
  int32_t c, r;
  for (c = 0; c < n; ++c) {
    const pm_requant q = pm_requant_unpack(sq->multiplier[c], sq->shift[c]);
    int32_t s[4];
    s[0] = s[1] = s[2] = s[3] = pm_sparse_bias(sq, bias, c);
    w = encoding == PM_SPARSE_BITMASK ? pm_sparse_bitmask_4x1_s8(x, k, w, s) : pm_sparse_csr_4x1_s8(x, w, s);
    for (r = 0; r < 4; ++r) o[r][c] = pm_requant_ram_s8(s[r], &q, zp, lo, hi);
  }
}
#endif

/* o[c] = requant(bias[c] + x . row_c) for all n rows of one encoded matrix. Requantization is
 * stored compactly, as the reference kernel's multiplier and shift per channel (pm_requant_unpack:
 * a few instructions per output, next to tens per output spent decoding the row). */
static inline void pm_sparse_rows_1_s8(int32_t encoding, const int8_t *x, int32_t k, const int8_t *w,
                                       const int32_t *bias, const pm_sparse_quant *sq, int32_t n, int32_t zp,
                                       int32_t lo, int32_t hi, int8_t *o) {
  int32_t c;
  for (c = 0; c < n; ++c) {
    const pm_requant q = pm_requant_unpack(sq->multiplier[c], sq->shift[c]);
    int32_t s = pm_sparse_bias(sq, bias, c);
    w = encoding == PM_SPARSE_BITMASK ? pm_sparse_bitmask_1x1_s8(x, k, w, &s) : pm_sparse_csr_1x1_s8(x, w, &s);
    o[c] = pm_requant_ram_s8(s, &q, zp, lo, hi);
  }
}

/* The same for two input rows x0, x1 into o0, o1. */
static inline void pm_sparse_rows_2_s8(int32_t encoding, const int8_t *x0, const int8_t *x1, int32_t k,
                                       const int8_t *w, const int32_t *bias, const pm_sparse_quant *sq, int32_t n,
                                       int32_t zp, int32_t lo, int32_t hi, int8_t *o0, int8_t *o1) {
  int32_t c;
  for (c = 0; c < n; ++c) {
    const pm_requant q = pm_requant_unpack(sq->multiplier[c], sq->shift[c]);
    int32_t s[2];
    s[0] = s[1] = pm_sparse_bias(sq, bias, c);
    w = encoding == PM_SPARSE_BITMASK ? pm_sparse_bitmask_2x1_s8(x0, x1, k, w, s) : pm_sparse_csr_2x1_s8(x0, x1, w, s);
    o0[c] = pm_requant_ram_s8(s[0], &q, zp, lo, hi);
    o1[c] = pm_requant_ram_s8(s[1], &q, zp, lo, hi);
  }
}

#endif /* PM_SPARSE_S8_H */
