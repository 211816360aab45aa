/* The signal library's kernels (pm_signal.h). Conversions to int16 wrap explicitly (pm_sig_w16) and
 * right shifts of negative values are arithmetic, as everywhere in picoml's runtime (pm_common.h). */
#include "pm_signal.h"

static int16_t pm_sig_w16(int32_t v) {
  uint32_t u = (uint32_t)v & UINT32_C(0xFFFF);
  return (int16_t)(u >= UINT32_C(0x8000) ? (int32_t)u - INT32_C(65536) : (int32_t)u);
}

static int32_t pm_sig_bitlen(uint64_t x) { /* 0 for 0 */
  int32_t n = 0;
  while (x) {
    x >>= 1;
    ++n;
  }
  return n;
}

int pm_sig_window(const int16_t *x, const int16_t *w, int32_t n, int32_t total, int32_t shift, int16_t *y) {
  int32_t i, j;
  for (i = 0; i < total; i += n) {
    for (j = 0; j < n; ++j) {
      int32_t v = ((int32_t)x[i + j] * w[j]) >> shift;
      y[i + j] = (int16_t)(v < INT32_C(-32768) ? INT32_C(-32768) : v > INT32_C(32767) ? INT32_C(32767) : v);
    }
  }
  return PM_OK;
}

int pm_sig_fft_auto_scale(const int16_t *x, int32_t n, int16_t *y, int32_t *scale) {
  int16_t m = 0; /* MaxAbs16: an int16, so -(-32768) wraps to -32768 */
  int32_t i, msb, s;
  for (i = 0; i < n; ++i) {
    if (x[i] > m) {
      m = x[i];
    } else if (-(int32_t)x[i] > m) {
      m = pm_sig_w16(-(int32_t)x[i]);
    }
  }
  msb = m ? pm_sig_bitlen((uint32_t)(int32_t)m) : 32; /* MostSignificantBit32(0) = 32 (GCC's clz) */
  s = 15 - msb;
  if (s < 0) {
    s = 0;
  }
  for (i = 0; i < n; ++i) {
    y[i] = pm_sig_w16((int32_t)x[i] * ((int32_t)1 << s));
  }
  *scale = s;
  return PM_OK;
}

/* kissfft FIXED_POINT=16: products rounded at bit 15, stores wrap into int16 */
static int16_t pm_sig_sround(int32_t v) { return pm_sig_w16((v + INT32_C(16384)) >> 15); }

/* C_FIXDIV(v, k): v * (32767 / k) rounded; q is 32767 / k (16383 for 2, 8191 for 4) */
static int16_t pm_sig_fixdiv(int16_t v, int32_t q) { return pm_sig_sround((int32_t)v * q); }

static void pm_sig_cmul(int16_t ar, int16_t ai, int16_t br, int16_t bi, int16_t *r, int16_t *im) {
  *r = pm_sig_sround((int32_t)ar * br - (int32_t)ai * bi);
  *im = pm_sig_sround((int32_t)ar * bi + (int32_t)ai * br);
}

