"""Learning from the coded form (issue 14 item 2): one small classifier on three inputs.

Speaker identification among the evaluation speakers (and voiced/unvoiced 20 ms frames with
labels from our pitch tracker on the originals), trained and tested on:
(a) the quantised latents of mlcodec streams (``mlcodec.read_codes``, through ``codes_of``), at
    3k and 1.5k; (b) the 20 features the decoder reconstructs from those codes (before the vocoder);
(c) a NumPy log-mel front end (40 bands, 25 ms / 10 ms) of the original waveform.
Same architecture, seed, crop length and step count for every input. Also reports each input's
stored size and the time to get it from its file. Results go to docs/benchmarks.md.

    python bench/bench_codes_classifier.py   # ~3 CPU min (+1 min encoding into the /tmp cache once)
"""
from __future__ import annotations

# --------------------------------------------------------------------------------------------
# The one place that gets codes from a stream (and makes the streams): mlcodec's public API.


def codes_of(src):
    """``Coded(q, levels, frame_rate, nbytes)`` of an mlcodec stream given as a path or bytes,
    through ``mlcodec.read_codes``: ``q`` int32 quantised latents (frames x dims), ``levels`` the
    quantiser level per frame, ``frame_rate`` latents per second, ``nbytes`` the stored size."""
    import numpy as np

    import mlcodec

    data = src if isinstance(src, (bytes, bytearray, memoryview)) else open(src, "rb").read()
    c = mlcodec.read_codes(bytes(data))
    return Coded(np.asarray(c.codes, np.int32), np.asarray(c.level, np.int32), float(c.frame_rate), len(data),
                 c.model_name, c.model_checksum)


def encode_file_stats(src, dst, bitrate: str):
    """Encode audio file ``src`` to stream ``dst`` (``mlcodec.encode_file``); the stats give
    ``payload_bytes``."""
    import mlcodec

    return mlcodec.encode_file(str(src), str(dst), bitrate=bitrate)


import argparse  # noqa: E402
import csv  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_seconds, one_thread, write_section  # noqa: E402
from eval_subset import MAX_S, MIN_S, eval_files  # noqa: E402

one_thread()
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000
CACHE = Path(os.environ.get("MLCODEC_BENCH_CACHE", "/tmp/mlcodec-bench-codes"))
BEGIN, END = "<!-- bench_codes_classifier:begin -->", "<!-- bench_codes_classifier:end -->"


@dataclass
class Coded:
    q: np.ndarray          # (frames, dims) int32
    levels: np.ndarray     # (frames,) int32
    frame_rate: float      # frames per second
    nbytes: int            # stored stream size
    model_name: str = ""   # the model the stream names (1.5k streams: codec_v1, the low-rate default)
    model_checksum: str = ""


_MODEL = None


_STREAM_MODELS: dict = {}


def _model(name: str = "", checksum: str = ""):
    """The shipped default, or the shipped model a stream names (cached)."""
    global _MODEL
    if _MODEL is None:
        from mlcodec.codec.model import load_model
        _MODEL = load_model()
    if not checksum:
        return _MODEL
    if checksum not in _STREAM_MODELS:
        from mlcodec.codec.model_io import stream_model

        _STREAM_MODELS[checksum] = stream_model(_MODEL, name, checksum)
    return _STREAM_MODELS[checksum]


def decoded_features(c: Coded) -> np.ndarray:
    """The (2 x frames, 20) features the decoder reconstructs from codes (before the vocoder)."""
    from mlcodec.codec.model import dequantize

    m = _model(c.model_name, c.model_checksum)
    level = int(c.levels[0])
    t = m.quant_tables(level)
    # Causal decoder: one block call equals per-packet calls (pipeline.Decoder.decode_features).
    return np.asarray(m.new_decoder(level).process(dequantize(c.q, t)), np.float32).reshape(-1, 20)


# --------------------------------------------------------------------------------------------
# Log-mel front end (NumPy)


