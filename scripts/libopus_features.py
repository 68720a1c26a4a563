"""Dev tool: libopus LPCNet features (PitchDNN) of a speech file, written like dump_data's output.

usage: python scripts/libopus_features.py IN.wav OUT.f32 [--weights BLOB] [--features 36|20]

OUT.f32: raw little-endian float32, one row per 10 ms frame: 36 values (18 cepstrum, pitch,
correlation, 16 LPC) as libopus's dump_data writes them, or the first 20. IN is read with
soundfile, mixed to mono and resampled to 16 kHz with soxr when needed.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--weights", default=str(Path(__file__).resolve().parents[2] / "shared" / "libopus"
                                             / "pitchdnn_arrays.bin"))
    ap.add_argument("--features", type=int, choices=(20, 36), default=36)
    a = ap.parse_args()
    import numpy as np
    import soundfile as sf

    from mlcodec.errors import MlcodecError
    from mlcodec.libopus.lpcnet_features import compute_features
    try:
        x, sr = sf.read(a.input, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, sf.LibsndfileError) as e:
        print(f"{a.input}: cannot read audio: {e}", file=sys.stderr)
        return 1
    x = x.mean(axis=1)
    if sr != 16000:
        import soxr
        x = soxr.resample(x, sr, 16000).astype(np.float32)
    try:
        f = compute_features(x, a.weights, lpc=a.features == 36)
    except MlcodecError as e:
        print(f"{e.file or a.weights}: {e.reason}", file=sys.stderr)
        return 1
    tmp = a.output + ".tmp"
    f.astype("<f4").tofile(tmp)
    os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
