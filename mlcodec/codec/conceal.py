"""Feature concealment for lost or damaged packets: the :class:`Concealer` protocol and the
default :class:`RepeatFadeConcealer`.

The decoder (``decoder.py``) feeds every good 10 ms feature frame to ``observe`` in order and,
for a gap (a bad page, a missing page, a garbage packet), asks ``conceal(n)`` for the features
of the n missing 10 ms frames; they go through the vocoder like decoded ones, so the output
keeps its exact length. Afterwards the decoder cross-fades from the concealed features back to
the decoded ones (:func:`crossfade`). Other concealers (a neural feature PLC,
``mlcodec/codec/plc.py``) implement the same three methods.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

#: Values per 10 ms feature frame (18 cepstra, pitch, pitch correlation; specs 07).
NB_FEATURES = 20
#: Feature frame of digital silence (what the extractor gives for zeros): c0 = -12.485 is
#: log10 of the band-energy floor through the DCT (specs 07 s2), pitch -0.5, correlation -0.362.
SILENCE = np.zeros(NB_FEATURES, np.float32)
SILENCE[0], SILENCE[18], SILENCE[19] = -12.485, -0.5, -0.362


@runtime_checkable
class Concealer(Protocol):
    def observe(self, features: np.ndarray) -> None: ...   # (n, NB_FEATURES) decoded features of good 10 ms frames, in order
    def conceal(self, n: int) -> np.ndarray: ...            # (n, NB_FEATURES) features for n missing 10 ms frames
    def reset(self) -> None: ...


class RepeatFadeConcealer:
    """Repeat the last good frame's spectral envelope and pitch; fade its energy (c0) down to
    silence's over ``fade_frames`` 10 ms frames (default 10 = 100 ms), linearly in the log
    domain, and fade the voicing (pitch correlation) with it. With no history: silence."""

    def __init__(self, fade_frames: int = 10):
        self.fade_frames = max(int(fade_frames), 1)
        self.reset()

    def reset(self) -> None:
        self._last: np.ndarray | None = None
        self._lost = 0  # frames concealed since the last good one

    def observe(self, features: np.ndarray) -> None:
        f = np.asarray(features, np.float32).reshape(-1, NB_FEATURES)
        if f.shape[0]:
            self._last = f[-1].copy()
            self._lost = 0

    def conceal(self, n: int) -> np.ndarray:
        n = int(n)
        out = np.repeat(SILENCE[None, :], max(n, 0), axis=0)
        if self._last is None or n <= 0:
            return out
        k = self._lost + 1 + np.arange(n)
        w = np.clip(1.0 - k / self.fade_frames, 0.0, 1.0).astype(np.float32)[:, None]
        out[:] = self._last
        # c0 and the voicing fade; the envelope shape (c1..c17) and the pitch are kept
        out[:, 0:1] = w * self._last[0] + (1 - w) * SILENCE[0]
        out[:, 19:20] = w * self._last[19] + (1 - w) * SILENCE[19]
        self._lost += n
        return out


def crossfade(concealed: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    """Blend the first frames of ``decoded`` (k, NB_FEATURES) from ``concealed`` (the
    concealer's continuation, same shape) to ``decoded``: a linear ramp over the frames, so
    the vocoder does not jump back after a gap (pitch is taken from the decoded frames)."""
    d = np.asarray(decoded, np.float32)
    c = np.asarray(concealed, np.float32)
    k = min(d.shape[0], c.shape[0])
    if k == 0:
        return d
    w = ((np.arange(k) + 1) / (k + 1)).astype(np.float32)[:, None]
    out = d.copy()
    out[:k, :18] = w * d[:k, :18] + (1 - w) * c[:k, :18]
    return out
