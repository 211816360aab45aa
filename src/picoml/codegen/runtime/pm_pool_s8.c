/* Pooling int8: windows clipped to the input, as TFLite's reference kernels.
 *
 * Channels are the inner loop: for each output pixel, every valid tap contributes a contiguous
 * row of C values (NHWC), so the window bounds are computed once per pixel, not per channel.
 * MAX_POOL_2D keeps its running maximum in the output row itself (4 channels per SSUB8/SEL pair
 * on Armv7E-M); AVERAGE_POOL_2D sums blocks of PM_POOL_BLOCK channels in int32 on the stack.
 *
 * Streaming plans (picoml.plan.stream_lag) may place the output below the input with the two
 * overlapping: the planner guarantees that all the output bytes up to the end of a block of
 * output pixels lie below the first input byte that block or any later one reads, so writing
 * (and re-reading) the current pixel's output row never touches input still to be read. */
#include "pm_pool_s8.h"

#include "pm_dot_s8.h" /* PM_SIMD32, pm_read_s8x4 / pm_write_s8x4, pm_copy_s8, PM_NO_UNROLL */

#define PM_POOL_BLOCK 32

#if PM_SIMD32
/* lane-wise signed maximum of four int8 lanes: SSUB8 sets GE[i] where a_i >= b_i, SEL picks */
static inline uint32_t pm_max_s8x4(uint32_t a, uint32_t b) {
  uint32_t r;
  __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
  return r;
}
#endif

/* o[j] = max(o[j], x[j]) for j < c */
static void pm_max_row(int8_t *o, const int8_t *x, int32_t c) {
#if PM_SIMD32
  PM_NO_UNROLL
  for (; c >= 4; c -= 4) {
    pm_write_s8x4(o, pm_max_s8x4((uint32_t)pm_read_s8x4(x), (uint32_t)pm_read_s8x4(o)));
    o += 4;
    x += 4;
  }
#endif
  PM_NO_UNROLL
  for (; c > 0; --c) {
    if (*x > *o) *o = *x;
    ++o;
    ++x;
  }
}

/* The window of one output pixel clipped to the input: rows [0, h) and columns [0, w) of it,
 * starting at its first valid tap (top-left), NULL when no tap is valid. */
typedef struct {
  int32_t h, w;
  const int8_t *first;
} pm_pool_window;

static pm_pool_window pm_pool_window_at(const pm_pool_params *p, const pm_dims *in_dims, const int8_t *in, int32_t b,
                                        int32_t oy, int32_t ox) {
  pm_pool_window w;
  const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
  const int32_t ys = pm_max_i32(0, -y0), xs = pm_max_i32(0, -x0);
  w.h = pm_min_i32(p->filter_h, in_dims->h - y0) - ys;
  w.w = pm_min_i32(p->filter_w, in_dims->w - x0) - xs;
  w.first = w.h > 0 && w.w > 0 ? in + ((b * in_dims->h + y0 + ys) * in_dims->w + x0 + xs) * in_dims->c : 0;
  return w;
}

int pm_max_pool2d_s8(const pm_pool_params *p, const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims,
                     int8_t *out) {
  const int32_t c = in_dims->c, row = in_dims->w * c;
  const int32_t lo = p->act_min, hi = p->act_max;
  int32_t b, oy, ox, y, x, j;
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_dims->h; ++oy) {
      for (ox = 0; ox < out_dims->w; ++ox) {
        const pm_pool_window w = pm_pool_window_at(p, in_dims, in, b, oy, ox);
        int8_t *o = out + ((b * out_dims->h + oy) * out_dims->w + ox) * c;
        if (!w.first) return PM_ERROR;
        pm_copy_s8(o, w.first, c); /* the first valid tap starts the maximum */
        for (y = 0; y < w.h; ++y) {
          const int8_t *ip = w.first + y * row;
          for (x = y == 0 ? 1 : 0; x < w.w; ++x) pm_max_row(o, ip + x * c, c);
        }
        if (lo > -128 || hi < 127) {
          for (j = 0; j < c; ++j) o[j] = (int8_t)pm_clamp_i32(o[j], lo, hi);
        }
      }
    }
  }
  return PM_OK;
}

