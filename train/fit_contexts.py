"""Fit the previous-symbol context tables of format 3 (mlcodec/codec/contexts.py) for a model.

    PYTHONPATH=$PWD nice python -m train.fit_contexts --out mlcodec/models/codec_ctx_v1.bin
        [--model BLOB] [--files 600] [--seed 1]

Recipe (deterministic; no network is retrained):
1. Files: the training split (``train.data.split``: every file of an evaluation speaker is
   excluded), ordered by SHA-1 of ``seed`` and path; the first ``--files`` are used.
2. Latents: the cached LPCNet features of each file (``train.data.file_features``) through the
   model's fixed-point encoder (the encoder's own path); one latent per 20 ms.
3. Per level: quantize (``model.quantize``, the encoder's dead-zone quantizer); each value's
   context is its dimension's previous latent of the same file clipped to -2..2 (zeros for a
   file's first latent, as after a level symbol in a stream).
4. Per (level, dimension, context): ``p0`` and ``ppos`` by maximum likelihood with add-1/2
   counts (clamped so every symbol keeps >= 1/32768), ``decay`` by exact search over every Q15
   value of the bits of the magnitudes under the Laplace-p0 magnitude code (specs 03 s5.2).
   A context with fewer than ``MIN_COUNT`` values takes the model's own (p0, decay) tables
   with the symmetric sign split (the format-2 model).
Prints the bits/latent of the shipped tables and of the contexts, in-sample and on the held-out
half (fit on even files, measure odd, and the reverse).
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mlcodec.codec.contexts import NB_CTX, context_index, ctx_records  # noqa: E402

#: Fewer values than this in a context: fall back to the model's marginal table.
MIN_COUNT = 50
_FT = 32768
_MAX_M = 4096


def _mag_cost_matrix() -> np.ndarray:
    """(32768, 8) bits of each magnitude symbol for every decay value (specs 03 s5.2)."""
    d = np.arange(_FT, dtype=np.int64)
    icdf = np.zeros((_FT, 8), np.int64)
    icdf[:, 0] = np.maximum(7, d)
    for i in range(1, 7):
        icdf[:, i] = np.maximum(7 - i, (icdf[:, i - 1] * d) >> 15)
    prev = np.concatenate([np.full((_FT, 1), _FT), icdf[:, :7]], 1)
    return -np.log2((prev - icdf) / _FT)


def fit_one(v: np.ndarray, cost: np.ndarray) -> tuple[int, int, int]:
    """(p0, ppos, decay) in Q15 for the values ``v`` of one context."""
    n = v.size
    n0, npos = int((v == 0).sum()), int((v > 0).sum())
    nneg = n - n0 - npos
    p0 = int(np.clip(round(_FT * (n0 + 0.5) / (n + 1.5)), 1, _FT - 2))
    rest = _FT - p0
    ppos = int(np.clip(round(rest * (npos + 0.5) / (npos + nneg + 1.0)), 1, rest - 1))
    m = np.minimum(np.abs(v[v != 0]) - 1, _MAX_M)
    rem = np.bincount(m % 7, minlength=7).astype(np.float64)
    esc = float((m // 7).sum())
    total = cost[:, :7] @ rem + esc * cost[:, 7]
    return p0, ppos, int(np.argmin(total))


def fit_level(qs: list[np.ndarray], t, cost) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p0, ppos, decay) arrays (dim, NB_CTX) of one level from per-file quantized latents."""
    q = np.vstack(qs)
    ctx = context_index(np.vstack([np.vstack([np.zeros((1, x.shape[1]), np.int64), x[:-1]]) for x in qs]))
    D = t.dim
    p0 = np.zeros((D, NB_CTX), np.int64)
    pp = np.zeros((D, NB_CTX), np.int64)
    dec = np.zeros((D, NB_CTX), np.int64)
    for i in range(D):
        bp0, bdec = int(t.p0[i]), int(t.decay[i])
        bp0 = min(max(bp0, 1), _FT - 2)
        base = (bp0, (_FT - bp0) - (_FT - bp0) // 2, bdec)
        for c in range(NB_CTX):
            v = q[ctx[:, i] == c, i]
            r = fit_one(v, cost) if (t.coded[i] and v.size >= MIN_COUNT) else base
            p0[i, c], pp[i, c], dec[i, c] = r
    return p0, pp, dec


def bits_ctx(qs, p0, pp, dec, coded) -> float:
    """Ideal bits of the files' latents under context parameters (dim, NB_CTX) of one level
    (coded dimensions only; cost tables of contexts.py, exact beyond +-K)."""
    from mlcodec.codec.contexts import ContextTables
    from mlcodec.codec.contexts_ref import value_bits

    K = 96
    ct = ContextTables(p0[None], pp[None], dec[None], coded=np.asarray(coded, bool)[None])
    grid = ct.cost_grid(0, K)
    dims = np.arange(grid.shape[0])[None, :]
    total = 0.0
    for x in qs:
        c = context_index(np.vstack([np.zeros((1, x.shape[1]), np.int64), x[:-1]]))
        big = np.abs(x) > K
        total += float(grid[dims, c, np.clip(x, -K, K) + K][~big].sum())
        for t, i in zip(*np.nonzero(big & np.asarray(coded, bool)[None, :])):
            total += value_bits(int(x[t, i]), int(p0[i, c[t, i]]), int(pp[i, c[t, i]]), int(dec[i, c[t, i]]))
    return total


def train_files(n: int, seed: int) -> list[str]:
    from train.data import split

    tr, _ = split()
    return sorted(tr, key=lambda r: hashlib.sha1(f"{seed}:{r}".encode()).hexdigest())[:n]


def file_latents(model, files) -> list[np.ndarray]:
    from train.data import file_features

    out = []
    for rel in files:
        f = file_features(rel)
        n = f.shape[0] // 2
        if n:
            out.append(np.asarray(model.new_encoder().process(np.ascontiguousarray(f[:2 * n]))))
    return out


def fit(model, zs: list[np.ndarray], log=print) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p0, ppos, decay) arrays (nb_levels, dim, NB_CTX) and a held-out report through ``log``."""
    from mlcodec.codec.model import quantize

    cost = _mag_cost_matrix()
    L, D = model.nb_levels, model.latent_dim
    P0, PP, DE = (np.zeros((L, D, NB_CTX), np.int64) for _ in range(3))
    n_lat = sum(z.shape[0] for z in zs)
    for lv in range(L):
        t = model.quant_tables(lv)
        qs = [quantize(z, t).astype(np.int64) for z in zs]
        P0[lv], PP[lv], DE[lv] = fit_level(qs, t, cost)
        if log:
            coded = np.asarray(t.coded)
            bp0 = np.repeat(np.clip(np.asarray(t.p0), 1, _FT - 2)[:, None], NB_CTX, 1)
            bpp = (_FT - bp0) - (_FT - bp0) // 2
            bde = np.repeat(np.asarray(t.decay)[:, None], NB_CTX, 1)
            b0 = bits_ctx(qs, bp0, bpp, bde, coded)
            ho = 0.0
            for a, b in ((qs[0::2], qs[1::2]), (qs[1::2], qs[0::2])):
                if a and b:
                    ho += bits_ctx(b, *fit_level(a, t, cost), coded)
            ins = bits_ctx(qs, P0[lv], PP[lv], DE[lv], coded)
            log(f"level {lv:2d}: shipped tables {b0 / n_lat:6.2f} bits/latent, contexts {ins / n_lat:6.2f} "
                f"(in-sample), {ho / n_lat:6.2f} (held-out half) = {100 * (1 - ho / b0):4.1f} % saved")
    return P0, PP, DE


def main(argv=None) -> None:
    from mlcodec.codec.model import load_model
    from mlcodec.nn.weights import weights_to_bytes

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", default=None, help="codec blob (default: the shipped one)")
    ap.add_argument("--files", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    model = load_model(a.model)
    files = train_files(a.files, a.seed)
    zs = file_latents(model, files)
    print(f"{len(files)} training files, {sum(z.shape[0] for z in zs)} latents")
    p0, pp, de = fit(model, zs)
    data = weights_to_bytes(ctx_records(p0, pp, de, model.checksum))
    a.out.write_bytes(data)
    print(f"wrote {a.out} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}...)")


if __name__ == "__main__":
    main()
