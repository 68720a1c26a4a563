/* Reference outputs of libopus's LPCNet feature analysis (PitchDNN) and PLC model.

   Built against a libopus 1.6.1 build tree (static lib + internal headers) by
   scripts/libopus_ref/make_vectors.sh; used to make tests/data/libopus/ and by
   bench/bench_libopus_models.py for libopus's own timing.

   lpcnet_ref feat IN.s16 OUT   : per 10 ms frame, lpcnet_compute_single_frame_features()
       (what dump_data -test computed before 1.5: sequential, no augmentation) ->
       OUT.feat.f32 (36/frame), OUT.if.f32 (88, PitchDNN IF input), OUT.xc.f32 (224, xcorr input),
       OUT.burg.f32 (36, burg_cepstral_analysis of the raw frame, as lpcnet_plc.c computes it)
   lpcnet_ref plc IN.f32 OUT.f32 : rows of 57 PLC inputs -> 20 outputs (lpcnet_plc.c compute_plc_pred)
   lpcnet_ref time IN.s16 REPS   : feature analysis of the whole file REPS times, prints seconds
   lpcnet_ref plctime N          : N PLC model steps on zero input, prints seconds
*/
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lpcnet.h"
#include "lpcnet_private.h"
#include "freq.h"
#include "nnet.h"
#include "plc_data.h"
#include "cpu_support.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9*ts.tv_nsec;
}

static short *read_s16(const char *path, long *n) {
  FILE *f = fopen(path, "rb");
  short *x;
  if (!f) { perror(path); exit(1); }
  fseek(f, 0, SEEK_END);
  *n = ftell(f)/2;
  fseek(f, 0, SEEK_SET);
  x = malloc(2*(*n) + 2);
  if (fread(x, 2, *n, f) != (size_t)*n) { fprintf(stderr, "short read\n"); exit(1); }
  fclose(f);
  return x;
}

static FILE *open_out(const char *prefix, const char *suffix) {
  char name[4096];
  FILE *f;
  snprintf(name, sizeof(name), "%s%s", prefix, suffix);
  f = fopen(name, "wb");
  if (!f) { perror(name); exit(1); }
  return f;
}

static void plc_pred(PLCModel *model, PLCNetState *net, float *out, const float *in, int arch) {
  /* dnn/lpcnet_plc.c compute_plc_pred */
  float tmp[PLC_DENSE_IN_OUT_SIZE];
  compute_generic_dense(&model->plc_dense_in, tmp, in, ACTIVATION_TANH, arch);
  compute_generic_gru(&model->plc_gru1_input, &model->plc_gru1_recurrent, net->gru1_state, tmp, arch);
  compute_generic_gru(&model->plc_gru2_input, &model->plc_gru2_recurrent, net->gru2_state, net->gru1_state, arch);
  compute_generic_dense(&model->plc_dense_out, out, net->gru2_state, ACTIVATION_LINEAR, arch);
}

int main(int argc, char **argv) {
  int arch = opus_select_arch();
  if (argc == 4 && !strcmp(argv[1], "feat")) {
    long n, i, t;
    short *x = read_s16(argv[2], &n);
    LPCNetEncState *st = lpcnet_encoder_create();
    FILE *ff = open_out(argv[3], ".feat.f32"), *fi = open_out(argv[3], ".if.f32");
    FILE *fx = open_out(argv[3], ".xc.f32"), *fb = open_out(argv[3], ".burg.f32");
    for (t = 0; t + FRAME_SIZE <= n; t += FRAME_SIZE) {
      float feat[NB_TOTAL_FEATURES], xf[FRAME_SIZE], burg[2*NB_BANDS];
      for (i = 0; i < FRAME_SIZE; i++) xf[i] = x[t+i];
      burg_cepstral_analysis(burg, xf);
      lpcnet_compute_single_frame_features(st, &x[t], feat, arch);
      fwrite(feat, sizeof(float), NB_TOTAL_FEATURES, ff);
      fwrite(st->if_features, sizeof(float), PITCH_IF_FEATURES, fi);
      fwrite(st->xcorr_features, sizeof(float), PITCH_MAX_PERIOD-PITCH_MIN_PERIOD, fx);
      fwrite(burg, sizeof(float), 2*NB_BANDS, fb);
    }
    fclose(ff); fclose(fi); fclose(fx); fclose(fb);
    fprintf(stderr, "arch %d, %ld frames\n", arch, n/FRAME_SIZE);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "plc")) {
    PLCModel model;
    PLCNetState net;
    float in[2*NB_BANDS+NB_FEATURES+1], out[NB_FEATURES];
    FILE *fin = fopen(argv[2], "rb"), *fout = fopen(argv[3], "wb");
    if (!fin || !fout) { perror("open"); return 1; }
    if (init_plcmodel(&model, plcmodel_arrays)) { fprintf(stderr, "init_plcmodel failed\n"); return 1; }
    memset(&net, 0, sizeof(net));
    while (fread(in, sizeof(float), 2*NB_BANDS+NB_FEATURES+1, fin) == 2*NB_BANDS+NB_FEATURES+1) {
      plc_pred(&model, &net, out, in, arch);
      fwrite(out, sizeof(float), NB_FEATURES, fout);
    }
    fclose(fin); fclose(fout);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "time")) {
    long n, t;
    int r, reps = atoi(argv[3]);
    short *x = read_s16(argv[2], &n);
    double t0, t1;
    float feat[NB_TOTAL_FEATURES];
    t0 = now();
    for (r = 0; r < reps; r++) {
      LPCNetEncState *st = lpcnet_encoder_create();
      for (t = 0; t + FRAME_SIZE <= n; t += FRAME_SIZE)
        lpcnet_compute_single_frame_features(st, &x[t], feat, arch);
      lpcnet_encoder_destroy(st);
    }
    t1 = now();
    printf("%.6f %ld\n", t1 - t0, reps*(n/FRAME_SIZE));
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "plctime")) {
    PLCModel model;
    PLCNetState net;
    float in[2*NB_BANDS+NB_FEATURES+1] = {0}, out[NB_FEATURES];
    int k, N = atoi(argv[2]);
    double t0, t1;
    init_plcmodel(&model, plcmodel_arrays);
    memset(&net, 0, sizeof(net));
    t0 = now();
    for (k = 0; k < N; k++) { in[0] = out[0]*1e-3f; plc_pred(&model, &net, out, in, arch); }
    t1 = now();
    printf("%.6f %d\n", t1 - t0, N);
    return 0;
  }
  fprintf(stderr, "usage: %s feat IN.s16 OUT | plc IN.f32 OUT.f32 | time IN.s16 REPS | plctime N\n", argv[0]);
  return 1;
}
