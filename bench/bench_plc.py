"""Concealment prediction error on held-out speakers: NeuralConcealer vs RepeatFade.

    python bench/bench_plc.py [--n 50] [--preset 3k] [--json out.json]

For each file of the evaluation subset (bench/eval_subset.py; no speaker of it is in the
PLC's or the codec's training data) the features a 3k decoder produces (encoder dc_reject
-> features -> latent coder -> quantizer -> decoder, ``CodecModel.code_features``) are
walked in order: every 60 frames a gap of G frames (G = 2, 6, 12, 20: 20/60/120/200 ms,
starting on a 20 ms packet boundary, after at least 300 ms of history) is concealed and the
true frames after it are observed again, as a decoder would. Per concealed frame:

* ceps: RMS error of c1..c17 (spectral envelope, raw feature units);
* c0: mean absolute error of c0 (level; 1 unit ~ 2.4 dB) -- includes the deliberate fade
  after 100 ms, identical in both concealers;
* pitch: mean absolute error in cents on frames that are voiced in the reference
  (correlation feature > 0.1), 1200 cents per unit of feature 18;
* dist: the training distortion (c0 x2, c1..17, voicing-weighted pitch x100, corr x8).

Also times the int8 concealer (frames per CPU second of observe + conceal).
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import one_thread  # noqa: E402

one_thread()
from eval_subset import eval_files  # noqa: E402

from mlcodec.codec.model import load_model  # noqa: E402
from mlcodec.codec.plc import NeuralConcealer, RepeatFade  # noqa: E402
from mlcodec.dsp.audio import dc_reject, read_audio  # noqa: E402
from mlcodec.dsp.features import compute_features  # noqa: E402

GAPS = (2, 6, 12, 20)
EVERY = 60
HISTORY = 30


def decoded_features(path, model, level) -> np.ndarray:
    f = np.asarray(compute_features(dc_reject(read_audio(path))), np.float32)[:, :20]
    return model.code_features(f[: len(f) // 2 * 2], level)


def run_file(f: np.ndarray, conc, gap: int) -> np.ndarray:
    """(k, 20) concealed frames and (k, 20) truth, walking the file with gaps."""
    conc.reset()
    got, ref = [], []
    pos = 0
    for start in range(HISTORY, len(f) - gap, EVERY):
        conc.observe(f[pos:start])
        got.append(conc.conceal(gap))
        ref.append(f[start:start + gap])
        pos = start + gap
    conc.observe(f[pos:])
    if not got:
        return np.zeros((0, 20)), np.zeros((0, 20))
    return np.concatenate(got), np.concatenate(ref)


def metrics(got: np.ndarray, ref: np.ndarray) -> dict:
    e = got - ref
    voiced = ref[:, 19] > 0.1
    vw = np.clip(ref[:, 19] / 0.3, 0, 1)
    dist = (e[:, 1:18] ** 2).sum(1) + 2 * e[:, 0] ** 2 + 100 * (0.05 + vw) * e[:, 18] ** 2 + 8 * e[:, 19] ** 2
    return {"frames": int(len(ref)), "ceps_rmse": float(np.sqrt((e[:, 1:18] ** 2).mean())),
            "c0_mae": float(np.abs(e[:, 0]).mean()),
            "pitch_cents": float(1200 * np.abs(e[voiced, 18]).mean()) if voiced.any() else float("nan"),
            "dist": float(dist.mean())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speech", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"))
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--preset", default="3k")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--quiet", default="", help="also NeuralConcealer(hold_pitch=2, quiet_c0=Q) for these Q")
    ap.add_argument("--hold", default="", help="also NeuralConcealer(hold_pitch=K) for these K (comma list)")
    args = ap.parse_args()
    model = load_model()
    level = model.level_for_bitrate(args.preset)
    files = eval_files(args.speech, args.n)
    feats = [decoded_features(p, model, level) for p in files]
    makers = {"neural": NeuralConcealer, "repeat_fade": RepeatFade}
    for k in filter(None, args.hold.split(",")):
        makers[f"neural_hold{int(k)}"] = functools.partial(NeuralConcealer, hold_pitch=int(k))
    for q in filter(None, args.quiet.split(",")):
        makers[f"neural_hold2_quiet{q}"] = functools.partial(NeuralConcealer, hold_pitch=2, quiet_c0=float(q))
    res = {}
    for gap in GAPS:
        for name, make in makers.items():
            g, r = zip(*(run_file(f, make(), gap) for f in feats))
            res[f"{name}/{gap * 10}ms"] = metrics(np.concatenate(g), np.concatenate(r))
    # speed of the int8 concealer: observe a whole file, conceal 20 % of its length
    c = NeuralConcealer()
    total = sum(len(f) for f in feats)
    t0 = time.process_time()
    for f in feats:
        c.reset()
        c.observe(f)
        c.conceal(len(f) // 5)
    cpu = time.process_time() - t0
    speed = {"frames": int(total * 1.2), "cpu_s": round(cpu, 3), "x_real_time": round(total * 1.2 / 100 / cpu)}
    print(f"{len(files)} held-out files, {total} frames ({total / 100:.0f} s), preset {args.preset}")
    print("| gap | concealer | frames | ceps RMSE (c1-c17) | c0 MAE | pitch err (cents, voiced) | weighted dist |")
    print("|---|---|---|---|---|---|---|")
    for gap in GAPS:
        for name in makers:
            m = res[f"{name}/{gap * 10}ms"]
            print(f"| {gap * 10} ms | {name} | {m['frames']} | {m['ceps_rmse']:.3f} | {m['c0_mae']:.3f} | "
                  f"{m['pitch_cents']:.0f} | {m['dist']:.2f} |")
    print(f"int8 NeuralConcealer speed: {speed['frames']} frames in {speed['cpu_s']} CPU s "
          f"= {speed['x_real_time']}x real time (one thread)")
    if args.json:
        args.json.write_text(json.dumps({"results": res, "speed": speed, "files": len(files)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