static void pm_sig_stage(const pm_sig_fft *f, int16_t *z, int32_t p, int32_t m, int32_t fs) {
  const int32_t nc = f->n / 2;
  const int16_t *tw = f->twiddles;
  int32_t base, j;
  for (base = 0; base < nc; base += p * m) {
    for (j = 0; j < m; ++j) {
      int16_t *a = z + 2 * (base + j);
      if (p == 2) {
        int16_t *b = a + 2 * m;
        int16_t ar = pm_sig_fixdiv(a[0], 16383), ai = pm_sig_fixdiv(a[1], 16383);
        int16_t br = pm_sig_fixdiv(b[0], 16383), bi = pm_sig_fixdiv(b[1], 16383), tr, ti;
        pm_sig_cmul(br, bi, tw[2 * j * fs], tw[2 * j * fs + 1], &tr, &ti);
        b[0] = pm_sig_w16((int32_t)ar - tr);
        b[1] = pm_sig_w16((int32_t)ai - ti);
        a[0] = pm_sig_w16((int32_t)ar + tr);
        a[1] = pm_sig_w16((int32_t)ai + ti);
      } else {
        int16_t *b = a + 2 * m, *c = a + 4 * m, *d = a + 6 * m;
        int16_t v0r = pm_sig_fixdiv(a[0], 8191), v0i = pm_sig_fixdiv(a[1], 8191);
        int16_t v1r = pm_sig_fixdiv(b[0], 8191), v1i = pm_sig_fixdiv(b[1], 8191);
        int16_t v2r = pm_sig_fixdiv(c[0], 8191), v2i = pm_sig_fixdiv(c[1], 8191);
        int16_t v3r = pm_sig_fixdiv(d[0], 8191), v3i = pm_sig_fixdiv(d[1], 8191);
        int16_t s0r, s0i, s1r, s1i, s2r, s2i, s3r, s3i, s4r, s4i, s5r, s5i, f0r, f0i;
        const int32_t t1 = 2 * j * fs, t2 = 4 * j * fs, t3 = 6 * j * fs;
        pm_sig_cmul(v1r, v1i, tw[t1], tw[t1 + 1], &s0r, &s0i);
        pm_sig_cmul(v2r, v2i, tw[t2], tw[t2 + 1], &s1r, &s1i);
        pm_sig_cmul(v3r, v3i, tw[t3], tw[t3 + 1], &s2r, &s2i);
        s5r = pm_sig_w16((int32_t)v0r - s1r);
        s5i = pm_sig_w16((int32_t)v0i - s1i);
        f0r = pm_sig_w16((int32_t)v0r + s1r);
        f0i = pm_sig_w16((int32_t)v0i + s1i);
        s3r = pm_sig_w16((int32_t)s0r + s2r);
        s3i = pm_sig_w16((int32_t)s0i + s2i);
        s4r = pm_sig_w16((int32_t)s0r - s2r);
        s4i = pm_sig_w16((int32_t)s0i - s2i);
        c[0] = pm_sig_w16((int32_t)f0r - s3r);
        c[1] = pm_sig_w16((int32_t)f0i - s3i);
        a[0] = pm_sig_w16((int32_t)f0r + s3r);
        a[1] = pm_sig_w16((int32_t)f0i + s3i);
        if (f->inverse) {
          b[0] = pm_sig_w16((int32_t)s5r - s4i);
          b[1] = pm_sig_w16((int32_t)s5i + s4r);
          d[0] = pm_sig_w16((int32_t)s5r + s4i);
          d[1] = pm_sig_w16((int32_t)s5i - s4r);
        } else {
          b[0] = pm_sig_w16((int32_t)s5r + s4i);
          b[1] = pm_sig_w16((int32_t)s5i - s4r);
          d[0] = pm_sig_w16((int32_t)s5r - s4i);
          d[1] = pm_sig_w16((int32_t)s5i + s4r);
        }
      }
    }
  }
}

int pm_sig_rfft_s16(const pm_sig_fft *f, const int16_t *x, int32_t in_len, int32_t rows, int16_t *work, int16_t *y) {
  const int32_t n = f->n, nc = n / 2;
  int32_t r, q, k, s;
  for (r = 0; r < rows; ++r, x += in_len, y += n + 2) {
    for (q = 0; q < nc; ++q) { /* kf_work's leaf copies: the decimated, zero-padded input */
      const int32_t src = 2 * (int32_t)f->perm[q];
      work[2 * q] = src < in_len ? x[src] : 0;
      work[2 * q + 1] = src + 1 < in_len ? x[src + 1] : 0;
    }
    for (s = 0; s < f->n_stages; ++s) {
      pm_sig_stage(f, work, f->stages[3 * s], f->stages[3 * s + 1], f->stages[3 * s + 2]);
    }
    {
      const int16_t dr = pm_sig_fixdiv(work[0], 16383), di = pm_sig_fixdiv(work[1], 16383);
      y[0] = pm_sig_w16((int32_t)dr + di);
      y[1] = 0;
      y[2 * nc] = pm_sig_w16((int32_t)dr - di);
      y[2 * nc + 1] = 0;
    }
    for (k = 1; k <= nc / 2; ++k) {
      const int16_t pkr = pm_sig_fixdiv(work[2 * k], 16383), pki = pm_sig_fixdiv(work[2 * k + 1], 16383);
      const int16_t nkr = pm_sig_fixdiv(work[2 * (nc - k)], 16383);
      const int16_t nki = pm_sig_fixdiv(pm_sig_w16(-(int32_t)work[2 * (nc - k) + 1]), 16383);
      const int16_t f1r = pm_sig_w16((int32_t)pkr + nkr), f1i = pm_sig_w16((int32_t)pki + nki);
      const int16_t f2r = pm_sig_w16((int32_t)pkr - nkr), f2i = pm_sig_w16((int32_t)pki - nki);
      int16_t twr, twi;
      pm_sig_cmul(f2r, f2i, f->super_twiddles[2 * (k - 1)], f->super_twiddles[2 * (k - 1) + 1], &twr, &twi);
      y[2 * k] = pm_sig_w16(((int32_t)f1r + twr) >> 1);
      y[2 * k + 1] = pm_sig_w16(((int32_t)f1i + twi) >> 1);
      y[2 * (nc - k)] = pm_sig_w16(((int32_t)f1r - twr) >> 1);
      y[2 * (nc - k) + 1] = pm_sig_w16(((int32_t)twi - f1i) >> 1);
    }
  }
  return PM_OK;
}

