"""Packet-loss concealment in the feature domain: predict the features of missing 10 ms frames.

Both concealers implement the ``Concealer`` protocol of :mod:`mlcodec.codec.conceal`:
``observe(features)`` with the decoded features of good frames in order, ``conceal(n)`` ->
(n, 20) features for n missing frames, ``reset()``.

* :class:`NeuralConcealer`: a small causal GRU predictor (``mlcodec/models/plc_v1.bin``,
  trained by ``train/plc``, not libopus's weights) in the manner of libopus's deep PLC
  (specs 08, ``dnn/lpcnet_plc.c``): every frame it reads ``[features, 1]`` (received) or
  ``[0 ... 0, 0]`` (lost) and predicts the next frame's features. Layers: dense 21 -> D tanh
  (float), GRU D and GRU G (int8 on the inference core, specs 06 s5), dense G -> 20 (float),
  bound by name from the blob. NumPy twin: :mod:`mlcodec.codec.reference_plc`.
* :class:`~mlcodec.codec.conceal.RepeatFade` (re-exported here): repeats the last good
  frame (the baseline).

Both apply the same gap fade (:func:`mlcodec.codec.conceal.fade_c0`).
"""
from __future__ import annotations

from importlib import resources

import numpy as np

from mlcodec.codec.conceal import (C0_FLOOR, FADE_START, FADE_STEP, NB_FEATURES, RepeatFade,  # noqa: F401
                                   as_features, fade_c0, frame_count)
from mlcodec.errors import CodecError, WeightsError
from mlcodec.nn import layers as LY
from mlcodec.nn import models as M
from mlcodec.nn.weights import WeightSet, read_weights, weights_checksum

NB_INPUTS = NB_FEATURES + 1
#: ``plc_config[0]`` this code understands; the record is [version, nb_inputs, dense, gru].
PLC_BLOB_VERSION = 1
DEFAULT_PLC_MODEL = "plc_v1.bin"


# --- the neural predictor ------------------------------------------------------------------


def plc_spec(dense: int, gru: int) -> M.ModelSpec:
    """The layers :class:`PLCModel` binds (dense layers float, GRUs int8 as libopus's PLC)."""
    q = M.LinearStorage(quantized=True)
    return M.ModelSpec("mlcodec_plc", (
        M.LayerSpec("plc_dense_in", "dense", NB_INPUTS, dense, activation="TANH"),
        M.LayerSpec("plc_gru1", "gru", dense, gru, storage=q, recurrent=q),
        M.LayerSpec("plc_gru2", "gru", gru, gru, storage=q, recurrent=q),
        M.LayerSpec("plc_dense_out", "dense", gru, NB_FEATURES),
    ))


def plc_config(ws: WeightSet) -> tuple[int, int]:
    """(dense, gru) sizes from the blob's ``plc_config`` record; WeightsError when absent/bad."""
    rec = ws.get("plc_config")
    if rec is None:
        raise WeightsError("not a PLC model: no record 'plc_config'", file=ws.file)
    if rec.type != 1 or rec.data.size != 4:
        raise WeightsError("record 'plc_config' must be 4 int32 values", file=ws.file, offset=rec.offset)
    v = [int(x) for x in rec.data]
    if v[0] != PLC_BLOB_VERSION:
        raise WeightsError(f"PLC blob version {v[0]} is not supported (expected {PLC_BLOB_VERSION})", file=ws.file)
    if v[1] != NB_INPUTS or not (0 < v[2] <= 1024 and 0 < v[3] <= 1024):
        raise WeightsError(f"plc_config has out-of-range sizes {v[1:]}", file=ws.file)
    return v[2], v[3]


