/* AVR verification harness, run in simavr by picoml.targets.simavr (simavr_run.c), zero-copy:
 * it writes GPIOR1 when ready for an input (the simulator then writes it straight into the
 * model's arena, where model_input() points), runs one inference with model_run() and writes
 * the status to GPIOR2 (the simulator reads the outputs in the arena); PM_LAYER_DONE(i) writes
 * GPIOR0, so layer cycles can be split. No I/O buffer of its own: as mcu_main.c. */
#include <avr/io.h>
#include <stdint.h>

#include "model.h"

int main(void) {
  for (;;) {
    int status;
    GPIOR1 = 1;                        /* ready: the simulator writes the next input (or stops) */
    __asm__ __volatile__("" ::: "memory"); /* the arena changed behind the compiler's back */
    status = model_run();
    __asm__ __volatile__("" ::: "memory");
    GPIOR2 = (uint8_t)status; /* done: the simulator reads the outputs */
  }
}
