"""Whole-file rates of the presets on every file of the evaluation set, per stream format, with
encode CPU speed and optional quick quality (PESQ-WB, STOI) on the first files.

    PYTHONPATH=$PWD nice python bench/preset_rates.py [--formats 2 3] [--presets 1.5k 3k 6k]
        [--quality 4]

Rate = the whole file's bytes x 8 / duration (headers included); payload = extension payloads.
Speed = input seconds / encoder CPU seconds (``time.process_time``, model loading excluded).
Quality: decoded with the preset's default vocoder, aligned, against the input.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from eval_subset import eval_files  # noqa: E402

RATE = 16000


def read16(path: Path) -> np.ndarray:
    from mlcodec.dsp.audio import read_audio, to_int16

    return to_int16(read_audio(path)).astype(np.float32)


def main(argv=None) -> None:
    from mlcodec.codec.encoder import encode_stream
    from mlcodec.codec.files import decode_stream
    from mlcodec.codec.model import load_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speech", default=str(HERE.parent.parent / "shared" / "data" / "speech"))
    ap.add_argument("--formats", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--presets", nargs="+", default=["1.5k", "3k", "6k"])
    ap.add_argument("--quality", type=int, default=0, help="PESQ/STOI on the first N files")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("-v", "--verbose", action="store_true", help="also print every file's rate")
    a = ap.parse_args(argv)
    model = load_model()
    files = eval_files(Path(a.speech))[: a.n]
    xs = [read16(f) for f in files]
    dur = sum(len(x) for x in xs) / RATE
    print(f"{len(files)} evaluation files, {dur:.1f} s")
    print("| format | preset | whole-file kb/s mean | max | payload kb/s mean | encode x real time (CPU) |"
          + (f" PESQ-WB ({a.quality} files) | STOI |" if a.quality else ""))
    print("|---|---|---|---|---|---|" + ("---|---|" if a.quality else ""))
    for p in a.presets:
        for v in a.formats:
            rates, pay, cpu, pq, st = [], [], 0.0, [], []
            for k, x in enumerate(xs):
                buf = io.BytesIO()
                t0 = time.process_time()
                enc = encode_stream([x], buf, model=model, bitrate=p, serial=1, format_version=v)
                cpu += time.process_time() - t0
                d = len(x) / RATE
                rates.append(len(buf.getvalue()) * 8 / d / 1000)
                pay.append(enc.payload_bytes * 8 / d / 1000)
                if k < a.quality:
                    from common import pesq_stoi

                    parts = []
                    buf.seek(0)
                    decode_stream(buf, parts.append, model=model)
                    y = np.concatenate(parts)[: len(x)]
                    r = pesq_stoi(x / 32768.0, np.clip(y / 32768.0, -1, 1))
                    pq.append(r[0])
                    st.append(r[1])
            q = f" {np.mean(pq):.3f} | {np.mean(st):.4f} |" if a.quality else ""
            print(f"| {v} | {p} | {np.mean(rates):.3f} | {max(rates):.3f} | {np.mean(pay):.3f} | "
                  f"{dur / cpu:.0f} |{q}", flush=True)
            if a.verbose:
                print("   per file:", " ".join(f"{r:.2f}" for r in rates))


if __name__ == "__main__":
    main()
