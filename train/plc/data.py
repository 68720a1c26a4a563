"""PLC training data: features of the training speakers as our decoder sees them.

Files come from ``train.data.split`` (the evaluation subset of ``bench/eval_subset.py`` and
every other file of its speakers excluded). Each file's clean features (``train.data``
cache) are coded through the shipped codec at the 3k preset level (encoder -> quantizer ->
decoder, ``CodecModel.code_features``, int8 path): that is cheap (thousands of times real
time) and makes the concealer learn the features it will actually observe. The result is
cached as one ``.npz`` (features and per-file start offsets) under ``/work/cache/plc``.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from train.data import DEFAULT_SPEECH, file_features, split

DEFAULT_CACHE = Path(os.environ.get("MLCODEC_PLC_CACHE", "/work/cache/plc"))


def decoded_features(files, speech_root: Path = DEFAULT_SPEECH, preset: str = "3k", log=None) -> np.ndarray:
    """(n, 20) features of ``files`` after coding at ``preset`` (decoder output)."""
    from mlcodec.codec.model import load_model, shipped_model
    from train.data import PITCH

    # plc_v1 was made with codec_v1 on classic features: MLCODEC_TRAIN_PITCH=classic reproduces it
    model = shipped_model("codec_v1.bin") if PITCH == "classic" else load_model()
    level = model.level_for_bitrate(preset)
    parts = []
    for i, rel in enumerate(files):
        f = file_features(rel, speech_root)
        f = f[: len(f) // 2 * 2]
        parts.append(model.code_features(f, level) if preset != "clean" else f)
        if log and (i + 1) % 100 == 0:
            log(f"plc data: {i + 1}/{len(files)} files")
    return parts


def load_split(part: str = "train", speech_root: Path = DEFAULT_SPEECH, preset: str = "3k",
               cache: Path = DEFAULT_CACHE, log=None) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, 20) float32, file start offsets) of the ``train`` or ``eval`` files."""
    tr, ev = split(speech_root)
    files = tr if part == "train" else ev
    from train.data import PITCH

    key = hashlib.sha1(("\n".join(files) + preset).encode()).hexdigest()[:12]
    tag = "" if PITCH == "classic" else f"{PITCH}-"      # classic keeps plc_v1's cache names
    cp = Path(cache) / f"{tag}{part}-{preset}-{key}.npz"
    if cp.exists():
        d = np.load(cp)
        return d["feats"], d["starts"]
    parts = decoded_features(files, speech_root, preset, log)
    starts = np.cumsum([0] + [len(p) for p in parts[:-1]]).astype(np.int64)
    feats = np.concatenate(parts, 0).astype(np.float32)
    cp.parent.mkdir(parents=True, exist_ok=True)
    tmp = cp.with_name(cp.stem + f".tmp{os.getpid()}.npz")
    np.savez(tmp, feats=feats, starts=starts)
    os.replace(tmp, cp)
    return feats, starts