int pm_sig_irfft_s16(const pm_sig_fft *f, const int16_t *x, int32_t rows, int16_t *work, int16_t *y) {
  const int32_t n = f->n, nc = n / 2;
  int32_t r, q, k, s;
  int16_t *tmp = work + n; /* the split spectrum (n/2 complex) before the complex FFT */
  for (r = 0; r < rows; ++r, x += n + 2, y += n) {
    tmp[0] = pm_sig_fixdiv(pm_sig_w16((int32_t)x[0] + x[2 * nc]), 16383);
    tmp[1] = pm_sig_fixdiv(pm_sig_w16((int32_t)x[0] - x[2 * nc]), 16383);
    for (k = 1; k <= nc / 2; ++k) {
      const int16_t fkr = pm_sig_fixdiv(x[2 * k], 16383), fki = pm_sig_fixdiv(x[2 * k + 1], 16383);
      const int16_t nkr = pm_sig_fixdiv(x[2 * (nc - k)], 16383);
      const int16_t nki = pm_sig_fixdiv(pm_sig_w16(-(int32_t)x[2 * (nc - k) + 1]), 16383);
      const int16_t fer = pm_sig_w16((int32_t)fkr + nkr), fei = pm_sig_w16((int32_t)fki + nki);
      const int16_t dr = pm_sig_w16((int32_t)fkr - nkr), di = pm_sig_w16((int32_t)fki - nki);
      int16_t for_, foi;
      pm_sig_cmul(dr, di, f->super_twiddles[2 * (k - 1)], f->super_twiddles[2 * (k - 1) + 1], &for_, &foi);
      tmp[2 * k] = pm_sig_w16((int32_t)fer + for_);
      tmp[2 * k + 1] = pm_sig_w16((int32_t)fei + foi);
      tmp[2 * (nc - k)] = pm_sig_w16((int32_t)fer - for_);
      tmp[2 * (nc - k) + 1] = pm_sig_w16(-(int32_t)pm_sig_w16((int32_t)fei - foi));
    }
    for (q = 0; q < nc; ++q) {
      const int32_t src = f->perm[q];
      work[2 * q] = tmp[2 * src];
      work[2 * q + 1] = tmp[2 * src + 1];
    }
    for (s = 0; s < f->n_stages; ++s) {
      pm_sig_stage(f, work, f->stages[3 * s], f->stages[3 * s + 1], f->stages[3 * s + 2]);
    }
    for (q = 0; q < n; ++q) {
      y[q] = work[q];
    }
  }
  return PM_OK;
}

int pm_sig_energy(const int16_t *x, int32_t start, int32_t end, int32_t n_bins, uint32_t *y) {
  int32_t i;
  for (i = 0; i < n_bins; ++i) {
    if (i >= start && i < end) {
      const int32_t re = x[2 * i], im = x[2 * i + 1];
      y[i] = (uint32_t)(re * re) + (uint32_t)(im * im);
    } else {
      y[i] = 0;
    }
  }
  return PM_OK;
}

int pm_sig_filter_bank(const uint32_t *x, int32_t num_channels, const int16_t *weights, const int16_t *unweights,
                       const int16_t *freq_starts, const int16_t *weight_starts, const int16_t *widths,
                       uint64_t *y) {
  uint64_t wacc = 0, uacc = 0;
  int32_t i, j;
  for (i = 0; i <= num_channels; ++i) {
    const int32_t fs = freq_starts[i], ws = weight_starts[i], cw = widths[i];
    for (j = 0; j < cw; ++j) {
      const uint64_t v = x[fs + j];
      wacc += (uint64_t)(int64_t)weights[ws + j] * v; /* int16 sign-extended: mod 2^64 */
      uacc += (uint64_t)(int64_t)unweights[ws + j] * v;
    }
    if (i > 0) {
      y[i - 1] = wacc; /* accumulator 0 is scratch */
    }
    wacc = uacc;
    uacc = 0;
  }
  return PM_OK;
}

