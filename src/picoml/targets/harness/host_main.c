/* Host verification harness: model_run INPUTS.bin OUTPUTS.bin — raw int8 samples in, out.
 * A sample is every input of one inference back to back; the outputs are written the same way.
 * PM_HARNESS_INVOKE(in, out) maps the two byte buffers to model_invoke's arguments: by default
 * one input and one output; the verifier defines it (-D) for models with several. */
#include <stdio.h>

#include "model.h"

#ifndef PM_HARNESS_INVOKE
#define PM_HARNESS_IN_BYTES MODEL_INPUT_SIZE
#define PM_HARNESS_OUT_BYTES MODEL_OUTPUT_SIZE
#define PM_HARNESS_INVOKE(in, out) model_invoke((in), (out))
#endif

int main(int argc, char **argv) {
  /* word-aligned: int32 inputs and outputs (indices) sit at offsets aligned to 4 */
  static union {
    int32_t align;
    int8_t bytes[PM_HARNESS_IN_BYTES];
  } in;
  static union {
    int32_t align;
    int8_t bytes[PM_HARNESS_OUT_BYTES];
  } out;
  FILE *fi, *fo;
  if (argc != 3) return 2;
  fi = fopen(argv[1], "rb");
  fo = fopen(argv[2], "wb");
  if (!fi || !fo) return 2;
  while (fread(in.bytes, 1, PM_HARNESS_IN_BYTES, fi) == PM_HARNESS_IN_BYTES) {
    if (PM_HARNESS_INVOKE(in.bytes, out.bytes) != 0) return 1;
    if (fwrite(out.bytes, 1, PM_HARNESS_OUT_BYTES, fo) != PM_HARNESS_OUT_BYTES) return 2;
  }
  fclose(fi);
  return fclose(fo) == 0 ? 0 : 2;
}
