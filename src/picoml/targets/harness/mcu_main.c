/* Bare-metal verification harness: the emulator writes one input into pm_input, starts at
 * pm_start with a fresh stack, and stops when the status word is written to PM_MMIO_DONE.
 * PM_LAYER_DONE(i) writes i to PM_MMIO_LAYER so the emulator can split instruction counts.
 * pm_input holds every input of one inference back to back, pm_output every output;
 * PM_HARNESS_INVOKE as in host_main.c. */
#include <stdint.h>

#include "model.h"

#define PM_MMIO_LAYER ((volatile uint32_t *)0x4F000000u)
#define PM_MMIO_DONE ((volatile uint32_t *)0x4F000004u)

#ifndef PM_HARNESS_INVOKE
#define PM_HARNESS_IN_BYTES MODEL_INPUT_SIZE
#define PM_HARNESS_OUT_BYTES MODEL_OUTPUT_SIZE
#define PM_HARNESS_INVOKE(in, out) model_invoke((in), (out))
#endif

/* word-aligned: int32 inputs and outputs (indices) sit at offsets aligned to 4 */
union pm_harness_in {
  int32_t align;
  int8_t bytes[PM_HARNESS_IN_BYTES];
};
union pm_harness_out {
  int32_t align;
  int8_t bytes[PM_HARNESS_OUT_BYTES];
};
union pm_harness_in pm_input;
union pm_harness_out pm_output;

void pm_start(void) {
  const int status = PM_HARNESS_INVOKE(pm_input.bytes, pm_output.bytes);
  *PM_MMIO_DONE = (uint32_t)status;
  for (;;) {
  }
}
