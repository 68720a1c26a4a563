"""Analysis -> synthesis quality of the reference vocoder on the fixed evaluation subset.

    .venv/bin/python bench/bench_analysis_synthesis.py [--n 50] [--speech ../shared/data/speech]
                                                      [--no-dnsmos]

For each file of ``bench/eval_subset.py``'s subset: read and DC-reject (mlcodec.dsp.audio), features
(mlcodec.dsp.features), reference synthesis (mlcodec.dsp.synth), align by SYNTH_DELAY, then
PESQ wide-band (pip ``pesq``), STOI (pip ``pystoi``) and, when ``speechmos`` imports,
DNSMOS OVRL / P.808. The same metrics on the *unprocessed* reference are not meaningful for
PESQ/STOI (identity), so as a floor we also score the synthesis with the pitch feature
replaced by a constant (voicing kept): it shows how much the pitch track contributes.
Dev/bench dependencies only; the library never imports them.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_dnsmos, delay_aligned, load_dnsmos  # noqa: E402
from eval_subset import eval_files  # noqa: E402

from mlcodec.dsp.audio import dc_reject, read_audio  # noqa: E402
from mlcodec.dsp.features import compute_features  # noqa: E402
from mlcodec.dsp.synth import SYNTH_DELAY, synthesize  # noqa: E402

FS = 16000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speech", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"))
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--no-dnsmos", action="store_true")
    ap.add_argument("--flat-pitch", action="store_true", help="also score with a constant pitch")
    args = ap.parse_args()
    from pesq import pesq
    from pystoi import stoi

    dnsmos = load_dnsmos(args.no_dnsmos)
    files = eval_files(args.speech, args.n)
    rows = []
    t0 = time.perf_counter()
    for p in files:
        x = dc_reject(read_audio(p))   # as the codec's encoder does (docs/features.md)
        feats = compute_features(x)
        out = synthesize(feats)
        ref, y = delay_aligned(x / 32768.0, out / 32768.0, SYNTH_DELAY)
        r = {"file": p.name, "src": p.parts[-3], "dur": len(x) / FS,
             "pesq": pesq(FS, ref, y, "wb"), "stoi": stoi(ref, y, FS, extended=False)}
        if args.flat_pitch:
            f2 = feats.copy()
            f2[:, 18] = 0.0
            _, y2 = delay_aligned(ref, synthesize(f2) / 32768.0, SYNTH_DELAY)
            r["stoi_flat"] = stoi(ref[: len(y2)], y2, FS, extended=False)
        if dnsmos is not None:
            add_dnsmos(r, dnsmos, y)
        rows.append(r)
        print(f"{r['src']:18s} {r['file']:34s} {r['dur']:5.1f}s  PESQ-WB {r['pesq']:.2f}  STOI {r['stoi']:.3f}"
              + (f"  OVRL {r['ovrl']:.2f}  P808 {r['p808']:.2f}" if "ovrl" in r else ""), flush=True)
    keys = [k for k in ("pesq", "stoi", "stoi_flat", "ovrl", "p808") if k in rows[0]]
    print(f"\n{len(rows)} files, {sum(r['dur'] for r in rows):.1f} s of speech, {time.perf_counter() - t0:.0f} s wall")
    print("| source | files | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for src in sorted({r["src"] for r in rows}) + ["ALL"]:
        sel = [r for r in rows if src in ("ALL", r["src"])]
        print(f"| {src} | {len(sel)} | " + " | ".join(f"{np.mean([r[k] for r in sel]):.3f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
