"""libopus's PitchDNN (``dnn/pitchdnn.c``) on our int8 core, bound by name from a DNNw blob.

Inputs per 10 ms frame: 88 instantaneous-frequency features and 224 normalised cross-correlation
features (specs 07 s5.2, computed by :mod:`mlcodec.libopus.lpcnet_features`); output the
log-domain pitch ``dnn_pitch`` (period = 256 / 2^(dnn_pitch + 1.5)). The state (conv2d memories,
GRU) carries across calls, so any split of the frames gives the same result. NumPy twin:
:mod:`mlcodec.libopus.reference_pitchdnn`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from mlcodec.libopus import lpcnet_analysis as A
from mlcodec.libopus._blob import weight_set
from mlcodec.nn import kernels as K
from mlcodec.nn import layers as LY
from mlcodec.nn import models as M

NB_IF = 88
NB_XCORR = 224
Q = M.LinearStorage(quantized=True)

#: PitchDNN as ``init_pitchdnn`` (pitchdnn_data.c) binds it: libopus's layer and record names.
PITCHDNN_SPEC = M.ModelSpec("pitchdnn", (
    M.LayerSpec("dense_if_upsampler_1", "dense", NB_IF, 64, storage=Q, activation="TANH"),
    M.LayerSpec("dense_if_upsampler_2", "dense", 64, 64, storage=Q, activation="TANH"),
    M.LayerSpec("dense_downsampler", "dense", NB_XCORR + 64, 64, storage=Q, activation="TANH"),
    M.LayerSpec("dense_final_upsampler", "dense", 64, 192, storage=Q),
    M.LayerSpec("conv2d_1", "conv2d", 1, 4, ktime=3, kheight=3, activation="TANH"),
    M.LayerSpec("conv2d_2", "conv2d", 4, 1, ktime=3, kheight=3, activation="TANH"),
    M.LayerSpec("gru_1", "gru", 64, 64, storage=Q, recurrent=Q),
))

_TANH = LY.activation_id("TANH")


@njit(cache=True, fastmath=False, error_model="numpy")
def _xcorr_convs(w1, b1, mem1, w2, b2, mem2, XC, OUT, in1, tmp2, buf1, buf2):
    """Per frame: zero-pad the 224 xcorr features, conv2d_1 (1->4, into a 226-stride buffer with
    zero edges) then conv2d_2 (4->1) into ``OUT[t, :224]`` (pitchdnn.c ``compute_pitchdnn``)."""
    for t in range(XC.shape[0]):
        for i in range(224):
            in1[1 + i] = XC[t, i]
        K.conv2d_step(w1, b1, mem1, in1, tmp2[1:1 + 4 * 226], 224, 226, _TANH, buf1)
        K.conv2d_step(w2, b2, mem2, tmp2[0:4 * 226], OUT[t, 0:224], 224, 224, _TANH, buf2)


def _bias(conv) -> np.ndarray:
    return conv.bias if conv.bias is not None else np.zeros(0, dtype=np.float32)


class PitchDNN:
    """PitchDNN with its state. ``run(if_features, xcorr_features)`` -> dnn_pitch per frame."""

    def __init__(self, weights):
        L = M.bind(weight_set(weights), PITCHDNN_SPEC)
        self.if1 = L["dense_if_upsampler_1"]
        self.if2 = L["dense_if_upsampler_2"]
        self.down = L["dense_downsampler"]
        self.final = L["dense_final_upsampler"]
        self.conv1 = L["conv2d_1"]
        self.conv2 = L["conv2d_2"]
        self.gru = L["gru_1"]
        self.mem1 = np.zeros(2 * 226, dtype=np.float32)  # xcorr_mem1: 2 previous slices of 1x226
        self.mem2 = np.zeros(2 * 4 * 226, dtype=np.float32)  # xcorr_mem2: 2 slices of 4x226
        self._in1 = np.zeros(226, dtype=np.float32)
        self._tmp2 = np.zeros(8 * 226, dtype=np.float32)
        self._buf1 = np.zeros(3 * 226, dtype=np.float32)
        self._buf2 = np.zeros(3 * 4 * 226, dtype=np.float32)

    def reset(self) -> None:
        self.mem1[:] = 0
        self.mem2[:] = 0
        self.gru.reset()

    def logits(self, if_features, xcorr_features) -> np.ndarray:
        """The 192 outputs of ``dense_final_upsampler`` for each frame (T, 192)."""
        IF = np.ascontiguousarray(if_features, dtype=np.float32).reshape(-1, NB_IF)
        XC = np.ascontiguousarray(xcorr_features, dtype=np.float32).reshape(-1, NB_XCORR)
        T = IF.shape[0]
        if XC.shape[0] != T:
            raise ValueError(f"{T} IF frames but {XC.shape[0]} xcorr frames")
        if T == 0:
            return np.zeros((0, 192), dtype=np.float32)
        down_in = np.zeros((T, NB_XCORR + 64), dtype=np.float32)
        h = LY.compute_dense(self.if1, IF, "TANH")  # stateless layers: all frames in one call
        down_in[:, NB_XCORR:] = LY.compute_dense(self.if2, h, "TANH")
        c1, c2 = self.conv1, self.conv2
        _xcorr_convs(c1.float_weights, _bias(c1), self.mem1, c2.float_weights, _bias(c2), self.mem2, XC,
                     down_in, self._in1, self._tmp2, self._buf1, self._buf2)
        d = LY.compute_dense(self.down, down_in, "TANH")
        g = self.gru.run(d)
        return LY.compute_dense(self.final, g, "LINEAR")

    def run(self, if_features, xcorr_features) -> np.ndarray:
        """dnn_pitch (float32, one per frame): soft argmax of the first 180 logits (specs 07 s5.2)."""
        out = self.logits(if_features, xcorr_features)
        p = np.zeros(out.shape[0], dtype=np.float32)
        A.pitch_decision(out, p)
        return p
