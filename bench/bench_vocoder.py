"""Neural vocoder (FARGAN-lite) vs the reference synthesizer on clean features of the eval subset.

    .venv/bin/python bench/bench_vocoder.py [--n 50] [--model BLOB] [--extra-model NAME=BLOB ...]
                                            [--pitch net|classic] [--fargan DIR] [--no-dnsmos] [--png docs/img]

For each file of ``bench/eval_subset.py``'s fixed subset: read (mlcodec.dsp.audio), features
(mlcodec.dsp.features, clean, unquantised, ``--pitch`` estimator: ``net`` by default, the
features codec v2 codes), then synthesis by the reference synthesizer
(mlcodec.dsp.synth), the neural vocoder on the int8 core and on float weights. Both
synthesizers lag the input by SYNTH_DELAY = 160 samples. Scores: PESQ wide-band (pip
``pesq``), STOI (``pystoi``), DNSMOS OVRL / P.808 (``speechmos``). ``--fargan DIR`` (default
``../shared/libopus`` when it exists) adds libopus's FARGAN on the same features (our inference
core, libopus 1.6.1 weights; issue 11's yardstick); ``--extra-model NAME=BLOB`` adds other
FARGAN-lite blobs (e.g. the previous vocoder) as rows.

Speed, single thread, in the same run: seconds of audio per second of synthesis ("x real
time") for each synthesizer, and for ``opusdec`` decoding the same files (encoded beforehand
with ``opusenc --bitrate 6``; one process per file, so its start-up is included).
``--png DIR`` also writes spectrograms (original / reference / neural) of two utterances
(needs matplotlib, a bench/doc-only dependency).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_dnsmos, delay_aligned, load_dnsmos  # noqa: E402
from eval_subset import eval_files  # noqa: E402

from mlcodec.dsp.audio import read_audio  # noqa: E402
from mlcodec.dsp.features import compute_features  # noqa: E402
from mlcodec.dsp.synth import SYNTH_DELAY, ReferenceSynth  # noqa: E402
from mlcodec.vocoder.fargan import SYNTH_DELAY as NEURAL_DELAY, load_vocoder  # noqa: E402

FS = 16000
assert NEURAL_DELAY == SYNTH_DELAY


def aligned(ref: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return delay_aligned(ref, out, SYNTH_DELAY)


def time_opusdec(wavs: list[Path], tmp: Path):
    """(wall, CPU) seconds opusdec needs to decode all files (encoded first, untimed); None if absent."""
    if not (shutil.which("opusenc") and shutil.which("opusdec")):
        return None
    opus = []
    for i, w in enumerate(wavs):
        o = tmp / f"{i}.opus"
        subprocess.run(["opusenc", "--quiet", "--bitrate", "6", str(w), str(o)], check=True)
        opus.append(o)
    t = time.perf_counter()
    c0 = os.times()
    for i, o in enumerate(opus):
        subprocess.run(["opusdec", "--quiet", "--rate", "16000", str(o), str(tmp / f"{i}.dec.wav")], check=True)
    c1 = os.times()
    return time.perf_counter() - t, (c1.children_user + c1.children_system) - (c0.children_user + c0.children_system)


class _Fargan:
    """libopus FARGAN with the neural vocoder's interface and alignment (SYNTH_DELAY)."""

    def __init__(self, voc):
        self.voc = voc

    def synthesize(self, feats):
        y = np.asarray(self.voc.synthesize(np.asarray(feats)[:, :20]), np.float64)
        shift = int(self.voc.delay) - SYNTH_DELAY    # re-align to the other synthesizers' delay
        return y[shift:] if shift >= 0 else np.concatenate([np.zeros(-shift), y])


