"""libopus's FARGAN (mlcodec.libopus.fargan) beside our vocoders, on our codec's features.

    python bench/bench_libopus_vocoder.py [--n 10] [--weights DIR] [--codec] [--no-dnsmos]

For the first ``--n`` files of bench/eval_subset.py: features from our analysis
(mlcodec.dsp.features, clean), synthesised by the reference synthesizer, our FARGAN-lite
(int8, with postfilter) and libopus's FARGAN (``LibopusVocoder``, x86 path); each output is
advanced by its vocoder's ``delay`` before scoring. PESQ-WB and STOI (pip ``pesq``, ``pystoi``),
DNSMOS OVRL/P.808 when ``speechmos`` is installed. ``--codec`` also scores our streams at every
bit-rate preset decoded as ``mlcodec decode --vocoder reference|neural|libopus`` does
(``mlcodec.api.encode``/``decode``: the decoder compensates each vocoder's delay); the libopus
vocoder comes from the model cache (``mlcodec models install libopus SOURCE``).
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


def systems(weights: str):
    from mlcodec.dsp.synth import ReferenceSynth
    from mlcodec.libopus.fargan import load_model, LibopusVocoder
    from mlcodec.vocoder.fargan import load_vocoder

    lm = load_model(os.path.join(weights, "fargan_arrays.bin"))
    return {
        "reference": ReferenceSynth,
        "mlcodec FARGAN-lite int8": lambda: load_vocoder(fixed_point=True),
        "libopus FARGAN (x86 path)": lambda: LibopusVocoder(lm),
    }


def score(xs, feats, mk, dnsmos):
    rs = []
    for x, f in zip(xs, feats):
        voc = mk()
        y = np.asarray(voc.synthesize(f), np.float64) / 32768.0
        ref, y = delay_aligned(x / 32768.0, y, int(getattr(voc, "delay", 160)))
        p, s = pesq_stoi(ref, y)
        r = {"pesq": p, "stoi": s}
        if dnsmos is not None:
            d = dnsmos.run(np.clip(y, -1, 1).astype(np.float32), sr=16000)
            r["ovrl"], r["p808"] = d["ovrl_mos"], d["p808_mos"]
        rs.append(r)
    return {k: float(np.nanmean([r[k] for r in rs])) for k in rs[0]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speech", default=str(ROOT.parent / "shared" / "data" / "speech"))
    ap.add_argument("--weights", default=str(ROOT.parent / "shared" / "libopus"))
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--codec", action="store_true")
    ap.add_argument("--no-dnsmos", action="store_true")
    a = ap.parse_args(argv)
    from mlcodec.dsp.audio import read_audio
    from mlcodec.dsp.features import compute_features

    dnsmos = load_dnsmos(a.no_dnsmos)
    files = eval_files(a.speech, a.n)
    xs = [read_audio(p) for p in files]
    xs = [x[0] if isinstance(x, tuple) else x for x in xs]
    xs = [np.asarray(x, np.float64).reshape(-1) for x in xs]
    sy = systems(a.weights)
    cases = {"clean features": [compute_features(x) for x in xs]}
    api_rows = {}
    if a.codec:
        import mlcodec
        from mlcodec.codec import format as fmt

        for preset in fmt.BITRATE_PRESETS:
            streams = [mlcodec.encode(x / 32768.0, 16000, bitrate=preset, serial=1) for x in xs]
            for voc in ("reference", "neural", "libopus"):
                ys = [mlcodec.decode(d, vocoder=voc)[0].astype(np.float64) * 32768.0 for d in streams]
                api_rows[(f"stream {preset}", f"mlcodec decode --vocoder {voc}")] = ys
    print(f"{len(files)} files of bench/eval_subset.py")
    keys = None
    for case, feats in cases.items():
        for name, mk in sy.items():
            r = score(xs, feats, mk, dnsmos)
            if keys is None:
                keys = list(r)
                print("| features | synthesizer | " + " | ".join(keys) + " |")
                print("|---|---|" + "---|" * len(keys))
            print(f"| {case} | {name} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |", flush=True)
    for (case, name), ys in api_rows.items():
        r = score(xs, ys, lambda: _Aligned(), dnsmos)
        print(f"| {case} | {name} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |", flush=True)
    return 0


class _Aligned:
    """A pass-through "vocoder" for audio that is already decoded and aligned (delay 0)."""

    delay = 0

    def synthesize(self, y):
        return y


if __name__ == "__main__":
    raise SystemExit(main())
