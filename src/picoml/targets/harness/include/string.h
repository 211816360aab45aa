/* Minimal <string.h> for freestanding builds of the picoml verification harness
 * (a real MCU toolchain's C library provides the same three functions). */
#ifndef PM_HARNESS_STRING_H
#define PM_HARNESS_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
#endif