int pm_average_pool2d_s8(const pm_pool_params *p, const pm_dims *in_dims, const int8_t *in, const pm_dims *out_dims,
                         int8_t *out) {
  const int32_t c = in_dims->c, row = in_dims->w * c;
  int32_t b, oy, ox, y, x, j, c0;
  for (b = 0; b < in_dims->n; ++b) {
    for (oy = 0; oy < out_dims->h; ++oy) {
      for (ox = 0; ox < out_dims->w; ++ox) {
        const pm_pool_window w = pm_pool_window_at(p, in_dims, in, b, oy, ox);
        const int32_t count = w.h * w.w;
        int8_t *o = out + ((b * out_dims->h + oy) * out_dims->w + ox) * c;
        if (!w.first) return PM_ERROR;
#if PM_SIMD32 && PM_SPECIALIZE
        if (count <= 256 && c % 8 == 0) {
          /* speed builds: 8 channels at a time in four registers of 16-bit lane sums (SXTB16 then
           * SADD16; |sum| <= 128 * 256 fits a lane), the window walked once per 8 channels */
          for (c0 = 0; c0 < c; c0 += 8) {
            int32_t e0 = 0, o0 = 0, e1 = 0, o1 = 0, acc[8];
            for (y = 0; y < w.h; ++y) {
              const int8_t *ip = w.first + y * row + c0;
              PM_NO_UNROLL
              for (x = 0; x < w.w; ++x, ip += c) {
                const uint32_t v0 = (uint32_t)pm_read_s8x4(ip), v1 = (uint32_t)pm_read_s8x4(ip + 4);
                e0 = __sadd16(e0, __sxtb16(v0));
                o0 = __sadd16(o0, pm_sxtb16_ror8(v0));
                e1 = __sadd16(e1, __sxtb16(v1));
                o1 = __sadd16(o1, pm_sxtb16_ror8(v1));
              }
            }
            acc[0] = (int16_t)(e0 & 0xffff);
            acc[2] = e0 >> 16;
            acc[1] = (int16_t)(o0 & 0xffff);
            acc[3] = o0 >> 16;
            acc[4] = (int16_t)(e1 & 0xffff);
            acc[6] = e1 >> 16;
            acc[5] = (int16_t)(o1 & 0xffff);
            acc[7] = o1 >> 16;
            for (j = 0; j < 8; ++j) {
              const int32_t v = acc[j] > 0 ? (acc[j] + count / 2) / count : (acc[j] - count / 2) / count;
              o[c0 + j] = (int8_t)pm_clamp_i32(v, p->act_min, p->act_max);
            }
          }
          continue;
        }
#endif
        for (c0 = 0; c0 < c; c0 += PM_POOL_BLOCK) {
          const int32_t n = pm_min_i32(PM_POOL_BLOCK, c - c0);
          int32_t acc[PM_POOL_BLOCK];
          for (j = 0; j < n; ++j) acc[j] = 0;
          for (y = 0; y < w.h; ++y) {
            const int8_t *ip = w.first + y * row + c0;
            for (x = 0; x < w.w; ++x, ip += c) {
              PM_NO_UNROLL
              for (j = 0; j < n; ++j) acc[j] += ip[j];
            }
          }
          for (j = 0; j < n; ++j) {
            /* C division truncates toward zero; +-count/2 makes it round half away from zero */
            const int32_t s = acc[j];
            const int32_t v = s > 0 ? (s + count / 2) / count : (s - count / 2) / count;
            o[c0 + j] = (int8_t)pm_clamp_i32(v, p->act_min, p->act_max);
          }
        }
      }
    }
  }
  return PM_OK;
}
