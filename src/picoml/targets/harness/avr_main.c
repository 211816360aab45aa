/* AVR verification harness, run in simavr by picoml.targets.simavr (simavr_run.c): it writes
 * GPIOR1 when ready for an input (the simulator then fills pm_input), runs one inference and
 * writes the status to GPIOR2 (the simulator reads pm_output); PM_LAYER_DONE(i) writes GPIOR0,
 * so layer cycles can be split. The buffers are as in mcu_main.c; PM_HARNESS_INVOKE as there. */
#include <avr/io.h>
#include <stdint.h>

#include "model.h"

#ifndef PM_HARNESS_INVOKE
#define PM_HARNESS_IN_BYTES MODEL_INPUT_SIZE
#define PM_HARNESS_OUT_BYTES MODEL_OUTPUT_SIZE
#define PM_HARNESS_INVOKE(in, out) model_invoke((in), (out))
#endif

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

int main(void) {
  for (;;) {
    int status;
    GPIOR1 = 1;                        /* ready: the simulator writes the next input (or stops) */
    __asm__ __volatile__("" ::: "memory"); /* pm_input changed behind the compiler's back */
    status = PM_HARNESS_INVOKE(pm_input.bytes, pm_output.bytes);
    __asm__ __volatile__("" ::: "memory");
    GPIOR2 = (uint8_t)status; /* done: the simulator reads pm_output */
  }
}
