"""NumPy twin of :mod:`mlcodec.libopus.pitchdnn`: ``compute_pitchdnn`` one frame at a time on the
blob's own arrays (looked up by libopus's record names) with :mod:`mlcodec.nn.reference`. Tests only."""
from __future__ import annotations

import math

import numpy as np

from mlcodec.nn import reference as R

F = np.float32
_ROLES = ("bias", "subias", "weights_int8", "weights_float", "weights_idx", "weights_diag", "scale")


def layer_arrays(ws, name: str) -> dict:
    """Role -> array for linear layer ``name`` (records that exist)."""
    out = {}
    for role in _ROLES:
        rec = f"{name}_{role}"
        if rec in ws:
            out["diag" if role == "weights_diag" else role] = ws.array(rec)
    return out


class ReferencePitchDNN:
    def __init__(self, ws):
        self.L = {n: layer_arrays(ws, n) for n in ("dense_if_upsampler_1", "dense_if_upsampler_2",
                                                    "dense_downsampler", "dense_final_upsampler",
                                                    "gru_1_input", "gru_1_recurrent")}
        self.c1 = (ws.array("conv2d_1_weight_float").reshape(4, 1, 3, 3), ws.array("conv2d_1_bias"))
        self.c2 = (ws.array("conv2d_2_weight_float").reshape(1, 4, 3, 3), ws.array("conv2d_2_bias"))
        self.mem1 = np.zeros(2 * 226, F)
        self.mem2 = np.zeros(2 * 4 * 226, F)
        self.gru = np.zeros(64, F)

    def logits(self, if_features, xcorr_features) -> np.ndarray:
        L = self.L
        h = R.dense(L["dense_if_upsampler_1"], 88, 64, if_features, "TANH")
        h = R.dense(L["dense_if_upsampler_2"], 64, 64, h, "TANH")
        x1 = np.zeros(226, F)
        x1[1:225] = xcorr_features
        o1, self.mem1 = R.conv2d_step(*self.c1, self.mem1, x1, 224, 226, "TANH")
        x2 = np.zeros(4 * 226, F)
        x2[1:1 + 4 * 226 - 1] = o1[:4 * 226 - 1]  # conv1 output written at offset 1, stride 226
        o2, self.mem2 = R.conv2d_step(*self.c2, self.mem2, x2, 224, 224, "TANH")
        d = R.dense(L["dense_downsampler"], 288, 64, np.concatenate([o2, h]).astype(F), "TANH")
        self.gru = R.gru_step(L["gru_1_input"], 64, L["gru_1_recurrent"], self.gru, d)
        return R.dense(L["dense_final_upsampler"], 64, 192, self.gru, "LINEAR")

    def frame(self, if_features, xcorr_features) -> np.float32:
        out = self.logits(if_features, xcorr_features)
        pos = 0
        maxval = F(-1)
        for i in range(180):
            if out[i] > maxval:
                pos, maxval = i, out[i]
        s = c = F(0)
        for i in range(max(0, pos - 2), min(179, pos + 2) + 1):
            p = F(math.exp(float(out[i])))
            s, c = F(s + p * F(i)), F(c + p)
        return F(float(F(F(1) / F(60)) * F(s / c)) - 1.5)
