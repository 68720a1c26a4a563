"""Pitch (long-term) postfilter for vocoder output: deepens the valleys between harmonics.

A classic low-rate speech-decoder stage (the long-term postfilter of CELP decoders; libopus's
CELT has a comb pre/post-filter pair in the same spirit, RFC 6716 s4.3.7.1), driven by the
features the vocoder already has (specs 07 s5): per 10 ms frame the pitch period
``T = 256 / 2^(f18 + 1.5)`` samples (fractional, clamped to 32..255) and the voicing
``c = clamp(f19 + 0.5, 0, 1)`` (f19 is the pitch correlation minus 0.5). Per sample

    y[n] = (x[n] + g x[n - T]) / (1 + g),     g = ALPHA * c

with ``x[n - T]`` linearly interpolated. A periodic signal passes unchanged; noise between the
harmonics is attenuated by up to ``sqrt(1 + g^2) / (1 + g)`` (-2.5 dB at g = 0.4). Both T and
g move linearly across each 160-sample block from the previous frame's values to the current
frame's, so the filter is causal and streams with no extra delay (output block t of a vocoder
belongs to feature frame t, ``mlcodec.vocoder.fargan``).

Why: the neural vocoder's harmonics carry some noise (docs/vocoder.md); this filter raised its
DNSMOS SIG/OVRL/P.808 and PESQ-WB at a small STOI cost, measured on training files and then on
the evaluation subset (docs/vocoder.md, "Postfilter"). ``postfilter_reference`` is the plain
NumPy twin the numba kernel is tested against.
"""
from __future__ import annotations

import numpy as np
from numba import njit

FRAME = 160
#: Strength: g = ALPHA * voicing (chosen on training files, docs/vocoder.md).
ALPHA = 0.35
TMIN, TMAX = 32.0, 255.0
#: Input history kept between calls: the longest lag plus one interpolation tap.
HIST = int(TMAX) + 2


def frame_params(feats: np.ndarray, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (period in samples, gain) from (k, >=20) features (specs 07 s5.2-s5.3)."""
    f = np.asarray(feats, dtype=np.float64)
    T = np.clip(256.0 / np.power(2.0, f[:, 18] + 1.5), TMIN, TMAX)
    g = alpha * np.clip(f[:, 19] + 0.5, 0.0, 1.0)
    return T, g


@njit(cache=True)
def _postfilter(x, T, g, hist, state, out):  # pragma: no cover - compiled; twin-tested
    # state: [previous frame's T, previous frame's g, started flag]
    k = T.shape[0]
    n_hist = hist.shape[0]
    for t in range(k):
        if state[2] == 0.0:
            state[0] = T[t]
            state[1] = 0.0
            state[2] = 1.0
        t0, g0 = state[0], state[1]
        for j in range(FRAME):
            w = (j + 0.5) / FRAME
            tt = (1.0 - w) * t0 + w * T[t]
            gg = (1.0 - w) * g0 + w * g[t]
            n = t * FRAME + j
            pos = n - tt
            i0 = int(np.floor(pos))
            fr = pos - i0
            if i0 >= 0:
                a = x[i0]
            else:
                a = hist[n_hist + i0]
            if i0 + 1 >= 0:
                b = x[i0 + 1]
            else:
                b = hist[n_hist + i0 + 1]
            d = (1.0 - fr) * a + fr * b
            out[n] = np.float32((x[n] + gg * d) / (1.0 + gg))
        state[0] = T[t]
        state[1] = g[t]


class PitchPostfilter:
    """Streaming pitch postfilter: :meth:`process` (k*160 samples, (k, 20) features) per call."""

    def __init__(self, alpha: float = ALPHA):
        self.alpha = float(alpha)
        self._hist = np.zeros(HIST, dtype=np.float64)
        self._state = np.zeros(3, dtype=np.float64)

    def reset(self) -> None:
        self._hist[:] = 0
        self._state[:] = 0

    def process(self, x: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """Filter one chunk: len(x) must be 160 * len(feats); returns float32 of the same length."""
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        f = np.atleast_2d(np.asarray(feats))
        if x.shape[0] != FRAME * f.shape[0]:
            raise ValueError(f"{x.shape[0]} samples for {f.shape[0]} frames (need 160 per frame)")
        out = np.empty(x.shape[0], dtype=np.float32)
        if f.shape[0] == 0:
            return out
        T, g = frame_params(f, self.alpha)
        _postfilter(x, T, g, self._hist, self._state, out)
        full = np.concatenate([self._hist, x])
        self._hist[:] = full[-HIST:]
        return out


def postfilter_reference(x: np.ndarray, feats: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Whole-signal NumPy twin of :class:`PitchPostfilter` (vectorised, zero history)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    T, g = frame_params(np.atleast_2d(feats), alpha)
    k = T.shape[0]
    w = (np.arange(FRAME) + 0.5) / FRAME
    t_prev = np.concatenate([T[:1], T[:-1]])
    g_prev = np.concatenate([[0.0], g[:-1]])
    tt = ((1 - w)[None, :] * t_prev[:, None] + w[None, :] * T[:, None]).reshape(-1)
    gg = ((1 - w)[None, :] * g_prev[:, None] + w[None, :] * g[:, None]).reshape(-1)
    n = np.arange(k * FRAME)
    pos = n - tt
    i0 = np.floor(pos).astype(np.int64)
    fr = pos - i0
    xp = np.concatenate([np.zeros(HIST), x])
    d = (1 - fr) * xp[i0 + HIST] + fr * xp[i0 + 1 + HIST]
    return ((x + gg * d) / (1 + gg)).astype(np.float32)