static uint32_t pm_sig_sqrt64(uint64_t num) {
  /* Sqrt32 below 2^32 (rounding capped at 0xFFFF), Sqrt64 above (capped at 0xFFFFFFFF) */
  const int small = (num >> 32) == 0;
  const int32_t width = small ? 32 : 64;
  uint64_t res = 0, bit;
  int32_t top, it;
  if (num == 0) {
    return 0;
  }
  top = (width - pm_sig_bitlen(num)) | 1;
  bit = (uint64_t)1 << (width - 1 - top);
  for (it = (width - 1 - top) / 2 + 1; it > 0; --it) {
    if (num >= res + bit) {
      num -= res + bit;
      res = (res >> 1) + bit;
    } else {
      res >>= 1;
    }
    bit >>= 2;
  }
  if (num > res && res != (small ? UINT64_C(0xFFFF) : UINT64_C(0xFFFFFFFF))) {
    ++res;
  }
  return (uint32_t)res;
}

int pm_sig_filter_bank_sqrt(const uint64_t *x, int32_t n, int32_t shift, uint32_t *y) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    y[i] = (shift < 0 || shift > 31) ? 0 : pm_sig_sqrt64(x[i]) >> shift;
  }
  return PM_OK;
}

int pm_sig_spectral_subtraction(const pm_sig_spectral *p, const uint32_t *x, int32_t n, uint32_t *noise,
                                uint32_t *y, uint32_t *noise_out) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const uint32_t sm = (i & 1) ? p->alternate_smoothing : p->smoothing;
    const uint32_t om = (i & 1) ? p->alternate_one_minus_smoothing : p->one_minus_smoothing;
    const uint32_t up = x[i] << p->smoothing_bits;
    uint32_t est, floor_, sub;
    noise[i] = (uint32_t)(((uint64_t)up * sm + (uint64_t)noise[i] * om) >> p->spectral_subtraction_bits);
    est = noise[i];
    if (est > up) {
      est = up;
      if (p->clamping) {
        noise[i] = est;
      }
    }
    floor_ = (uint32_t)(((uint64_t)x[i] * p->min_signal_remaining) >> p->spectral_subtraction_bits);
    sub = (up - est) >> p->smoothing_bits;
    y[i] = sub > floor_ ? sub : floor_;
    noise_out[i] = noise[i];
  }
  return PM_OK;
}

static int16_t pm_sig_wide_dynamic(uint32_t x, const int16_t *lut) {
  int32_t interval, frac, r;
  if (x <= 2) {
    return lut[x];
  }
  interval = pm_sig_bitlen(x);
  lut += 4 * interval - 6;
  frac = (int32_t)((interval < 11 ? (x << (11 - interval)) : (x >> (interval - 11))) & UINT32_C(0x3FF));
  r = ((int32_t)lut[2] * frac) >> 5;
  r += (int32_t)lut[1] * 32;
  r *= frac;
  r = (r + INT32_C(16384)) >> 15;
  r += lut[0];
  return pm_sig_w16(r);
}

int pm_sig_pcan(const int16_t *lut, int32_t snr_shift, const uint32_t *x, const uint32_t *noise, int32_t n,
                uint32_t *y) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const uint32_t gain = (uint32_t)(int32_t)pm_sig_wide_dynamic(noise[i], lut); /* sign-extended */
    const uint32_t snr = (uint32_t)(((uint64_t)x[i] * gain) >> snr_shift);
    y[i] = snr < UINT32_C(8192) ? (snr * snr) >> 20 : (snr >> 6) - UINT32_C(64);
  }
  return PM_OK;
}

static const uint16_t pm_sig_log_lut[130] = {
    0,    224,  442,  654,  861,  1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087,
    3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934,
    5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622,
    5631, 5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370,
    5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341,
    4264, 4184, 4103, 4020, 3935, 3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659,
    2549, 2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963,  830,  695,  559,  421,
    282,  142,  0,    0};

static uint32_t pm_sig_log32(uint32_t x, uint32_t out_scale) {
  const int32_t integer = pm_sig_bitlen(x) - 1;
  int32_t frac = (int32_t)(x - ((uint32_t)1 << integer));
  int32_t seg, c0, c1, rel;
  uint32_t log2, loge;
  if (integer < 16) {
    frac <<= 16 - integer;
  } else {
    frac >>= integer - 16;
  }
  seg = frac >> 9;
  c0 = pm_sig_log_lut[seg];
  c1 = pm_sig_log_lut[seg + 1];
  rel = ((c1 - c0) * (frac - seg * 512)) >> 16;
  log2 = ((uint32_t)integer << 16) + (uint32_t)(frac + c0 + rel);
  loge = (uint32_t)((UINT64_C(45426) * log2 + UINT64_C(32768)) >> 16);
  return (out_scale * loge + UINT32_C(32768)) >> 16;
}

