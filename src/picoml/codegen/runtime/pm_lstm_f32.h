/* UNIDIRECTIONAL_SEQUENCE_LSTM, float32 (issue 15): hidden and cell states are variable tensors in
 * the arena's persistent region. No scratch: each step's hidden state is written to the output row
 * of that step, and the next step reads it there (the state is updated after the last step). */
#ifndef PM_LSTM_F32_H
#define PM_LSTM_F32_H

#include <stdint.h>

typedef struct {
  int32_t batch, steps, n_in, n_state;
  int32_t time_major; /* 1: x [steps][batch][n_in]; 0: [batch][steps][n_in] (the output alike) */
  float cell_clip;    /* > 0: |cell| <= cell_clip */
  const float *wx;    /* [4][n_state][n_in], gates input, forget, cell, output */
  const float *wh;    /* [4][n_state][n_state] */
  const float *bias;  /* [4][n_state] */
} pm_lstm_f32_params;

int pm_lstm_f32(const pm_lstm_f32_params *p, const float *x, float *h_state, float *c_state, float *y);

#endif /* PM_LSTM_F32_H */
