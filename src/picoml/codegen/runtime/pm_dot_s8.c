/* Armv6-M (Cortex-M0/M0+) offset-binary GEMM loop, in assembly because the C compiler spills
 * the accumulators of this loop to the stack (73 instructions per 16 MACs instead of 54).
 *
 * pm_dot_1x8_ob_loop_s8(a, wb, n4, s): s[i] += sum_{j < 4*n4} a[j] * wb[8j + i], i < 8, n4 > 0:
 * one offset-binary block of 8 channels (pm_dot_s8.h). Registers: r0 = a, r1 = wb, r2 = the
 * activation (LDRB + SXTB: Armv6-M's LDRSB has no immediate-offset form), r3 = product,
 * accumulators r4-r7 (ADDS) and r8-r11 (ADD to a high register), r12 = end of a.
 * Per 4 inputs x 8 channels: 4 x (2 + 8 x 3) + 4 = 108 instructions for 32 MACs. */
#include "pm_dot_s8.h"

#if PM_DOT_OB_ASM

/* one weight of the block at byte offset `off` times r2 into accumulator `acc` */
#define PM_OB_LO(off, acc) "ldrb r3, [r1, #" #off "]\n\tmuls r3, r2, r3\n\tadds " acc ", " acc ", r3\n\t"
#define PM_OB_HI(off, acc) "ldrb r3, [r1, #" #off "]\n\tmuls r3, r2, r3\n\tadd " acc ", r3\n\t"
/* input j of the group of 4 against the block's 8 weights at offsets 8j .. 8j + 7 */
#define PM_OB_STEP(j, o0, o1, o2, o3, o4, o5, o6, o7)                                                        \
  "ldrb r2, [r0, #" #j "]\n\tsxtb r2, r2\n\t" PM_OB_LO(o0, "r4") PM_OB_LO(o1, "r5") PM_OB_LO(o2, "r6")     \
      PM_OB_LO(o3, "r7") PM_OB_HI(o4, "r8") PM_OB_HI(o5, "r9") PM_OB_HI(o6, "r10") PM_OB_HI(o7, "r11")

__asm__(
    "\t.section .text.pm_dot_1x8_ob_loop_s8,\"ax\",%progbits\n"
    "\t.syntax unified\n"
    "\t.thumb\n"
    "\t.p2align 2\n"
    "\t.global pm_dot_1x8_ob_loop_s8\n"
    "\t.type pm_dot_1x8_ob_loop_s8, %function\n"
    "\t.thumb_func\n"
    "pm_dot_1x8_ob_loop_s8:\n\t"
    "push {r4, r5, r6, r7, lr}\n\t"
    "mov r4, r8\n\t"
    "mov r5, r9\n\t"
    "mov r6, r10\n\t"
    "mov r7, r11\n\t"
    "push {r3, r4, r5, r6, r7}\n\t" /* r8-r11 and s */
    "lsls r2, r2, #2\n\t"
    "adds r2, r0, r2\n\t"
    "mov r12, r2\n\t"
    "ldr r4, [r3, #16]\n\t"
    "mov r8, r4\n\t"
    "ldr r4, [r3, #20]\n\t"
    "mov r9, r4\n\t"
    "ldr r4, [r3, #24]\n\t"
    "mov r10, r4\n\t"
    "ldr r4, [r3, #28]\n\t"
    "mov r11, r4\n\t"
    "ldr r4, [r3, #0]\n\t"
    "ldr r5, [r3, #4]\n\t"
    "ldr r6, [r3, #8]\n\t"
    "ldr r7, [r3, #12]\n"
    "1:\n\t" PM_OB_STEP(0, 0, 1, 2, 3, 4, 5, 6, 7) PM_OB_STEP(1, 8, 9, 10, 11, 12, 13, 14, 15)
        PM_OB_STEP(2, 16, 17, 18, 19, 20, 21, 22, 23) PM_OB_STEP(3, 24, 25, 26, 27, 28, 29, 30, 31)
    "adds r0, #4\n\t"
    "adds r1, #32\n\t"
    "cmp r0, r12\n\t"
    "bne 1b\n\t"
    "pop {r3}\n\t"
    "str r4, [r3, #0]\n\t"
    "str r5, [r3, #4]\n\t"
    "str r6, [r3, #8]\n\t"
    "str r7, [r3, #12]\n\t"
    "mov r4, r8\n\t"
    "str r4, [r3, #16]\n\t"
    "mov r4, r9\n\t"
    "str r4, [r3, #20]\n\t"
    "mov r4, r10\n\t"
    "str r4, [r3, #24]\n\t"
    "mov r4, r11\n\t"
    "str r4, [r3, #28]\n\t"
    "pop {r4, r5, r6, r7}\n\t"
    "mov r8, r4\n\t"
    "mov r9, r5\n\t"
    "mov r10, r6\n\t"
    "mov r11, r7\n\t"
    "pop {r4, r5, r6, r7, pc}\n\t"
    ".size pm_dot_1x8_ob_loop_s8, . - pm_dot_1x8_ob_loop_s8\n\t"
    ".text\n");

