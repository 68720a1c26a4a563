"""Plain NumPy twin of :mod:`mlcodec.libopus.fargan` (tests only; slow).

Written from ``dnn/fargan.c`` (specs 08 s1) on the blob's own arrays with the layer twins of
:mod:`mlcodec.nn.reference_x86` / :mod:`mlcodec.nn.reference` (blob-layout 8x4 int8 blocks,
libopus's float32 operation order), sharing no code with the numba path except the ``rcpps``
instruction. Must agree with it bit for bit on either arithmetic path (``arch``).
"""
from __future__ import annotations

import math

import numpy as np

from mlcodec.nn import reference_x86 as RX

F32 = np.float32
ROLES = ("bias", "subias", "weights_int8", "weights_float", "weights_idx", "scale", "diag")


def layer_arrays(ws, name: str) -> dict:
    """The records of layer ``name`` by role (what linear_init binds), absent roles left out."""
    out = {}
    for role in ROLES:
        key = f"{name}_{'weights_diag' if role == 'diag' else role}"
        if key in ws:
            out[role] = np.asarray(ws[key].data)
    return out


class ReferenceFargan:
    """FARGANState + the model, in NumPy."""

    SIZES = {"cond_net_fdense1": (32, 64), "cond_net_fconv1": (192, 128), "cond_net_fdense2": (128, 320),
             "sig_net_cond_gain_dense": (80, 1), "sig_net_fwc0_conv": (328, 192),
             "sig_net_fwc0_glu_gate": (192, 192), "sig_net_gain_dense_out": (192, 4),
             "sig_net_gru1_input": (272, 480), "sig_net_gru1_recurrent": (160, 480),
             "sig_net_gru2_input": (240, 384), "sig_net_gru2_recurrent": (128, 384),
             "sig_net_gru3_input": (208, 384), "sig_net_gru3_recurrent": (128, 384),
             "sig_net_gru1_glu_gate": (160, 160), "sig_net_gru2_glu_gate": (128, 128),
             "sig_net_gru3_glu_gate": (128, 128), "sig_net_skip_glu_gate": (128, 128),
             "sig_net_skip_dense": (688, 128), "sig_net_sig_dense_out": (128, 40)}

    def __init__(self, ws, arch: str = "x86"):
        self.arch = arch
        self.a = {n: layer_arrays(ws, n) for n in self.SIZES}
        # float layers: the blob has only float weights; int8 layers: only int8 (+ scale)
        self.pembed = np.asarray(ws["cond_net_pembed_weights_float"].data, dtype=F32).reshape(224, 12)
        self.last_period = 0
        self.deemph_mem = F32(0)
        self.pitch_buf = np.zeros(256, F32)
        self.conv_mem = np.zeros(128, F32)
        self.fwc0_mem = np.zeros(164, F32)
        self.gru = [np.zeros(160, F32), np.zeros(128, F32), np.zeros(128, F32)]

    def _dense(self, n, x, act):
        i, o = self.SIZES[n]
        return RX.dense(self.a[n], i, o, np.asarray(x, F32), act, self.arch)

    def _glu(self, n, x):
        return RX.glu(self.a[n], self.SIZES[n][0], np.asarray(x, F32), self.arch)

    @staticmethod
    def period(f18) -> int:
        return int(math.floor(0.5 + 256.0 / math.pow(2.0, (1.0 / 60.0) * ((float(F32(f18)) + 1.5) * 60.0))))

    def cond(self, feat, period):
        x = np.concatenate([np.asarray(feat[:20], F32), self.pembed[max(0, min(period - 32, 223))]])
        h = self._dense("cond_net_fdense1", x, "TANH")
        tmp = np.concatenate([self.conv_mem, h])
        h2 = self._dense("cond_net_fconv1", tmp, "TANH")
        self.conv_mem = tmp[64:].copy()
        return self._dense("cond_net_fdense2", h2, "TANH")

    def subframe(self, cond, period):
        g = self._dense("sig_net_cond_gain_dense", cond, "LINEAR")[0]
        gain = F32(math.exp(float(g)))
        gain_1 = F32(F32(1) / F32(F32(1e-5) + gain))
        pos = 256 - period - 2
        pred = np.zeros(44, F32)
        for i in range(44):
            pred[i] = min(F32(1), max(F32(-1), F32(gain_1 * self.pitch_buf[max(0, pos)])))
            pos += 1
            if pos == 256:
                pos -= period
        prev = np.clip((gain_1 * self.pitch_buf[216:]).astype(F32), F32(-1), F32(1)).astype(F32)
        tmp = np.concatenate([self.fwc0_mem, cond, pred, prev]).astype(F32)
        self.fwc0_mem = tmp[164:].copy()
        h0 = self._glu("sig_net_fwc0_glu_gate", self._dense("sig_net_fwc0_conv", tmp, "TANH"))
        pg = self._dense("sig_net_gain_dense_out", h0, "SIGMOID")
        hs = []
        x = h0
        for k in range(3):
            gin = np.concatenate([x, (pg[k] * pred[2:42]).astype(F32), prev])
            n = f"sig_net_gru{k + 1}"
            self.gru[k] = RX.gru_step(self.a[n + "_input"], gin.size, self.a[n + "_recurrent"], self.gru[k], gin,
                                      self.arch)
            x = self._glu(n + "_glu_gate", self.gru[k])
            hs.append(x)
        skip = np.concatenate(hs + [h0, (pg[3] * pred[2:42]).astype(F32), prev])
        s = self._glu("sig_net_skip_glu_gate", self._dense("sig_net_skip_dense", skip, "TANH"))
        pcm = (self._dense("sig_net_sig_dense_out", s, "TANH") * gain).astype(F32)
        self.pitch_buf = np.concatenate([self.pitch_buf[40:], pcm])
        out = np.zeros(40, F32)
        mem = self.deemph_mem
        for i in range(40):
            mem = F32(pcm[i] + F32(F32(0.85) * mem))
            out[i] = mem
        self.deemph_mem = mem
        return out

    def cont(self, pcm0, feats0):
        pcm0 = np.asarray(pcm0, F32)
        period = 0
        for f in np.asarray(feats0, F32).reshape(5, -1):
            self.last_period = period
            period = self.period(f[18])
            c = self.cond(f, period)
        x0 = np.zeros(320, F32)
        x0[1:] = (pcm0[1:] - F32(0.85) * pcm0[:-1]).astype(F32)
        self.pitch_buf[96:] = x0[:160]
        for k in range(4):
            self.subframe(c[80 * k : 80 * k + 80], self.last_period)
            self.pitch_buf[216:] = x0[160 + 40 * k : 200 + 40 * k]
        self.deemph_mem = pcm0[319]

    def synthesize(self, feats):
        out = []
        for f in np.asarray(feats, F32).reshape(-1, 20):
            period = self.period(f[18])
            c = self.cond(f, period)
            for k in range(4):
                out.append(self.subframe(c[80 * k : 80 * k + 80], self.last_period))
            self.last_period = period
        return np.concatenate(out) if out else np.zeros(0, F32)
