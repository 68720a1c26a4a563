"""Pitch features: our classic tracker and our pitch network against libopus's PitchDNN and Praat,
and libopus's FARGAN fed each feature set.

    python bench/bench_pitch.py [--n 16] [--pitch-weights mlcodec/models/pitch_v1.bin] [--no-dnsmos]
        [--no-praat] [--no-fargan] [--weights ../shared/libopus]

Files: the speaker-disjoint evaluation set (bench/eval_subset.py ``eval_files``). Feature sets:
``classic`` and ``net`` (``mlcodec.dsp.features.compute_features(x, pitch=...)``), and libopus's own
(``mlcodec.libopus.lpcnet_features``, PitchDNN with libopus's weights; bit-exact with libopus's C,
docs/libopus.md). Pitch accuracy per frame (period T = 256 / 2^(f18 + 1.5)):
* against PitchDNN, all frames (FARGAN uses the period in every frame): share within 3 % and
  gross errors (> 20 % off), octave errors (|log2 ratio| within 0.2 of 1);
* against Praat (``praat-parselmouth``, bench only: ``to_pitch_ac`` 62.5..500 Hz, 10 ms, value at
  the pitch window's centre, sample 160t), on the frames Praat calls voiced: GPE (> 20 %) and
  octave errors, for classic, net and PitchDNN.
Synthesis: libopus's FARGAN on our core (``LibopusVocoder``, x86 path), each output advanced by its
delay; PESQ-WB, STOI, DNSMOS OVRL / P.808 (speechmos) against the input. ``--codec``: the shipped
codec and vocoder (trained on classic features) at 3k with the encoder's feature extractor
switched to ``pitch="net"`` (a bench-only patch of ``mlcodec.dsp.features.FeatureExtractor``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import delay_aligned, load_dnsmos, one_thread, pesq_stoi  # noqa: E402
from eval_subset import eval_files  # noqa: E402

one_thread()
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def period(f):
    return 256.0 / np.power(2.0, np.asarray(f, np.float64) + 1.5)


def praat_f0(x: np.ndarray, n: int) -> np.ndarray:
    """Praat's F0 (Hz, NaN unvoiced) at t = 0.01 k s, k < n."""
    import parselmouth

    snd = parselmouth.Sound(np.asarray(x, np.float64) / 32768.0, sampling_frequency=16000)
    p = snd.to_pitch_ac(time_step=0.01, pitch_floor=62.5, pitch_ceiling=500.0)
    return np.array([p.get_value_at_time(0.01 * k) for k in range(n)], np.float64)


