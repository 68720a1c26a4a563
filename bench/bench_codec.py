"""Quality, whole-file rate and speed of mlcodec (format 2) next to Opus and Codec 2, in one run.

    python bench/bench_codec.py [--n 16] [--speech ../shared/data/speech] [--out docs/benchmarks.md]

On the speaker-disjoint evaluation set (bench/eval_subset.py ``eval_files``: no speaker of it is
in any shipped model's training data) every file is coded by
  * mlcodec format 2 at --bitrate 1.5k / 3k / 6k (int8, 120 ms packets, two-pass VBR with DTX),
    each with its vocoder (``auto``), and format 1 "3k" (20 ms packets) for the v1 baseline;
  * Opus (Debian opus-tools 0.2, libopus 1.3.1): ``opusenc --speech --bitrate 6`` and ``9``;
  * libopus 1.6.1 ``opus_demo`` (voip, 16 kHz) at 6 and 9 kb/s decoded with decoder complexity 0
    and 10 (NoLACE), and 6 kb/s forced wide-band (``-bandwidth WB``) with NoLACE; the packets
    are muxed into Ogg Opus (mlcodec.containers) so that the rate is a whole file's;
  * Codec 2 (Debian codec2): ``c2enc``/``c2dec`` 3200 and 1600 through 8 kHz (sox).
Metrics per system, averaged over files: whole-file kb/s (mean, and the largest file's), PESQ
wide-band, STOI, DNSMOS OVRL and P.808 (``speechmos``), and speed in seconds of audio per second,
encode and decode (mlcodec: warm, in-process, one core, best of 3 on ~20 s; external tools:
process wall time, start-up included). Opus (opusenc) and mlcodec outputs are aligned by their
pre-skip; opus_demo and Codec 2 outputs by cross-correlation within +-40 ms. ``--pool-compare``
also scores two systems on the rest of the held-out pool (speakers the vocoder heard) to show
how much the speaker-disjoint set moves the numbers.

Needs pesq, pystoi, speechmos, onnxruntime, librosa (dev only).
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
from eval_subset import eval_files, holdout_files  # noqa: E402

OPUS_DEMO = os.environ.get("OPUS_DEMO", "/work/libopus/bin/opus_demo")

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
    def __init__(self, model, bitrate: str, frame_ms: int = 120, vocoder: str = "auto", version: int = 3):
        from mlcodec.codec import format as fmt
        from mlcodec.codec.vocoders import auto_vocoder

        self.model, self.bitrate, self.frame_ms, self.vocoder, self.version = model, bitrate, frame_ms, vocoder, version
        voc = vocoder if vocoder != "auto" else auto_vocoder(fmt.nearest_preset(bitrate))
        self.name = (f"mlcodec v{version} --bitrate {bitrate}, {voc} vocoder" if version >= 2 else
                     f"mlcodec v1 {bitrate} preset, {frame_ms} ms, {voc} vocoder")

    def code(self, x: np.ndarray, tmp: Path):
        from mlcodec.codec.files import decode_stream, encode_stream

        buf = io.BytesIO()
        t0 = time.perf_counter()
        enc = encode_stream([x], buf, model=self.model, bitrate=self.bitrate, frame_ms=self.frame_ms,
                            serial=1, format_version=self.version)
        t1 = time.perf_counter()
        parts = []
        buf.seek(0)
        decode_stream(buf, parts.append, model=self.model, vocoder=self.vocoder)
        t2 = time.perf_counter()
        return np.concatenate(parts), len(buf.getvalue()), enc.payload_bytes, t1 - t0, t2 - t1


class OpusDemo:
    """libopus 1.6.1 opus_demo (voip, 16 kHz mono); packets muxed into Ogg Opus for the rate."""

    needs_align = True  # the raw decoder output keeps the codec delay
    _cache: dict = {}

    def __init__(self, bps: int, dec_complexity: int, bandwidth: str | None = None):
        self.bps, self.cx, self.bw = bps, dec_complexity, bandwidth
        self.name = (f"libopus 1.6.1 opus_demo {bps // 1000}k" + (f" forced {bandwidth}" if bandwidth else "")
                     + f", dec complexity {dec_complexity}" + (" (NoLACE)" if dec_complexity >= 10 else ""))

    def code(self, x: np.ndarray, tmp: Path):
        key = (id(x), self.bps, self.bw)
        raw, bit, out = tmp / "in.raw", tmp / f"o{self.bps}{self.bw}.bit", tmp / "o.raw"
        if key not in self._cache:
            self._cache.clear()
            np.clip(np.rint(x), -32768, 32767).astype("<i2").tofile(raw)
            opts = ["-bandwidth", self.bw] if self.bw else []
            te = _run([OPUS_DEMO, "-e", "voip", str(RATE), "1", str(self.bps), *opts, str(raw), str(bit)])
            self._cache[key] = (te, _ogg_size(bit))
        te, size = self._cache[key]
        td = _run([OPUS_DEMO, "-d", str(RATE), "1", "-dec_complexity", str(self.cx), str(bit), str(out)])
        y = np.fromfile(out, "<i2").astype(np.float32)
        return y, size, None, te, td


def _ogg_size(bit: Path) -> int:
    """Bytes of an Ogg Opus file holding the packets of an opus_demo .bit file."""
    from mlcodec.containers.oggopus import OggOpusWriter
    from mlcodec.containers.opusdemo import iter_bit

    buf = io.BytesIO()
    w = OggOpusWriter(buf, channels=1, input_sample_rate=RATE, pre_skip=312, serial=1, vendor="opus_demo")
    with open(bit, "rb") as f:
        for p in iter_bit(f):
            if p.data:
                w.write_packet(p.data)
    w.close()
    return len(buf.getvalue())


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


def run_systems(systems, files, log=True):
    """Per system: dur, bytes, per-file kb/s, payload, times and metrics over ``files``."""
    from mlcodec.dsp.audio import read_audio

    rows = {s.name: {"dur": 0.0, "bytes": 0, "kbps": [], "payload": 0, "te": 0.0, "td": 0.0, "m": []}
            for s in systems}
    ref_rows = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for i, f in enumerate(files):
            x = read_audio(f)
            dur = len(x) / RATE
            ref_rows.append(metrics(x, None))
            for s in systems:
                y, nbytes, payload, te, tdec = s.code(x, tmp)
                r = rows[s.name]
                r["dur"] += dur
                r["bytes"] += nbytes
                r["kbps"].append(nbytes * 8 / dur / 1000)
                r["payload"] += payload or 0
                r["te"] += te
                r["td"] += tdec
                if getattr(s, "needs_align", False):
                    y = align(x, y)
                else:
                    y = np.concatenate([y, np.zeros(max(len(x) - len(y), 0), np.float32)])[: len(x)]
                r["m"].append(metrics(x, y))
            if log:
                print(f"[{i + 1}/{len(files)}] {Path(f).name} ({dur:.1f} s) {time.perf_counter() - t_start:.0f} s",
                      file=sys.stderr, flush=True)
    return rows, ref_rows


def mean(ms, k):
    v = np.array([m[k] for m in ms], np.float64)
    return float(np.nanmean(v)) if v.size else float("nan")


def _low_rate_note(model) -> str:
    """Which model the encoder's default takes at 1.5 kb/s and below, when it is another one."""
    from mlcodec.codec.encoder import Encoder

    low = Encoder(model, bitrate="1.5k").model
    return f"; at 1.5k the encoder's default is `{low.name}` ({low.checksum[:12]}…)" if low is not model else ""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=16, help="files of the evaluation set (default: all 16)")
    ap.add_argument("--speech", default=str(HERE.parent.parent / "shared" / "data" / "speech"))
    ap.add_argument("--out", default=str(HERE.parent / "docs" / "benchmarks.md"),
                    help="markdown file whose bench_codec section is (re)written; '-' = print only")
    ap.add_argument("--model", default=None, help="model blob (default: the shipped one)")
    ap.add_argument("--no-external", action="store_true", help="skip Opus and Codec 2")
    ap.add_argument("--pool-compare", action="store_true",
                    help="also score mlcodec 3k on the rest of the held-out pool (speakers the vocoder heard)")
    ap.add_argument("--pool-n", type=int, default=12, help="files of the rest of the pool for --pool-compare")
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
    for br in ("1.5k", "3k", "6k"):
        systems.append(Ours(model, br))
    systems.append(Ours(model, "3k", frame_ms=20, version=1))
    if not a.no_external:
        for tool in ("opusenc", "opusdec", "c2enc", "c2dec", OPUS_DEMO):
            if shutil.which(tool) is None:
                raise SystemExit(f"{tool} is not installed (Debian: opus-tools, codec2; libopus 1.6.1 build)")
        systems += [Opus(6), Opus(9)]
        systems += [OpusDemo(6000, 0), OpusDemo(6000, 10), OpusDemo(9000, 0), OpusDemo(9000, 10),
                    OpusDemo(6000, 10, "WB")]
        systems += [Codec2(3200), Codec2(1600)]
    # warm up numba/JIT so that speed numbers are steady-state
    Ours(model, "3k").code(read_audio(files[0])[:RATE], Path("."))

    # mlcodec speed: best of 3 runs on ~20 s of the set (per-file times are noisy on a shared machine)
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
                _, _, _, e, d = s.code(xcat, Path("."))
                te, td = min(te, e), min(td, d)
            best[s.name] = (len(xcat) / RATE / te, len(xcat) / RATE / td)

    rows, ref_rows = run_systems(systems, files)

    head = ("| system | kb/s (whole file, mean) | kb/s (largest file) | kb/s (payload) | PESQ-WB | STOI | DNSMOS OVRL "
            "| DNSMOS P.808 | encode × RT | decode × RT |\n|---|---|---|---|---|---|---|---|---|---|\n")
    lines = [f"| unprocessed input | — | — | — | — | — | {mean(ref_rows, 'ovrl'):.2f} | {mean(ref_rows, 'p808'):.2f} "
             "| — | — |"]
    for s in systems:
        r = rows[s.name]
        kb = r["bytes"] * 8 / r["dur"] / 1000
        ours = isinstance(s, Ours)
        pay = f"{r['payload'] * 8 / r['dur'] / 1000:.2f}" if ours else "—"
        se, sd = best.get(s.name, (r["dur"] / r["te"], r["dur"] / r["td"]))
        lines.append(f"| {s.name} | {kb:.2f} | {max(r['kbps']):.2f} | {pay} | {mean(r['m'], 'pesq'):.2f} | "
                     f"{mean(r['m'], 'stoi'):.3f} | {mean(r['m'], 'ovrl'):.2f} | {mean(r['m'], 'p808'):.2f} | "
                     f"{se:.0f} | {sd:.0f} |")
    cmd = f"python bench/bench_codec.py --n {a.n}" + (f" --pool-compare --pool-n {a.pool_n}" if a.pool_compare else "")
    note = (f"\n{len(files)} files of the speaker-disjoint evaluation set (`bench/eval_subset.py`, "
            f"{rows[systems[0].name]['dur']:.0f} s of speech), model `{model.name}` "
            f"(checksum {model.checksum[:12]}…){_low_rate_note(model)}, command: `{cmd}`. "
            "mlcodec speeds are warm, in-process, one thread, best of 3 runs on ~20 s; "
            f"load average during the run {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine: "
            "speeds are low bounds); external tools' speeds are process wall times including start-up. "
            "kb/s (whole file) = file bytes × 8 / duration (Ogg Opus files; opus_demo packets muxed into Ogg; "
            "Codec 2: raw bit file); mlcodec's payload = its extension payloads alone.\n")
    def emit(extra: str) -> None:
        table = head + "\n".join(lines) + "\n" + note + extra
        print(table, flush=True)
        if a.out != "-":
            out = Path(a.out)
            section = f"{BEGIN}\n## Speech codec: quality, rate and speed (bench/bench_codec.py)\n\n{table}{END}\n"
            write_section(out, BEGIN, END, section, "# Benchmarks\n\n")
            print(f"written to {out}", file=sys.stderr)

    emit("")
    extra = ""
    if a.pool_compare:
        seen = [p for p in holdout_files(a.speech) if p not in set(files)]
        pair = [Ours(model, "3k")]
        seen = seen[:a.pool_n]
        prow, pref = run_systems(pair, seen, log=False)
        extra = (f"\n**How much the speaker-disjoint set moved the numbers.** The other {len(seen)} files of the "
                 "held-out pool (speakers whose other files the shipped vocoder was trained on; the earlier "
                 "evaluation set was the whole pool), same systems, same run:\n\n| system | set | PESQ-WB | STOI | "
                 "DNSMOS OVRL | DNSMOS P.808 |\n|---|---|---|---|---|---|\n")
        for s in pair:
            for label, rr in ((f"speaker-disjoint ({len(files)})", rows[s.name]), (f"rest of pool ({len(seen)})",
                                                                                   prow[s.name])):
                extra += (f"| {s.name} | {label} | {mean(rr['m'], 'pesq'):.2f} | {mean(rr['m'], 'stoi'):.3f} | "
                          f"{mean(rr['m'], 'ovrl'):.2f} | {mean(rr['m'], 'p808'):.2f} |\n")
        emit(extra)


if __name__ == "__main__":
    main()