#else
typedef int pm_dot_s8_unused; /* ISO C: a translation unit declares something */
#endif

#if PM_LANES_ASM
/* pm_lanes_block_s8 (pm_dot_s8.h). Registers: r0 = xw, r1 = wp, r2 r3 = x[j], x[j+1] (LDM),
 * r4 r5 = the pair's words, then products; B sums in r6, r7 (ADCS needs low registers), P sums
 * in r8, r9; r10 = end of xw, r11 = end of the single chunks (n % 4 of them, then 4 per test). */
#define PM_LANES_PAIR(B, P)                                                                                  \
  "ldm r1!, {r4, r5}\n\tmuls r4, r2, r4\n\tmuls r5, r3, r5\n\tadds r4, r4, r5\n\tadd " P ", r4\n\t"    \
  "asrs r4, r4, #16\n\tadcs " B ", r4\n\t"
#define PM_LANES_CHUNK "ldm r0!, {r2, r3}\n\t" PM_LANES_PAIR("r6", "r8") PM_LANES_PAIR("r7", "r9")
__asm__(
    "\t.section .text.pm_lanes_block_s8,\"ax\",%progbits\n"
    "\t.syntax unified\n"
    "\t.thumb\n"
    "\t.p2align 2\n"
    "\t.global pm_lanes_block_s8\n"
    "\t.type pm_lanes_block_s8, %function\n"
    "\t.thumb_func\n"
    "pm_lanes_block_s8:\n\t"
    "push {r4, r5, r6, r7, lr}\n\t"
    "mov r4, r8\n\t"
    "mov r5, r9\n\t"
    "mov r6, r10\n\t"
    "mov r7, r11\n\t"
    "push {r3, r4, r5, r6, r7}\n\t" /* r8-r11 and s */
    "lsls r4, r2, #3\n\t"
    "adds r4, r0, r4\n\t"
    "mov r10, r4\n\t" /* end of xw */
    "lsls r4, r2, #30\n\t"
    "lsrs r4, r4, #27\n\t" /* 8 * (n % 4) */
    "adds r4, r0, r4\n\t"
    "mov r11, r4\n\t" /* end of the single chunks */
    "movs r6, #0\n\t"
    "movs r7, #0\n\t"
    "mov r8, r6\n\t"
    "mov r9, r6\n\t"
    "b 2f\n"
    "1:\n\t" PM_LANES_CHUNK
    "2:\n\t"
    "cmp r0, r11\n\t"
    "bne 1b\n\t"
    "b 4f\n"
    "3:\n\t" PM_LANES_CHUNK PM_LANES_CHUNK PM_LANES_CHUNK PM_LANES_CHUNK
    "4:\n\t"
    "cmp r0, r10\n\t"
    "bne 3b\n\t"
    "pop {r3}\n\t"
    "str r6, [r3, #4]\n\t"
    "str r7, [r3, #12]\n\t"
    "mov r4, r8\n\t"
    "str r4, [r3, #0]\n\t"
    "mov r4, r9\n\t"
    "str r4, [r3, #8]\n\t"
    "pop {r4, r5, r6, r7}\n\t"
    "mov r8, r4\n\t"
    "mov r9, r5\n\t"
    "mov r10, r6\n\t"
    "mov r11, r7\n\t"
    "pop {r4, r5, r6, r7, pc}\n\t"
    ".size pm_lanes_block_s8, . - pm_lanes_block_s8\n\t"
    ".text\n");

/* pm_requant_n_v6m (pm_dot_s8.h). r0 = acc, r1 = q, r3 = o, r12 = end of acc; r8 = zp, r9 = lo,
 * r10 = hi, r11 = 2^14; per output: a = (acc << left) >> 1 split as ah * 2^16 + al (al signed),
 * the multiplier as mh * 2^16 + ml (two LDRH), v = 2*ah*mh + ((ah*ml + al*mh + (al*ml >> 16)
 * + 2^14) >> 15), r = (2v + round + (v >> 31)) >> right, clamp(r + zp, lo, hi). */
