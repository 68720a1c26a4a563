"""NumPy/plain reference of format 3's context coding (the twin of contexts.py and the context
hot loops of payload.py): tables rebuilt from the Q15 parameters for every value, symbols
through the range coder's public, checked ``icdf16`` calls, costs as -log2 of each
symbol's probability. Tests hold the fast code to this bit for bit (bytes) and to 1e-9 bits."""
from __future__ import annotations

import math

import numpy as np

from mlcodec.bitstream.rangecoder import laplace_p0_mag_icdf
from mlcodec.codec.contexts import CTX_CLIP, sign_icdf


def _params(tables, level: int, i: int, prev_value: int) -> tuple[int, int, int]:
    c = min(max(int(prev_value), -CTX_CLIP), CTX_CLIP) + CTX_CLIP
    return int(tables.p0[level, i, c]), int(tables.ppos[level, i, c]), int(tables.decay[level, i, c])


def encode_value(enc, v: int, p0: int, ppos: int, decay: int) -> None:
    """One value: sign symbol with the explicit split, then Laplace-p0 magnitude escapes."""
    enc.icdf16(0 if v == 0 else (1 if v > 0 else 2), sign_icdf(p0, ppos), 15)
    if v:
        m = abs(int(v)) - 1
        mag = laplace_p0_mag_icdf(decay)
        while True:
            enc.icdf16(min(m, 7), mag, 15)
            m -= 7
            if m < 0:
                break


def decode_value(dec, p0: int, ppos: int, decay: int, limit: int = 4095) -> int:
    s = dec.icdf16(sign_icdf(p0, ppos), 15)
    if not s:
        return 0
    v = 1
    while True:
        d = dec.icdf16(laplace_p0_mag_icdf(decay), 15)
        v += d
        if d != 7 or v > limit:
            break
    return v if s == 1 else -v


def encode_rows(enc, rows, tables, level: int, prev) -> np.ndarray:
    """Code the latents ``rows`` (n, dim) of ``level`` after ``prev`` (dim,); returns the last."""
    prev = np.asarray(prev, np.int64)
    for row in np.asarray(rows, np.int64):
        for i in np.flatnonzero(tables.coded[level]):
            encode_value(enc, int(row[i]), *_params(tables, level, i, prev[i]))
        prev = row
    return prev


def decode_rows(dec, n: int, tables, level: int, prev) -> np.ndarray:
    prev = np.asarray(prev, np.int64)
    out = np.zeros((n, tables.coded.shape[1]), np.int64)
    for t in range(n):
        for i in np.flatnonzero(tables.coded[level]):
            out[t, i] = decode_value(dec, *_params(tables, level, i, prev[i]))
        prev = out[t]
    return out


def value_bits(v: int, p0: int, ppos: int, decay: int) -> float:
    """-log2 P of one value under its context's model."""
    ft = 32768
    if v == 0:
        return -math.log2(p0 / ft)
    b = -math.log2((ppos if v > 0 else ft - p0 - ppos) / ft)
    icdf = laplace_p0_mag_icdf(decay)
    prev = (ft,) + icdf[:-1]
    m = abs(int(v)) - 1
    while True:
        s = min(m, 7)
        b -= math.log2((prev[s] - icdf[s]) / ft)
        m -= 7
        if m < 0:
            return b


def rows_bits(rows, tables, level: int, prev) -> np.ndarray:
    """Ideal bits of each latent of ``rows`` after ``prev`` (what CostModel.latent_bits prices)."""
    prev = np.asarray(prev, np.int64)
    out = []
    for row in np.asarray(rows, np.int64):
        out.append(sum(value_bits(int(row[i]), *_params(tables, level, i, prev[i]))
                       for i in np.flatnonzero(tables.coded[level])))
        prev = row
    return np.array(out)
