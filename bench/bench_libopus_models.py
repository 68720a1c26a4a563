"""Speed of libopus's PitchDNN feature extractor and PLC predictor on our core vs libopus's C.

One thread. Ours: ``LpcnetFeatureExtractor.process`` over SECONDS of audio (warm numba cache,
state carried, whole signal per call) and ``PLCModel.run`` / ``.step`` over PLC frames. libopus:
scripts/libopus_ref/lpcnet_ref.c (``lpcnet_compute_single_frame_features`` frame by frame, and
``compute_plc_pred``) built against each libopus build tree given, timed in the same run (CPU
time). ``dump_data`` cannot be timed on a file: 1.6.1's ``-test`` mode analyses 20000 random
excerpts of up to 2000 frames, so the harness calls the same library function instead.

usage: python bench/bench_libopus_models.py [--seconds 30] [--weights DIR] [--src SRC]
           [--build NAME=BUILD_DIR ...] [--generic PORTABLE_BUILD_DIR]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import one_thread, timed  # noqa: E402

one_thread()
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scripts" / "libopus_ref"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--plc-frames", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--weights", default=str(ROOT.parent / "shared" / "libopus"))
    ap.add_argument("--src", default="/work/libopus-build/src/opus-1.6.1")
    ap.add_argument("--build", action="append", default=None,
                    help="NAME=BUILD_DIR of a libopus build tree (repeatable)")
    ap.add_argument("--generic", default="/work/libopus-portable-build/build",
                    help="--disable-intrinsics build tree for the generic-C-layers harness ('' to skip)")
    a = ap.parse_args()
    builds = a.build or ["x86=/work/libopus-build/build", "portable=/work/libopus-portable-build/build"]

    from mlcodec.libopus.lpcnet_features import LpcnetFeatureExtractor
    from mlcodec.libopus.plc import PLCModel

    w = Path(a.weights)
    pcm = np.concatenate([np.load(p)["pcm"] for p in sorted((ROOT / "tests/data/libopus").glob("lpcnet_*.npz"))])
    n = int(a.seconds * 16000) // 160 * 160
    pcm = np.resize(pcm, n)  # self-made espeak speech, repeated
    frames = n // 160
    rows = []

    ex = LpcnetFeatureExtractor(w / "pitchdnn_arrays.bin")
    ex.process(pcm[:3200])  # compile / load the numba cache

    def feats():
        ex.reset()
        ex.process(pcm)

    wall, cpu, _ = timed(feats, a.repeat)
    rows.append(("PitchDNN features (ours)", frames, cpu))
    m = PLCModel(w / "plcmodel_arrays.bin")
    X = (np.random.default_rng(0).standard_normal((a.plc_frames, 57)) * 0.3).astype(np.float32)
    m.run(X[:4])
    m.step(X[0])

    def plc_run():
        m.reset()
        m.run(X)

    def plc_step():
        m.reset()
        for x in X:
            m.step(x)

    rows.append(("PLC, run() over all frames (ours)", a.plc_frames, timed(plc_run, a.repeat)[1]))
    rows.append(("PLC, step() per frame (ours)", a.plc_frames, timed(plc_step, a.repeat)[1]))

    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        s16 = td / "in.s16"
        pcm.astype(np.int16).tofile(s16)
        exes = []
        for spec in builds:
            name, bdir = spec.split("=", 1)
            exe = td / f"ref_{name}"
            subprocess.run([str(REF / "build.sh"), a.src, bdir, str(exe)], check=True, capture_output=True)
            exes.append((name, exe))
        if a.generic:
            exe = td / "ref_generic"
            subprocess.run([str(REF / "build_generic.sh"), a.src, a.generic, str(exe)], check=True,
                           capture_output=True)
            exes.append(("generic C layers", exe))
        for name, exe in exes:
            best = min(float(subprocess.run([str(exe), "time", str(s16), "1"], check=True, capture_output=True,
                                            text=True).stdout.split()[0]) for _ in range(a.repeat))
            rows.append((f"PitchDNN features (libopus {name})", frames, best))
            best = min(float(subprocess.run([str(exe), "plctime", str(a.plc_frames)], check=True,
                                            capture_output=True, text=True).stdout.split()[0])
                       for _ in range(a.repeat))
            rows.append((f"PLC per frame (libopus {name})", a.plc_frames, best))

    print(f"| what | frames | CPU s | frames/s | x real time |")
    print("|---|---|---|---|---|")
    for what, nf, s in rows:
        print(f"| {what} | {nf} | {s:.3f} | {nf / s:.0f} | {nf * 0.01 / s:.1f} |")


if __name__ == "__main__":
    main()