class PLCModel:
    """The bound predictor of one concealer: layers and GRU states."""

    def __init__(self, ws: WeightSet, name: str = "plc"):
        self.ws, self.name = ws, name
        self.checksum = weights_checksum(ws)
        self.dense, self.gru = plc_config(ws)
        L = M.bind(ws, plc_spec(self.dense, self.gru))
        self._dense_in = L["plc_dense_in"]
        self._gru1 = L["plc_gru1"]
        self._gru2 = L["plc_gru2"]
        self._dense_out = L["plc_dense_out"]
        self._s = LY.Scratch()

    def reset(self) -> None:
        self._gru1.reset()
        self._gru2.reset()

    def run(self, X) -> np.ndarray:
        """Inputs (T, 21) in order -> predictions (T, 20) of the frame after each; GRU
        recurrences stay sequential, so one block call equals T one-row calls."""
        X = np.ascontiguousarray(X, dtype=np.float32).reshape(-1, NB_INPUTS)
        if X.shape[0] == 0:
            return np.zeros((0, NB_FEATURES), np.float32)
        h = LY.compute_dense(self._dense_in, X, "TANH", scratch=self._s)
        g1 = self._gru1.run(h)
        g2 = self._gru2.run(g1)
        return np.asarray(LY.compute_dense(self._dense_out, g2, "LINEAR", scratch=self._s), np.float32)


def load_plc_weights(path=None) -> WeightSet:
    """The PLC blob (default: the shipped ``plc_v1.bin``) as a WeightSet; bytes or a path."""
    if path is None:
        try:
            data = resources.files("mlcodec.models").joinpath(DEFAULT_PLC_MODEL).read_bytes()
        except (FileNotFoundError, OSError, ModuleNotFoundError) as exc:
            raise CodecError(f"shipped PLC model {DEFAULT_PLC_MODEL} is missing: {exc}") from None
        return read_weights(data, file=f"mlcodec/models/{DEFAULT_PLC_MODEL}")
    if isinstance(path, (bytes, bytearray, memoryview)):
        return read_weights(bytes(path), file="<bytes>")
    return read_weights(path)


class NeuralConcealer:
    """Feature-domain PLC on the int8 core: ``observe`` good frames, ``conceal(n)`` gaps.

    ``weights``: None (the shipped ``plc_v1.bin``), a path, blob bytes or a WeightSet.
    The first concealed frame of a gap is the prediction made from the last good frame; the
    next ones come from feeding lost-frame inputs (all zeros) to the GRUs, as libopus's PLC.
    ``hold_pitch``: the first that many frames of a gap keep the last good frame's pitch
    (the predictor's pitch regresses to the mean). ``quiet_c0``: after a good frame whose c0
    is below it, the gap's c0 stays at most that frame's (no invented onset in a pause).
    Both off by default; the decoder's concealer sets them (docs/loss.md s3 measures them).
    """

    def __init__(self, weights=None, *, hold_pitch: int = 0, quiet_c0: float | None = None):
        ws = weights if isinstance(weights, WeightSet) else load_plc_weights(weights)
        self.model = PLCModel(ws)
        self.hold_pitch = max(int(hold_pitch), 0)
        self.quiet_c0 = None if quiet_c0 is None else float(quiet_c0)
        self.reset()

    def reset(self) -> None:
        self.model.reset()
        self._pred: np.ndarray | None = None
        self._last: np.ndarray | None = None
        self._lost = 0

    def observe(self, features) -> None:
        f = as_features(features)
        if not f.shape[0]:
            return
        X = np.concatenate([f, np.ones((f.shape[0], 1), np.float32)], 1)
        self._pred = self.model.run(X)[-1].copy()
        self._last = f[-1].copy()
        self._lost = 0

    def conceal(self, n: int) -> np.ndarray:
        n = frame_count(n)
        if n == 0:
            return np.zeros((0, NB_FEATURES), np.float32)
        if self._pred is None:  # nothing observed yet: let the network run from its zero state
            self._pred = self.model.run(np.zeros((1, NB_INPUTS), np.float32))[0]
        preds = self.model.run(np.zeros((n, NB_INPUTS), np.float32))
        out = np.concatenate([self._pred[None, :], preds[:-1]], 0)
        self._pred = preds[-1].copy()
        out = fade_c0(out, self._lost)
        if self.quiet_c0 is not None and self._last is not None and self._last[0] < self.quiet_c0:
            out[:, 0] = np.minimum(out[:, 0], self._last[0])  # no onset invented after silence
        held = min(max(self.hold_pitch - self._lost, 0), n)
        if held and self._last is not None:
            out[:held, 18] = self._last[18]
        self._lost += n
        return out


__all__ = ["NeuralConcealer", "RepeatFade", "PLCModel", "fade_c0", "plc_spec", "load_plc_weights",
           "FADE_START", "FADE_STEP", "C0_FLOOR"]
