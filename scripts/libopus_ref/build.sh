#!/bin/sh
# Build lpcnet_ref against a libopus 1.6.1 build tree.
# usage: build.sh SRC_DIR BUILD_DIR OUT_BINARY
#   e.g. build.sh /work/libopus-build/src/opus-1.6.1 /work/libopus-portable-build/build /tmp/lpcnet_ref_portable
set -e
SRC=$1; BUILD=$2; OUT=$3
HERE=$(dirname "$0")
gcc -O2 -DHAVE_CONFIG_H -I"$BUILD" -I"$SRC/include" -I"$SRC/celt" -I"$SRC/silk" -I"$SRC/dnn" \
    "$HERE/lpcnet_ref.c" "$BUILD/.libs/libopus.a" -lm -o "$OUT"
