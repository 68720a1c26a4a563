"""Seeded k-means recipe for the feature-redundancy codebook (docs/loss.md s5).

    python -m train.redundancy.codebook --out mlcodec/models/redundancy_v1.npz

Data: the training files of ``train.data.split`` (the evaluation subset of
``bench/eval_subset.py`` and every other file of its speakers excluded), clean LPCNet features
from the ``train.data`` cache. Each 40 ms chunk (4 frames, aligned on latent pairs as the
encoder's) whose level c0 >= ``--min-c0`` gives one vector: the mean of c1..c17. The fine
codebook (``--k1`` words, the next packet's copy) and the coarse one (``--k2``, the old copy)
are k-means of those vectors. The voicing statistics
the decoder uses to rebuild the correlation feature are measured on the same chunks.
Deterministic: a seeded k-means++ start, a fixed number of Lloyd iterations, float64 sums.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

FRAMES = 4         # 10 ms frames per 40 ms chunk
VOICED_CORR = 0.1  # a frame is voiced when its correlation feature exceeds this (bench_plc's rule)


def chunk_stats(feats: np.ndarray):
    """(c0, shape c1..c17, voiced, pitch, corr) per 40 ms chunk of a feature track (n, 20);
    the rule the encoder uses (mlcodec.codec.feature_redundancy.chunk_params)."""
    n = feats.shape[0] // FRAMES
    f = feats[: n * FRAMES].reshape(n, FRAMES, 20)
    v = f[:, :, 19] > VOICED_CORR
    return f[:, :, 0].mean(1), f[:, :, 1:18].mean(1), v.sum(1) >= 2, f[:, :, 18], f[:, :, 19], v


def _nearest(x: np.ndarray, c: np.ndarray, block: int = 65536) -> np.ndarray:
    out = np.empty(x.shape[0], np.int64)
    cc = (c * c).sum(1)
    for i in range(0, x.shape[0], block):
        xb = x[i:i + block]
        out[i:i + block] = np.argmin(cc[None, :] - 2.0 * xb @ c.T, axis=1)
    return out


def kmeans(x: np.ndarray, k: int, iters: int, seed: int) -> np.ndarray:
    """Lloyd's k-means from a seeded k-means++ start (float64, deterministic)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float64)
    c = [x[rng.integers(x.shape[0])]]
    d2 = ((x - c[0]) ** 2).sum(1)
    for _ in range(1, k):
        c.append(x[rng.choice(x.shape[0], p=d2 / d2.sum())])
        d2 = np.minimum(d2, ((x - c[-1]) ** 2).sum(1))
    c = np.stack(c)
    for _ in range(iters):
        a = _nearest(x, c)
        sums = np.zeros_like(c)
        np.add.at(sums, a, x)
        cnt = np.bincount(a, minlength=k)
        empty = cnt == 0
        c[~empty] = sums[~empty] / cnt[~empty, None]
        if empty.any():  # re-seed empty cells on the worst-coded points
            err = ((x - c[a]) ** 2).sum(1)
            c[empty] = x[np.argsort(-err, kind="stable")[: int(empty.sum())]]
    return c


def train(files, k1: int, k2: int, iters: int, seed: int, min_c0: float, max_vectors: int, log=print):
    from train.data import file_features

    shapes, corr_v, corr_u, pitch_u = [], [], [], []
    for i, rel in enumerate(files):
        c0, shape, voiced, pitch, corr, v = chunk_stats(file_features(rel))
        act = c0 >= min_c0
        shapes.append(shape[act])
        corr_v.append(corr[act][voiced[act]].ravel())
        corr_u.append(corr[act][~voiced[act]].ravel())
        pitch_u.append(pitch[act][~voiced[act]].ravel())
        if log and (i + 1) % 500 == 0:
            log(f"features: {i + 1}/{len(files)} files")
    x = np.concatenate(shapes).astype(np.float64)
    log(f"{x.shape[0]} active chunks from {len(files)} files")
    if x.shape[0] > max_vectors:
        x = x[np.random.default_rng(seed + 1).choice(x.shape[0], max_vectors, replace=False)]
    t = time.time()
    cb1 = kmeans(x, k1, iters, seed)
    cb2 = kmeans(x, k2, iters, seed + 2)
    r1, r2 = x - cb1[_nearest(x, cb1)], x - cb2[_nearest(x, cb2)]
    stats = {"vectors": int(x.shape[0]), "rms_raw": float(np.sqrt(((x - x.mean(0)) ** 2).mean())),
             "rmse_fine": float(np.sqrt((r1 ** 2).mean())), "rmse_coarse": float(np.sqrt((r2 ** 2).mean())),
             "seconds": round(time.time() - t, 1)}
    log(json.dumps(stats))
    return {
        "fine": cb1.astype(np.float32), "coarse": cb2.astype(np.float32),
        "corr_voiced": np.float32(np.concatenate(corr_v).mean()),
        "corr_unvoiced": np.float32(np.concatenate(corr_u).mean()),
        "pitch_unvoiced": np.float32(np.concatenate(pitch_u).mean()),
    }, stats


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--k1", type=int, default=256)
    ap.add_argument("--k2", type=int, default=64)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-c0", type=float, default=-6.0)
    ap.add_argument("--max-vectors", type=int, default=200000)
    ap.add_argument("--files", type=int, default=0, help="use only the first N training files (smoke runs)")
    a = ap.parse_args(argv)
    from train.data import split

    tr, _ = split()
    if a.files:
        tr = tr[: a.files]
    arrays, stats = train(tr, a.k1, a.k2, a.iters, a.seed, a.min_c0, a.max_vectors)
    out = Path(a.out)
    tmp = out.with_name(out.stem + f".tmp{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
