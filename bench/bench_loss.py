"""Issue 13's loss table: mlcodec beside libopus 1.6.1 (DRED, deep PLC) and opusenc (in-band
FEC) under the same per-packet losses, 20 ms packets everywhere.

    python bench/bench_loss.py [--n 16] [--conditions 0,rand20,lossgen20] [--jobs 2] [--out docs/benchmarks.md]

Every file of the speaker-disjoint evaluation set (bench/eval_subset.py) is coded once per
system; each loss condition (bench/loss_patterns.py: 0 %, random, Gilbert bursts, libopus
lossgen traces) becomes one per-file trace (one 0/1 per 20 ms packet, 1 = lost) that every
system's decoder reads, so all of them lose the same packets:
  * libopus 1.6.1 ``opus_demo -e voip 16000 1 BPS -framesize 20 -complexity 10 [-dred 100
    -loss 20]``, decoded by ``opus_demo -d 16000 1 -dec_complexity 10 -lossfile T`` (deep PLC,
    DRED; packets muxed into Ogg Opus for the whole-file rate, as bench_codec.py does);
  * opusenc (opus-tools 0.2, libopus 1.3.1) ``--speech --framesize 20 --expect-loss 20
    --set-ctl-int 4012=1`` (OPUS_SET_INBAND_FEC: ``--expect-loss`` alone does not enable LBRR);
    opusdec can only drop packets at random with its own ``rand()``, so its packets are decoded
    by ``opus_demo -d ... -dec_complexity 0 -lossfile T`` (classic PLC + LBRR, what opusdec
    does, on libopus 1.6.1's decoder); rate = the real opusenc file; a second row decodes the
    same files with opusdec itself (libopus 1.3.1) ``--packet-loss P`` for the random conditions
    (its own losses, not the traces');
  * mlcodec ``encode --bitrate 3k --frame-ms 20 [--redundancy 500]``, ``decode [--loss-trace T]``.
Metrics: PLCMOS (speechmos, non-intrusive; the 15 random rater embeddings seeded with 0 for
every clip so scores are repeatable), STOI against the original, DNSMOS OVRL/P.808 on
``--dnsmos`` conditions; the drop from each system's own no-loss decode (per-file pairs, 95 %
interval). Decodes and scores are cached in ``--cache`` keyed by the stream's and trace's
SHA-1 and the decoder command, so a rerun only computes what changed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from common import one_thread  # noqa: E402

one_thread()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

import loss_patterns as lp  # noqa: E402
from loss_report import render  # noqa: E402
from common import cpu_seconds, write_section  # noqa: E402
from eval_subset import eval_files  # noqa: E402

OPUS_DEMO = os.environ.get("OPUS_DEMO", "/work/libopus/bin/opus_demo")
BEGIN, END = "<!-- bench_loss:begin -->", "<!-- bench_loss:end -->"
RATE = lp.RATE


def sha1(b: bytes) -> str:
    return hashlib.sha1(b).hexdigest()


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {r.returncode}: {r.stderr.decode(errors='replace')[-400:]}")
    return r


def _mlcodec_cmd() -> list[str]:
    return [sys.executable, "-m", "cli.main"]


def _cli_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


# ---------------------------------------------------------------------------------------------
# Systems: encode once per file (cached), decode once per (file, condition)


@dataclass
class System:
    key: str
    label: str
    kind: str  # "opus_demo" | "opusenc" | "opusdec" | "ours"
    enc: list = field(default_factory=list)
    dec_cx: int = 10
    ours_enc_opts: list = field(default_factory=list)
    ours_bitrate: str = "3k"
    skip: str = ""  # why the row cannot run here (empty: it runs)
    version: str = ""  # part of the encode cache key (ours: the code's commit)

    def stream_path(self, cache: Path, stem: str) -> Path:
        ext = {"opus_demo": "bit", "opusenc": "bit", "opusdec": "opus", "ours": "opus"}[self.kind]
        opts = [self.enc, self.ours_enc_opts, self.version] + ([self.ours_bitrate] if self.ours_bitrate != "3k" else [])
        tag = sha1(json.dumps(opts).encode())[:10]
        return cache / "enc" / f"{self.key}-{tag}" / f"{stem}.{ext}"

    def encode_all(self, files: list[Path], xs: list, cache: Path) -> list[tuple[Path, int]]:
        """``encode`` of every file; ours in one batch CLI process (``encode -o DIR``: one start-up)."""
        todo = [f for f in files if not (self.stream_path(cache, f.stem).exists()
                                         and self.stream_path(cache, f.stem).with_suffix(".size").exists())]
        if self.kind == "ours" and todo:
            with tempfile.TemporaryDirectory() as td:
                _run([*_mlcodec_cmd(), "encode", "--bitrate", self.ours_bitrate, "--frame-ms", "20", *self.ours_enc_opts,
                      *map(str, todo), "-o", td], env=_cli_env(), cwd=ROOT)
                for f in todo:
                    out = self.stream_path(cache, f.stem)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    size = (Path(td) / f"{f.stem}.opus").stat().st_size
                    shutil.move(Path(td) / f"{f.stem}.opus", out)
                    out.with_suffix(".size").write_text(str(size))
        return [self.encode(f, x, cache) for f, x in zip(files, xs)]

    def encode(self, src: Path, x: np.ndarray, cache: Path) -> tuple[Path, int]:
        """(stream path, whole-file bytes); cached."""
        out = self.stream_path(cache, src.stem)
        size_f = out.with_suffix(".size")
        if out.exists() and size_f.exists():
            return out, int(size_f.read_text())
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as td:
            tmp = Path(td)
            if self.kind == "opus_demo":
                raw = tmp / "in.raw"
                np.clip(np.rint(x), -32768, 32767).astype("<i2").tofile(raw)
                _run([OPUS_DEMO, "-e", *self.enc, str(raw), str(tmp / "o.bit")])
                size = _ogg_size((tmp / "o.bit").read_bytes())
                shutil.move(tmp / "o.bit", out)
            elif self.kind in ("opusenc", "opusdec"):
                import soundfile as sf

                sf.write(tmp / "in.wav", np.clip(np.rint(x), -32768, 32767).astype(np.int16), RATE)
                _run(["opusenc", "--quiet", *self.enc, str(tmp / "in.wav"), str(tmp / "o.opus")])
                ogg = (tmp / "o.opus").read_bytes()
                size = len(ogg)
                out.write_bytes(ogg_to_bit(ogg) if self.kind == "opusenc" else ogg)
            else:
                _run([*_mlcodec_cmd(), "encode", "--bitrate", self.ours_bitrate, "--frame-ms", "20", *self.ours_enc_opts,
                      str(src), str(tmp / "o.opus")], env=_cli_env(), cwd=ROOT)
                size = (tmp / "o.opus").stat().st_size
                shutil.move(tmp / "o.opus", out)
        size_f.write_text(str(size))
        return out, size

    def runs(self, cond: str) -> bool:
        """opusdec simulates only independent loss, with its own rand(): no traces."""
        return self.kind != "opusdec" or lp.parse_condition(cond)[0] in ("none", "rand")

    def decoder_cmd(self, stream: Path, trace: Path | None, out: Path, cond: str = "0") -> list[str]:
        if self.kind == "opusdec":
            p = lp.parse_condition(cond)[1]
            loss = ["--packet-loss", f"{p:g}"] if p else []
            return ["opusdec", "--quiet", "--rate", str(RATE), *loss, str(stream), str(out)]
        if self.kind in ("opus_demo", "opusenc"):
            loss = ["-lossfile", str(trace)] if trace else []
            return [OPUS_DEMO, "-d", str(RATE), "1", "-dec_complexity", str(self.dec_cx), *loss, str(stream), str(out)]
        loss = ["--loss-trace", str(trace)] if trace else []
        if lib_has_loss():
            return ["library: mlcodec.codec.files.decode_stream(vocoder='auto', loss=Trace)", *loss, self.version]
        return [*_mlcodec_cmd(), "decode", *loss, str(stream), str(out), self.version]

    def decode(self, stream: Path, trace: Path | None, tmp: Path, cond: str = "0") -> np.ndarray:
        """Decoded audio (int16-unit floats), not yet aligned."""
        if self.kind == "opusdec":
            import soundfile as sf

            _run(self.decoder_cmd(stream, trace, tmp / "o.wav", cond))
            return sf.read(tmp / "o.wav", dtype="int16")[0].astype(np.float32)
        if self.kind == "ours" and lib_has_loss():
            # in-process, the public decoder with the trace as its loss model: what
            # `mlcodec decode --loss-trace T` runs, without a 1.5 s start-up per file
            from mlcodec.codec.files import decode_stream
            from mlcodec.codec.loss import Trace

            loss = None
            if trace is not None:
                with open(trace, "rb") as f:
                    loss = Trace.read(f, file=str(trace))
            parts: list = []
            with open(stream, "rb") as f:
                decode_stream(f, parts.append, vocoder="auto", loss=loss)
            return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
        if self.kind == "ours":
            out = tmp / "o.wav"
            _run(self.decoder_cmd(stream, trace, out)[:-1], env=_cli_env(), cwd=ROOT)
            import soundfile as sf

            y, sr = sf.read(out, dtype="int16")
            assert sr == RATE, sr
            return y.astype(np.float32)
        out = tmp / "o.raw"
        _run(self.decoder_cmd(stream, trace, out))
        return np.fromfile(out, "<i2").astype(np.float32)


def _ogg_size(bit: bytes) -> int:
    """Bytes of an Ogg Opus file holding the packets of an opus_demo .bit stream (bench_codec.py)."""
    from mlcodec.containers.oggopus import OggOpusWriter
    from mlcodec.containers.opusdemo import iter_bit

    buf = io.BytesIO()
    w = OggOpusWriter(buf, channels=1, input_sample_rate=RATE, pre_skip=312, serial=1, vendor="opus_demo")
    for p in iter_bit(io.BytesIO(bit)):
        if p.data:
            w.write_packet(p.data)
    w.close()
    return len(buf.getvalue())


def ogg_to_bit(ogg: bytes) -> bytes:
    """The audio packets of an Ogg Opus file as an opus_demo .bit stream (final range 0 = unchecked)."""
    from mlcodec.containers.oggopus import read_ogg_opus
    from mlcodec.containers.opusdemo import encode_record

    return b"".join(encode_record(p.data) for p in read_ogg_opus(io.BytesIO(ogg)).packets())


def lib_has_loss() -> bool:
    """Whether the library decoder takes a loss model (issue 13's decode side)."""
    import inspect

    from mlcodec.codec.files import decode_stream

    return "loss" in inspect.signature(decode_stream).parameters


def cli_has(command: str, option: str) -> bool:
    r = subprocess.run([*_mlcodec_cmd(), command, "--help"], capture_output=True, env=_cli_env(), cwd=ROOT)
    return option in r.stdout.decode(errors="replace")


def git_head() -> str:
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True)
    return r.stdout.decode().strip() or "unknown"


