"""libopus's LPCNet feature extractor (``dnn/lpcnet_enc.c``) with PitchDNN, streaming.

Per 10 ms frame (160 samples at 16 kHz) the 20 features libopus's DRED, PLC and FARGAN use
(specs 07 s1): 18 cepstral coefficients, the PitchDNN pitch (``dnn_pitch``, period =
256 / 2^(f18 + 1.5)) and the pitch correlation; optionally the 16 LPC coefficients too (36, as
``lpcnet_compute_single_frame_features`` and ``dump_data`` write them). Frame t uses input samples
[160t, 160t + 160); a partial last frame waits for more input (libopus analyses whole frames
only). Bit-exact with libopus's portable C path (docs/libopus.md); split input at any sample
gives the same features.
"""
from __future__ import annotations

import numpy as np

from mlcodec.errors import AudioError
from mlcodec.libopus import lpcnet_analysis as A
from mlcodec.libopus import lpcnet_tables as T
from mlcodec.libopus._blob import weight_set
from mlcodec.libopus.pitchdnn import PitchDNN

FRAME_SIZE = T.FRAME_SIZE
NB_FEATURES = T.NB_FEATURES
NB_TOTAL_FEATURES = T.NB_TOTAL_FEATURES
SAMPLE_RATE = 16000
#: Frames analysed per kernel call (bounds the per-call scratch, so memory stays flat).
BLOCK_FRAMES = 256


def _load_default_weights():
    try:
        from mlcodec.libopus import store  # installed-model cache (another module)
    except ImportError:
        store = None
    if store is None or not hasattr(store, "load_blob"):
        raise ValueError("no PitchDNN weights given: pass a blob path, blob bytes or a WeightSet")
    return store.load_blob("pitchdnn")


def pcm_units(audio) -> np.ndarray:
    """Audio as float32 in int16 units (specs 07 s1): int16 as is, float in [-1, 1] times 32768."""
    a = np.asarray(audio)
    if a.ndim != 1:
        raise AudioError(f"expected mono audio (1-D array), got shape {a.shape}")
    if a.dtype == np.int16:
        return a.astype(np.float32)
    if not np.issubdtype(a.dtype, np.floating):
        raise AudioError(f"unsupported sample type {a.dtype} (int16 or float in [-1, 1])")
    return (a.astype(np.float32) * np.float32(32768.0)).astype(np.float32)


class LpcnetFeatureExtractor:
    """Streaming ``lpcnet_compute_single_frame_features``: ``process(chunk)`` returns the frames
    completed by ``chunk`` (n, 20) -- or (n, 36) with ``lpc=True``."""

    def __init__(self, weights=None, *, lpc: bool = False):
        self.pitchdnn = PitchDNN(weight_set(weights if weights is not None else _load_default_weights()))
        self.width = NB_TOTAL_FEATURES if lpc else NB_FEATURES
        self.state = np.zeros(A.STATE_SIZE, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def reset(self) -> None:
        self.state[:] = 0
        self.pitchdnn.reset()
        self._pending = np.zeros(0, dtype=np.float32)

    def process(self, audio) -> np.ndarray:
        x = pcm_units(audio)
        if self._pending.size:
            x = np.concatenate([self._pending, x])
        n = x.shape[0] // FRAME_SIZE
        self._pending = x[n * FRAME_SIZE:].copy()
        out = np.zeros((n, self.width), dtype=np.float32)
        for b in range(0, n, BLOCK_FRAMES):
            e = min(n, b + BLOCK_FRAMES)
            out[b:e] = self._frames(x[b * FRAME_SIZE:e * FRAME_SIZE])[:, :self.width]
        return out

    def _frames(self, pcm: np.ndarray) -> np.ndarray:
        t = pcm.shape[0] // FRAME_SIZE
        feats = np.zeros((t, NB_TOTAL_FEATURES), dtype=np.float32)
        iff = np.zeros((t, T.PITCH_IF_FEATURES), dtype=np.float32)
        xcf = np.zeros((t, T.NB_XCORR_FEATURES), dtype=np.float32)
        lpw = np.zeros((t, T.PITCH_MAX_PERIOD + FRAME_SIZE), dtype=np.float32)
        A.analyze(np.ascontiguousarray(pcm, dtype=np.float32), self.state, feats, iff, xcf, lpw)
        dnn_pitch = self.pitchdnn.run(iff, xcf)
        A.frame_correlation(lpw, dnn_pitch, feats)
        return feats


def compute_features(audio16k, weights=None, *, lpc: bool = False) -> np.ndarray:
    """Features of a whole 16 kHz mono signal, (frames, 20) float32 (36 with ``lpc=True``).

    ``audio16k``: int16 samples, or float in [-1, 1]. ``weights``: PitchDNN's DNNw blob (path,
    bytes or WeightSet; libopus's ``pitchdnn_arrays.bin`` or the combined blob). Trailing samples
    short of a frame are not analysed, as in libopus.
    """
    return LpcnetFeatureExtractor(weights, lpc=lpc).process(audio16k)
