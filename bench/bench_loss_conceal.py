"""Concealment under simulated loss, end to end: PLCMOS and STOI of our 3k stream (20 ms
packets) decoded with no loss and through a loss trace with each concealer.

A quick check of the decoder's default (docs/loss.md s2), not issue 13's comparison with
libopus: held-out speakers (bench/eval_subset.py), the trace applied from the first audio
packet of every file. PLCMOS (speechmos, non-intrusive) and STOI (pystoi, against the input).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_subset import eval_files  # noqa: E402

import mlcodec  # noqa: E402
from mlcodec.codec.loss import Trace  # noqa: E402
from mlcodec.dsp.audio import read_audio  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speech", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"))
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--trace", default=str(Path(__file__).resolve().parents[1] / "test_vectors" / "loss" /
                                           "lossgen_20pct_3000.txt"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from pystoi import stoi
    from speechmos import plcmos

    with open(args.trace, "rb") as f:
        trace = Trace.read(f, file=args.trace)
    conds = {"no loss": None, "neural": "neural", "repeat": "repeat"}
    res = {c: {"plcmos": [], "stoi": []} for c in conds}
    lost = total = 0
    for path in eval_files(args.speech, args.n):
        x = read_audio(path).astype(np.float64) / 32768.0
        data = mlcodec.encode(x, 16000, "3k", frame_ms=20)
        for c, conc in conds.items():
            y, _ = mlcodec.decode(data, loss=None if conc is None else trace, concealment=conc or "neural")
            n = min(len(x), len(y))
            res[c]["plcmos"].append(float(plcmos.run(y.astype(np.float32), sr=16000, return_df=False)["plcmos"]))
            res[c]["stoi"].append(float(stoi(x[:n], y[:n], 16000)))
        k = mlcodec.info(data).packets
        lost += int(trace.lost[:k].sum())
        total += k
    print(f"{len(res['neural']['stoi'])} held-out files, trace {Path(args.trace).name}: "
          f"{lost} of {total} packets lost ({100 * lost / total:.1f} %), 3k, 20 ms packets")
    print("| condition | PLCMOS mean (sd) | STOI mean |")
    print("|---|---|---|")
    for c in conds:
        p, s = np.array(res[c]["plcmos"]), np.array(res[c]["stoi"])
        print(f"| {c} | {p.mean():.2f} ({p.std():.2f}) | {s.mean():.3f} |")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