def mel_filterbank(n_mels: int = 40, n_fft: int = 512, rate: int = RATE, fmin: float = 20.0,
                   fmax: float = 8000.0) -> np.ndarray:
    """(n_mels, n_fft//2+1) triangular filters equally spaced on the HTK mel scale."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    f = np.arange(n_fft // 2 + 1) * rate / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid))).astype(np.float32)


_FB = mel_filterbank()
_WIN = np.hanning(400).astype(np.float32)


def log_mel(x: np.ndarray) -> np.ndarray:
    """(frames, 40) float32 log-mel power of float audio at 16 kHz: 25 ms Hann, 10 ms hop."""
    x = np.asarray(x, np.float32)
    if x.shape[0] < 400:
        x = np.pad(x, (0, 400 - x.shape[0]))
    n = 1 + (x.shape[0] - 400) // 160
    idx = np.arange(400)[None, :] + 160 * np.arange(n)[:, None]
    p = np.abs(np.fft.rfft(x[idx] * _WIN, 512)) ** 2
    return np.log(p.astype(np.float32) @ _FB.T + 1e-10).astype(np.float32)


# --------------------------------------------------------------------------------------------
# The classifier (same for every input)


def _net(in_dim: int, n_classes: int, *, per_frame: bool = False, hidden: int = 64):
    """Two 1-D convs over frames (64 channels, kernel 3, ReLU), then either mean+std pooling over
    time and a linear layer (one label per sequence) or a 1x1 conv (one label per frame)."""
    import torch
    import torch.nn as nn

    class SeqClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv1d(in_dim, hidden, 3, padding=1), nn.ReLU(),
                                      nn.Conv1d(hidden, hidden, 3, padding=1), nn.ReLU())
            self.out = nn.Conv1d(hidden, n_classes, 1) if per_frame else nn.Linear(2 * hidden, n_classes)

        def forward(self, x):  # x: (batch, frames, dims) -> (batch, classes[, frames])
            h = self.conv(x.transpose(1, 2))
            return self.out(h) if per_frame else self.out(torch.cat([h.mean(2), h.std(2)], 1))

    return SeqClassifier()


def train_eval(train_x, train_y, test_x, test_y, frame_rate: float, *, seed: int = 0, steps: int = 400,
               crop_s: float = 1.0, batch: int = 32, lr: float = 3e-3) -> dict:
    """Train on random ``crop_s`` crops of the training sequences (frames x dims) and test on
    whole sequences. Labels ``*_y`` are one int per sequence (sequence classification) or an int
    array per sequence, one per frame (frame classification). Returns accuracy (of sequences,
    or of all test frames), training seconds and parameter count."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    per_frame = np.ndim(train_y[0]) == 1
    n_classes = int(max(np.max(y) for y in list(train_y) + list(test_y))) + 1
    allf = np.concatenate(train_x).astype(np.float64)
    mu, sd = allf.mean(0), allf.std(0)
    sd[sd < 1e-6] = 1.0  # constant dims (uncoded latents) stay 0

    def norm(a):
        return torch.from_numpy(((np.asarray(a, np.float64) - mu) / sd).astype(np.float32))

    tr = [norm(a) for a in train_x]
    te = [norm(a) for a in test_x]
    ytr = [torch.as_tensor(np.asarray(y)).long() for y in train_y]
    T = max(3, int(round(crop_s * frame_rate)))
    net = _net(tr[0].shape[1], n_classes, per_frame=per_frame)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-1)
    t0, c0 = time.perf_counter(), time.process_time()
    net.train()
    for _ in range(steps):
        xs, ys = [], []
        for i in rng.integers(0, len(tr), batch):
            a, y = tr[i], ytr[i]
            if a.shape[0] <= T:  # pad short sequences (padded frames are not scored)
                a = torch.nn.functional.pad(a, (0, 0, 0, T - a.shape[0]))
                if per_frame:
                    y = torch.nn.functional.pad(y, (0, T - y.shape[0]), value=-1)
            else:
                s = int(rng.integers(0, a.shape[0] - T + 1))
                a = a[s:s + T]
                if per_frame:
                    y = y[s:s + T]
            xs.append(a)
            ys.append(y)
        loss = loss_fn(net(torch.stack(xs)), torch.stack(ys))
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    net.eval()
    with torch.no_grad():
        if per_frame:
            pred = np.concatenate([net(a[None])[0].argmax(0).numpy() for a in te])
            truth = np.concatenate([np.asarray(y) for y in test_y])
        else:
            pred = np.array([int(net(a[None]).argmax(1)) for a in te])
            truth = np.asarray(test_y)
    return {"acc": float(np.mean(pred == truth)), "train_s": train_s, "train_cpu": train_cpu,
            "params": sum(p.numel() for p in net.parameters())}


def pair_frames(a: np.ndarray) -> np.ndarray:
    """(n, d) 10 ms frames -> (n // 2, 2d) 20 ms frames (the codes' rate: one latent per 2 frames)."""
    n = a.shape[0] // 2
    return np.ascontiguousarray(a[: 2 * n].reshape(n, 2 * a.shape[1]))


#: Pitch correlation (feature 19 + 0.5) at or above which our pitch tracker calls a frame voiced
#: (the histogram on speech has its dip between 0.6 and 0.8; docs/features.md: voiced median 0.88).
VOICED_CORR = 0.7


