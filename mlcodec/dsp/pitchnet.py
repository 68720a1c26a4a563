"""Our pitch network ("pitchnet"): libopus's pitch definition from our own small model and weights.

Inputs per 10 ms frame are PitchDNN's (specs 07 s5.2): 88 instantaneous-frequency and 224
normalised cross-correlation features, computed by our port of libopus's analysis
(:func:`mlcodec.libopus.lpcnet_analysis.analyze`). The network has PitchDNN's shape, smaller:
IF 88 -> dense ``nb_if`` tanh; xcorr (zero-padded) -> conv2d 1->4 3x3 tanh -> conv2d 4->1 3x3 tanh
(3-frame causal context); concat -> dense ``nb_down`` tanh -> GRU ``nb_gru`` -> dense 192 (logits,
the first 180 used: 1/60-octave bins from period 256). Decision and correlation feature are
libopus's (specs 07 s5.2 "Decision", s5.3). Dense and GRU layers run int8 on our core, the
conv2d pair in float as libopus does. Weights: ``mlcodec/models/pitch_v1.bin``, trained by
``train/pitch`` (docs/features.md). NumPy twin: :mod:`mlcodec.dsp.pitchnet_ref`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

import mlcodec.libopus.lpcnet_analysis as A  # DSP layer (rank 3), as is lpcnet_tables
import mlcodec.libopus.lpcnet_tables as TB
from mlcodec.nn import kernels as K
from mlcodec.nn import layers as LY
from mlcodec.nn import models as M
from mlcodec.nn.weights import read_weights

NB_IF = 88
NB_XCORR = 224
NB_OUT = 192       #: logits written (multiple of 8 for int8 blocks); the first 180 are bins
CONV_CH = 4
XS = NB_XCORR + 2  #: zero-padded xcorr slice
CONFIG = "pitchnet_config"  #: int32 [version, nb_if, nb_down, nb_gru]
VERSION = 1
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "models" / "pitch_v1.bin"
_TANH = LY.activation_id("TANH")


def model_spec(nb_if: int, nb_down: int, nb_gru: int) -> M.ModelSpec:
    """Layers bound by name (dense/GRU int8 with libopus's rules, conv2d float)."""
    Q = M.LinearStorage(quantized=True)
    return M.ModelSpec("mlcodec_pitchnet", (
        M.LayerSpec("pn_if", "dense", NB_IF, nb_if, storage=Q, activation="TANH"),
        M.LayerSpec("pn_conv1", "conv2d", 1, CONV_CH, ktime=3, kheight=3, activation="TANH"),
        M.LayerSpec("pn_conv2", "conv2d", CONV_CH, 1, ktime=3, kheight=3, activation="TANH"),
        M.LayerSpec("pn_down", "dense", NB_XCORR + nb_if, nb_down, storage=Q, activation="TANH"),
        M.LayerSpec("pn_gru", "gru", nb_down, nb_gru, storage=Q, recurrent=Q),
        M.LayerSpec("pn_out", "dense", nb_gru, NB_OUT, storage=Q),
    ))


def config_of(ws) -> tuple[int, int, int]:
    if CONFIG not in ws:
        raise LY.binding_error([f"record {CONFIG} missing (not a pitchnet blob)"], getattr(ws, "file", None))
    cfg = [int(v) for v in ws.array(CONFIG)]
    if len(cfg) != 4 or cfg[0] != VERSION:
        raise LY.binding_error([f"{CONFIG} = {cfg}: expected version {VERSION} and 3 sizes"],
                               getattr(ws, "file", None))
    return cfg[1], cfg[2], cfg[3]


@njit(cache=True, fastmath=False, error_model="numpy")
def _xcorr_convs(w1, b1, mem1, w2, b2, mem2, XC, OUT, in1, tmp2, buf1, buf2):
    """Per frame: zero-padded xcorr -> conv2d 1->C (into a 226-stride buffer with zero edges)
    -> conv2d C->1 into ``OUT[t, :224]`` (as libopus's ``compute_pitchdnn``)."""
    C = w1.shape[0]
    for t in range(XC.shape[0]):
        for i in range(NB_XCORR):
            in1[1 + i] = XC[t, i]
        K.conv2d_step(w1, b1, mem1, in1, tmp2[1:1 + C * XS], NB_XCORR, XS, _TANH, buf1)
        K.conv2d_step(w2, b2, mem2, tmp2[0:C * XS], OUT[t, 0:NB_XCORR], NB_XCORR, NB_XCORR, _TANH, buf2)


def _load(weights):
    if weights is None:
        weights = DEFAULT_WEIGHTS
    if isinstance(weights, (str, Path)):
        return read_weights(Path(weights).read_bytes(), file=str(weights))
    if isinstance(weights, (bytes, bytearray, memoryview)):
        return read_weights(bytes(weights))
    return weights


class PitchNet:
    """The network with its state: ``logits(iff, xcf)`` (T, 192), ``run`` -> dnn_pitch per frame."""

    def __init__(self, weights=None):
        ws = _load(weights)
        self.sizes = config_of(ws)
        L = M.bind(ws, model_spec(*self.sizes))
        self.dif, self.conv1, self.conv2 = L["pn_if"], L["pn_conv1"], L["pn_conv2"]
        self.down, self.gru, self.out = L["pn_down"], L["pn_gru"], L["pn_out"]
        self.mem1 = np.zeros(2 * XS, dtype=np.float32)
        self.mem2 = np.zeros(2 * CONV_CH * XS, dtype=np.float32)
        self._in1 = np.zeros(XS, dtype=np.float32)
        self._tmp2 = np.zeros((CONV_CH + 1) * XS, dtype=np.float32)
        self._buf1 = np.zeros(3 * XS, dtype=np.float32)
        self._buf2 = np.zeros(3 * CONV_CH * XS, dtype=np.float32)

    def reset(self) -> None:
        self.mem1[:] = 0
        self.mem2[:] = 0
        self.gru.reset()

    def logits(self, iff, xcf) -> np.ndarray:
        IF = np.ascontiguousarray(iff, dtype=np.float32).reshape(-1, NB_IF)
        XC = np.ascontiguousarray(xcf, dtype=np.float32).reshape(-1, NB_XCORR)
        T = IF.shape[0]
        if XC.shape[0] != T:
            raise ValueError(f"{T} IF frames but {XC.shape[0]} xcorr frames")
        nb_if = self.sizes[0]
        if T == 0:
            return np.zeros((0, NB_OUT), dtype=np.float32)
        cat = np.zeros((T, NB_XCORR + nb_if), dtype=np.float32)
        cat[:, NB_XCORR:] = LY.compute_dense(self.dif, IF, "TANH")
        c1, c2 = self.conv1, self.conv2
        _xcorr_convs(c1.float_weights, c1.bias, self.mem1, c2.float_weights, c2.bias, self.mem2, XC, cat,
                     self._in1, self._tmp2, self._buf1, self._buf2)
        g = self.gru.run(LY.compute_dense(self.down, cat, "TANH"))
        return LY.compute_dense(self.out, g, "LINEAR")

    def run(self, iff, xcf) -> np.ndarray:
        """dnn_pitch (float32 per frame): libopus's decision on the first 180 logits (specs 07 s5.2)."""
        out = self.logits(iff, xcf)
        p = np.zeros(out.shape[0], dtype=np.float32)
        A.pitch_decision(out, p)
        return p


class PitchNetTracker:
    """Streaming pitch + correlation features (specs 07 s5) of whole 160-sample frames.

    ``process(pcm)`` takes int16-unit samples, a multiple of 160, and returns (frames, 2) float32:
    the log-domain pitch (feature 18) and the correlation (feature 19) of each frame.
    """

    def __init__(self, weights=None):
        self.net = PitchNet(weights)
        self.state = np.zeros(A.STATE_SIZE, dtype=np.float32)

    def reset(self) -> None:
        self.state[:] = 0
        self.net.reset()

    def process(self, pcm) -> np.ndarray:
        x = np.ascontiguousarray(pcm, dtype=np.float32).reshape(-1)
        t = x.shape[0] // 160
        if t * 160 != x.shape[0]:
            raise ValueError(f"{x.shape[0]} samples is not a whole number of 160-sample frames")
        feats = np.zeros((t, TB.NB_TOTAL_FEATURES), dtype=np.float32)
        iff = np.zeros((t, TB.PITCH_IF_FEATURES), dtype=np.float32)
        xcf = np.zeros((t, TB.NB_XCORR_FEATURES), dtype=np.float32)
        lpw = np.zeros((t, TB.PITCH_MAX_PERIOD + 160), dtype=np.float32)
        if t:
            A.analyze(x, self.state, feats, iff, xcf, lpw)
            A.frame_correlation(lpw, self.net.run(iff, xcf), feats)
        return np.ascontiguousarray(feats[:, 18:20])
