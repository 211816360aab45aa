/* Runs the AVR verification harness (avr_main.c) in simavr, one inference per input, for
 * picoml.targets.simavr (which builds this file with the host C compiler against libsimavr).
 *
 *   simavr_run MCU HZ ELF IN_BYTES IN_REGIONS OUT_BYTES OUT_REGIONS STACK_LO MAX_CYCLES INPUTS OUTPUTS
 *
 * INPUTS holds one row of IN_BYTES per inference (every input of the model back to back);
 * OUTPUTS receives one row of OUT_BYTES per inference the same way. A REGIONS list,
 * "ROW_OFFSET:ADDR:BYTES,...", says where each tensor of a row lives in SRAM: in the model's
 * arena (the harness is zero-copy). The harness writes GPIOR1 when it is ready for an input
 * (this program then copies the next row's tensors into SRAM, paints the free stack from
 * STACK_LO up to SP, and notes simavr's cycle counter), GPIOR0 when a layer is done and GPIOR2
 * (the status) when an inference is done. One line per inference on stdout:
 *   status cycles stack_bytes layer_cycles...
 * Cycles are the simulator's own count (avr->cycle) between the two writes. Exit status 0 when
 * every input ran, 2 on a usage or load error, 3 when the program crashed or ran out of cycles,
 * 4 when the stack reached the static data ("overflow FREE DEEPEST" on stdout: the bytes that
 * were free for it, and how deep SP went below its start, which the corrupted run may understate;
 * the outputs written before it are dropped). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_io.h>

#define GPIOR0 0x3E /* data-space addresses, the same on the ATmega328P and the ATmega2560 */
#define GPIOR1 0x4A
#define GPIOR2 0x4B
#define SPL 0x5D
#define SPH 0x5E
#define PAINT 0xA5
#define MAX_LAYERS 4096
#define MAX_REGIONS 64

struct region {
  unsigned row, addr, bytes;
};

static struct {
  unsigned char *in, *out;
  long n, next;
  struct region ins[MAX_REGIONS], outs[MAX_REGIONS];
  int n_ins, n_outs;
  unsigned in_bytes, out_bytes, stack_lo, sp, min_sp;
  avr_cycle_count_t start, last;
  avr_cycle_count_t layer[MAX_LAYERS];
  int layers, overflow;
  FILE *outputs;
} h;

static void on_ready(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param) {
  unsigned a;
  int i;
  (void)addr, (void)v, (void)param;
  if (h.next >= h.n) {
    avr->state = cpu_Done;
    return;
  }
  for (i = 0; i < h.n_ins; ++i)
    memcpy(avr->data + h.ins[i].addr, h.in + h.next * h.in_bytes + h.ins[i].row, h.ins[i].bytes);
  h.sp = avr->data[SPL] | (unsigned)avr->data[SPH] << 8;
  for (a = h.stack_lo; a <= h.sp; ++a) avr->data[a] = PAINT;
  h.min_sp = h.sp;
  h.layers = 0;
  h.start = h.last = avr->cycle;
}

static void on_layer(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param) {
  (void)addr, (void)v, (void)param;
  if (h.layers < MAX_LAYERS) h.layer[h.layers++] = avr->cycle - h.last;
  h.last = avr->cycle;
}

static void on_done(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param) {
  unsigned a = h.stack_lo;
  int i;
  (void)addr, (void)param;
  /* the stack reached the static data (SP below it, or the byte above it written): results void */
  if (h.min_sp < h.stack_lo || avr->data[h.stack_lo] != PAINT) {
    h.overflow = 1;
    avr->state = cpu_Done;
    return;
  }
  while (a <= h.sp && avr->data[a] == PAINT) ++a;
  memset(h.out, 0, h.out_bytes);
  for (i = 0; i < h.n_outs; ++i) memcpy(h.out + h.outs[i].row, avr->data + h.outs[i].addr, h.outs[i].bytes);
  fwrite(h.out, 1, h.out_bytes, h.outputs);
  /* peak stack: the deepest byte written, or the deepest SP (a frame reserved but not all written) */
  printf("%u %llu %u", (unsigned)v, (unsigned long long)(avr->cycle - h.start),
         h.sp + 1 - a > h.sp - h.min_sp ? h.sp + 1 - a : h.sp - h.min_sp);
  for (i = 0; i < h.layers; ++i) printf(" %llu", (unsigned long long)h.layer[i]);
  printf("\n");
  h.next++;
}

static void quiet(avr_t *avr, const int level, const char *format, va_list ap) {
  if (level <= LOG_ERROR) {
    (void)avr;
    vfprintf(stderr, format, ap);
  }
}

