"""Vocoder training data: aligned (audio, features) of the speech corpus, cached once.

Every training file of ``../shared/data/speech`` except the fixed evaluation subset
(``bench/eval_subset.py`` ``eval_files``, never trained on) is read with
``mlcodec.dsp.audio.read_audio`` (int16 units) and analysed with
``mlcodec.dsp.features.compute_features`` (specs 07), the same analysis the codec's encoder
runs. The cache (``/work/cache/vocoder/corpus.npz`` by default) holds the concatenated int16
audio, zero-padded to whole frames, the (N, 20) float32 features and per-file frame offsets.

Alignment (same as ``mlcodec.dsp.synth``, SYNTH_DELAY = 160): the vocoder's output block for
feature frame t is input samples [160(t-1), 160t).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEECH = ROOT.parent / "shared" / "data" / "speech"
#: Pitch estimator of the features (train/data.py ``PITCH``, ``$MLCODEC_TRAIN_PITCH``, default
#: ``net`` since vocoder v2; vocoder_v1 was trained on ``classic`` features, cache ``corpus.npz``).
PITCH = os.environ.get("MLCODEC_TRAIN_PITCH", "net")
DEFAULT_CACHE = (Path(os.environ.get("MLCODEC_CACHE", "/work/cache")) / "vocoder"
                 / ("corpus.npz" if PITCH == "classic" else f"corpus_{PITCH}.npz"))
FRAME = 160


def train_eval_split(speech_root: Path = DEFAULT_SPEECH, n_eval: int = 50) -> tuple[list[Path], list[Path]]:
    """(training files, evaluation files); evaluation = bench/eval_subset.py's held-out pool.

    Every file of a pool speaker is excluded too (issue 10: the evaluation must be speaker-
    disjoint; vocoder_v1 was trained before this rule and excluded only the pool's files)."""
    import csv

    sys.path.insert(0, str(ROOT / "bench"))
    from eval_subset import holdout_files

    root = Path(speech_root)
    ev = [Path(p) for p in holdout_files(root, n_eval)]
    evs = {p.resolve() for p in ev}
    with open(root / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    spk = {(root / r["path"]).resolve(): (r["source"], r["speaker"]) for r in rows}
    ev_spk = {spk[p] for p in evs if p in spk and spk[p][1] not in ("", "unknown")}
    tr = [root / r["path"] for r in rows
          if (root / r["path"]).resolve() not in evs and (r["source"], r["speaker"]) not in ev_spk]
    return tr, ev


def analyse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int16 audio padded to whole frames, (n, 20) float32 features) of int16-unit samples."""
    from mlcodec.dsp.features import compute_features

    f = np.asarray(compute_features(x, pitch=PITCH), dtype=np.float32)[:, :20]
    pad = np.zeros(len(f) * FRAME, dtype=np.float32)
    pad[: len(x)] = x[: len(pad)]
    return np.clip(np.rint(pad), -32768, 32767).astype(np.int16), f


def build_corpus(files, log=None) -> dict:
    """Read and analyse ``files``; returns dict(audio int16, feats float32, offsets int64 frames)."""
    from mlcodec.dsp.audio import read_audio

    audio, feats, offsets = [], [], [0]
    for i, p in enumerate(files):
        a, f = analyse(read_audio(p))
        audio.append(a)
        feats.append(f)
        offsets.append(offsets[-1] + len(f))
        if log and (i + 1) % 200 == 0:
            log(f"corpus: {i + 1}/{len(files)} files")
    return {"audio": np.concatenate(audio), "feats": np.concatenate(feats),
            "offsets": np.array(offsets, dtype=np.int64)}


def load_corpus(cache: Path = DEFAULT_CACHE, speech_root: Path = DEFAULT_SPEECH, log=None) -> dict:
    """The cached training corpus, built on first use (about a minute on one core)."""
    cache = Path(cache)
    if not cache.exists():
        files, _ = train_eval_split(speech_root)
        c = build_corpus(files, log)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.stem}.{os.getpid()}.npz")
        np.savez(tmp, **c)
        os.replace(tmp, cache)
    with np.load(cache) as z:
        return {k: z[k] for k in z.files}


def synthetic_corpus(seconds: float = 6.0, seed: int = 0) -> dict:
    """A tiny corpus of harmonic tones with gliding pitch and noise (tests and smoke runs)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    f0 = 120 + 60 * np.sin(2 * np.pi * 0.5 * t)
    ph = 2 * np.pi * np.cumsum(f0) / 16000
    x = sum(np.sin(k * ph) / k for k in range(1, 12)) * 3000 * (0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t))
    x = x + 200 * rng.standard_normal(n)
    a, f = analyse(x.astype(np.float32))
    return {"audio": a, "feats": f, "offsets": np.array([0, len(f)], dtype=np.int64)}


class WindowSampler:
    """Seeded random training windows: ``frames`` + 2 context feature frames and the target audio.

    A window starting at frame f0 of a file gives features f0 .. f0+frames+1 and the target
    samples [160(f0+1), 160(f0+frames+1)) (output blocks of frames f0+2 .. f0+frames+1).
    """

    def __init__(self, corpus: dict, frames: int, batch: int, seed: int,
                 decoded: list[np.ndarray] | None = None, mix: float = 0.0):
        self.audio = corpus["audio"]
        self.feats = corpus["feats"]
        # Optional codec-decoded twins of ``feats`` (train/vocoder/decoded.py): each window takes
        # its features from one of them with probability ``mix`` (uniform over the twins).
        self.decoded = list(decoded or []) if mix > 0 else []
        self.mix = float(mix)
        off = corpus["offsets"]
        need = frames + 2
        starts = [np.arange(off[i], off[i + 1] - need + 1) for i in range(len(off) - 1)
                  if off[i + 1] - off[i] >= need]
        if not starts:
            raise ValueError(f"no file has {need} frames")
        self.starts = np.concatenate(starts)
        self.frames = frames
        self.batch = batch
        self.rng = np.random.default_rng(seed)

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        """(B, frames+2, 20) float32 features, (B, frames*160) float32 target in +-1 units."""
        f0 = self.starts[self.rng.integers(0, len(self.starts), self.batch)]
        fi = f0[:, None] + np.arange(self.frames + 2)[None, :]
        si = (f0[:, None] + 1) * FRAME + np.arange(self.frames * FRAME)[None, :]
        feats = self.feats[fi]
        if self.decoded:
            use = self.rng.random(self.batch) < self.mix
            which = self.rng.integers(0, len(self.decoded), self.batch)
            for b in np.flatnonzero(use):
                feats[b] = self.decoded[which[b]][fi[b]]
        return feats, self.audio[si].astype(np.float32) / 32768.0

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, st: dict) -> None:
        self.rng.bit_generator.state = st
