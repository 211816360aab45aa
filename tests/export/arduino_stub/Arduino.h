/* A minimal stand-in for the Arduino core, enough to build and run an exported sketch in the
 * emulator: Serial prints to the emulator's text port (PM_MMIO_PUTC). */
#ifndef PICOML_TEST_ARDUINO_H
#define PICOML_TEST_ARDUINO_H
#include <stdint.h>

class HardwareSerial {
 public:
  void begin(unsigned long) {}
  void print(const char *s) {
    while (*s) put(*s++);
  }
  void print(char c) { put(c); }
  void print(int v) {
    char buf[12];
    int n = 0;
    unsigned int u = v < 0 ? 0u - (unsigned int)v : (unsigned int)v;
    do {
      buf[n++] = (char)('0' + u % 10u);
      u /= 10u;
    } while (u);
    if (v < 0) put('-');
    while (n) put(buf[--n]);
  }
  void println() { put('\n'); }
  void println(const char *s) {
    print(s);
    println();
  }
  void println(int v) {
    print(v);
    println();
  }

 private:
  /* Out of line on purpose: unicorn (2.1.x) mis-tracks the IT state when a hooked store runs
   * inside a Thumb IT block (unicorn-engine/unicorn#2309), and an inlined put() lands in one
   * (e.g. the minus sign: ITT LE; MOVLE; STRLE), skipping the next instruction after it. */
  __attribute__((noinline)) static void put(char c) {
    *(volatile uint32_t *)0x4F000008u = (uint32_t)(unsigned char)c;
  }
};

extern HardwareSerial Serial;
void setup();
void loop();
#endif
