/* Reference outputs of libopus's FARGAN for tests/test_libopus_fargan.py (see README.md).
   Links a libopus 1.6.1 build tree's static libopus.a and uses its internal dnn/ headers.

   fargan_ref FEATURES.f32 PCM.s16|- OUT.f32
   FEATURES: 20 float32 per 10 ms frame (fargan_demo -features). Warm start with fargan_cont
   on frames 0..4 and the 320 samples PCM[480..800) / 32768 (or zeros for "-"), then
   fargan_synthesize on frames 5..; OUT gets 160 float32 per synthesised frame, the exact
   floats fargan_synthesize returns. */
#include <stdio.h>
#include <stdlib.h>
#include "fargan.h"
#include "lpcnet.h"

int main(int argc, char **argv) {
  FILE *f, *out;
  static float feats[20 * 10000];
  short pcm[800];
  float pcm0[320];
  int n, i;
  FARGANState st;
  if (argc != 4) { fprintf(stderr, "usage: fargan_ref FEATURES PCM|- OUT\n"); return 1; }
  f = fopen(argv[1], "rb");
  if (!f) return 1;
  n = fread(feats, 80, 10000, f);
  fclose(f);
  for (i = 0; i < 320; i++) pcm0[i] = 0;
  if (argv[2][0] != '-') {
    f = fopen(argv[2], "rb");
    if (!f || fread(pcm, 2, 800, f) != 800) return 1;
    fclose(f);
    for (i = 0; i < 320; i++) pcm0[i] = pcm[480 + i] / 32768.f;
  }
  fargan_init(&st);
  fargan_cont(&st, pcm0, feats);
  out = fopen(argv[3], "wb");
  for (i = 5; i < n; i++) {
    float fpcm[160];
    fargan_synthesize(&st, fpcm, &feats[20 * i]);
    fwrite(fpcm, 4, 160, out);
  }
  fclose(out);
  return 0;
}
