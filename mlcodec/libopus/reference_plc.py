"""NumPy twin of :mod:`mlcodec.libopus.plc`: ``compute_plc_pred`` one frame at a time on the
blob's arrays by libopus's names, with :mod:`mlcodec.nn.reference`. Tests only."""
from __future__ import annotations

import numpy as np

from mlcodec.libopus.reference_pitchdnn import layer_arrays
from mlcodec.nn import reference as R

F = np.float32


class ReferencePLC:
    def __init__(self, ws):
        self.L = {n: layer_arrays(ws, n) for n in ("plc_dense_in", "plc_dense_out", "plc_gru1_input",
                                                    "plc_gru1_recurrent", "plc_gru2_input", "plc_gru2_recurrent")}
        self.s1 = np.zeros(192, F)
        self.s2 = np.zeros(192, F)

    def step(self, x) -> np.ndarray:
        L = self.L
        h = R.dense(L["plc_dense_in"], 57, 128, x, "TANH")
        self.s1 = R.gru_step(L["plc_gru1_input"], 128, L["plc_gru1_recurrent"], self.s1, h)
        self.s2 = R.gru_step(L["plc_gru2_input"], 192, L["plc_gru2_recurrent"], self.s2, self.s1)
        return R.dense(L["plc_dense_out"], 192, 20, self.s2, "LINEAR")
