/* UNIDIRECTIONAL_SEQUENCE_LSTM, integer (issue 15): tflite-micro's int8 (8x8 -> 16) and 16x8 LSTM.
 * int8 weights, an int16 cell state; activations, hidden state and output int8 (wide = 0, int32
 * biases) or int16 (wide = 1, int64 biases). The hidden and cell states are variable tensors in
 * the arena's persistent region. No scratch: each step's hidden state is written to the output
 * row of that step, and the next step reads it there (the state is updated after the last step). */
#ifndef PM_LSTM_S8_H
#define PM_LSTM_S8_H

#include <stdint.h>

typedef struct {
  int32_t batch, steps, n_in, n_state;
  int32_t time_major; /* 1: x [steps][batch][n_in]; 0: [batch][steps][n_in] (the output alike) */
  int32_t wide;       /* 1: int16 activations, int64 accumulators and biases (16x8) */
  int32_t x_zp, h_zp, h_lo, h_hi;
  int32_t m_fc, s_fc, m_ic, s_ic, m_h, s_h; /* forget*cell, input*cell gate, output*tanh(cell) */
  int32_t clip, qclip;                      /* clip: cell_clip > 0; then |cell| <= qclip */
  int32_t tanh_mult, tanh_shift;            /* tanh of the cell state (its scale 2^p) */
  const int32_t *q;                         /* per gate (input, forget, cell, output): mx, sx, mh, sh */
  const int8_t *wx;                         /* [4][n_state][n_in] */
  const int8_t *wh;                         /* [4][n_state][n_state] */
  const void *bias;                         /* [4][n_state], int32_t (wide 0) or int64_t (wide 1) */
} pm_lstm_params;

int pm_lstm_s8(const pm_lstm_params *p, const void *x, void *h_state, int16_t *c_state, void *y);

#endif /* PM_LSTM_S8_H */
