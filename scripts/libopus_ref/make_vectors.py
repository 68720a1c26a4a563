"""Make tests/data/libopus/ (LPCNet features with PitchDNN, PLC predictor) from libopus builds.

Dev script (needs espeak-ng, sox, gcc and libopus 1.6.1 build trees). Steps:
 1. two espeak-ng utterances -> 16 kHz int16 with sox (no dither: -D), self-made speech, ~1.5 s each;
 2. lpcnet_ref (scripts/libopus_ref/lpcnet_ref.c) built three ways: ``generic`` (libopus's
    portable C layer code, build_generic.sh), ``portable`` (the ``--disable-intrinsics`` build as
    is, whose DNN layers use vec_avx.h's SSE2 code on x86-64) and ``x86`` (default build, AVX2
    chosen at run time);
 3. features (36 per frame) of each utterance and PLC predictions for one input sequence on
    each build, saved as .npz.

usage: python scripts/libopus_ref/make_vectors.py SRC PORTABLE_BUILD X86_BUILD OUTDIR
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
UTTERANCES = {  # name: (espeak-ng voice args, text, sox trim args)
    "e1": (["-v", "en", "-s", "160", "-p", "45"], "Seven quick pitches rise and fall.", ["trim", "0.05", "1.5"]),
    "e2": (["-v", "en+f3", "-s", "170", "-p", "70"], "Hello, is the lamp on?", []),
}


def run(*cmd):
    subprocess.run([str(c) for c in cmd], check=True)


def main(src, portable, x86, outdir):
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        bins = {"generic": td / "ref_generic", "portable": td / "ref_portable", "x86": td / "ref_x86"}
        run(HERE / "build_generic.sh", src, portable, bins["generic"])
        run(HERE / "build.sh", src, portable, bins["portable"])
        run(HERE / "build.sh", src, x86, bins["x86"])
        for name, (voice, text, trim) in UTTERANCES.items():
            wav, s16 = td / f"{name}.wav", td / f"{name}.s16"
            run("espeak-ng", *voice, "-w", wav, text)
            run("sox", "-D", wav, "-r", "16000", "-b", "16", "-c", "1", "-e", "signed-integer", "-t", "raw", s16,
                "gain", "-n", "-6", "rate", "-v", "16000", *trim)
            arrays = {"pcm": np.fromfile(s16, dtype=np.int16)}
            for b, exe in bins.items():
                run(exe, "feat", s16, td / f"{name}_{b}")
                arrays[f"feat_{b}"] = np.fromfile(td / f"{name}_{b}.feat.f32", dtype=np.float32).reshape(-1, 36)
            np.savez_compressed(out / f"lpcnet_{name}.npz", **arrays)
        # PLC: inputs from e1's generic features and Burg cepstra, with lost and FEC frames
        feat = np.fromfile(td / "e1_generic.feat.f32", dtype=np.float32).reshape(-1, 36)
        burg = np.fromfile(td / "e1_generic.burg.f32", dtype=np.float32).reshape(-1, 36)
        X = np.zeros((feat.shape[0], 57), dtype=np.float32)
        for t in range(feat.shape[0]):
            if 40 <= t < 45 or 90 <= t < 100:
                continue  # lost: all zeros
            X[t, 36:56] = feat[t, :20]
            if 60 <= t < 66:
                X[t, 56] = -1  # FEC features, no Burg analysis
            else:
                X[t, :36] = burg[t]
                X[t, 56] = 1
        X.tofile(td / "plc_in.f32")
        arrays = {"x": X}
        for b, exe in bins.items():
            run(exe, "plc", td / "plc_in.f32", td / f"plc_{b}.f32")
            arrays[f"y_{b}"] = np.fromfile(td / f"plc_{b}.f32", dtype=np.float32).reshape(-1, 20)
        np.savez_compressed(out / "plc_e1.npz", **arrays)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
