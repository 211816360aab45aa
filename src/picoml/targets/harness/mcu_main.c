/* Bare-metal verification harness, zero-copy: the emulator writes one input straight into the
 * model's arena (at the arena symbol plus the planned offset of each input: what
 * model_input() returns), starts at pm_start with a fresh stack, and stops when the status word
 * is written to PM_MMIO_DONE; it then reads the outputs in the arena the same way. The harness
 * has no I/O buffer of its own, so the program's RAM is the arena, the stack and nothing else.
 * PM_LAYER_DONE(i) writes i to PM_MMIO_LAYER so the emulator can split instruction counts. */
#include <stdint.h>

#include "model.h"

#define PM_MMIO_LAYER ((volatile uint32_t *)0x4F000000u)
#define PM_MMIO_DONE ((volatile uint32_t *)0x4F000004u)

void pm_start(void) {
  const int status = model_run();
  *PM_MMIO_DONE = (uint32_t)status;
  for (;;) {
  }
}
