"""Training data: LPCNet features of the speech corpus, cached under /work/cache.

The fixed evaluation subset (``bench/eval_subset.py`` ``eval_files``) is excluded from
training. Features come from ``mlcodec.dsp.features.compute_features`` (specs 07), the
same analysis the encoder runs, one ``.npy`` (n, 20) float32 per audio file.

Pitch features (18, 19) come from the estimator named by ``$MLCODEC_TRAIN_PITCH``: ``net``
(our pitch network, the default since codec v2, issue 11) or ``classic`` (the tracker that
codec_v1 was trained on). Each estimator has its own cache folder.
"""
from __future__ import annotations

import csv
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEECH = ROOT.parent / "shared" / "data" / "speech"
#: Pitch estimator of the training features (``mlcodec.dsp.features.PITCH_ESTIMATORS``).
PITCH = os.environ.get("MLCODEC_TRAIN_PITCH", "net")
DEFAULT_CACHE = (Path(os.environ.get("MLCODEC_CACHE", "/work/cache"))
                 / ("mlcodec_feats" if PITCH == "classic" else f"mlcodec_feats_{PITCH}"))


def _eval_files(speech_root: Path, n: int = 50) -> list[str]:
    """The project-wide evaluation subset (relative paths like 'train/src/spk/f.flac')."""
    sys.path.insert(0, str(ROOT))
    from bench.eval_subset import holdout_files  # the held-out pool (speakers excluded below)

    out = []
    for p in holdout_files(speech_root, n=n):
        p = Path(p)
        try:
            out.append(str(p.resolve().relative_to(Path(speech_root).resolve())))
        except ValueError:
            out.append(str(p))
    return out


def manifest_rows(speech_root: Path = DEFAULT_SPEECH) -> list[dict]:
    with open(Path(speech_root) / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def manifest(speech_root: Path = DEFAULT_SPEECH) -> list[str]:
    return [row["path"] for row in manifest_rows(speech_root)]


def split(speech_root: Path = DEFAULT_SPEECH, n_eval: int = 50) -> tuple[list[str], list[str]]:
    """(train files, eval files), both as manifest-relative paths, deterministic order."""
    ev = _eval_files(speech_root, n_eval)
    evs = set(ev)
    rows = manifest_rows(speech_root)
    spk = {r["path"]: (r["source"], r["speaker"]) for r in rows}
    # Stricter than required: also drop every other file of an evaluation speaker, so the
    # evaluation measures unseen voices (``unknown`` speakers are per file).
    ev_spk = {spk[p] for p in ev if p in spk and spk[p][1] not in ("", "unknown")}
    tr = [r["path"] for r in rows if r["path"] not in evs and spk[r["path"]] not in ev_spk]
    return tr, ev


def _cache_path(cache: Path, rel: str) -> Path:
    h = hashlib.sha1(rel.encode()).hexdigest()[:16]
    return cache / f"{Path(rel).stem}-{h}.npy"


def file_features(rel: str, speech_root: Path = DEFAULT_SPEECH, cache: Path = DEFAULT_CACHE) -> np.ndarray:
    """Features (n, 20) float32 of one corpus file, computed once and cached."""
    cp = _cache_path(Path(cache), rel)
    if cp.exists():
        return np.load(cp)
    from mlcodec.dsp.audio import read_audio
    from mlcodec.dsp.features import compute_features

    x = read_audio(Path(speech_root) / rel)
    f = np.asarray(compute_features(x, pitch=PITCH), dtype=np.float32)[:, :20]
    cp.parent.mkdir(parents=True, exist_ok=True)
    tmp = cp.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, f)
    os.replace(tmp, cp)
    return f


def build_cache(files, speech_root: Path = DEFAULT_SPEECH, cache: Path = DEFAULT_CACHE, log=None) -> np.ndarray:
    """Concatenate the features of ``files`` (computing missing ones) into one (N, 20) array."""
    parts = []
    for i, rel in enumerate(files):
        parts.append(file_features(rel, speech_root, cache))
        if log and (i + 1) % 100 == 0:
            log(f"features: {i + 1}/{len(files)} files")
    return np.concatenate(parts, 0).astype(np.float32)


def synthetic_features(n_frames: int, seed: int = 0) -> np.ndarray:
    """Smooth random feature tracks with realistic ranges (for tests and smoke runs)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)
    f = np.zeros((n_frames, 20), np.float32)
    for k in range(18):
        amp = 3.0 / (1 + k)
        ph = rng.uniform(0, 2 * np.pi, 3)
        fr = rng.uniform(0.01, 0.2, 3)
        f[:, k] = amp * sum(np.sin(fr[j] * t + ph[j]) for j in range(3)) / 3
    f[:, 0] += -2.0
    f[:, 18] = 0.3 * np.sin(0.03 * t + rng.uniform(0, 6)) + 0.05 * rng.standard_normal(n_frames)
    f[:, 19] = 0.4 * np.tanh(2 * np.sin(0.05 * t + rng.uniform(0, 6)))
    return f


class Batcher:
    """Seeded random windows of ``frames`` consecutive feature frames from one big array."""

    def __init__(self, feats: np.ndarray, frames: int, batch: int, seed: int):
        if len(feats) <= frames:
            raise ValueError(f"need more than {frames} feature frames, got {len(feats)}")
        self.feats = feats
        self.frames = frames
        self.batch = batch
        self.rng = np.random.default_rng(seed)

    def next(self) -> np.ndarray:
        starts = self.rng.integers(0, len(self.feats) - self.frames, self.batch)
        idx = starts[:, None] + np.arange(self.frames)[None, :]
        return self.feats[idx]

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, st: dict) -> None:
        self.rng.bit_generator.state = st
