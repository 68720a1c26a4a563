"""Codec-decoded features of the vocoder corpus, so the vocoder also learns what it will be fed.

The shipped codec (``mlcodec/models/codec_v1.bin``, int8 core, as ``mlcodec decode`` runs it)
encodes each training file's features to quantized latents at every bit-rate preset and
decodes them back (specs 05 s4-s5: encoder -> dead-zone quantizer -> decoder; the range coder is
lossless, so it is skipped). The result, one (N, 20) array per preset aligned frame for frame
with the corpus's clean features, is cached next to the corpus (``decoded_<checksum12>.npz``):
the cache is keyed by the codec model's checksum, so a retrained codec gets fresh features.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def decode_features(model, feats: np.ndarray, level: int) -> np.ndarray:
    """Clean (n, 20) features of one file -> the codec's decoded features (n, 20) at ``level``."""
    n2 = (len(feats) // 2) * 2
    out = np.array(feats, dtype=np.float32, copy=True)   # an odd last frame stays clean
    if n2:
        out[:n2] = model.code_features(feats[:n2], level)
    return out


def decoded_path(corpus_cache: Path, checksum: str) -> Path:
    c = Path(corpus_cache)
    tag = "" if c.stem == "corpus" else f"{c.stem}_"      # corpus_net.npz -> decoded_corpus_net_<sum>
    return c.with_name(f"decoded_{tag}{checksum[:12]}.npz")


def load_decoded(corpus: dict, corpus_cache: Path | None, model=None, log=None) -> dict:
    """{preset: (N, 20) float32} decoded features for every preset, cached on first use
    (``corpus_cache`` None: computed, not cached)."""
    from mlcodec.codec.model import load_model

    model = model or load_model()
    path = decoded_path(corpus_cache, model.checksum) if corpus_cache else None
    if path is not None and path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    feats, off = corpus["feats"], corpus["offsets"]
    res = {}
    for preset, level in model.PRESETS.items():
        res[preset] = np.concatenate([decode_features(model, feats[off[i]:off[i + 1]], level)
                                      for i in range(len(off) - 1)])
        if log:
            d = res[preset] - feats
            log(f"decoded features {preset}: rms error per feature {np.sqrt((d ** 2).mean()):.3f}")
    if path is None:
        return res
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.npz")
    np.savez(tmp, **res)
    os.replace(tmp, path)
    return res


def decoded_twins(corpus: dict, corpus_cache: Path | None, codec_blob=None, log=None) -> list[np.ndarray]:
    """The decoded twins of ``corpus`` in preset order, for ``WindowSampler`` (``codec_blob``:
    the codec model's path, default the shipped one; ``corpus_cache`` None: not cached)."""
    from mlcodec.codec.model import load_model

    dec = load_decoded(corpus, corpus_cache, model=load_model(codec_blob) if codec_blob else None, log=log)
    return [dec[k] for k in sorted(dec)]
