"""Codec speed in CPU time (one thread): seconds of audio per CPU second, encode and decode.

    python bench/cpu_speed.py [--seconds 20]

On a shared, loaded machine wall-clock speeds (bench_codec.py) say more about the load than
about the codec; process CPU time of a single-threaded run does not depend on it. Best of 3
runs on ~20 s of the evaluation set, format 3 presets (what encode writes), format 2 presets and
the format-1 3k baseline.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from common import one_thread  # noqa: E402

one_thread()

import numpy as np  # noqa: E402

from eval_subset import eval_files  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--speech", default=str(HERE.parent.parent / "shared" / "data" / "speech"))
    a = ap.parse_args()
    from mlcodec.codec.files import decode_stream, encode_stream
    from mlcodec.codec.model import load_model
    from mlcodec.dsp.audio import read_audio

    model = load_model()
    xs, n = [], 0
    for f in eval_files(a.speech):
        xs.append(read_audio(f))
        n += len(xs[-1])
        if n >= a.seconds * 16000:
            break
    x = np.concatenate(xs).astype(np.float32)
    dur = len(x) / 16000
    print(f"| system | encode × RT (CPU) | decode × RT (CPU) |\n|---|---|---|")
    rows = [(f"v{v} {p}", dict(bitrate=p, format_version=v)) for v in (3, 2) for p in ("1.5k", "3k", "6k")]
    for name, kw in rows + [("v1 3k, 20 ms", dict(bitrate="3k", frame_ms=20, format_version=1))]:
        te = td = float("inf")
        for _ in range(4):  # the first run warms up (numba, model)
            buf = io.BytesIO()
            t0 = time.process_time()
            encode_stream([x], buf, model=model, serial=1, **kw)
            t1 = time.process_time()
            buf.seek(0)
            decode_stream(buf, lambda b: None, model=model)
            t2 = time.process_time()
            te, td = min(te, t1 - t0), min(td, t2 - t1)
        print(f"| {name} ({'auto vocoder'}) | {dur / te:.0f} | {dur / td:.0f} |", flush=True)
    print(f"\n{dur:.1f} s of the evaluation set, process CPU time, best of 4 (first = warm-up), one thread.")


if __name__ == "__main__":
    main()
