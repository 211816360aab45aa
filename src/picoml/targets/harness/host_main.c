/* Host verification harness: model_run INPUTS.bin OUTPUTS.bin — raw int8 samples in, out. */
#include <stdio.h>

#include "model.h"

int main(int argc, char **argv) {
  static int8_t in[MODEL_INPUT_SIZE];
  static int8_t out[MODEL_OUTPUT_SIZE];
  FILE *fi, *fo;
  if (argc != 3) return 2;
  fi = fopen(argv[1], "rb");
  fo = fopen(argv[2], "wb");
  if (!fi || !fo) return 2;
  while (fread(in, 1, MODEL_INPUT_SIZE, fi) == MODEL_INPUT_SIZE) {
    if (model_invoke(in, out) != 0) return 1;
    if (fwrite(out, 1, MODEL_OUTPUT_SIZE, fo) != MODEL_OUTPUT_SIZE) return 2;
  }
  fclose(fi);
  return fclose(fo) == 0 ? 0 : 2;
}
