#!/bin/sh
# Build lpcnet_ref on libopus's *generic* C path for the neural layers.
#
# On x86-64 gcc always defines __SSE2__, so even a `./configure --disable-intrinsics` build compiles
# dnn/vec.h through vec_avx.h (SSE2 emulation: rcp-based tanh/sigmoid, unsigned int8 products).
# libopus's portable C code for the layers (vec.h "#else" branch) is what non-x86/non-NEON
# targets run. We compile dnn/nnet.c and dnn/nnet_default.c with the x86 feature macros
# undefined, so they take that branch, and link them ahead of the --disable-intrinsics static
# library (its nnet objects are then never pulled in). Everything else (kiss FFT, xcorr, LPC) is
# the --disable-intrinsics build's plain C.
# usage: build_generic.sh SRC_DIR PORTABLE_BUILD_DIR OUT_BINARY
set -e
SRC=$1; BUILD=$2; OUT=$3
HERE=$(dirname "$0")
INC="-DHAVE_CONFIG_H -I$BUILD -I$SRC/include -I$SRC/celt -I$SRC/silk -I$SRC/dnn"
UNDEF="-U__SSE__ -U__SSE2__ -U__SSE3__ -U__SSSE3__ -U__SSE4_1__ -U__SSE4_2__ -U__AVX__ -U__AVX2__ -U__FMA__"
T=$(mktemp -d)
gcc -O2 $INC $UNDEF -c "$SRC/dnn/nnet.c" -o "$T/nnet.o"
gcc -O2 $INC $UNDEF -c "$SRC/dnn/nnet_default.c" -o "$T/nnet_default.o"
gcc -O2 $INC "$HERE/lpcnet_ref.c" "$T/nnet.o" "$T/nnet_default.o" "$BUILD/.libs/libopus.a" -lm -o "$OUT"
rm -rf "$T"