def spectrograms(path: Path, name: str, sigs: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(sigs), 1, figsize=(9, 2.3 * len(sigs)), sharex=True)
    for ax, (title, x) in zip(axes, sigs.items()):
        ax.specgram(x, NFFT=512, Fs=FS, noverlap=384, cmap="magma", vmin=-130, vmax=-20)
        ax.set_title(f"{title} ({name})", fontsize=9)
        ax.set_ylabel("Hz")
    axes[-1].set_xlabel("s")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def codec_table(files, args, pesq, stoi, dnsmos, keys) -> None:
    """Quality through the codec: encode, decode features, synthesize with both vocoders."""
    from mlcodec.codec import format as fmt
    from mlcodec.codec.decoder import Decoder
    from mlcodec.codec.encoder import Encoder

    print(f"\nEnd to end through the codec ({len(files)} files; decoded features):")
    print("| preset | synthesizer | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    xs = [read_audio(p) for p in files]
    for preset in fmt.BITRATE_PRESETS:
        feats = []
        for x in xs:
            enc = Encoder(bitrate=preset)
            pk = enc.process(x) + enc.flush()
            dec = Decoder(enc.info)
            feats.append(np.concatenate([dec.decode_features(p) for p in pk]))
        for name, mk in (("reference", lambda: ReferenceSynth()),
                         ("neural-int8", lambda: load_vocoder(args.model, fixed_point=True)),
                         ("neural-int8, no postfilter",
                          lambda: load_vocoder(args.model, fixed_point=True, postfilter=False))):
            rs = []
            for x, f in zip(xs, feats):
                ref, y = aligned(x / 32768.0, mk().synthesize(f) / 32768.0)
                r = {"pesq": pesq(FS, ref, y, "wb"), "stoi": stoi(ref, y, FS, extended=False)}
                if dnsmos is not None:
                    d = dnsmos.run(np.clip(y, -1, 1).astype(np.float32), sr=FS)
                    r["ovrl"], r["p808"] = d["ovrl_mos"], d["p808_mos"]
                    r["sig"], r["bak"] = d["sig_mos"], d["bak_mos"]
                rs.append(r)
            print(f"| {preset} | {name} | " + " | ".join(f"{np.mean([r[k] for r in rs]):.3f}" for k in keys) + " |",
                  flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speech", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"))
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--model", default=None, help="vocoder blob (default: the shipped one)")
    ap.add_argument("--no-dnsmos", action="store_true")
    ap.add_argument("--png", default=None, help="write spectrogram PNGs of two utterances here")
    ap.add_argument("--codec", action="store_true",
                    help="also run end to end through the codec (mlcodec.codec.encoder, decoder) at every preset")
    ap.add_argument("--codec-n", type=int, default=20, help="files for the --codec part")
    ap.add_argument("--pitch", default="net", choices=("net", "classic"), help="pitch estimator of the features")
    default_fargan = Path(__file__).resolve().parents[2] / "shared" / "libopus"
    ap.add_argument("--fargan", default=str(default_fargan) if default_fargan.is_dir() else None,
                    help="folder of libopus's weight blobs: add libopus FARGAN as a row ('' to skip)")
    ap.add_argument("--extra-model", action="append", default=[], metavar="NAME=BLOB",
                    help="another FARGAN-lite blob to score beside the default (int8, postfilter on)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from pesq import pesq
    from pystoi import stoi

    dnsmos = load_dnsmos(args.no_dnsmos)
    files = eval_files(args.speech, args.n)
    systems = {
        "reference": lambda: ReferenceSynth(),
        "neural-int8": lambda: load_vocoder(args.model, fixed_point=True),
        "neural-float": lambda: load_vocoder(args.model, fixed_point=False),
        "neural-int8, no postfilter": lambda: load_vocoder(args.model, fixed_point=True, postfilter=False),
    }
    for spec in args.extra_model:
        name, _, blob = spec.partition("=")
        systems[name] = (lambda b: lambda: load_vocoder(b, fixed_point=True))(blob)
    if args.fargan:
        from mlcodec.libopus.fargan import LibopusVocoder, load_model as load_fargan

        lm = load_fargan(os.path.join(args.fargan, "fargan_arrays.bin"))
        systems["libopus FARGAN"] = lambda: _Fargan(LibopusVocoder(lm))
    for mk in systems.values():  # compile / warm the numba code outside the timings
        mk().synthesize(np.zeros((3, 20), np.float32))
    scores = {k: [] for k in systems}
    secs = {k: 0.0 for k in systems}
    cpu = {k: 0.0 for k in systems}
    total = 0.0
    pngs = 0
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        wavs = []
        for fi, p in enumerate(files):
            x = read_audio(p)
            total += len(x) / FS
            w = tmp / f"{fi}.wav"
            import soundfile as sf

            sf.write(w, np.clip(x / 32768.0, -1, 1), FS, subtype="PCM_16")
            wavs.append(w)
            feats = np.asarray(compute_features(x, pitch=args.pitch))[:, :20].astype(np.float32)
            outs = {}
            for k, mk in systems.items():
                syn = mk()
                t, c = time.perf_counter(), time.thread_time()
                out = syn.synthesize(feats)
                secs[k] += time.perf_counter() - t
                cpu[k] += time.thread_time() - c
                ref, y = aligned(x / 32768.0, out / 32768.0)
                outs[k] = y
                r = {"pesq": pesq(FS, ref, y, "wb"), "stoi": stoi(ref, y, FS, extended=False)}
                if dnsmos is not None:
                    add_dnsmos(r, dnsmos, y, sig_bak=True)
                scores[k].append(r)
            n8, nf = outs["neural-int8"], outs["neural-float"]
            snr = 10 * np.log10((nf ** 2).sum() / max(((n8 - nf) ** 2).sum(), 1e-20))
            scores["neural-int8"][-1]["snr_vs_float"] = snr
            print(f"{p.parts[-3]:18s} {p.name[:30]:30s} {len(x) / FS:5.1f}s  "
                  + "  ".join(f"{k}: PESQ {scores[k][-1]['pesq']:.2f} STOI {scores[k][-1]['stoi']:.3f}"
                              + (f" OVRL {scores[k][-1]['ovrl']:.2f}" if "ovrl" in scores[k][-1] else "")
                              for k in systems), flush=True)
            if args.png and pngs < 2 and p.parts[-3] in ("librispeech", "speechocean762", "cmu_arctic") \
                    and len(x) / FS >= 3:
                out_dir = Path(args.png)
                out_dir.mkdir(parents=True, exist_ok=True)
                ref, _ = aligned(x / 32768.0, outs["reference"])
                seg = slice(0, 4 * FS)  # first 4 s, readable at page width
                rows = {"original": ref[seg], "neural vocoder (int8)": outs["neural-int8"][seg]}
                rows.update({k: outs[k][seg] for k in outs if k not in ("reference", "neural-float",
                                                                         "neural-int8", "neural-int8, no postfilter")})
                spectrograms(out_dir / f"vocoder_spectrogram_{pngs + 1}.png", p.stem[:24], rows)
                pngs += 1
        dec = time_opusdec(wavs, tmp)
    keys = [k for k in ("pesq", "stoi", "sig", "bak", "ovrl", "p808") if k in scores["reference"][0]]
    print(f"\n{len(files)} files, {total:.1f} s of speech (clean features, eval subset)")
    print("| synthesizer | " + " | ".join(keys) + " | x real time, wall | x real time, CPU |")
    print("|---|" + "---|" * (len(keys) + 2))
    for k in systems:
        means = [np.mean([r[m] for r in scores[k]]) for m in keys]
        print(f"| {k} | " + " | ".join(f"{v:.3f}" for v in means)
              + f" | {total / secs[k]:.0f}x | {total / max(cpu[k], 1e-9):.0f}x |")
    if dec is not None:
        print(f"| opusdec 6 kb/s (decode, process per file) | " + " | ".join("-" for _ in keys)
              + f" | {total / dec[0]:.0f}x | {total / max(dec[1], 1e-9):.0f}x |")
    print(f"(one thread each; load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if args.codec:
        codec_table(files[: args.codec_n], args, pesq, stoi, dnsmos, keys)
    snrs = [r["snr_vs_float"] for r in scores["neural-int8"]]
    print(f"\nint8 vs float neural output: waveform SNR {np.mean(snrs):.1f} dB (mean over files); "
          + ", ".join(f"{m} {np.mean([r[m] for r in scores['neural-int8']]) - np.mean([r[m] for r in scores['neural-float']]):+.3f}"
                      for m in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