__asm__(
    "\t.section .text.pm_requant_n_v6m,\"ax\",%progbits\n"
    "\t.syntax unified\n"
    "\t.thumb\n"
    "\t.p2align 2\n"
    "\t.global pm_requant_n_v6m\n"
    "\t.type pm_requant_n_v6m, %function\n"
    "\t.thumb_func\n"
    "pm_requant_n_v6m:\n\t"
    "push {r4, r5, r6, r7, lr}\n\t"
    "ldr r4, [sp, #20]\n\t" /* zlh, the fifth argument */
    "mov r5, r8\n\t"
    "mov r6, r9\n\t"
    "mov r7, r10\n\t"
    "push {r5, r6, r7}\n\t"
    "mov r5, r11\n\t"
    "push {r5}\n\t"
    "ldm r4!, {r5, r6, r7}\n\t"
    "mov r8, r5\n\t"
    "mov r9, r6\n\t"
    "mov r10, r7\n\t"
    "movs r5, #1\n\t"
    "lsls r5, r5, #14\n\t"
    "mov r11, r5\n\t"
    "lsls r2, r2, #2\n\t"
    "adds r2, r0, r2\n\t"
    "mov r12, r2\n"
    "1:\n\t"
    "ldm r0!, {r4}\n\t"
    "ldrh r7, [r1, #8]\n\t"
    "lsls r4, r7\n\t"
    "asrs r4, r4, #1\n\t"
    "sxth r5, r4\n\t"
    "subs r4, r4, r5\n\t"
    "asrs r4, r4, #16\n\t" /* ah */
    "ldrh r6, [r1, #0]\n\t" /* ml */
    "ldrh r2, [r1, #2]\n\t" /* mh */
    "mov r7, r4\n\t"
    "muls r7, r2, r7\n\t" /* ah * mh */
    "muls r4, r6, r4\n\t" /* ah * ml */
    "muls r2, r5, r2\n\t" /* al * mh */
    "muls r6, r5, r6\n\t" /* al * ml */
    "asrs r6, r6, #16\n\t"
    "adds r4, r4, r2\n\t"
    "adds r4, r4, r6\n\t"
    "add r4, r11\n\t"
    "asrs r4, r4, #15\n\t"
    "lsls r7, r7, #1\n\t"
    "adds r4, r4, r7\n\t" /* v */
    "asrs r7, r4, #31\n\t"
    "lsls r4, r4, #1\n\t"
    "adds r4, r4, r7\n\t"
    "ldr r7, [r1, #4]\n\t"
    "adds r4, r4, r7\n\t"
    "ldrh r7, [r1, #10]\n\t"
    "asrs r4, r7\n\t"
    "add r4, r8\n\t"
    "cmp r4, r9\n\t"
    "bge 2f\n\t"
    "mov r4, r9\n"
    "2:\n\t"
    "cmp r4, r10\n\t"
    "ble 3f\n\t"
    "mov r4, r10\n"
    "3:\n\t"
    "strb r4, [r3]\n\t"
    "adds r3, r3, #1\n\t"
    "adds r1, r1, #12\n\t"
    "cmp r0, r12\n\t"
    "bne 1b\n\t"
    "pop {r4}\n\t"
    "mov r11, r4\n\t"
    "pop {r4, r5, r6}\n\t"
    "mov r8, r4\n\t"
    "mov r9, r5\n\t"
    "mov r10, r6\n\t"
    "pop {r4, r5, r6, r7, pc}\n\t"
    ".size pm_requant_n_v6m, . - pm_requant_n_v6m\n\t"
    ".text\n");
#endif

#if PM_SPARSE_WEIGHTS
#include "pm_sparse_s8.h"
#if PM_SPARSE_CTZ_TABLE
/* bit position by the top 5 bits of (isolated bit * 0x077CB531), for cores without CLZ (pm_sparse_s8.h) */
const uint8_t pm_sparse_debruijn[32] = {0,  1,  28, 2,  29, 14, 24, 3, 30, 22, 20, 15, 25, 17, 4,  8,
                                        31, 27, 13, 23, 21, 19, 16, 7, 26, 12, 18, 6,  11, 5,  10, 9};
#endif
#endif

/* s += a . w over k elements (pm_dot_s8.h); out of line in this one file, not a static copy in
 * each kernel file that calls it. */
int32_t pm_dot_1x1_s8(const int8_t *a, const int8_t *w, int32_t k, int32_t s) {
#if PM_SIMD32
  PM_NO_UNROLL
  for (; k >= 4; k -= 4) {
    const int32_t x = pm_read_s8x4(a), y = pm_read_s8x4(w);
    s = __smlad((int32_t)__sxtb16((uint32_t)x), (int32_t)__sxtb16((uint32_t)y), s);
    s = __smlad(pm_sxtb16_ror8((uint32_t)x), pm_sxtb16_ror8((uint32_t)y), s);
    a += 4;
    w += 4;
  }
#endif
  PM_NO_UNROLL
  for (; k > 0; --k) s += *a++ * PM_LD_S8(w++);
  return s;
}
