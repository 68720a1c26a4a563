"""Choose the pitch postfilter's strength on TRAINING files (never the evaluation subset).

    python bench/tune_postfilter.py [--n 16] [--model VOCODER.bin] [--alphas 0,0.2,0.35,0.5]

16 files drawn (seed 0) from the vocoder's training split (train/vocoder/data.py), clean
features -> neural vocoder (int8) -> ``mlcodec.vocoder.postfilter`` at each strength; PESQ-WB,
STOI and DNSMOS (SIG, BAK, OVRL, P.808) averaged over files; the reference synthesizer for scale.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from eval_subset import eval_files  # noqa: E402

from mlcodec.dsp.audio import read_audio  # noqa: E402
from mlcodec.dsp.features import compute_features  # noqa: E402
from mlcodec.dsp.synth import SYNTH_DELAY, ReferenceSynth  # noqa: E402
from mlcodec.vocoder.fargan import load_vocoder  # noqa: E402
from mlcodec.vocoder.postfilter import PitchPostfilter  # noqa: E402


def training_files(root: Path, n: int, seed: int = 0) -> list[Path]:
    evs = {Path(p).resolve() for p in eval_files(root, 50)}
    with open(root / "manifest.csv", newline="", encoding="utf-8") as fh:
        allf = [root / r["path"] for r in csv.DictReader(fh)]
    tr = [p for p in allf if p.resolve() not in evs and "train" in str(p)]
    rng = np.random.default_rng(seed)
    return [tr[i] for i in sorted(rng.choice(len(tr), n, replace=False))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speech", type=Path, default=ROOT.parent / "shared" / "data" / "speech")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--model", default=None)
    ap.add_argument("--alphas", default="0,0.2,0.35,0.5,0.65")
    a = ap.parse_args()
    from pesq import pesq
    from pystoi import stoi
    from speechmos import dnsmos

    alphas = [float(v) for v in a.alphas.split(",")]
    rows: dict[str, list] = {"reference": []} | {f"neural, alpha {al:g}": [] for al in alphas}
    for p in training_files(a.speech, a.n):
        x = read_audio(p)
        f = compute_features(x)[:, :20]
        neu = load_vocoder(a.model, postfilter=False).synthesize(f)
        outs = {"reference": ReferenceSynth().synthesize(f)}
        for al in alphas:
            outs[f"neural, alpha {al:g}"] = PitchPostfilter(al).process(neu, f) if al else neu
        xs = x / 32768.0
        for k, y in outs.items():
            y = np.clip(np.asarray(y, np.float64)[SYNTH_DELAY:SYNTH_DELAY + len(x)] / 32768.0, -1, 1)
            xr = xs[: len(y)]
            d = dnsmos.run(y.astype(np.float32), sr=16000)
            rows[k].append([pesq(16000, xr, y, "wb"), stoi(xr, y, 16000), d["sig_mos"], d["bak_mos"],
                            d["ovrl_mos"], d["p808_mos"]])
    print(f"{a.n} training files (seed 0), clean features")
    print("| system | PESQ-WB | STOI | SIG | BAK | OVRL | P.808 |\n|---|---|---|---|---|---|---|")
    for k, v in rows.items():
        m = np.mean(v, 0)
        print(f"| {k} | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} | {m[3]:.3f} | {m[4]:.3f} | {m[5]:.3f} |")


if __name__ == "__main__":
    main()