def code_version() -> str:
    """Git tree hashes of mlcodec/ and cli/ at HEAD (+ a dirty mark): the cache key of our
    streams and decodes, so that a merge that changes the codec recomputes them."""
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD:mlcodec", "HEAD:cli"], capture_output=True)
    d = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "mlcodec", "cli"], capture_output=True)
    v = "-".join(h[:10] for h in r.stdout.decode().split()) or "unknown"
    return v + ("-dirty" if d.stdout.strip() else "")


def systems(which: set[str]) -> list[System]:
    demo = ["voip", str(RATE), "1"]
    common = ["-framesize", "20", "-complexity", "10"]
    out = [
        System("opus16dred", "libopus 1.6.1 16 kb/s, -dred 100 (no DRED emitted at this rate)", "opus_demo", [*demo, "16000", *common, "-dred", "100", "-loss", "20"]),
        System("opus20dred", "libopus 1.6.1 20 kb/s + DRED 1 s", "opus_demo", [*demo, "20000", *common, "-dred", "100", "-loss", "20"]),
        System("opus24dred", "libopus 1.6.1 24 kb/s + DRED 1 s", "opus_demo", [*demo, "24000", *common, "-dred", "100", "-loss", "20"]),
        System("opus24", "libopus 1.6.1 24 kb/s, deep PLC only", "opus_demo", [*demo, "24000", *common]),
        System("opusenc24fec", "opusenc 24 kb/s + in-band FEC (LBRR)", "opusenc",
               ["--speech", "--bitrate", "24", "--framesize", "20", "--expect-loss", "20", "--set-ctl-int", "4012=1"],
               dec_cx=0),
        System("opusdec24fec", "opusenc 24 kb/s + in-band FEC, opusdec --packet-loss (its own random loss)", "opusdec",
               ["--speech", "--bitrate", "24", "--framesize", "20", "--expect-loss", "20", "--set-ctl-int", "4012=1"]),
        System("ours3k", "mlcodec 3k, 20 ms", "ours"),
        System("ours3kred500", "mlcodec 3k, 20 ms + --redundancy 500", "ours", ours_enc_opts=["--redundancy", "500"]),
        # --bitrate 3k in 20 ms packets leaves 0.9 kb/s of payload (framing 2.1 kb/s); 5k in 20 ms
        # packets codes about what the 3k preset codes in its default 120 ms packets
        System("ours5k", "mlcodec 5k, 20 ms (the 3k preset's payload in 20 ms packets)", "ours", ours_bitrate="5k"),
        System("ours5kred500", "mlcodec 5k, 20 ms + --redundancy 500", "ours", ours_enc_opts=["--redundancy", "500"],
               ours_bitrate="5k"),
    ]
    out = [s for s in out if not which or s.key in which]
    head, version = git_head(), code_version()
    has_red = has_trace = None
    for s in out:
        if s.kind == "ours":
            s.version = version
            has_trace = cli_has("decode", "--loss-trace") if has_trace is None else has_trace
            if s.ours_enc_opts:
                has_red = cli_has("encode", "--redundancy") if has_red is None else has_red
                if not has_red:
                    s.skip = f"`mlcodec encode --redundancy` does not exist at {head}"
            if not has_trace and not s.skip:
                s.skip = f"`mlcodec decode --loss-trace` does not exist at {head} (lossy conditions skipped)"
        elif shutil.which(OPUS_DEMO) is None:
            s.skip = f"opus_demo not found at {OPUS_DEMO}"
        elif s.kind in ("opusenc", "opusdec") and shutil.which("opusenc") is None:
            s.skip = "opusenc not installed (Debian opus-tools)"
    return out


