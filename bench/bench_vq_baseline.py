"""A trained vector quantizer of the LPCNet features (LPCNet-1.6k style) against our latent coder.

    nice -n 10 python bench/bench_vq_baseline.py [--n 50] [--out docs/vq_baseline.md]

Issue 5 asks for the codec design to be chosen by measurement, with "a trained vector
quantizer of the features, in the style of LPCNet's 1.6 kb/s codec" as the alternative. This
script builds that alternative and measures both on the same files:

1. **Train** (numpy only, seeded, deterministic) a block quantizer of the 20 features of specs
   07 s1 (c0..c17 cepstrum, f18 pitch, f19 correlation) on the vocoder's training corpus
   (``/work/cache/vocoder/corpus.npz``; the evaluation subset is excluded from it). Per block
   of ``B`` frames (10, 20 or 40 ms), as LPCNet's 1.6 kb/s codec does:
   * pitch: voicing-weighted least-squares line over the block, its mean scalar-quantized
     uniformly in the log-period domain over [-1.5, 1.5] (3 octaves), its slope with a 1-D Lloyd-Max quantizer
     (trained on voiced blocks); the encoder searches every slope codeword with its best
     quantized mean for the least voicing-weighted error;
   * correlation: the B values of the block with a small trained VQ;
   * the last frame of the block (the "key" frame) is coded on its own: c0 with a 1-D Lloyd-Max
     scalar quantizer, c1..c17 with a multi-stage VQ (greedy, k-means codebooks of <= 2^11);
   * the centre frame between the previous key frame and this one (B = 2, 4) optionally gets a
     multi-stage VQ of its 18-cepstrum residual against the mean of the two decoded key frames
     (closed loop: the decoded neighbours, as the decoder sees them);
   * every other frame is linearly interpolated between its decoded neighbours (LPCNet's
     interpolated frames). All frames are decoded (no frame is repeated).
   Index lengths are fixed, so the rate is exact: ``bits per block / block duration``. The
   "entropy" rate is the cross-entropy of the evaluation indices under the index histograms
   of the training set (add-1/2 smoothing): what an ideal static entropy coder would spend.
   Sizes (``CONFIGS``): two layouts at each preset's payload rate (~1.85 / 3.3 / 6.4 kb/s)
   and one at its latent rate (~1.25 / 2.75 / 5.75 kb/s, container overhead left out on both
   sides, the like-for-like comparison; docs/vq_baseline.md).
2. **Evaluate** on the fixed evaluation subset (``bench/eval_subset.py``): features of each
   file (``mlcodec.dsp.features.compute_features``), trimmed to whole 20 ms latents, then
     * the VQ, decoded;
     * our latent coder at each preset (``mlcodec.codec.model``, int8 path, as
       ``train/calibrate.py``), with the exact size of its real range-coded payloads
       (``mlcodec.codec.payload.write_payload``, one 20 ms packet per latent, format-version
       byte included; docs/format.md s4), and its ideal latent bits (``value_bits``);
     * unquantized features (the vocoders' ceiling).
   Feature distortion (pooled over all frames; definitions of ``train/calibrate.py``): band
   energy RMS error in dB over c0..c17, median pitch error in cents over voiced frames
   (reference f19 > 0.1), share of voiced frames off by more than 100 cents, correlation RMSE.
   Audio: each feature sequence is synthesised by the reference synthesizer
   (``mlcodec.dsp.synth``) and the int8 neural vocoder (``mlcodec.vocoder``), the output
   advanced by SYNTH_DELAY = 160 samples (as bench/bench_vocoder.py), and scored with PESQ-WB
   and STOI against the input; paired per-file differences against the preset of the same
   rate group with 95 % intervals.
3. Print a markdown table and write it between markers into ``--out``.

One thread (BLAS included); trained codebooks are cached in ``--cache`` (keyed by the
configuration, seed and training size) so that a re-run only evaluates.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from common import one_thread  # noqa: E402

one_thread()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

from common import delay_aligned, pesq_stoi, write_section  # noqa: E402
from eval_subset import eval_files  # noqa: E402

RATE = 16000
FRAME_S = 0.010
BEGIN = "<!-- bench_vq_baseline:begin -->"
END = "<!-- bench_vq_baseline:end -->"
HIST_FILES = 500  # training files whose indices give the entropy-coder histograms
PITCH_LO, PITCH_HI = -1.5, 1.5  # f18 range: periods 256..32 samples (specs 07 s1)


# ---------------------------------------------------------------------------------------------
# Configurations: bits per block, counted exactly


@dataclass(frozen=True)
class VQConfig:
    """Bit allocation of one block of ``B`` 10 ms frames."""

    name: str
    B: int                 # frames per block
    pitch: int             # bits, block mean of f18 (uniform, log-period domain)
    slope: int             # bits, f18 slope over the block (Lloyd-Max); 0 = none
    corr: int              # bits, VQ of the B f19 values
    c0: int                # bits, key-frame c0 (Lloyd-Max)
    key: tuple = ()        # bits per stage, key-frame c1..c17 multi-stage VQ
    mid: tuple = ()        # bits per stage, centre-frame residual (c0..c17) multi-stage VQ

    @property
    def bits(self) -> int:
        return self.pitch + self.slope + self.corr + self.c0 + sum(self.key) + sum(self.mid)

    @property
    def kbps(self) -> float:
        return self.bits / (self.B * FRAME_S) / 1000.0

    def describe(self) -> str:
        s = [f"pitch {self.pitch}"]
        if self.slope:
            s.append(f"slope {self.slope}")
        s += [f"corr {self.corr}", f"c0 {self.c0}", f"c1..c17 {'+'.join(map(str, self.key))}"]
        if self.mid:
            s.append(f"centre residual {'+'.join(map(str, self.mid))}")
        elif self.B > 1:
            s.append("centre interpolated")
        return ", ".join(s)


CONFIGS = [
    # at the presets' payload rates (~1.85 / ~3.3 / ~6.4 kb/s: range-coded latents + version byte)
    VQConfig("VQ 1.85k/40ms", 4, pitch=6, slope=3, corr=2, c0=7, key=(10, 10, 10), mid=(10, 10, 6)),
    VQConfig("VQ 1.85k/20ms", 2, pitch=6, slope=2, corr=2, c0=6, key=(11, 10), mid=()),
    VQConfig("VQ 3.3k/40ms", 4, pitch=7, slope=4, corr=4, c0=7, key=(10,) * 5, mid=(10,) * 6),
    VQConfig("VQ 3.3k/20ms", 2, pitch=7, slope=2, corr=3, c0=7, key=(10,) * 4, mid=(7,)),
    VQConfig("VQ 6.4k/20ms", 2, pitch=8, slope=3, corr=4, c0=7, key=(10,) * 6, mid=(10, 10, 10, 10, 6)),
    VQConfig("VQ 6.4k/10ms", 1, pitch=7, slope=0, corr=3, c0=6, key=(10, 10, 10, 10, 8), mid=()),
    # at the presets' latent (information) rates (~1.25 / ~2.75 / ~5.75 kb/s): same container
    # overhead (version byte, whole bytes per packet) left out on both sides
    VQConfig("VQ 1.25k/40ms", 4, pitch=6, slope=3, corr=2, c0=6, key=(10, 10, 10), mid=(3,)),
    VQConfig("VQ 2.75k/20ms", 2, pitch=7, slope=2, corr=3, c0=7, key=(10, 10, 10, 6), mid=()),
    VQConfig("VQ 5.75k/20ms", 2, pitch=8, slope=3, corr=4, c0=7, key=(10,) * 6, mid=(10, 10, 10, 3)),
]
#: Table rows: each preset of the latent coder followed by the VQs at its rates.
GROUPS = {"1.5k": ("VQ 1.85k/40ms", "VQ 1.85k/20ms", "VQ 1.25k/40ms"),
          "3k": ("VQ 3.3k/40ms", "VQ 3.3k/20ms", "VQ 2.75k/20ms"),
          "6k": ("VQ 6.4k/20ms", "VQ 6.4k/10ms", "VQ 5.75k/20ms")}


# ---------------------------------------------------------------------------------------------
# k-means (numpy, seeded)


def nearest(x: np.ndarray, cb: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Index of the nearest codeword (squared Euclidean) for each row of ``x``."""
    x = np.asarray(x, np.float64)
    cb = np.asarray(cb, np.float64)
    if x.ndim == 1:
        x, cb = x[:, None], cb.reshape(-1, 1)
    c2 = np.sum(cb * cb, 1)
    out = np.empty(len(x), np.int64)
    for s in range(0, len(x), chunk):
        xs = x[s: s + chunk]
        out[s: s + chunk] = np.argmin(c2[None, :] - 2.0 * xs @ cb.T, axis=1)
    return out


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int) -> np.ndarray:
    """Lloyd's k-means from ``k`` distinct random training vectors; an empty cell takes the
    training vector worst served by the current codebook. Returns (k, dim) float64."""
    x = np.asarray(x, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    k = min(k, len(np.unique(x, axis=0)))
    cb = x[rng.choice(len(x), size=k, replace=False)].copy()
    for _ in range(iters):
        a = nearest(x, cb)
        cnt = np.bincount(a, minlength=k)
        sums = np.zeros_like(cb)
        np.add.at(sums, a, x)
        keep = cnt > 0
        cb[keep] = sums[keep] / cnt[keep, None]
        if not keep.all():
            err = np.sum((x - cb[a]) ** 2, 1)
            worst = np.argsort(-err, kind="stable")[: int((~keep).sum())]
            cb[~keep] = x[worst]
    return cb


def msvq_train(x, stages, rng, iters):
    cbs, r = [], np.asarray(x, np.float64).copy()
    for b in stages:
        cb = kmeans(r, 1 << b, rng, iters)
        r -= cb[nearest(r, cb)]
        cbs.append(cb)
    return cbs


def msvq_encode(x, cbs):
    """Greedy multi-stage VQ: indices (n, stages) and the decoded vectors."""
    r = np.asarray(x, np.float64).copy()
    idx = np.zeros((len(r), len(cbs)), np.int64)
    for s, cb in enumerate(cbs):
        idx[:, s] = nearest(r, cb)
        r -= cb[idx[:, s]]
    return idx, np.asarray(x, np.float64) - r


# ---------------------------------------------------------------------------------------------
# The block quantizer


def _blocks(f: np.ndarray, B: int) -> np.ndarray:
    """(n, 20) -> (ceil(n/B), B, 20), the last frame repeated as padding."""
    n = len(f)
    nb = -(-n // B)
    if nb * B > n:
        f = np.concatenate([f, np.repeat(f[-1:], nb * B - n, 0)])
    return f.reshape(nb, B, f.shape[1]).astype(np.float64)


def _pitch_line(p: np.ndarray, corr: np.ndarray):
    """Weighted least-squares line ``mean + slope*t`` (t centred on the block) through (nb, B)
    pitch values. Weights ``0.05 + clamp(corr/0.3, 0, 1)`` favour voiced frames (unvoiced
    frames' pitch is analysis noise the vocoders hardly use; the latent coder's training
    loss weights pitch the same way, docs/training.md s3)."""
    B = p.shape[1]
    t = np.arange(B) - (B - 1) / 2.0
    w = 0.05 + np.clip(corr / 0.3, 0.0, 1.0)
    sw, st, stt = w.sum(1), w @ t, w @ (t * t)
    sp, stp = (w * p).sum(1), (w * p) @ t
    det = sw * stt - st * st
    ok = det > 1e-9
    slope = np.where(ok, (sw * stp - st * sp) / np.where(ok, det, 1.0), 0.0)
    mean = (sp - slope * st) / sw
    return mean, slope, t


@dataclass
class BlockVQ:
    cfg: VQConfig
    slope_cb: np.ndarray | None = None
    corr_cb: np.ndarray | None = None
    c0_cb: np.ndarray | None = None
    key_cbs: list = field(default_factory=list)
    mid_cbs: list = field(default_factory=list)
    hist: dict = field(default_factory=dict)  # index histograms on the training set

    @property
    def mid_pos(self) -> int | None:
        """Frame of the block centred between the previous key frame (-1) and this one (B-1)."""
        return self.cfg.B // 2 - 1 if self.cfg.B >= 2 and self.cfg.B % 2 == 0 else None

    # -- training --
    def train(self, blocks: np.ndarray, prev_key: np.ndarray, rng: np.random.Generator, iters: int) -> None:
        """``blocks`` (nb, B, 20) training blocks, ``prev_key`` (nb, 20) the frame before each."""
        c = self.cfg
        _, slope, _ = _pitch_line(blocks[:, :, 18], blocks[:, :, 19])
        if c.slope:  # trained on fully voiced blocks: unvoiced slopes are noise
            voiced = (blocks[:, :, 19] > 0.1).all(1)
            self.slope_cb = np.sort(kmeans(slope[voiced], 1 << c.slope, rng, 30)[:, 0])
        self.corr_cb = kmeans(blocks[:, :, 19], 1 << c.corr, rng, 30)
        key = blocks[:, -1, :]
        self.c0_cb = np.sort(kmeans(key[:, 0], 1 << c.c0, rng, 30)[:, 0])
        self.key_cbs = msvq_train(key[:, 1:18], c.key, rng, iters)
        if c.mid and self.mid_pos is not None:
            kq = self._key_decode(*self._key_encode(key))
            pq = self._key_decode(*self._key_encode(prev_key))
            target = blocks[:, self.mid_pos, :18] - 0.5 * (kq + pq)
            self.mid_cbs = msvq_train(target, c.mid, rng, iters)

    # -- key frames --
    def _key_encode(self, key):
        i0 = nearest(key[:, 0], self.c0_cb)
        ik, _ = msvq_encode(key[:, 1:18], self.key_cbs)
        return i0, ik

    def _key_decode(self, i0, ik):
        out = np.zeros((len(i0), 18))
        out[:, 0] = self.c0_cb[i0]
        for s, cb in enumerate(self.key_cbs):
            out[:, 1:18] += cb[ik[:, s]]
        return out

    def _pitch_encode(self, p, corr) -> dict:
        """Joint search: for every slope codeword, the voicing-weighted best mean, quantized;
        keep the pair of least weighted squared error over the block's frames."""
        c = self.cfg
        B = p.shape[1]
        t = np.arange(B) - (B - 1) / 2.0
        w = 0.05 + np.clip(corr / 0.3, 0.0, 1.0)
        lv = (1 << c.pitch) - 1
        slopes = self.slope_cb if c.slope else np.zeros(1)
        best_e = np.full(len(p), np.inf)
        best_m = np.zeros(len(p), np.int64)
        best_s = np.zeros(len(p), np.int64)
        for j, sj in enumerate(slopes):
            r = p - sj * t[None, :]
            m = (w * r).sum(1) / w.sum(1)
            im = np.clip(np.rint((m - PITCH_LO) / (PITCH_HI - PITCH_LO) * lv), 0, lv).astype(np.int64)
            mq = PITCH_LO + im * (PITCH_HI - PITCH_LO) / lv
            e = (w * (np.clip(mq[:, None] + sj * t[None, :], PITCH_LO, PITCH_HI) - p) ** 2).sum(1)
            better = e < best_e
            best_e[better], best_m[better], best_s[better] = e[better], im[better], j
        return {"pitch": best_m, "slope": best_s} if c.slope else {"pitch": best_m}

    # -- whole sequences --
    def encode(self, f: np.ndarray) -> dict:
        """Indices of every block of a (n, 20) feature sequence (a stream starts with the
        first key frame as its own predecessor)."""
        c = self.cfg
        X = _blocks(f, c.B)
        idx = {}
        idx.update(self._pitch_encode(X[:, :, 18], X[:, :, 19]))
        idx["corr"] = nearest(X[:, :, 19], self.corr_cb)
        i0, ik = self._key_encode(X[:, -1, :])
        idx["c0"] = i0
        for s in range(ik.shape[1]):
            idx[f"key{s}"] = ik[:, s]
        if c.mid and self.mid_pos is not None:
            kq = self._key_decode(i0, ik)
            pq = np.concatenate([kq[:1], kq[:-1]])
            im, _ = msvq_encode(X[:, self.mid_pos, :18] - 0.5 * (kq + pq), self.mid_cbs)
            for s in range(im.shape[1]):
                idx[f"mid{s}"] = im[:, s]
        return idx

    def decode(self, idx: dict, n: int) -> np.ndarray:
        """(n, 20) features from the indices of ``encode``."""
        c = self.cfg
        B = c.B
        nb = len(idx["pitch"])
        out = np.zeros((nb, B, 20))
        t = np.arange(B) - (B - 1) / 2.0
        mean = PITCH_LO + idx["pitch"] * (PITCH_HI - PITCH_LO) / ((1 << c.pitch) - 1)
        slope = self.slope_cb[idx["slope"]] if c.slope else np.zeros(nb)
        out[:, :, 18] = np.clip(mean[:, None] + slope[:, None] * t[None, :], PITCH_LO, PITCH_HI)
        out[:, :, 19] = self.corr_cb[idx["corr"]]
        kq = self._key_decode(idx["c0"], np.stack([idx[f"key{s}"] for s in range(len(c.key))], 1))
        pq = np.concatenate([kq[:1], kq[:-1]])
        anchors = [(-1, pq)]
        if c.mid and self.mid_pos is not None:
            mq = 0.5 * (kq + pq)
            for s, cb in enumerate(self.mid_cbs):
                mq = mq + cb[idx[f"mid{s}"]]
            anchors.append((self.mid_pos, mq))
        anchors.append((B - 1, kq))
        for i in range(B):  # linear interpolation between the nearest decoded anchors
            for (ta, va), (tb, vb) in zip(anchors[:-1], anchors[1:]):
                if ta < i <= tb:
                    w = (i - ta) / (tb - ta)
                    out[:, i, :18] = (1 - w) * va + w * vb
                    break
        return out.reshape(nb * B, 20)[:n].astype(np.float32)

    def count(self, idx: dict) -> None:
        for k, v in idx.items():
            size = self._size(k)
            self.hist[k] = self.hist.get(k, np.zeros(size)) + np.bincount(v, minlength=size)

    def _size(self, k: str) -> int:
        c = self.cfg
        if k.startswith("key"):
            return 1 << c.key[int(k[3:])]
        if k.startswith("mid"):
            return 1 << c.mid[int(k[3:])]
        return 1 << getattr(c, k)

    def entropy_bits(self, idx: dict) -> float:
        """Cross-entropy (bits) of ``idx`` under the training histograms, add-1/2 smoothing."""
        tot = 0.0
        for k, v in idx.items():
            h = self.hist[k] + 0.5
            tot += float(-np.log2(h / h.sum())[v].sum())
        return tot


def _config_key(cfg: VQConfig, seed: int, nblocks: int, iters: int, corpus: Path) -> str:
    st = corpus.stat()
    s = json.dumps([asdict(cfg), seed, nblocks, iters, str(corpus), st.st_size, 2], sort_keys=True)
    return hashlib.sha1(s.encode()).hexdigest()[:16]


def train_all(configs, corpus: Path, nblocks: int, iters: int, seed: int, cache: Path | None, log) -> list:
    d = np.load(corpus)
    feats, offs = d["feats"], d["offsets"]
    bounds = list(zip(offs[:-1], offs[1:]))
    out = []
    for ci, cfg in enumerate(configs):
        key = _config_key(cfg, seed, nblocks, iters, corpus)
        path = cache / f"vq_{key}.pkl" if cache else None
        if path is not None and path.exists():
            with open(path, "rb") as fh:
                out.append(pickle.load(fh))
            log(f"{cfg.name}: codebooks from {path}")
            continue
        t0 = time.perf_counter()
        rng = np.random.default_rng([seed, ci])
        blocks, prevs = [], []
        for a, b in bounds:
            X = feats[a:b][: ((b - a) // cfg.B) * cfg.B].astype(np.float64)
            if len(X) < cfg.B:
                continue
            X = X.reshape(-1, cfg.B, 20)
            blocks.append(X)
            k = X[:, -1, :]
            prevs.append(np.concatenate([k[:1], k[:-1]]))
        blocks, prevs = np.concatenate(blocks), np.concatenate(prevs)
        sel = np.sort(rng.choice(len(blocks), size=min(nblocks, len(blocks)), replace=False))
        vq = BlockVQ(cfg)
        vq.train(blocks[sel], prevs[sel], rng, iters)
        # index statistics for the entropy rate: HIST_FILES training files, encoded as streams
        for j in np.sort(rng.choice(len(bounds), size=min(HIST_FILES, len(bounds)), replace=False)):
            a, b = bounds[j]
            if b > a:
                vq.count(vq.encode(feats[a:b].astype(np.float64)))
        log(f"{cfg.name}: {cfg.bits} bits / {cfg.B * 10} ms = {cfg.kbps:.2f} kb/s, trained on {len(sel)} of "
            f"{len(blocks)} blocks in {time.perf_counter() - t0:.0f} s")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as fh:
                pickle.dump(vq, fh)
            os.replace(tmp, path)
        out.append(vq)
    return out


# ---------------------------------------------------------------------------------------------
# Evaluation


def feature_metrics(ref: np.ndarray, out: np.ndarray) -> dict:
    """Pooled over all frames, with the definitions of ``train/calibrate.py``."""
    ref, out = ref.astype(np.float64), out.astype(np.float64)
    voiced = ref[:, 19] > 0.1
    dp = np.abs(ref[:, 18] - out[:, 18]) * 1200.0
    return {
        "band_db": float(10.0 * np.sqrt(np.mean(np.sum((ref[:, :18] - out[:, :18]) ** 2, 1) / 18.0))),
        "pitch_c": float(np.median(dp[voiced])) if voiced.any() else 0.0,
        "pitch_gross": float(100.0 * np.mean(dp[voiced] > 100.0)) if voiced.any() else 0.0,
        "corr_rmse": float(np.sqrt(np.mean((ref[:, 19] - out[:, 19]) ** 2))),
    }


def audio_scores(x: np.ndarray, y: np.ndarray, delay: int) -> tuple[float, float]:
    """PESQ-WB and STOI of synthesis ``y`` (int16 units, lagging by ``delay``) against ``x``."""
    r, y = delay_aligned(x, y, delay)
    return pesq_stoi(r / 32768.0, np.clip(y / 32768.0, -1, 1))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50, help="files of the evaluation subset (default 50)")
    ap.add_argument("--speech", default="/work/shared/data/speech")
    ap.add_argument("--corpus", default="/work/cache/vocoder/corpus.npz", help="training features (npz: feats, offsets)")
    ap.add_argument("--train-blocks", type=int, default=60000, help="training blocks per configuration")
    ap.add_argument("--iters", type=int, default=15, help="k-means iterations per VQ stage")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default="/work/cache/vq_baseline", help="codebook cache ('' = none)")
    ap.add_argument("--no-audio", action="store_true", help="feature-domain metrics only")
    ap.add_argument("--out", default=str(HERE.parent / "docs" / "vq_baseline.md"),
                    help="markdown file whose table section is (re)written; '-' = print only")
    a = ap.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    t_start = time.perf_counter()
    c_start = time.process_time()
    vqs = train_all(CONFIGS, Path(a.corpus), a.train_blocks, a.iters, a.seed, Path(a.cache) if a.cache else None, log)
    t_train = time.perf_counter() - t_start

    from mlcodec.codec import model as cm
    from mlcodec.codec.payload import CodingTables, write_payload
    from mlcodec.dsp.audio import read_audio
    from mlcodec.dsp.features import compute_features
    from mlcodec.dsp.synth import SYNTH_DELAY, ReferenceSynth
    from mlcodec.vocoder import NeuralVocoder, load_vocoder

    model = cm.load_model()
    presets = [(p, model.PRESETS[p]) for p in cm.PRESET_NAMES]
    tables = {p: model.quant_tables(lv) for p, lv in presets}
    coding = {p: CodingTables.from_quant_tables(t) for p, t in tables.items()}
    neural = None if a.no_audio else load_vocoder(fixed_point=True)
    vocoders = [] if a.no_audio else [
        ("ref", lambda: ReferenceSynth(), SYNTH_DELAY),
        ("neural", lambda: NeuralVocoder(neural.model), NeuralVocoder.delay)]

    names = ["unquantized"]
    for p, _ in presets:
        names += [f"mlcodec {p}"] + [n for n in GROUPS.get(p, ()) if any(v.cfg.name == n for v in vqs)]
    names += [v.cfg.name for v in vqs if v.cfg.name not in names]
    acc = {k: {"ref": [], "out": [], "bits": 0.0, "ideal": 0.0, "ent": 0.0, "dur": 0.0,
               **{f"{v}_{m}": [] for v, _, _ in vocoders for m in ("pesq", "stoi")}} for k in names}
    files = eval_files(a.speech, a.n)
    for fi, path in enumerate(files):
        x = read_audio(path).astype(np.float64)
        f = compute_features(x)
        f = f[: (len(f) // 2) * 2]
        dur = len(f) * FRAME_S
        outs = {"unquantized": f}
        z = model.new_encoder(fixed_point=True).process(f)
        for p, lv in presets:
            q = cm.quantize(z, tables[p])
            outs[f"mlcodec {p}"] = model.new_decoder(lv, fixed_point=True).process(cm.dequantize(q, tables[p]))
            r = acc[f"mlcodec {p}"]
            r["bits"] += sum(8 * len(write_payload(q[i: i + 1], coding[p])) for i in range(len(q)))
            r["ideal"] += float(cm.value_bits(q, tables[p]).sum())
        for v in vqs:
            idx = v.encode(f)
            outs[v.cfg.name] = v.decode(idx, len(f))
            r = acc[v.cfg.name]
            r["bits"] += len(idx["pitch"]) * v.cfg.bits
            r["ent"] += v.entropy_bits(idx)
        for k, o in outs.items():
            r = acc[k]
            r["dur"] += dur
            r["ref"].append(f)
            r["out"].append(np.asarray(o, np.float32))
            for vn, mk, delay in vocoders:
                pq, st = audio_scores(x, mk().synthesize(o), delay)
                r[f"{vn}_pesq"].append(pq)
                r[f"{vn}_stoi"].append(st)
        log(f"[{fi + 1}/{len(files)}] {Path(path).name} ({len(x) / RATE:.1f} s) {time.perf_counter() - t_start:.0f} s")

    def m(r, k):
        return f"{np.nanmean(r[k]):.2f}" if r.get(k) else "—"

    def s(r, k):
        return f"{np.mean(r[k]):.3f}" if r.get(k) else "—"

    head = ("| system | block | bits / block | kb/s (fixed) | kb/s (entropy) | band dB | pitch cents | "
            "pitch > 100 c | corr RMSE | PESQ-WB ref | STOI ref | PESQ-WB neural | STOI neural |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for k in names:
        r = acc[k]
        fm = feature_metrics(np.concatenate(r["ref"]), np.concatenate(r["out"]))
        fmt_f = (f"{fm['band_db']:.2f} | {fm['pitch_c']:.1f} | {fm['pitch_gross']:.2f} % | {fm['corr_rmse']:.3f}")
        aud = f"{m(r, 'ref_pesq')} | {s(r, 'ref_stoi')} | {m(r, 'neural_pesq')} | {s(r, 'neural_stoi')}"
        if k == "unquantized":
            lines.append(f"| unquantized features | — | — | — | — | {fmt_f} | {aud} |")
        elif k.startswith("mlcodec"):
            blocks = r["dur"] / 0.020
            lines.append(f"| **{k}** (level {model.PRESETS[k.split()[1]]}, int8) | 20 ms | "
                         f"{r['bits'] / blocks:.1f} (payload) | {r['bits'] / r['dur'] / 1000:.2f} (payload) | "
                         f"{r['ideal'] / r['dur'] / 1000:.2f} (latents) | {fmt_f} | {aud} |")
        else:
            v = next(v for v in vqs if v.cfg.name == k)
            lines.append(f"| {k} | {v.cfg.B * 10} ms | {v.cfg.bits} | {r['bits'] / r['dur'] / 1000:.2f} | "
                         f"{r['ent'] / r['dur'] / 1000:.2f} | {fmt_f} | {aud} |")
    sizes = "\n".join(f"* **{v.cfg.name}**: {v.cfg.bits} bits per {v.cfg.B * 10} ms ({v.cfg.describe()}); "
                      f"{sum(len(cb) for cb in v.key_cbs + v.mid_cbs)} codewords of cepstrum codebooks"
                      for v in vqs)
    dur = acc["unquantized"]["dur"]
    cmd = f"nice -n 10 python bench/bench_vq_baseline.py --n {a.n}" + (" --no-audio" if a.no_audio else "")
    note = (f"\n{len(files)} files of the evaluation subset (`bench/eval_subset.py`, {dur:.0f} s), codec model "
            f"`{model.name}` (checksum {model.checksum[:12]}…); VQ trained on {a.train_blocks} blocks per "
            f"configuration ({a.iters} k-means iterations per stage, seed {a.seed}) from `{a.corpus}`. "
            f"Command: `{cmd}`; {time.perf_counter() - t_start:.0f} s wall, "
            f"{time.process_time() - c_start:.0f} s CPU (training {t_train:.0f} s wall; cached codebooks "
            "skip it). mlcodec \"payload\" = real range-coded payload bytes of 20 ms packets, "
            "format-version byte included (as the \"payload\" column of docs/benchmarks.md), \"latents\" = "
            "ideal Laplace code length of the latents alone. VQ \"fixed\" = fixed-length indices, "
            "\"entropy\" = cross-entropy of the indices under the training histograms.\n\n"
            f"VQ sizes (bits per block):\n\n{sizes}\n")
    # paired per-file differences, VQ minus the latent coder's preset of the same group
    pair = ["", "Paired per-file differences, VQ minus the preset of its group (mean ± 95 % interval, "
            f"{len(files)} files; positive = the VQ is better):", "",
            "| VQ | vs | Δ PESQ-WB ref | Δ STOI ref | Δ PESQ-WB neural | Δ STOI neural |", "|---|---|---|---|---|---|"]
    for p, _ in presets if vocoders else ():
        base = acc[f"mlcodec {p}"]
        for n in GROUPS.get(p, ()):
            if n not in acc:
                continue
            cells = []
            for k in ("ref_pesq", "ref_stoi", "neural_pesq", "neural_stoi"):
                d = np.asarray(acc[n][k]) - np.asarray(base[k])
                d = d[np.isfinite(d)]
                ci = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
                fmt_d = ".2f" if k.endswith("pesq") else ".3f"
                cells.append(f"{d.mean():+{fmt_d}} ± {ci:{fmt_d}}")
            pair.append(f"| {n} | mlcodec {p} | " + " | ".join(cells) + " |")
    table = head + "\n".join(lines) + "\n" + ("\n".join(pair) + "\n" if len(pair) > 5 else "") + note
    print(table)
    if a.out != "-":
        out = Path(a.out)
        write_section(out, BEGIN, END, f"{BEGIN}\n{table}{END}\n", "# VQ baseline\n\n")
        log(f"written to {out}")


if __name__ == "__main__":
    main()
