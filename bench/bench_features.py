"""Feature extraction (and reference synthesis) speed, one core.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python bench/bench_features.py [--seconds 60]

Input: the first files of bench/eval_subset.py's subset concatenated to --seconds of speech
(white noise if ../shared/data/speech is absent). Reports the best of --repeat runs (after a
warm-up that compiles/loads the numba kernels) as a real-time factor, for whole-signal
analysis, streaming analysis in 20 ms chunks, the NumPy reference twin (on a short excerpt),
and the reference synthesizer. Goal (issue 4): features >= 500x real time.
"""
from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_subset import eval_files  # noqa: E402

from mlcodec.dsp.audio import read_audio  # noqa: E402
from mlcodec.dsp.features import FeatureExtractor, compute_features  # noqa: E402
from mlcodec.dsp.features_ref import compute_features_ref  # noqa: E402
from mlcodec.dsp.synth import synthesize  # noqa: E402

FS = 16000


def best_of(fn, repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time of this process (the machine may be shared)."""
    best = cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return best, cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speech", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"))
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n = int(args.seconds * FS)
    if Path(args.speech).is_dir():
        parts, total = [], 0
        for p in eval_files(args.speech, 50):
            parts.append(read_audio(p))
            total += len(parts[-1])
            if total >= n:
                break
        x = np.concatenate(parts)[:n].astype(np.float64)
        what = "speech (eval subset)"
    else:
        x = np.random.default_rng(0).standard_normal(n) * 1000
        what = "white noise (speech data absent)"
    secs = len(x) / FS
    compute_features(x[:FS])  # warm-up (numba cache load / compile)
    synthesize(compute_features(x[:FS]))

    def stream():
        ex = FeatureExtractor()
        for i in range(0, len(x), 320):
            ex.process(x[i:i + 320])
        ex.flush()

    t_whole = best_of(lambda: compute_features(x), args.repeat)
    t_stream = best_of(stream, args.repeat)
    ref_x = x[: 5 * FS]
    t_ref = tuple(v * (secs / (len(ref_x) / FS)) for v in best_of(lambda: compute_features_ref(ref_x), 1))
    feats = compute_features(x)
    t_syn = best_of(lambda: synthesize(feats), max(1, args.repeat // 2))
    print(f"input: {secs:.1f} s of {what}; NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}; "
          f"best of {args.repeat}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| stage | wall per s of audio | real-time (wall) | CPU per s of audio | real-time (CPU) |")
    print("|---|---|---|---|---|")
    for name, t in [("features, whole signal (numba)", t_whole),
                    ("features, streaming 20 ms chunks (numba)", t_stream),
                    ("features, NumPy reference twin", t_ref),
                    ("reference synthesis (numba)", t_syn)]:
        print(f"| {name} | {1e3 * t[0] / secs:.3f} ms | {secs / t[0]:.0f}x | {1e3 * t[1] / secs:.3f} ms | {secs / t[1]:.0f}x |")
    print(f"numba vs NumPy twin speed-up (CPU): {t_ref[1] / t_whole[1]:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