# ---------------------------------------------------------------------------------------------
# One task: decode one file under one condition and score it (runs in a worker process)

_SCORERS: dict = {}


def _worker_init() -> None:
    """One onnxruntime thread per worker (the machine is shared; --jobs gives the parallelism)."""
    import onnxruntime as ort

    base = ort.InferenceSession
    if getattr(base, "_one_thread", False):
        return

    def one(path, sess_options=None, **kw):
        so = sess_options or ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        return base(path, sess_options=so, **kw)

    one._one_thread = True
    ort.InferenceSession = one


def plcmos(y: np.ndarray) -> float:
    """PLCMOS v2 of ``y`` (+-1 floats); its 15 random rater embeddings are seeded with 0."""
    from speechmos import plcmos as pm

    np.random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(pm.run(y.astype(np.float32), RATE)["plcmos"])


def align_lag(ref: np.ndarray, deg: np.ndarray, max_lag: int = 640) -> int:
    """The lag (|lag| <= max_lag) maximising the correlation of ``deg`` with ``ref``."""
    n = min(len(ref), len(deg))
    a, b = ref[:n].astype(np.float64), deg[:n].astype(np.float64)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    c = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(c[lags])])


def shift(deg: np.ndarray, lag: int, n: int) -> np.ndarray:
    """``deg`` advanced by ``lag`` samples, zero-padded or cut to ``n``."""
    seg = deg[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag, deg.dtype), deg])
    out = np.zeros(n, np.float32)
    out[: min(n, len(seg))] = seg[:n]
    return out


