"""NumPy twin of :mod:`mlcodec.dsp.pitchnet`: the network one frame at a time on the blob's own
arrays (looked up by record name) with :mod:`mlcodec.nn.reference`. Tests only."""
from __future__ import annotations

import math

import numpy as np

from mlcodec.dsp.pitchnet import CONV_CH, NB_IF, NB_OUT, NB_XCORR, XS, config_of
from mlcodec.nn import reference as R

F = np.float32
_ROLES = ("bias", "subias", "weights_int8", "weights_float", "weights_idx", "weights_diag", "scale")


def layer_arrays(ws, name: str) -> dict:
    """Role -> array for linear layer ``name`` (the records that exist)."""
    return {("diag" if r == "weights_diag" else r): ws.array(f"{name}_{r}") for r in _ROLES
            if f"{name}_{r}" in ws}


class ReferencePitchNet:
    def __init__(self, ws):
        self.nb_if, self.nb_down, self.nb_gru = config_of(ws)
        self.L = {n: layer_arrays(ws, n) for n in ("pn_if", "pn_down", "pn_out", "pn_gru_input",
                                                   "pn_gru_recurrent")}
        self.c1 = (ws.array("pn_conv1_weight_float").reshape(CONV_CH, 1, 3, 3), ws.array("pn_conv1_bias"))
        self.c2 = (ws.array("pn_conv2_weight_float").reshape(1, CONV_CH, 3, 3), ws.array("pn_conv2_bias"))
        self.mem1 = np.zeros(2 * XS, F)
        self.mem2 = np.zeros(2 * CONV_CH * XS, F)
        self.gru = np.zeros(self.nb_gru, F)

    def logits(self, iff, xcf) -> np.ndarray:
        L = self.L
        h = R.dense(L["pn_if"], NB_IF, self.nb_if, iff, "TANH")
        x1 = np.zeros(XS, F)
        x1[1:1 + NB_XCORR] = xcf
        o1, self.mem1 = R.conv2d_step(*self.c1, self.mem1, x1, NB_XCORR, XS, "TANH")
        x2 = np.zeros(CONV_CH * XS, F)
        x2[1:] = o1[:-1]  # conv1 output written at offset 1, stride 226: zero edges per channel
        o2, self.mem2 = R.conv2d_step(*self.c2, self.mem2, x2, NB_XCORR, NB_XCORR, "TANH")
        d = R.dense(L["pn_down"], NB_XCORR + self.nb_if, self.nb_down, np.concatenate([o2, h]).astype(F), "TANH")
        self.gru = R.gru_step(L["pn_gru_input"], self.nb_down, L["pn_gru_recurrent"], self.gru, d)
        return R.dense(L["pn_out"], self.nb_gru, NB_OUT, self.gru, "LINEAR")

    def frame(self, iff, xcf) -> np.float32:
        """dnn_pitch of one frame: argmax of 180 bins, soft average of +-2 bins (specs 07 s5.2)."""
        out = self.logits(iff, xcf)
        pos, maxval = 0, F(-1)  # libopus starts the search at -1 (pitchdnn.c)
        for i in range(180):
            if out[i] > maxval:
                pos, maxval = i, out[i]
        s = c = F(0)
        for i in range(max(0, pos - 2), min(179, pos + 2) + 1):
            p = F(math.exp(float(out[i])))
            s, c = F(s + p * F(i)), F(c + p)
        return F(float(F(F(1) / F(60)) * F(s / c)) - 1.5)
