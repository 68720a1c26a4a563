/* Reference outputs of libopus's DRED RDOVAE decoder for tests/test_libopus_rdovae.py (README.md).
   Links a libopus 1.6.1 build tree's static libopus.a (internal dnn/ symbols).

   rdovae_ref IN.f32 OUT.f32
   IN: records of [n (as float), 50 state floats, n*26 latent floats (newest first)];
   OUT: per record the 4n*20 floats DRED_rdovae_decode_all writes (newest frame first). */
#include <stdio.h>
#include <stdlib.h>
#include "dred_rdovae_dec.h"
#include "dred_rdovae_dec_data.h"
#include "fargan.h"

int main(int argc, char **argv) {
  FILE *fin, *fout;
  RDOVAEDec model;
  static FARGANState probe;
  int arch;
  if (argc != 3) { fprintf(stderr, "usage: rdovae_ref IN.f32 OUT.f32\n"); return 1; }
  /* the library's own run-time CPU detection, as libopus's decoder gets it */
  fargan_init(&probe);
  arch = probe.arch;
  fprintf(stderr, "rdovae_ref: arch %d\n", arch);
  if (init_rdovaedec(&model, rdovaedec_arrays)) return 1;
  fin = fopen(argv[1], "rb");
  fout = fopen(argv[2], "wb");
  if (!fin || !fout) return 1;
  for (;;) {
    float nf, state[DRED_STATE_DIM];
    static float latents[64 * (DRED_LATENT_DIM + 1)], features[64 * 4 * DRED_NUM_FEATURES];
    int n;
    if (fread(&nf, 4, 1, fin) != 1) break;
    n = (int)nf;
    if (n < 0 || n > 64) return 1;
    if (fread(state, 4, DRED_STATE_DIM, fin) != DRED_STATE_DIM) return 1;
    if (fread(latents, 4 * (DRED_LATENT_DIM + 1), n, fin) != (size_t)n) return 1;
    DRED_rdovae_decode_all(&model, features, state, latents, n, arch);
    fwrite(features, 4 * 4 * DRED_NUM_FEATURES, n, fout);
  }
  fclose(fout);
  fclose(fin);
  return 0;
}
