"""Feature concealment for lost or damaged packets: the :class:`Concealer` protocol, the gap
fade, the :class:`RepeatFade` baseline and :func:`make_concealer`.

The decoder (``decoder.py``) feeds every good 10 ms feature frame to ``observe`` in order and,
for a gap (a lost packet, a bad page, a missing page, a garbage packet), asks ``conceal(n)``
for the features of the n missing 10 ms frames; they go through the vocoder like decoded ones,
so the output keeps its exact length. Afterwards the decoder cross-fades from the concealed
features back to the decoded ones (:func:`crossfade`). Two concealers: ``"neural"`` (the
default, :class:`mlcodec.codec.plc.NeuralConcealer`) and ``"repeat"`` (:class:`RepeatFade`).

Both fade the energy of long gaps the same way (:func:`fade_c0`): the first
:data:`FADE_START` frames (100 ms) keep their level, then c0 (the band-energy cepstrum's
first coefficient, specs 07 s1) drops by :data:`FADE_STEP` per frame (about 1.4 dB per
10 ms) down to :data:`C0_FLOOR`, so a gap longer than about 200 ms fades to silence
instead of droning. The count runs across ``conceal`` calls until the next ``observe``.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from mlcodec.errors import CodecError

#: Values per 10 ms feature frame (18 cepstra, pitch, pitch correlation; specs 07).
NB_FEATURES = 20
#: Feature frame of digital silence (what the extractor gives for zeros): c0 = -12.485 is
#: log10 of the band-energy floor through the DCT (specs 07 s2), pitch -0.5, correlation -0.362.
SILENCE = np.zeros(NB_FEATURES, np.float32)
SILENCE[0], SILENCE[18], SILENCE[19] = -12.485, -0.5, -0.362
#: Concealed frames (10 ms each) kept at the predicted level before the fade starts.
FADE_START = 10
#: c0 decrease per concealed frame after FADE_START (1 unit of c0 is about 2.4 dB).
FADE_STEP = 0.6
#: Level the fade stops at (c0 of near silence in our features); lower predictions are kept.
C0_FLOOR = -10.0
#: Names :func:`make_concealer` knows (the first is the decoder's default).
CONCEALERS = ("neural", "repeat")
#: Frames at the start of a gap for which the decoder's neural concealer keeps the last good
#: pitch (its prediction regresses to the mean; 2 measured best, docs/loss.md s3).
HOLD_PITCH_FRAMES = 2
#: A gap after a frame quieter than this c0 (near silence: a pause) is never concealed louder
#: than that frame: the predictor would otherwise invent a speech onset (docs/loss.md s2).
QUIET_C0 = -7.0


@runtime_checkable
class Concealer(Protocol):
    def observe(self, features: np.ndarray) -> None: ...   # (n, NB_FEATURES) decoded features of good 10 ms frames, in order
    def conceal(self, n: int) -> np.ndarray: ...            # (n, NB_FEATURES) features for n missing 10 ms frames
    def reset(self) -> None: ...


def fade_c0(feats: np.ndarray, first: int) -> np.ndarray:
    """Apply the gap fade to concealed frames numbered ``first, first+1, ...`` of one gap
    (on a float32 copy, which is returned)."""
    out = np.array(feats, dtype=np.float32)
    k = first + np.arange(out.shape[0])
    att = np.maximum(k - FADE_START + 1, 0).astype(np.float32) * np.float32(FADE_STEP)
    c0 = out[:, 0]
    out[:, 0] = np.maximum(c0 - att, np.minimum(c0, np.float32(C0_FLOOR)))
    return out


def as_features(features) -> np.ndarray:
    """``features`` as a contiguous float32 (n, NB_FEATURES) array (one frame may be 1-D)."""
    f = np.asarray(features, dtype=np.float32)
    if f.ndim == 1 and f.shape[0] == NB_FEATURES:
        f = f[None, :]
    if f.ndim != 2 or f.shape[1] != NB_FEATURES:
        raise CodecError(f"concealer needs (n, {NB_FEATURES}) features, got shape {f.shape}")
    return np.ascontiguousarray(f)


def frame_count(n) -> int:
    n = int(n)
    if n < 0:
        raise CodecError(f"cannot conceal a negative number of frames ({n})")
    return n


class RepeatFade:
    """Baseline concealer: repeat the last good frame (envelope, pitch, voicing), with the gap
    fade. Before any good frame it conceals with silence-level features (c0 = C0_FLOOR)."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._last = np.zeros(NB_FEATURES, np.float32)
        self._last[0] = C0_FLOOR
        self._lost = 0

    def observe(self, features) -> None:
        f = as_features(features)
        if f.shape[0]:
            self._last = f[-1].copy()
            self._lost = 0

    def conceal(self, n: int) -> np.ndarray:
        n = frame_count(n)
        out = fade_c0(np.repeat(self._last[None, :], n, 0), self._lost)
        self._lost += n
        return out


def make_concealer(kind=None) -> Concealer:
    """A concealer by name (``"neural"``, the default for None: the shipped predictor holding
    the pitch for :data:`HOLD_PITCH_FRAMES` frames and quiet after :data:`QUIET_C0`; or
    ``"repeat"``); an object with the :class:`Concealer` methods is returned as it is."""
    if kind is None:
        kind = CONCEALERS[0]
    if not isinstance(kind, str):
        if not isinstance(kind, Concealer):
            raise CodecError(f"concealer {kind!r} lacks observe/conceal/reset")
        return kind
    k = kind.lower()
    if k == "neural":
        from mlcodec.codec.plc import NeuralConcealer

        return NeuralConcealer(hold_pitch=HOLD_PITCH_FRAMES, quiet_c0=QUIET_C0)
    if k in ("repeat", "repeat-fade"):
        return RepeatFade()
    raise CodecError(f"unknown concealment {kind!r} (choose {', '.join(CONCEALERS)})")


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