def voicing_labels(x: np.ndarray) -> np.ndarray:
    """Voiced (1) / unvoiced (0) per 20 ms from our pitch tracker on the original 16 kHz float
    audio: both 10 ms frames' pitch correlation >= VOICED_CORR."""
    from mlcodec.dsp.features import compute_features

    c = compute_features(np.asarray(x, np.float64) * 32768.0)[: x.shape[0] // 160, 19] + 0.5
    v = pair_frames((c >= VOICED_CORR)[:, None].astype(np.int64))
    return v.min(1)


# --------------------------------------------------------------------------------------------
# Data


def _h(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8")).hexdigest()


def speaker_files(speech: Path, n_eval: int, min_utts: int, max_utts: int):
    """Speakers of the evaluation subset with >= ``min_utts`` files (2..12 s, as eval_subset)
    in the manifest; up to ``max_utts`` of each (smallest SHA-1 of path first)."""
    rel = {str(p.relative_to(speech)) for p in eval_files(speech, n_eval)}
    rows = list(csv.DictReader(open(speech / "manifest.csv", newline="", encoding="utf-8")))
    spk = sorted({(r["source"], r["speaker"]) for r in rows
                  if r["path"] in rel and r["speaker"] not in ("", "unknown")})
    out = {}
    for s in spk:
        files = sorted((r["path"] for r in rows if (r["source"], r["speaker"]) == s
                        and MIN_S <= float(r["duration_s"]) <= MAX_S), key=_h)
        if len(files) >= min_utts:
            out["/".join(s)] = [speech / f for f in files[:max_utts]]
    return out


def split(files: list, test_frac: float = 0.4):
    """Disjoint train/test files of one speaker: every k-th file (at least one of each) tests."""
    n_test = min(len(files) - 1, max(1, int(round(test_frac * len(files)))))
    step = len(files) / n_test
    test_idx = {int(i * step + step / 2) for i in range(n_test)}
    return ([f for i, f in enumerate(files) if i not in test_idx], [f for i, f in enumerate(files) if i in test_idx])


def encoded(path: Path, bitrate: str) -> tuple[Path, int]:
    """(stream, payload bytes) of ``path`` at ``bitrate``: encoded once into the /tmp cache with
    ``mlcodec.encode_file`` (default 20 ms packets); the payload size is kept beside it."""
    d = CACHE / f"{_model().checksum[:12]}-{bitrate}"
    d.mkdir(parents=True, exist_ok=True)
    out = d / f"{_h(str(path))[:20]}.opus"
    side = out.with_suffix(".payload")
    if not (out.exists() and side.exists()):
        st = encode_file_stats(path, out, bitrate)
        side.write_text(str(st.payload_bytes))
    return out, int(side.read_text())


def run_task(inputs: dict, rates: dict, labels: dict, parts: dict, names: list, a) -> dict:
    """Train/test every input on one task; ``labels[input][file]`` is an int or a frame array."""
    out = {}
    for k in inputs:
        trx, tr_y, tex, te_y = [], [], [], []
        for s in names:
            for group, xs, ys in ((0, trx, tr_y), (1, tex, te_y)):
                for f in parts[s][group]:
                    xs.append(inputs[k][f])
                    ys.append(labels[k][f])
        res = [train_eval(trx, tr_y, tex, te_y, rates[k], seed=sd, steps=a.steps) for sd in range(a.seeds)]
        accs = [r["acc"] for r in res]
        out[k] = {"acc": float(np.mean(accs)), "acc_min": min(accs), "acc_max": max(accs),
                  "train_s": float(np.mean([r["train_s"] for r in res])),
                  "train_cpu": float(np.mean([r["train_cpu"] for r in res])), "params": res[0]["params"]}
        print(f"  {k:24s} acc {out[k]['acc']:.3f} [{min(accs):.3f}-{max(accs):.3f}]  "
              f"train {out[k]['train_cpu']:.1f} s CPU ({out[k]['train_s']:.1f} s wall)", flush=True)
    return out


# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speech", default=str(ROOT.parent / "shared" / "data" / "speech"))
    ap.add_argument("--n-eval", type=int, default=50, help="size of the evaluation subset (eval_subset.py)")
    ap.add_argument("--min-utts", type=int, default=4)
    ap.add_argument("--max-utts", type=int, default=10)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--bitrates", default="3k,1.5k")
    ap.add_argument("--no-vuv", action="store_true", help="skip the voiced/unvoiced task")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    import soundfile as sf

    t_start, cpu_start = time.perf_counter(), cpu_seconds()
    speech = Path(a.speech)
    spk = speaker_files(speech, a.n_eval, a.min_utts, a.max_utts)
    names = sorted(spk)
    if len(names) < 2:
        raise SystemExit(f"only {len(names)} evaluation speakers with >= {a.min_utts} utterances")
    parts = {s: split(spk[s]) for s in names}
    files = [f for s in names for f in spk[s]]
    bitrates = [b for b in a.bitrates.split(",") if b]
    t_enc = time.perf_counter()
    for f in files:  # encode once (cached); the timings below start from the stored files
        for b in bitrates:
            encoded(f, b)
    t_enc = time.perf_counter() - t_enc
    keys = [f"codes {b}" for b in bitrates] + [f"decoded features {b}" for b in bitrates] + ["log-mel"]
    inputs = {k: {} for k in keys}
    stored = {k: 0 for k in keys}
    get_s = {k: 0.0 for k in keys}  # CPU seconds of this process (one thread), robust to load
    rates = {k: 100.0 for k in keys}  # 10 ms frames; codes: their own rate (below)
    durs, flac_bytes, payload_bytes, vuv = {}, {}, {b: 0 for b in bitrates}, {}
    for f in files:
        t = time.process_time()
        x, sr = sf.read(str(f), dtype="float32")
        m = log_mel(x)
        get_s["log-mel"] += time.process_time() - t
        if sr != RATE:
            raise SystemExit(f"{f}: {sr} Hz, expected {RATE}")
        durs[f] = x.shape[0] / RATE
        flac_bytes[f] = f.stat().st_size
        inputs["log-mel"][f] = m
        stored["log-mel"] += m.nbytes
        if not a.no_vuv:
            vuv[f] = voicing_labels(x)
        for b in bitrates:
            p, pb = encoded(f, b)
            payload_bytes[b] += pb
            t = time.process_time()
            c = codes_of(p)
            t1 = time.process_time()
            feats = decoded_features(c)
            t2 = time.process_time()
            get_s[f"codes {b}"] += t1 - t
            get_s[f"decoded features {b}"] += t2 - t
            inputs[f"codes {b}"][f] = c.q
            rates[f"codes {b}"] = c.frame_rate
            stored[f"codes {b}"] += c.nbytes
            inputs[f"decoded features {b}"][f] = feats
            stored[f"decoded features {b}"] += feats.astype(np.float32).nbytes
    total_s = sum(durs.values())
    n_train = sum(len(parts[s][0]) for s in names)
    n_test = sum(len(parts[s][1]) for s in names)
    print(f"# {len(names)} speakers, {len(files)} files, {total_s:.0f} s of audio; {n_train} train / {n_test} test "
          f"files; encoding (or cache check) {t_enc:.1f} s")
    info = {k: {"dims": next(iter(inputs[k].values())).shape[1], "fps": rates[k], "Bps": stored[k] / total_s,
                "get_ms": 1000.0 * get_s[k] / total_s} for k in keys}
    for b in bitrates:
        info[f"codes {b}"]["payload_Bps"] = payload_bytes[b] / total_s
    print("speaker identification")
    spk_labels = {k: {f: i for i, s in enumerate(names) for f in spk[s]} for k in keys}
    sid = run_task(inputs, rates, spk_labels, parts, names, a)
    vuv_res, vuv_prior = None, None
    if not a.no_vuv:
        # 20 ms frames for every input: latent k covers feature frames 2k, 2k+1 (checked: the
        # decoded features line up with the originals' at lag 0); 10 ms inputs are paired.
        v_in, v_lab, v_rates = {}, {}, {}
        for k in keys:
            v_in[k], v_lab[k] = {}, {}
            v_rates[k] = 50.0
            for f in files:
                z = inputs[k][f] if k.startswith("codes") else pair_frames(inputs[k][f])
                n = min(z.shape[0], vuv[f].shape[0])
                v_in[k][f], v_lab[k][f] = z[:n], vuv[f][:n]
        test_lab = np.concatenate([v_lab["log-mel"][f] for s in names for f in parts[s][1]])
        vuv_prior = float(max(test_lab.mean(), 1 - test_lab.mean()))
        print(f"voiced/unvoiced (20 ms; majority class {100 * vuv_prior:.1f} % of test frames)")
        vuv_res = run_task(v_in, v_rates, v_lab, parts, names, a)
    flac_Bps = sum(flac_bytes.values()) / total_s
    wall, cpu = time.perf_counter() - t_start, cpu_seconds() - cpu_start
    load = os.getloadavg()[0]
    print(f"# FLAC originals {flac_Bps:.0f} B/s; wall {wall:.0f} s, CPU {cpu:.0f} s; load {load:.1f}")
    for k in keys:
        print(f"  {k:24s} {info[k]['Bps']:.0f} B/s stored, get {info[k]['get_ms']:.2f} ms per s of audio")
    if not a.no_write:
        section = render(keys, info, sid, vuv_res, vuv_prior, names, n_train, n_test, total_s, flac_Bps, a,
                         (wall, cpu, t_enc), load)
        write_section(Path(a.out), BEGIN, END, section, "# Benchmarks\n")
        print(f"# wrote {a.out}")
    return 0


def _acc(r) -> str:
    return f"{100 * r['acc']:.1f} % [{100 * r['acc_min']:.1f}–{100 * r['acc_max']:.1f}]"


def render(keys, info, sid, vuv, vuv_prior, names, n_train, n_test, total_s, flac_Bps, a, times, load) -> str:
    wall, cpu, t_enc = times
    head = "| input | dims × frames/s | speaker ID: test accuracy | speaker ID: training (CPU s) |"
    rule = "|---|---|---|---|"
    if vuv:
        head += " voiced/unvoiced: test accuracy | V/UV: training (CPU s) |"
        rule += "---|---|"
    head += " stored size (B per s of audio) | time to get the input from its file (CPU ms per s of audio) |"
    rule += "---|---|"
    lines = [BEGIN, "## Learning from the coded form (bench/bench_codes_classifier.py)", "", head, rule]
    for k in keys:
        i = info[k]
        size = f"{i['Bps']:.0f}"
        if "payload_Bps" in i:
            size += f" (payload {i['payload_Bps']:.0f})"
        row = f"| {k} | {i['dims']} × {i['fps']:.0f} | {_acc(sid[k])} | {sid[k]['train_cpu']:.1f} |"
        if vuv:
            row += f" {_acc(vuv[k])} | {vuv[k]['train_cpu']:.1f} |"
        lines.append(row + f" {size} | {i['get_ms']:.2f} |")
    lines += ["", f"Speaker identification among the {len(names)} speakers of the evaluation subset "
              f"(`eval_files(n={a.n_eval})`, bench/eval_subset.py) that have ≥ {a.min_utts} utterances of 2–12 s "
              f"in "
              f"the manifest: the subset itself holds one file per speaker, so these speakers' other files are "
              f"used, up to {a.max_utts} each, split into disjoint train/test files ({n_train} train, {n_test} "
              f"test, {total_s:.0f} s of audio); chance {100 / len(names):.1f} %. Accuracy is over whole test "
              f"utterances, the mean of seeds 0..{a.seeds - 1} with [min–max]."]
    if vuv:
        lines += ["", f"Voiced/unvoiced per 20 ms on the same files: labels from our pitch tracker on the originals "
                  f"(pitch correlation ≥ {VOICED_CORR} in both 10 ms frames); codes as they are (one latent per 20 "
                  f"ms), 10 ms inputs as pairs of frames; the majority class is {100 * vuv_prior:.1f} % of test "
                  f"frames. Same convolutions, a 1×1 convolution per frame instead of the pooling."]
    lines += ["", "Codes read with `mlcodec.read_codes`. One classifier for every input: inputs standardised per "
              f"dimension on the training set, two 1-D convolutions (64 channels, kernel 3, ReLU), mean+std pooling "
              f"over "
              f"time and a linear layer; random 1 s crops, batch 32, Adam 3e-3, {a.steps} steps, PyTorch CPU, one "
              f"thread. Stored size: codes = the whole Ogg Opus file of `mlcodec encode` (20 ms packets; the "
              f"range-coded payloads alone in parentheses); decoded features and log-mel = float32 arrays; the "
              f"FLAC originals take {flac_Bps:.0f} B/s. Time to get the input: codes = read file + "
              f"`mlcodec.read_codes` (parse, range-decode); decoded features = that plus the codec's decoder "
              f"network; log-mel = read FLAC plus "
              f"the NumPy log-mel (40 bands, 25 ms Hann, 10 ms hop). Encoding the streams (once, cached in /tmp; "
              f"{t_enc:.0f} s wall in this run) is not in the times to get the input. Times are CPU seconds of the one-thread process (the 2 shared cores were loaded: "
              f"wall-clock times swing with the other jobs); the whole run took {cpu:.0f} CPU s ({wall:.0f} s wall, "
              f"load "
              f"average {load:.1f} at its end). Command: "
              f"`python bench/bench_codes_classifier.py`.", "", END]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