def ratio_stats(T, R):
    """(within 3 %, gross > 20 %, octave) shares of periods T against reference periods R."""
    if len(T) == 0:
        return (float("nan"),) * 3
    lr = np.log2(T / R)
    return (float(np.mean(np.abs(T / R - 1) <= 0.03)), float(np.mean(np.abs(T / R - 1) > 0.2)),
            float(np.mean(np.abs(np.abs(lr) - 1) < 0.2)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speech", default=str(ROOT.parent / "shared" / "data" / "speech"))
    ap.add_argument("--weights", default=str(ROOT.parent / "shared" / "libopus"))
    ap.add_argument("--pitch-weights", default=None)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--no-dnsmos", action="store_true")
    ap.add_argument("--no-praat", action="store_true")
    ap.add_argument("--no-fargan", action="store_true")
    ap.add_argument("--sets", default="libopus,classic,net", help="feature sets synthesised by FARGAN")
    ap.add_argument("--codec", action="store_true",
                    help="also mlcodec encode (3k) + decode with the shipped models, classic vs net features")
    a = ap.parse_args(argv)
    from mlcodec.dsp.audio import read_audio
    from mlcodec.dsp.features import compute_features
    from mlcodec.libopus.lpcnet_features import compute_features as lib_features

    files = eval_files(a.speech, a.n)
    xs = [np.asarray(read_audio(p), np.float64).reshape(-1) for p in files]
    sets = {"classic": [], "net": [], "libopus": []}
    for x in xs:
        lib = lib_features(x.astype(np.float32) / 32768.0, os.path.join(a.weights, "pitchdnn_arrays.bin"))
        n = lib.shape[0]
        sets["libopus"].append(lib)
        sets["classic"].append(compute_features(x)[:n])
        sets["net"].append(compute_features(x, pitch="net", pitch_weights=a.pitch_weights)[:n])
    print(f"# {len(xs)} files, {sum(f.shape[0] for f in sets['libopus'])} frames")
    ref = np.concatenate([period(f[:, 18]) for f in sets["libopus"]])
    print("| estimator | vs PitchDNN, all frames: within 3 % / gross > 20 % / octave |")
    print("|---|---|")
    for k in ("classic", "net"):
        T = np.concatenate([period(f[:, 18]) for f in sets[k]])
        w3, g, o = ratio_stats(T, ref)
        print(f"| {k} | {100 * w3:.1f} % / {100 * g:.1f} % / {100 * o:.1f} % |")
    if not a.no_praat:
        f0 = np.concatenate([praat_f0(x, f.shape[0]) for x, f in zip(xs, sets["libopus"])])
        v = np.isfinite(f0)
        P = 16000.0 / f0[v]
        print(f"\n# Praat voiced frames: {int(v.sum())} of {v.size}")
        print("| estimator | vs Praat, voiced frames: within 3 % / GPE > 20 % / octave |")
        print("|---|---|")
        for k in ("classic", "net", "libopus"):
            T = np.concatenate([period(f[:, 18]) for f in sets[k]])[v]
            w3, g, o = ratio_stats(T, P)
            print(f"| {k} | {100 * w3:.1f} % / {100 * g:.1f} % / {100 * o:.1f} % |")
        low = f0[v] < 100.0
        print(f"\n# Praat voiced frames below 100 Hz: {int(low.sum())}; GPE > 20 % by Praat F0 band")
        print("| estimator | GPE, F0 < 100 Hz | GPE, F0 >= 100 Hz |")
        print("|---|---|---|")
        for k in ("classic", "net", "libopus"):
            T = np.concatenate([period(f[:, 18]) for f in sets[k]])[v]
            gpe = np.abs(T / P - 1) > 0.2
            print(f"| {k} | {100 * gpe[low].mean():.1f} % | {100 * gpe[~low].mean():.1f} % |")
    dnsmos = load_dnsmos(a.no_dnsmos)
    if a.codec:
        codec_rows(xs, a.pitch_weights, dnsmos)
    if a.no_fargan:
        return 0
    from mlcodec.libopus.fargan import LibopusVocoder, load_model

    lm = load_model(os.path.join(a.weights, "fargan_arrays.bin"))
    print("\n| features -> libopus FARGAN | PESQ-WB | STOI | DNSMOS OVRL | DNSMOS P.808 |")
    print("|---|---|---|---|---|")
    for k in a.sets.split(","):
        rs = []
        for x, f in zip(xs, sets[k]):
            voc = LibopusVocoder(lm)
            y = np.asarray(voc.synthesize(f[:, :20]), np.float64) / 32768.0
            _, y = delay_aligned(x, y, int(voc.delay))
            rs.append(score(x[:len(y)], y, dnsmos))
        print_row(k, rs)
    return 0


def score(x, y, dnsmos) -> dict:
    p, s = pesq_stoi(x / 32768.0, y)
    row = {"pesq": p, "stoi": s}
    if dnsmos is not None:
        d = dnsmos.run(np.clip(y, -1, 1).astype(np.float32), sr=16000)
        row["ovrl"], row["p808"] = d["ovrl_mos"], d["p808_mos"]
    return row


def print_row(k, rs) -> None:
    m = {q: float(np.nanmean([r[q] for r in rs])) for q in rs[0]}
    print(f"| {k} | {m['pesq']:.3f} | {m['stoi']:.3f} | {m.get('ovrl', float('nan')):.3f} | "
          f"{m.get('p808', float('nan')):.3f} |", flush=True)


def codec_rows(xs, pitch_weights, dnsmos) -> None:
    import functools

    import mlcodec
    import mlcodec.dsp.features as FE

    orig = FE.FeatureExtractor
    print("\n| mlcodec 3k, shipped models, encoder features | PESQ-WB | STOI | DNSMOS OVRL | DNSMOS P.808 |")
    print("|---|---|---|---|---|")
    try:
        for k in ("classic", "net"):
            FE.FeatureExtractor = functools.partial(orig, pitch=k, pitch_weights=pitch_weights)
            rs = []
            for x in xs:
                d = mlcodec.encode(x / 32768.0, 16000, bitrate="3k", serial=1)
                y = mlcodec.decode(d)[0].astype(np.float64)[: len(x)]
                rs.append(score(x[: len(y)], y, dnsmos))
            print_row(k, rs)
    finally:
        FE.FeatureExtractor = orig


if __name__ == "__main__":
    raise SystemExit(main())
