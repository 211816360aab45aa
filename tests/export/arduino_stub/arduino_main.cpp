/* Stand-in for the Arduino core's main(): setup() once, loop() once, then signal completion. */
#include "Arduino.h"

HardwareSerial Serial;

extern "C" void pm_start(void) {
  setup();
  loop();
  *(volatile uint32_t *)0x4F000004u = 0u;
  for (;;) {
  }
}