/* "ROW:ADDR:BYTES,..." into rs; the count, or -1 when malformed or a region leaves the row */
static int regions(const char *s, struct region *rs, unsigned row_bytes) {
  int n = 0;
  char *end;
  while (*s) {
    if (n == MAX_REGIONS) return -1;
    rs[n].row = (unsigned)strtoul(s, &end, 0);
    if (*end != ':') return -1;
    rs[n].addr = (unsigned)strtoul(end + 1, &end, 0);
    if (*end != ':') return -1;
    rs[n].bytes = (unsigned)strtoul(end + 1, &end, 0);
    if (rs[n].row + rs[n].bytes > row_bytes || (*end != ',' && *end != 0)) return -1;
    ++n;
    s = *end ? end + 1 : end;
  }
  return n;
}

static unsigned char *slurp(const char *path, long *size) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc(*size ? (size_t)*size : 1);
  if (buf && fread(buf, 1, (size_t)*size, f) != (size_t)*size) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  elf_firmware_t fw;
  avr_t *avr;
  long size;
  unsigned long long max_cycles;
  int state;
  if (argc != 12) {
    fprintf(stderr,
            "usage: %s MCU HZ ELF IN_BYTES IN_REGIONS OUT_BYTES OUT_REGIONS STACK_LO MAX_CYCLES INPUTS OUTPUTS\n",
            argv[0]);
    return 2;
  }
  h.in_bytes = (unsigned)strtoul(argv[4], NULL, 0);
  h.n_ins = regions(argv[5], h.ins, h.in_bytes);
  h.out_bytes = (unsigned)strtoul(argv[6], NULL, 0);
  h.n_outs = regions(argv[7], h.outs, h.out_bytes);
  h.out = malloc(h.out_bytes ? h.out_bytes : 1);
  if (h.n_ins < 0 || h.n_outs < 0 || !h.out) {
    fprintf(stderr, "bad region list\n");
    return 2;
  }
  h.stack_lo = (unsigned)strtoul(argv[8], NULL, 0);
  max_cycles = strtoull(argv[9], NULL, 0);
  h.in = slurp(argv[10], &size);
  if (!h.in || !h.in_bytes) {
    fprintf(stderr, "cannot read inputs %s\n", argv[10]);
    return 2;
  }
  h.n = size / h.in_bytes;
  h.outputs = fopen(argv[11], "wb");
  if (!h.outputs) {
    fprintf(stderr, "cannot write %s\n", argv[11]);
    return 2;
  }
  avr_global_logger_set(quiet);
  memset(&fw, 0, sizeof fw);
  if (elf_read_firmware(argv[3], &fw) != 0) {
    fprintf(stderr, "cannot load %s\n", argv[3]);
    return 2;
  }
  avr = avr_make_mcu_by_name(argv[1]);
  if (!avr) {
    fprintf(stderr, "simavr has no core %s\n", argv[1]);
    return 2;
  }
  avr_init(avr);
  fw.frequency = (uint32_t)strtoul(argv[2], NULL, 0);
  avr_load_firmware(avr, &fw);
  avr->frequency = fw.frequency;
  {
    int i;
    for (i = 0; i < h.n_ins + h.n_outs; ++i) {
      const struct region *r = i < h.n_ins ? &h.ins[i] : &h.outs[i - h.n_ins];
      if (r->addr + r->bytes > (unsigned)avr->ramend + 1) {
        fprintf(stderr, "an input or output region outside SRAM\n");
        return 2;
      }
    }
  }
  avr_register_io_write(avr, GPIOR0, on_layer, NULL);
  avr_register_io_write(avr, GPIOR1, on_ready, NULL);
  avr_register_io_write(avr, GPIOR2, on_done, NULL);
  state = cpu_Running;
  while (state != cpu_Done && state != cpu_Crashed) {
    unsigned sp;
    state = avr_run(avr); /* one instruction */
    sp = avr->data[SPL] | (unsigned)avr->data[SPH] << 8;
    if (sp < h.min_sp) h.min_sp = sp;
    if (avr->cycle > max_cycles) break;
  }
  fclose(h.outputs);
  if (h.overflow || (h.next < h.n && h.sp && (h.min_sp < h.stack_lo || avr->data[h.stack_lo] != PAINT))) {
    /* the stack grew down into the static data: the program needs more SRAM than the part has */
    printf("overflow %u %u\n", h.sp + 1 - h.stack_lo, h.sp - h.min_sp);
    return 4;
  }
  if (h.next < h.n) {
    fprintf(stderr, "%s after %ld of %ld inputs (pc 0x%x, %llu cycles)\n",
            state == cpu_Crashed ? "the program crashed" : "out of cycles", h.next, h.n, (unsigned)avr->pc,
            (unsigned long long)avr->cycle);
    return 3;
  }
  return 0;
}
