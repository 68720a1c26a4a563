"""Quality and speed of the mlcodec speech codec next to Opus and Codec 2, in one run.

    python bench/bench_codec.py [--n 50] [--speech ../shared/data/speech] [--out docs/benchmarks.md]

On the fixed evaluation subset (bench/eval_subset.py; never trained on) every file is coded by
  * mlcodec at 1.5k / 3k / 6k, int8 (fixed-point) and float paths, 20 ms packets;
  * Opus (Debian opus-tools): ``opusenc --speech --bitrate 6`` and ``9``, then ``opusdec``;
  * Codec 2 (Debian codec2): ``c2enc``/``c2dec`` 3200 and 1600 through 8 kHz (sox).
Metrics per system, averaged over files: actual bit rate (whole file, and mlcodec's payload
alone), PESQ wide-band, STOI, DNSMOS OVRL and P.808 (``speechmos``), and speed in seconds of
audio per second, encode and decode separately (mlcodec: warm, in-process, one core;
external tools: wall time of the processes, start-up included). Opus and mlcodec outputs are
time-aligned by their pre-skip; Codec 2's output (no delay compensation) is aligned to the
input by cross-correlation within +-40 ms before PESQ/STOI. The markdown table is printed
and written between markers in ``--out``.

Needs the ``bench`` extra (pesq, pystoi, speechmos) plus ``onnxruntime`` and ``librosa``, which
speechmos uses for DNSMOS without declaring them.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from common import one_thread  # noqa: E402

# One core: keep BLAS/OpenMP from spreading the speed measurement over several threads.
one_thread()

import argparse  # noqa: E402
import io  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from common import pesq_stoi, write_section  # noqa: E402
from eval_subset import eval_files  # noqa: E402

RATE = 16000
BEGIN = "<!-- bench_codec:begin -->"
END = "<!-- bench_codec:end -->"


def _run(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def align(ref: np.ndarray, deg: np.ndarray, max_lag: int = 640) -> np.ndarray:
    """Shift ``deg`` by the lag (|lag| <= max_lag) maximising its correlation with ``ref``."""
    n = min(len(ref), len(deg))
    a, b = ref[:n].astype(np.float64), deg[:n].astype(np.float64)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    c = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    lag = int(lags[np.argmax(c[lags])])
    out = np.zeros(len(ref))
    if lag >= 0:
        seg = deg[lag: lag + len(ref)]
    else:
        seg = np.concatenate([np.zeros(-lag), deg[: len(ref) + lag]])
    out[: len(seg)] = seg[: len(ref)]
    return out


def metrics(ref: np.ndarray, deg: np.ndarray) -> dict:
    """PESQ-WB, STOI, DNSMOS OVRL/P.808 of ``deg`` (int16-unit floats at 16 kHz) against ``ref``."""
    from speechmos import dnsmos

    r = ref / 32768.0
    out = {}
    if deg is None:  # the unprocessed input: DNSMOS only
        d = np.clip(r, -1, 1)
    else:
        d = np.clip(deg / 32768.0, -1, 1)
        out["pesq"], out["stoi"] = pesq_stoi(r, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = dnsmos.run(d.astype(np.float32), RATE)
    out["ovrl"] = float(m["ovrl_mos"])
    out["p808"] = float(m["p808_mos"])
    return out


class Ours:
    def __init__(self, model, bitrate: str, fixed_point: bool, frame_ms: int = 20, vocoder: str = "auto"):
        from mlcodec.codec.vocoders import auto_vocoder

        self.model, self.bitrate, self.fixed, self.frame_ms = model, bitrate, fixed_point, frame_ms
        self.vocoder = vocoder

        voc = vocoder if vocoder != "auto" else auto_vocoder(bitrate)
        self.name = f"mlcodec {bitrate} {'int8' if fixed_point else 'float'}, {voc} vocoder" + \
            (f" {frame_ms} ms" if frame_ms != 20 else "")

    def code(self, x: np.ndarray, tmp: Path, measure60: bool = True):
        from mlcodec.codec.files import decode_stream, encode_stream

        buf = io.BytesIO()
        t0 = time.perf_counter()
        enc = encode_stream([x], buf, model=self.model, bitrate=self.bitrate, frame_ms=self.frame_ms,
                            fixed_point=self.fixed, serial=1)
        t1 = time.perf_counter()
        parts = []
        buf.seek(0)
        decode_stream(buf, parts.append, model=self.model, fixed_point=self.fixed, vocoder=self.vocoder)
        t2 = time.perf_counter()
        y = np.concatenate(parts)
        # Packetisation does not change the latents or the audio: only the file size of the
        # same coding in 60 ms packets is measured.
        if measure60:
            b60 = io.BytesIO()
            encode_stream([x], b60, model=self.model, bitrate=self.bitrate, frame_ms=60, fixed_point=self.fixed,
                          serial=1)
            self.bytes60 = getattr(self, "bytes60", 0) + len(b60.getvalue())
        return y, len(buf.getvalue()), enc.payload_bytes, t1 - t0, t2 - t1


class VocoderOnly:
    """Upper bound of the chain: unquantized features of the input straight into a vocoder."""

    def __init__(self, vocoder: str):
        self.vocoder = vocoder
        self.name = f"{vocoder} vocoder only (unquantized features)"

    def code(self, x: np.ndarray, tmp: Path):
        from mlcodec.codec.vocoders import default_vocoder, vocoder_delay
        from mlcodec.dsp.features import compute_features

        voc = default_vocoder(self.vocoder)
        t0 = time.perf_counter()
        f = compute_features(x)
        t1 = time.perf_counter()
        y = voc.synthesize(f)
        t2 = time.perf_counter()
        d = vocoder_delay(voc)
        return y[d: d + len(x)], 0, None, t1 - t0, t2 - t1


class Opus:
    def __init__(self, kbps: int):
        self.kbps = kbps
        self.name = f"Opus {kbps}k (opusenc --speech)"

    def code(self, x: np.ndarray, tmp: Path):
        wav, enc, dec = tmp / "in.wav", tmp / "o.opus", tmp / "o.wav"
        sf.write(wav, np.clip(np.rint(x), -32768, 32767).astype(np.int16), RATE)
        te = _run(["opusenc", "--quiet", "--speech", "--bitrate", str(self.kbps), str(wav), str(enc)])
        td = _run(["opusdec", "--quiet", "--rate", str(RATE), str(enc), str(dec)])
        y, _ = sf.read(dec, dtype="int16")
        return y.astype(np.float32), enc.stat().st_size, None, te, td


class Codec2:
    needs_align = True  # c2enc/c2dec have no delay compensation (Opus and mlcodec have pre-skip)

    def __init__(self, mode: int):
        self.mode = mode
        self.name = f"Codec 2 {mode}"

    def code(self, x: np.ndarray, tmp: Path):
        from mlcodec.dsp.audio import resample

        raw8, bits, out8 = tmp / "in8.raw", tmp / "c2.bit", tmp / "out8.raw"
        x8 = resample(x.astype(np.float64), RATE, 8000)
        np.clip(np.rint(x8), -32768, 32767).astype("<i2").tofile(raw8)
        te = _run(["c2enc", str(self.mode), str(raw8), str(bits)])
        td = _run(["c2dec", str(self.mode), str(bits), str(out8)])
        y8 = np.fromfile(out8, "<i2").astype(np.float64)
        y = resample(y8, 8000, RATE).astype(np.float32)
        return y, bits.stat().st_size, None, te, td


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50, help="files of the evaluation subset (default 50)")
    ap.add_argument("--speech", default=str(HERE.parent.parent / "shared" / "data" / "speech"))
    ap.add_argument("--out", default=str(HERE.parent / "docs" / "benchmarks.md"),
                    help="markdown file whose bench_codec section is (re)written; '-' = print only")
    ap.add_argument("--model", default=None, help="model blob (default: the shipped one)")
    ap.add_argument("--no-float", action="store_true", help="skip the float-path rows")
    ap.add_argument("--no-external", action="store_true", help="skip Opus and Codec 2")
    a = ap.parse_args(argv)

    try:
        import pesq  # noqa: F401
        import pystoi  # noqa: F401
        from speechmos import dnsmos  # noqa: F401  (needs onnxruntime and librosa)
    except ImportError as exc:
        raise SystemExit(f"bench_codec needs pesq, pystoi and speechmos with its undeclared dependencies "
                         f"onnxruntime and librosa: {exc}")
    from mlcodec.codec.model import load_model
    from mlcodec.dsp.audio import read_audio

    model = load_model(a.model)
    files = eval_files(a.speech, a.n)
    systems = []
    if not a.no_external:
        for tool in ("opusenc", "opusdec", "c2enc", "c2dec"):
            if shutil.which(tool) is None:
                raise SystemExit(f"{tool} is not installed (Debian: opus-tools, codec2)")
        systems += [Opus(6), Opus(9), Codec2(3200), Codec2(1600)]
    from mlcodec.codec.vocoders import neural_vocoder_available

    neural = neural_vocoder_available()
    systems.append(VocoderOnly("reference"))
    if neural:
        systems.append(VocoderOnly("neural"))
    for br in ("1.5k", "3k", "6k"):  # every preset through both vocoders (int8), neural also float
        for voc in (("neural", "reference") if neural else ("reference",)):
            systems.append(Ours(model, br, True, vocoder=voc))
            if not a.no_float and voc == "neural":
                systems.append(Ours(model, br, False, vocoder=voc))
    # warm up numba/JIT so that speed numbers are steady-state
    for fixed in (True,) if a.no_float else (True, False):
        Ours(model, "3k", fixed).code(read_audio(files[0])[:RATE], Path("."), measure60=False)

    rows = {s.name: {"dur": 0.0, "bytes": 0, "payload": 0, "te": 0.0, "td": 0.0, "m": []} for s in systems}
    ref_rows = []
    t_start = time.perf_counter()
    # SIGTERM/SIGINT: finish the current file, then report on the files done so far.
    import signal

    stop = []

    def _stop(*_):
        stop.append(True)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    done = 0
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for i, f in enumerate(files):
            if stop:
                break
            x = read_audio(f)
            dur = len(x) / RATE
            ref_rows.append(metrics(x, None))
            for s in systems:
                y, nbytes, payload, te, tdec = s.code(x, tmp)
                r = rows[s.name]
                r["dur"] += dur
                r["bytes"] += nbytes
                r["payload"] += payload or 0
                r["te"] += te
                r["td"] += tdec
                if getattr(s, "needs_align", False):
                    y = align(x, y)
                else:
                    y = np.concatenate([y, np.zeros(max(len(x) - len(y), 0), np.float32)])[: len(x)]
                r["m"].append(metrics(x, y))
            done += 1
            print(f"[{i + 1}/{len(files)}] {Path(f).name} ({dur:.1f} s) {time.perf_counter() - t_start:.0f} s",
                  file=sys.stderr, flush=True)
    files = files[:done]

    # mlcodec speed: best of 3 runs on ~20 s of the subset (the per-file times above are
    # noisy on a shared machine).
    xs, n = [], 0
    for f in files:
        xs.append(read_audio(f))
        n += len(xs[-1])
        if n >= 20 * RATE:
            break
    xcat = np.concatenate(xs)
    best = {}
    for s in systems:
        if isinstance(s, Ours):
            te = td = float("inf")
            for _ in range(3):
                _, _, _, e, d = s.code(xcat, Path("."), measure60=False)
                te, td = min(te, e), min(td, d)
            best[s.name] = (len(xcat) / RATE / te, len(xcat) / RATE / td)

    def mean(ms, k):
        v = np.array([m[k] for m in ms], np.float64)
        return float(np.nanmean(v)) if v.size else float("nan")

    head = ("| system | kb/s (file) | kb/s (file, 60 ms packets) | kb/s (payload) | PESQ-WB | STOI | DNSMOS OVRL "
            "| DNSMOS P.808 | encode × RT | decode × RT |\n|---|---|---|---|---|---|---|---|---|---|\n")
    lines = [f"| unprocessed input | — | — | — | — | — | {mean(ref_rows, 'ovrl'):.2f} | {mean(ref_rows, 'p808'):.2f} "
             "| — | — |"]
    for s in systems:
        r = rows[s.name]
        kb = r["bytes"] * 8 / r["dur"] / 1000
        ours = isinstance(s, Ours)
        pay = f"{r['payload'] * 8 / r['dur'] / 1000:.2f}" if ours else "—"
        kb60 = f"{s.bytes60 * 8 / r['dur'] / 1000:.2f}" if ours else "—"
        se, sd = best.get(s.name, (r["dur"] / r["te"], r["dur"] / r["td"]))
        if isinstance(s, VocoderOnly):
            kb = "—"
            se, sd = f"{se:.0f} (features)", f"{sd:.0f} (synth)"
        else:
            kb = f"{kb:.2f}"
            se, sd = f"{se:.0f}", f"{sd:.0f}"
        lines.append(f"| {s.name} | {kb} | {kb60} | {pay} | {mean(r['m'], 'pesq'):.2f} | {mean(r['m'], 'stoi'):.3f} | "
                     f"{mean(r['m'], 'ovrl'):.2f} | {mean(r['m'], 'p808'):.2f} | {se} | {sd} |")
    note = (f"\n{len(files)} files (the first {len(files)} of the fixed order) of the evaluation subset "
            f"(`bench/eval_subset.py`, "
            f"{rows[systems[0].name]['dur']:.0f} s of speech), model `{model.name}` "
            f"(checksum {model.checksum[:12]}…), command: `python bench/bench_codec.py --n {a.n}`. "
            "mlcodec speeds are warm, in-process, one thread, best of 3 runs on ~20 s; "
            f"load average during the run {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
            "opusenc/opusdec/c2enc/c2dec speeds are "
            "process wall times including start-up (short files), so they understate those tools. "
            "\"kb/s (file)\" is the whole file (Ogg Opus framing included; Codec 2: raw bit file); mlcodec's "
            "\"60 ms packets\" column is the same coding (identical audio) in 60 ms packets, and \"payload\" "
            "its extension payloads alone (version byte + range-coded latents; format.md §2, §5).\n")
    table = head + "\n".join(lines) + "\n" + note
    print(table)
    if a.out != "-":
        out = Path(a.out)
        section = f"{BEGIN}\n## Speech codec: quality and speed (bench/bench_codec.py)\n\n{table}{END}\n"
        write_section(out, BEGIN, END, section, "# Benchmarks\n\n")
        print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
