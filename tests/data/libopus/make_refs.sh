#!/bin/sh
# Regenerate the libopus FARGAN / RDOVAE reference outputs in this folder (see README.md).
#   sh tests/data/libopus/make_refs.sh PORTABLE_BUILD DEFAULT_BUILD SRC [DRED_DUMP_C]
# PORTABLE_BUILD: build tree of libopus 1.6.1 configured with --disable-intrinsics
# DEFAULT_BUILD:  build tree of the default configuration (run-time CPU dispatch)
# SRC:            the opus-1.6.1 source tree (for the internal dnn/ headers)
# DRED_DUMP_C:    the dumper of ../shared/vectors/dred (parses DRED latents from a stream)
# Needs espeak-ng, sox, python3 with numpy; bin/ of each build (fargan_demo, opus_demo).
set -eu
P=$1; D=$2; S=$3; DUMP=${4:-../shared/vectors/dred/dred_dump.c}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cc_h() { gcc -O2 -w -DHAVE_CONFIG_H -I"$1" -I"$S/include" -I"$S/celt" -I"$S/silk" -I"$S/dnn" -I"$S/src" \
          -o "$2" "$3" "$1/.libs/libopus.a" -lm; }
cc_h "$P" "$W/fargan_p" "$HERE/fargan_ref.c"; cc_h "$D" "$W/fargan_d" "$HERE/fargan_ref.c"
cc_h "$P" "$W/rdovae_p" "$HERE/rdovae_ref.c"; cc_h "$D" "$W/rdovae_d" "$HERE/rdovae_ref.c"
cc_h "$D" "$W/dred_dump" "$DUMP"

# 1. FARGAN: 0.65 s of espeak-ng speech, libopus's own features (fargan_demo -features,
#    portable build), synthesis after a warm start on real audio and after one from silence.
espeak-ng -v en-us -s 150 -w "$W/a.wav" "The quick brown fox jumps over the lazy dog, then rests."
sox "$W/a.wav" -r 16000 -c 1 -b 16 -e signed -t raw "$W/a.raw"
python3 -c "import sys,numpy as n; n.fromfile(sys.argv[1],n.int16)[1600:1600+10400].tofile(sys.argv[2])" \
    "$W/a.raw" "$HERE/fargan_speech.s16"
"$P/fargan_demo" -features "$HERE/fargan_speech.s16" "$HERE/fargan_features.f32"
"$W/fargan_p" "$HERE/fargan_features.f32" "$HERE/fargan_speech.s16" "$HERE/fargan_cont_portable.f32"
"$W/fargan_p" "$HERE/fargan_features.f32" - "$HERE/fargan_zero_portable.f32"
"$W/fargan_d" "$HERE/fargan_features.f32" "$HERE/fargan_speech.s16" "$HERE/fargan_cont_default.f32"

# 2. RDOVAE decoder: DRED of our own espeak-ng speech encoded by libopus at 64 kb/s
#    (opus_demo -dred 100 -loss 20), a few packets' state + latents parsed by dred_dump.
espeak-ng -v en-us -s 140 -w "$W/b.wav" "Packets were lost on the way, but the deep redundancy brings the voice back."
sox "$W/b.wav" -r 16000 -c 1 -b 16 -e signed -t raw "$W/b.raw"
"$D/opus_demo" -e voip 16000 1 64000 -complexity 10 -loss 20 -dred 100 "$W/b.raw" "$W/b.bit" 2>/dev/null
"$W/dred_dump" dump "$W/b.bit" 16000 16000 > "$W/b.jsonl"
python3 - "$W/b.jsonl" "$HERE/rdovae_in.f32" <<'PY'
import json, sys, numpy as np
pk = [json.loads(l) for l in open(sys.argv[1])]
pick = [p for p in pk if p["nb_latents"] > 0]
pick = pick[:8:3] + pick[30::60]  # a few short (1-5 latents) and full (16) packets
with open(sys.argv[2], "wb") as f:
    for p in pick:
        np.array([p["nb_latents"]] + p["state"] + p["latents"], np.float32).tofile(f)
print(len(pick), "packets,", sum(p["nb_latents"] for p in pick), "latents")
PY
"$W/rdovae_p" "$HERE/rdovae_in.f32" "$HERE/rdovae_portable.f32"
"$W/rdovae_d" "$HERE/rdovae_in.f32" "$HERE/rdovae_default.f32"
ls -l "$HERE"