def run_task(t: dict) -> dict:
    """Decode ``t['stream']`` with ``t['trace']`` (None = no loss), align, score; cached as JSON."""
    res_path = Path(t["result"])
    if res_path.exists():
        r = json.loads(res_path.read_text())
        if r.get("key") == t["key"]:
            r["cached"] = True
            return r
    _worker_init()
    from pystoi import stoi

    from mlcodec.dsp.audio import read_audio

    s: System = t["system"]
    x = read_audio(t["src"])
    ref = x / 32768.0
    c0 = cpu_seconds()
    w0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        y = s.decode(Path(t["stream"]), Path(t["trace"]) if t["trace"] else None, tmp, t["cond"])
        dec_wall = time.perf_counter() - w0
        if s.kind == "ours":
            lag = 0  # mlcodec output is aligned by its pre-skip
        else:
            # the decoder's delay, from the no-loss decode of the same stream
            y0 = y if t["cond"] == "0" else s.decode(Path(t["stream"]), None, tmp)
            lag = align_lag(x, y0)
    y = shift(y, lag, len(x)) / 32768.0
    y = np.clip(y, -1, 1)
    r = {"key": t["key"], "system": s.key, "cond": t["cond"], "file": Path(t["src"]).name,
         "lag": lag, "dec_wall_s": round(dec_wall, 3)}
    r["plcmos"] = plcmos(y)
    r["stoi"] = float(stoi(ref, y, RATE, extended=False))
    if t["dnsmos"]:
        from speechmos import dnsmos

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = dnsmos.run(y.astype(np.float32), sr=RATE)
        r["ovrl"], r["p808"] = float(d["ovrl_mos"]), float(d["p808_mos"])
    r["cpu_s"] = round(cpu_seconds() - c0, 3)  # decoders (child processes) included
    res_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_p = res_path.with_suffix(".tmp")
    tmp_p.write_text(json.dumps(r))
    os.replace(tmp_p, res_path)
    return r


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=16, help="files of the evaluation set (default: all 16)")
    ap.add_argument("--speech", default=str(ROOT.parent / "shared" / "data" / "speech"))
    ap.add_argument("--conditions", default=",".join(lp.DEFAULT_CONDITIONS))
    ap.add_argument("--systems", default="", help="comma-separated system keys (default: all)")
    ap.add_argument("--burst", type=float, default=2.5, help="mean burst (packets) of the burstP conditions")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random and Gilbert patterns")
    ap.add_argument("--dnsmos", default="0,lossgen20", help="conditions also scored with DNSMOS ('' = none)")
    ap.add_argument("--ci", default="lossgen20", help="conditions whose PLCMOS drop shows its 95 %% interval")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", default="/work/cache/lossbench")
    ap.add_argument("--json", default=None, help="write every per-file result here")
    ap.add_argument("--out", default="-", help="markdown file whose bench_loss section is (re)written; '-' = print")
    a = ap.parse_args(argv)
    conds = [c.strip() for c in a.conditions.split(",") if c.strip()]
    for c in conds:
        lp.parse_condition(c)
    if "0" not in conds:
        conds.insert(0, "0")
    a.dnsmos_conds = {c.strip() for c in a.dnsmos.split(",") if c.strip()}
    a.ci_conds = {c.strip() for c in a.ci.split(",") if c.strip()}
    a.cmd = "python bench/bench_loss.py " + " ".join(argv if argv is not None else sys.argv[1:])
    cache = Path(a.cache)
    from mlcodec.dsp.audio import read_audio

    t_start = time.perf_counter()
    files = eval_files(a.speech, a.n)
    xs = [read_audio(f) for f in files]
    counts = [lp.packet_count(len(x)) for x in xs]
    secs = sum(len(x) for x in xs) / RATE
    # traces: one per (condition, file), + 50 received packets past the end (flush frames)
    traces: dict = {}
    cond_stats = {}
    for c in conds:
        pats = lp.split_patterns(lp.long_pattern(c, sum(counts), burst=a.burst, seed=a.seed,
                                                 trace_dir=ROOT / "test_vectors" / "loss"), counts)
        cond_stats[c] = lp.loss_stats(pats)
        for f, pat in zip(files, pats):
            if c == "0":
                traces[(c, f)] = None
                continue
            text = lp.trace_text(np.concatenate([pat, np.zeros(50, bool)]))
            p = cache / "traces" / f"{c}-b{a.burst:g}-s{a.seed}" / f"{f.stem}.txt"
            if not p.exists() or p.read_text() != text:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(text)
            traces[(c, f)] = p
    syss = systems({k for k in a.systems.split(",") if k})
    rates, tasks = {}, []
    for s in syss:
        if s.skip and not (s.kind == "ours" and "--loss-trace" in s.skip):
            print(f"# skipped {s.label}: {s.skip}", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        tot_b = 0
        streams = {}
        for f, (st, nb) in zip(files, s.encode_all(files, xs, cache)):
            streams[f] = st
            tot_b += nb
        rates[s.key] = lp.kbps(tot_b, sum(len(x) for x in xs))
        print(f"# encoded {s.label}: {rates[s.key]:.2f} kb/s ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        run_conds = ["0"] if s.skip else [c for c in conds if s.runs(c)]
        for c in run_conds:
            for f in files:
                st, tr = streams[f], traces[(c, f)]
                key = sha1(json.dumps([sha1(st.read_bytes()), sha1(tr.read_bytes()) if tr else None,
                                       s.decoder_cmd(Path("S"), Path("T") if tr else None, Path("O"), c),
                                       c in a.dnsmos_conds, 2]).encode())
                tasks.append({"system": s, "cond": c, "src": str(f), "stream": str(st),
                              "trace": str(tr) if tr else None, "dnsmos": c in a.dnsmos_conds, "key": key,
                              "result": str(cache / "res" / s.key / c / f"{f.stem}.json")})
    res: dict = {}
    done = 0
    cpu = {}
    with ProcessPoolExecutor(max_workers=max(1, a.jobs), initializer=_worker_init) as ex:
        for r in ex.map(run_task, tasks, chunksize=1):
            res.setdefault(r["system"], {}).setdefault(r["cond"], []).append(r)
            cpu[r["system"]] = cpu.get(r["system"], 0.0) + (0 if r.get("cached") else r.get("cpu_s", 0))
            done += 1
            if done % 16 == 0 or done == len(tasks):
                print(f"[{done}/{len(tasks)}] {time.perf_counter() - t_start:.0f} s", file=sys.stderr, flush=True)
    for k, v in cpu.items():
        print(f"# {k}: {v:.0f} CPU s of decode+score this run (cached results excluded)", file=sys.stderr)
    wall = time.perf_counter() - t_start
    md = render(syss, conds, res, rates, cond_stats, a, len(files), secs, wall, os.getloadavg()[0])
    print(md)
    if a.json:
        Path(a.json).write_text(json.dumps({"rates": rates, "conditions": cond_stats,
                                            "results": [r for d in res.values() for rs in d.values() for r in rs]},
                                           indent=1, default=str))
    if a.out != "-":
        section = f"{BEGIN}\n## Packet loss: mlcodec beside libopus DRED and in-band FEC (bench/bench_loss.py)\n\n{md}\n{END}\n"
        write_section(Path(a.out), BEGIN, END, section, "# Benchmarks\n\n")
        print(f"written to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