int pm_sig_filter_bank_log(const uint32_t *x, int32_t n, int32_t correction_bits, uint32_t output_scale,
                           int16_t *y) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const uint32_t scaled = x[i] << correction_bits;
    if (scaled > 1) {
      const uint32_t v = pm_sig_log32(scaled, output_scale);
      y[i] = (int16_t)(v < UINT32_C(32767) ? v : UINT32_C(32767));
    } else {
      y[i] = 0;
    }
  }
  return PM_OK;
}

int pm_sig_delay(const int16_t *x, int32_t rows, int32_t frame, int32_t delay, int16_t *state, int16_t *y) {
  int32_t r, j;
  for (r = 0; r < rows; ++r, x += frame, y += frame, state += delay) {
    for (j = 0; j < frame; ++j) { /* the stream (state, then x) from its start */
      y[j] = j < delay ? state[j] : x[j - delay];
    }
    for (j = 0; j < delay; ++j) { /* keep its last `delay` samples (reads run ahead of writes) */
      const int32_t k = frame + j;
      state[j] = k < delay ? state[k] : x[k - delay];
    }
  }
  return PM_OK;
}

static void pm_sig_shift(int16_t *fifo, int32_t len, int32_t n) {
  int32_t j;
  for (j = 0; j + n < len; ++j) {
    fifo[j] = fifo[j + n];
  }
}

int pm_sig_framer(const pm_sig_framer_params *p, const int16_t *x, int32_t rows, int16_t *fifo, int32_t *len,
                  int16_t *y, uint8_t *valid) {
  const int32_t len0 = *len;
  int32_t r, f, j, n = len0;
  *valid = 1;
  for (r = 0; r < rows; ++r, x += p->innermost, fifo += p->capacity) {
    n = len0;
    for (f = 0; f < p->n_frames; ++f, y += p->size) {
      for (j = 0; j < p->step; ++j) {
        fifo[n + j] = x[f * p->step + j];
      }
      n += p->step;
      if (n >= p->size) {
        for (j = 0; j < p->size; ++j) {
          y[j] = fifo[j];
        }
        pm_sig_shift(fifo, n, p->step);
        n -= p->step;
      } else {
        for (j = 0; j < p->size; ++j) {
          y[j] = 0;
        }
        *valid = 0;
      }
    }
  }
  *len = n;
  return PM_OK;
}

int pm_sig_stacker(const pm_sig_stacker_params *p, const int16_t *x, int16_t *fifo, int32_t *len, int32_t *started,
                   int16_t *y, uint8_t *valid) {
  const int32_t c = p->channels, size = c * (p->left + p->right + 1);
  int32_t j, k, n = *len;
  for (j = 0; j < c; ++j) {
    fifo[n + j] = x[j];
  }
  n += c;
  if (!*started) { /* the first frame is repeated left more times */
    for (k = 0; k < p->left; ++k, n += c) {
      for (j = 0; j < c; ++j) {
        fifo[n + j] = x[j];
      }
    }
    *started = 1;
  }
  if (n >= size) {
    for (j = 0; j < size; ++j) {
      y[j] = fifo[j];
    }
    pm_sig_shift(fifo, n, c * p->step);
    n -= c * p->step;
    *valid = 1;
  } else {
    for (j = 0; j < size; ++j) {
      y[j] = 0;
    }
    *valid = 0;
  }
  *len = n;
  return PM_OK;
}

int pm_sig_overlap_add_s16(const int16_t *x, int32_t rows, int32_t n_frames, int32_t size, int32_t step,
                           int16_t *state, int16_t *y) {
  int32_t r, f, j;
  for (r = 0; r < rows; ++r, state += size) {
    for (f = 0; f < n_frames; ++f, x += size, y += step) {
      for (j = 0; j < size; ++j) {
        const int32_t v = (int32_t)x[j] + state[j];
        state[j] = (int16_t)(v < INT32_C(-32768) ? INT32_C(-32768) : v > INT32_C(32767) ? INT32_C(32767) : v);
      }
      for (j = 0; j < step; ++j) {
        y[j] = state[j];
      }
      pm_sig_shift(state, size, step);
      for (j = size - step; j < size; ++j) {
        state[j] = 0;
      }
    }
  }
  return PM_OK;
}
