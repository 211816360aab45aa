/* Bare-metal verification harness: the emulator writes one input into pm_input, starts at
 * pm_start with a fresh stack, and stops when the status word is written to PM_MMIO_DONE.
 * PM_LAYER_DONE(i) writes i to PM_MMIO_LAYER so the emulator can split instruction counts. */
#include <stdint.h>

#include "model.h"

#define PM_MMIO_LAYER ((volatile uint32_t *)0x4F000000u)
#define PM_MMIO_DONE ((volatile uint32_t *)0x4F000004u)

int8_t pm_input[MODEL_INPUT_SIZE];
int8_t pm_output[MODEL_OUTPUT_SIZE];

void pm_start(void) {
  const int status = model_invoke(pm_input, pm_output);
  *PM_MMIO_DONE = (uint32_t)status;
  for (;;) {
  }
}
