"""libopus's deep-PLC feature predictor (``dnn/lpcnet_plc.c`` ``compute_plc_pred``, ``plc_data.c``).

Each 10 ms frame takes 57 inputs -- 36 Burg cepstral values, the 20 LPCNet features and a flag
(1: features of received audio, -1: features from FEC/DRED without Burg analysis, 0 with all
zeros: a lost frame) -- and predicts the 20 features of the next frame: dense 57->128 tanh,
GRU 192, GRU 192, dense 192->20. Layers bound by libopus's names; state carried across calls
(and saved/restored as lpcnet_plc.c's ``plc_bak`` does). NumPy twin: :mod:`mlcodec.libopus.reference_plc`.
"""
from __future__ import annotations

import numpy as np

from mlcodec.libopus._blob import weight_set
from mlcodec.nn import layers as LY
from mlcodec.nn import models as M

NB_BANDS = 18
NB_FEATURES = 20
NB_INPUTS = 2 * NB_BANDS + NB_FEATURES + 1  #: 57
Q = M.LinearStorage(quantized=True)

#: The PLC model as ``init_plcmodel`` binds it (libopus names; dense layers float, GRUs int8).
PLC_SPEC = M.ModelSpec("plcmodel", (
    M.LayerSpec("plc_dense_in", "dense", NB_INPUTS, 128, activation="TANH"),
    M.LayerSpec("plc_gru1", "gru", 128, 192, storage=Q, recurrent=Q),
    M.LayerSpec("plc_gru2", "gru", 192, 192, storage=Q, recurrent=Q),
    M.LayerSpec("plc_dense_out", "dense", 192, NB_FEATURES),
))


def plc_input(features=None, burg=None, flag: float = 1.0) -> np.ndarray:
    """The 57-value input vector: ``[burg (36), features[:20], flag]`` (zeros where None).

    lpcnet_plc.c uses flag 1 with Burg cepstrum for analysed audio, -1 without Burg for FEC
    features, and an all-zero vector (``plc_input()`` with flag 0) to predict a lost frame.
    """
    v = np.zeros(NB_INPUTS, dtype=np.float32)
    if burg is not None:
        v[:2 * NB_BANDS] = np.asarray(burg, dtype=np.float32).reshape(2 * NB_BANDS)
    if features is not None:
        v[2 * NB_BANDS:2 * NB_BANDS + NB_FEATURES] = np.asarray(features, dtype=np.float32).reshape(-1)[:NB_FEATURES]
    v[-1] = flag
    return v


class PLCModel:
    """PLC predictor with its two GRU states. ``run(X)`` over rows of 57 inputs -> (T, 20)."""

    def __init__(self, weights):
        L = M.bind(weight_set(weights), PLC_SPEC)
        self.dense_in = L["plc_dense_in"]
        self.gru1 = L["plc_gru1"]
        self.gru2 = L["plc_gru2"]
        self.dense_out = L["plc_dense_out"]

    def reset(self) -> None:
        self.gru1.reset()
        self.gru2.reset()

    def get_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of (gru1_state, gru2_state) -- libopus's ``PLCNetState``."""
        return self.gru1.state[0].copy(), self.gru2.state[0].copy()

    def set_state(self, state) -> None:
        self.gru1.reset(state[0])
        self.gru2.reset(state[1])

    def run(self, X) -> np.ndarray:
        """``compute_plc_pred`` for each row of ``X`` (T, 57) in order; returns (T, 20).

        Frames are batched per layer (GRU recurrences stay sequential), each with exactly the
        arithmetic of a one-frame call.
        """
        X = np.ascontiguousarray(X, dtype=np.float32).reshape(-1, NB_INPUTS)
        if X.shape[0] == 0:
            return np.zeros((0, NB_FEATURES), dtype=np.float32)
        h = LY.compute_dense(self.dense_in, X, "TANH")
        g1 = self.gru1.run(h)
        g2 = self.gru2.run(g1)
        return LY.compute_dense(self.dense_out, g2, "LINEAR")

    def step(self, x) -> np.ndarray:
        """One frame: 57 inputs -> 20 predicted features."""
        return self.run(np.asarray(x, dtype=np.float32).reshape(1, NB_INPUTS))[0]
