"""Speed of libopus's FARGAN on our core against libopus's own C, in one run (CPU time, one thread).

    python bench/bench_libopus_fargan.py [--seconds 20] [--repeat 3] [--weights DIR] [--libopus PREFIX ...]

Features: the committed espeak-ng features (tests/data/libopus/fargan_features.f32) tiled to
``--seconds``. libopus: ``PREFIX/bin/fargan_demo -fargan-synthesis FEATURES OUT`` (its CPU time
from the finished child, so process start and weight loading count, a few ms); ours:
:func:`mlcodec.libopus.fargan.demo_synthesis` on the same features (the same frames), numba
already compiled (the cold start is reported apart). Real-time factor = audio seconds / CPU
seconds; MFLOP/s of audio = 2 x the model's multiply-accumulates per second (dense).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_seconds, one_thread, timed  # noqa: E402

one_thread()
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--weights", default=str(ROOT.parent / "shared" / "libopus"))
    ap.add_argument("--libopus", nargs="*", default=["/work/libopus", "/work/libopus-portable"])
    ap.add_argument("--arch", default=None, help="x86 or generic (default: the host's)")
    a = ap.parse_args(argv)

    t0, c0 = time.perf_counter(), cpu_seconds()
    from mlcodec.libopus import fargan as F

    model = F.load_model(os.path.join(a.weights, "fargan_arrays.bin"), a.arch)
    base = np.fromfile(ROOT / "tests" / "data" / "libopus" / "fargan_features.f32", np.float32).reshape(-1, 20)
    n = int(a.seconds * 100)
    feats = np.ascontiguousarray(np.resize(base, (n, 20)))
    F.demo_synthesis(model, feats[:8])  # compile / load the numba cache
    startup = (time.perf_counter() - t0, cpu_seconds() - c0)
    audio_s = n / 100.0
    mflop = 2 * F.MAC_PER_SECOND / 1e6
    rows = []
    wall, cpu, _ = timed(lambda: F.demo_synthesis(model, feats), a.repeat)
    rows.append((f"mlcodec ({model.arch} path)", cpu, wall))
    with tempfile.TemporaryDirectory() as tmp:
        fpath = os.path.join(tmp, "f.f32")
        feats.tofile(fpath)
        for prefix in a.libopus:
            demo = os.path.join(prefix, "bin", "fargan_demo")
            if not os.path.isfile(demo):
                continue

            def run(demo=demo):
                subprocess.run([demo, "-fargan-synthesis", fpath, os.path.join(tmp, "o.s16")], check=True)

            wall_c, cpu_c, _ = timed(run, a.repeat)
            rows.append((f"libopus fargan_demo ({prefix})", cpu_c, wall_c))
    print(f"FARGAN, {audio_s:.0f} s of audio, {mflop:.0f} MFLOP per second of audio; best of {a.repeat}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"mlcodec start-up (import, bind, numba cache load or compile): {startup[0]:.2f} s wall, "
          f"{startup[1]:.2f} s CPU")
    print("| implementation | CPU s | x real time (CPU) | GFLOP/s | wall s |")
    print("|---|---|---|---|---|")
    for name, cpu, wall in rows:
        print(f"| {name} | {cpu:.3f} | {audio_s / cpu:.1f} | {mflop * audio_s / cpu / 1e3:.1f} | {wall:.3f} |")
    if len(rows) > 1:
        print(f"ours / libopus (default build) speed: {rows[1][1] / rows[0][1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
