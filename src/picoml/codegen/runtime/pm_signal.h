/* tflite-micro's signal library (audio front end): Window, FftAutoScale, Rfft (kissfft fixed-point
 * int16), Energy, FilterBank, FilterBankSquareRoot, FilterBankSpectralSubtraction, PCAN,
 * FilterBankLog. Integer arithmetic only (int64 where the C of signal/src uses it), every value
 * bit-exact with picoml's reference kernels (reference/signal.py, signal_fft.py), which equal
 * tflite-micro. Every table comes from the generator; 16-bit int safe (AVR). */
#ifndef PM_SIGNAL_H
#define PM_SIGNAL_H

#include "pm_common.h"

/* y = saturate16(x * w >> shift) over `total` values, the window (n values) repeated. */
int pm_sig_window(const int16_t *x, const int16_t *w, int32_t n, int32_t total, int32_t shift, int16_t *y);

/* y = x << s, s the headroom of MaxAbs16(x) (0 when none); *scale = s. */
int pm_sig_fft_auto_scale(const int16_t *x, int32_t n, int16_t *y, int32_t *scale);

typedef struct {
  int32_t n;                      /* fft_length: real points, a power of two >= 4 */
  int32_t n_stages;               /* radix-4 / radix-2 stages, deepest first */
  const int32_t *stages;          /* (radix, m, fstride) per stage */
  const int16_t *perm;            /* n/2: complex input index of each position before the first stage */
  const int16_t *twiddles;        /* n/2 complex (re, im) */
  const int16_t *super_twiddles;  /* n/4 complex (re, im) */
  int32_t inverse;                /* kiss_fftri's tables and radix-4 signs */
} pm_sig_fft;

/* kiss_fftr of `rows` rows of in_len int16 values (zero-padded to n): n/2 + 1 complex bins per
 * row, (re, im) interleaved. work: n int16 values of scratch. */
int pm_sig_rfft_s16(const pm_sig_fft *f, const int16_t *x, int32_t in_len, int32_t rows, int16_t *work, int16_t *y);

/* kiss_fftri of `rows` rows of n/2 + 1 complex int16 bins: n int16 values per row. work: n int16. */
int pm_sig_irfft_s16(const pm_sig_fft *f, const int16_t *x, int32_t rows, int16_t *work, int16_t *y);

/* y[i] = re^2 + im^2 (mod 2^32) for bins start..end-1, 0 for the other of n_bins bins. */
int pm_sig_energy(const int16_t *x, int32_t start, int32_t end, int32_t n_bins, uint32_t *y);

/* num_channels outputs: channel i gets the weights of band i + 1 and the unweights of band i. */
int pm_sig_filter_bank(const uint32_t *x, int32_t num_channels, const int16_t *weights, const int16_t *unweights,
                       const int16_t *freq_starts, const int16_t *weight_starts, const int16_t *widths,
                       uint64_t *y);

/* y = rounded sqrt(x) >> shift (0 for a shift outside 0..31). */
int pm_sig_filter_bank_sqrt(const uint64_t *x, int32_t n, int32_t shift, uint32_t *y);

typedef struct {
  uint32_t smoothing, one_minus_smoothing, alternate_smoothing, alternate_one_minus_smoothing;
  uint32_t min_signal_remaining;
  int32_t smoothing_bits, spectral_subtraction_bits, clamping;
} pm_sig_spectral;

/* noise: the persistent estimate (n values, zero at reset), updated; noise_out: a copy of it. */
int pm_sig_spectral_subtraction(const pm_sig_spectral *p, const uint32_t *x, int32_t n, uint32_t *noise,
                                uint32_t *y, uint32_t *noise_out);

/* lut: 125 int16 gain-table entries. */
int pm_sig_pcan(const int16_t *lut, int32_t snr_shift, const uint32_t *x, const uint32_t *noise, int32_t n,
                uint32_t *y);

int pm_sig_filter_bank_log(const uint32_t *x, int32_t n, int32_t correction_bits, uint32_t output_scale,
                           int16_t *y);

/* Stateful ops: their FIFOs are the caller's static arrays (zero at program start) and a length. */

/* rows rows of `frame` samples, each delayed by `delay` samples; state: rows * delay int16. */
int pm_sig_delay(const int16_t *x, int32_t rows, int32_t frame, int32_t delay, int16_t *state, int16_t *y);

typedef struct {
  int32_t size, step, n_frames, innermost, capacity;
} pm_sig_framer_params;

/* fifo: rows * capacity int16, *len its fill (the same for every row); valid: one byte. */
int pm_sig_framer(const pm_sig_framer_params *p, const int16_t *x, int32_t rows, int16_t *fifo, int32_t *len,
                  int16_t *y, uint8_t *valid);

typedef struct {
  int32_t channels, left, right, step;
} pm_sig_stacker_params;

/* fifo: channels * (left + right + 1) int16; *len its fill, *started whether a frame came. */
int pm_sig_stacker(const pm_sig_stacker_params *p, const int16_t *x, int16_t *fifo, int32_t *len, int32_t *started,
                   int16_t *y, uint8_t *valid);

/* rows of n_frames frames of `size` int16 each, `step` samples out per frame; state: rows * size int16. */
int pm_sig_overlap_add_s16(const int16_t *x, int32_t rows, int32_t n_frames, int32_t size, int32_t step,
                           int16_t *state, int16_t *y);

#endif /* PM_SIGNAL_H */
