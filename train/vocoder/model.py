"""FARGAN-lite: a small framewise auto-regressive vocoder in the FARGAN family (specs 08 s1).

Same structure as libopus's FARGAN, scaled down so that it trains on two CPU cores:

* conditioning net, once per 10 ms frame (specs 08 s1.2): [20 features, pitch embedding 12]
  -> ``cond_net_fdense1`` (32 -> 64, tanh) -> causal ``cond_net_fconv1`` (3 frames, 64 -> 128,
  tanh) -> ``cond_net_fdense2`` (128 -> 4 x COND, tanh): one COND-dim vector per 2.5 ms subframe;
* signal net, per 40-sample subframe (specs 08 s1.3): gain ``exp(cond_gain_dense(c))``; the
  "adaptive codebook" = 44 past output samples one pitch period back, normalised by the gain;
  the last 40 output samples; a frame-wise conv (kernel 2 subframes) + GLU; 3 pitch gains;
  two GRUs with GLUs; a skip dense + GLU; ``tanh`` output x gain = 40 pre-emphasised samples.

Differences from libopus FARGAN: 2 GRUs of GRU units instead of 3 (160/128/128), COND = 64
instead of 80, 3 pitch gains; the period for subframes 0-1 is the previous frame's and for
2-3 the current frame's, because our output block t spans the centres of frames t-1 and t
(``mlcodec.dsp.synth.SYNTH_DELAY`` = 160, the reference synthesizer's alignment).

Quantisation-aware training: ``model.set_qat(True)`` makes the layers that the exporter stores
as int8 (``mlcodec.vocoder.fargan.QUANTIZED``) compute exactly what the int8 inference core
computes (per-output int8 weights, inputs ``floor(0.5 + 127 x)``; specs 06 s3.2, s5), with
straight-through gradients (``train/vocoder/qat.py``). Off (the default), the model computes
bit for bit what it computed before QAT existed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from train.vocoder import qat as Q

FRAME = 160
N_SUB = 4
SUB = FRAME // N_SUB          # 40 samples = 2.5 ms
PITCH_BUF = 256               # past pre-emphasised output kept for the pitch lookup (specs 08 s1.1)
PRED = SUB + 4                # 44 adaptive-codebook samples (2 of margin each side)
PMIN, PMAX = 32, 255          # period range used (pitch_buf holds 256 samples)
PEMBED_ROWS = 224
PREEMPH = 0.85
NB_FEATURES = 20
CTX_FRAMES = 2                # frames of conditioning context consumed by the kernel-3 conv


@dataclass(frozen=True)
class VocoderConfig:
    cond: int = 64            # conditioning vector per subframe
    pembed: int = 12
    fdense1: int = 64
    fconv1: int = 128
    fwc: int = 128            # frame-wise conv / GLU width (h0)
    gru: int = 96             # units of each of the two GRUs
    skip: int = 128

    def as_dict(self) -> dict:
        return asdict(self)

    # --- derived sizes (all int8 layers need nb_in % 4 == 0 and nb_out % 8 == 0) ---
    @property
    def fwc_in(self) -> int:
        return self.cond + PRED + SUB

    @property
    def gru1_in(self) -> int:
        return self.fwc + 2 * SUB

    @property
    def gru2_in(self) -> int:
        return self.gru + 2 * SUB

    @property
    def skip_in(self) -> int:
        return 2 * self.gru + self.fwc + 2 * SUB

    def macs(self) -> dict:
        """Multiply-accumulates per frame (cond) and per subframe (signal), dense equivalent."""
        c = self
        cond = (NB_FEATURES + c.pembed) * c.fdense1 + 3 * c.fdense1 * c.fconv1 + c.fconv1 * N_SUB * c.cond
        sig = (c.cond + 2 * c.fwc_in * c.fwc + c.fwc * c.fwc + c.fwc * 3
               + (c.gru1_in + c.gru) * 3 * c.gru + c.gru * c.gru
               + (c.gru2_in + c.gru) * 3 * c.gru + c.gru * c.gru
               + c.skip_in * c.skip + c.skip * c.skip + c.skip * SUB)
        per_s = cond * 100 + sig * 400
        return {"cond_per_frame": cond, "signal_per_subframe": sig, "mmac_per_s": per_s / 1e6,
                "mflop_per_s": 2 * per_s / 1e6}


def periods_from_features(f18: torch.Tensor) -> torch.Tensor:
    """Integer pitch period per frame, ``round(256 / 2^(f18 + 1.5))`` clamped to 32..255 (specs 07 s5.2)."""
    t = torch.round(256.0 / torch.pow(2.0, f18.double() + 1.5))
    return torch.clamp(t, PMIN, PMAX).long()


def pitch_index(period: torch.Tensor) -> torch.Tensor:
    """pitch_buf indices of the 44 adaptive-codebook samples (specs 08 s1.3 step 2), (B,) -> (B, 44)."""
    p0 = torch.clamp(PITCH_BUF - period - 2, min=0)
    idx = p0[:, None] + torch.arange(PRED)[None, :]
    return torch.where(idx >= PITCH_BUF, idx - period[:, None], idx)


class FarganLite(nn.Module):
    def __init__(self, cfg: VocoderConfig = VocoderConfig()):
        super().__init__()
        c = self.cfg = cfg
        self.pembed = nn.Embedding(PEMBED_ROWS, c.pembed)
        self.fdense1 = nn.Linear(NB_FEATURES + c.pembed, c.fdense1, bias=False)
        self.fconv1 = nn.Conv1d(c.fdense1, c.fconv1, 3, bias=False)
        self.fdense2 = nn.Linear(c.fconv1, N_SUB * c.cond, bias=False)
        self.gain = nn.Linear(c.cond, 1)
        self.fwc0 = nn.Linear(2 * c.fwc_in, c.fwc, bias=False)
        self.fwc0_glu = nn.Linear(c.fwc, c.fwc, bias=False)
        self.gain_out = nn.Linear(c.fwc, 3)
        self.gru1 = nn.GRUCell(c.gru1_in, c.gru, bias=False)
        self.gru1_glu = nn.Linear(c.gru, c.gru, bias=False)
        self.gru2 = nn.GRUCell(c.gru2_in, c.gru, bias=False)
        self.gru2_glu = nn.Linear(c.gru, c.gru, bias=False)
        self.skip = nn.Linear(c.skip_in, c.skip, bias=False)
        self.skip_glu = nn.Linear(c.skip, c.skip, bias=False)
        self.sig_out = nn.Linear(c.skip, SUB, bias=False)
        # plain attributes, not buffers: the state_dict (and checkpoints) are unchanged by QAT
        self._qat = False
        self._qat_approx = False

    #: Modules holding the weights the exporter stores as int8 (fargan.QUANTIZED), by blob name.
    INT8_LAYERS = {
        "cond_net_fconv1": "fconv1", "cond_net_fdense2": "fdense2", "sig_net_fwc0_conv": "fwc0",
        "sig_net_fwc0_glu_gate": "fwc0_glu", "sig_net_gru1_input": "gru1.weight_ih",
        "sig_net_gru1_recurrent": "gru1.weight_hh", "sig_net_gru1_glu_gate": "gru1_glu",
        "sig_net_gru2_input": "gru2.weight_ih", "sig_net_gru2_recurrent": "gru2.weight_hh",
        "sig_net_gru2_glu_gate": "gru2_glu", "sig_net_skip_dense": "skip",
        "sig_net_skip_glu_gate": "skip_glu", "sig_net_sig_dense_out": "sig_out",
    }

    def set_qat(self, on: bool, *, approx_act: bool = True) -> "FarganLite":
        """Switch quantisation-aware training on or off (default off); returns the model.

        On: the int8 layers are fake-quantised exactly as inference quantises them (STE
        gradients) and, with ``approx_act`` (default), every tanh/sigmoid is libopus's rational
        approximation (specs 06 s6) as in the inference core, so the forward reproduces int8
        inference (train/vocoder/qat.py). ``approx_act=False`` keeps torch's exact activations:
        the same quantisation noise statistically, but ~1e-4 activation differences flip input
        roundings, so its waveform drifts away from the int8 one (faster, ~1.5x float cost vs ~2x).
        """
        self._qat = bool(on)
        self._qat_approx = bool(on and approx_act)
        return self

    @property
    def qat(self) -> bool:
        return self._qat

    def _acts(self):
        return (Q.tanh_approx, Q.sigmoid_approx) if self._qat_approx else (torch.tanh, torch.sigmoid)

    def qat_matrix(self, blob_name: str) -> torch.Tensor:
        """(out, in) weight of an int8 layer, inputs in the exported order (conv: tap-major)."""
        if blob_name == "cond_net_fconv1":
            return Q.conv_matrix(self.fconv1.weight)
        mod, _, attr = self.INT8_LAYERS[blob_name].partition(".")
        return getattr(getattr(self, mod), attr or "weight")

    def _qweights(self) -> dict:
        """``quantize_weight`` of every int8 layer, by module path (once per forward)."""
        return {path: Q.quantize_weight(self.qat_matrix(name)) for name, path in self.INT8_LAYERS.items()}

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def cond_net(self, feats: torch.Tensor, periods: torch.Tensor, qw: dict | None = None) -> torch.Tensor:
        """(B, F, 20) features, (B, F) periods -> (B, (F-2)*4, COND) subframe conditioning."""
        tanh, _ = self._acts()
        if self._qat and qw is None:
            qw = self._qweights()
        pe = self.pembed(torch.clamp(periods - 32, 0, PEMBED_ROWS - 1))
        x = tanh(self.fdense1(torch.cat([feats, pe], -1)))
        if self._qat:
            k = self.fconv1.weight.shape[2]
            taps = torch.cat([x[:, j:x.shape[1] - k + 1 + j] for j in range(k)], -1)  # tap 0 first
            x = tanh(Q.qlinear(taps, qw["fconv1"]))
            x = tanh(Q.qlinear(x, qw["fdense2"]))
        else:
            x = torch.tanh(self.fconv1(x.transpose(1, 2))).transpose(1, 2)
            x = torch.tanh(self.fdense2(x))
        B, Fo, _ = x.shape
        return x.reshape(B, Fo * N_SUB, self.cfg.cond)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, F, 20) -> pre-emphasised output (B, (F-2)*160) in +-1 units, for frames 2..F-1.

        Starts from a cold state (zero pitch buffer, zero GRU states), as inference does.
        """
        c = self.cfg
        qat = self._qat
        qw = self._qweights() if qat else None
        tanh, sigmoid = self._acts()

        def lin(name: str, x: torch.Tensor) -> torch.Tensor:
            return Q.qlinear(x, qw[name]) if qat else getattr(self, name)(x)

        def gru(name: str, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
            if qat:
                return Q.fq_gru_cell(x, h, qw[f"{name}.weight_ih"], qw[f"{name}.weight_hh"], sigmoid, tanh)
            return getattr(self, name)(x, h)

        periods = periods_from_features(feats[..., 18])
        cond = self.cond_net(feats, periods, qw)
        B, S, _ = cond.shape
        gain = torch.exp(self.gain(cond))                      # (B, S, 1)
        g1 = 1.0 / (1e-5 + gain)
        # period per subframe: subframes 0-1 previous frame, 2-3 current frame
        pf = periods[:, CTX_FRAMES - 1:]                        # frames 1..F-1
        sub_period = torch.stack([pf[:, :-1], pf[:, :-1], pf[:, 1:], pf[:, 1:]], -1).reshape(B, S)
        # frame-wise conv: the cond part of [prev input, cur input] is precomputed in one matmul
        # (QAT: the same split of the exact integer accumulator, times the per-output scale)
        wc = qw["fwc0"][0] if qat else self.fwc0.weight         # (fwc, 2*fwc_in)
        w_prev, w_cur = wc[:, : c.fwc_in], wc[:, c.fwc_in:]
        cq = Q.quantize_input(cond) if qat else cond
        cpad = torch.cat([torch.zeros_like(cq[:, :1]), cq[:, :-1]], 1)
        cond_part = cpad @ w_prev[:, : c.cond].T + cq @ w_cur[:, : c.cond].T
        w_sig = torch.cat([w_prev[:, c.cond:], w_cur[:, c.cond:]], 1)  # (fwc, 2*(PRED+SUB))
        buf = torch.zeros(B, PITCH_BUF, dtype=cond.dtype)
        s1 = torch.zeros(B, c.gru, dtype=cond.dtype)
        s2 = torch.zeros(B, c.gru, dtype=cond.dtype)
        mem = torch.zeros(B, PRED + SUB, dtype=cond.dtype)
        outs = []
        for s in range(S):
            gs, g1s = gain[:, s], g1[:, s]
            idx = pitch_index(sub_period[:, s])
            pred = torch.clamp(g1s * torch.gather(buf, 1, idx), -1, 1)
            prev = torch.clamp(g1s * buf[:, PITCH_BUF - SUB:], -1, 1)
            cur = torch.cat([pred, prev], 1)
            if qat:
                pre = (cond_part[:, s] + Q.quantize_input(torch.cat([mem, cur], 1)) @ w_sig.T) * qw["fwc0"][1]
            else:
                pre = cond_part[:, s] + torch.cat([mem, cur], 1) @ w_sig.T
            h0 = tanh(pre)
            mem = cur
            h0 = h0 * sigmoid(lin("fwc0_glu", h0))
            pg = sigmoid(self.gain_out(h0))
            pp = pred[:, 2:2 + SUB]
            s1 = gru("gru1", torch.cat([h0, pg[:, 0:1] * pp, prev], 1), s1)
            h1 = s1 * sigmoid(lin("gru1_glu", s1))
            s2 = gru("gru2", torch.cat([h1, pg[:, 1:2] * pp, prev], 1), s2)
            h2 = s2 * sigmoid(lin("gru2_glu", s2))
            sk = tanh(lin("skip", torch.cat([h1, h2, h0, pg[:, 2:3] * pp, prev], 1)))
            sk = sk * sigmoid(lin("skip_glu", sk))
            out = tanh(lin("sig_out", sk)) * gs
            buf = torch.cat([buf[:, SUB:], out], 1)
            outs.append(out)
        return torch.cat(outs, 1)


def preemphasis(x: torch.Tensor) -> torch.Tensor:
    """x[n] - 0.85 x[n-1] along the last axis (x[-1] = 0)."""
    return x - PREEMPH * F.pad(x, (1, 0))[..., :-1]


def stft_mag(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    win = torch.hann_window(n_fft, dtype=x.dtype)
    X = torch.stft(x, n_fft, hop_length=n_fft // 4, window=win, return_complex=True, center=True)
    return torch.sqrt(X.real ** 2 + X.imag ** 2 + 1e-9)


MRSTFT_SIZES = (1024, 512, 256, 128)
#: Floor of the log magnitude (+-1 signal units), so silence does not dominate the loss.
LOG_EPS = 1e-4


def mrstft_loss(y: torch.Tensor, t: torch.Tensor, sizes=MRSTFT_SIZES) -> torch.Tensor:
    """Multi-resolution STFT loss: spectral convergence + log-magnitude L1, averaged over sizes."""
    loss = 0.0
    for n in sizes:
        Y, T = stft_mag(y, n), stft_mag(t, n)
        sc = torch.linalg.norm(Y - T, dim=(1, 2)) / (torch.linalg.norm(T, dim=(1, 2)) + 1e-6)
        lm = (torch.log(Y + LOG_EPS) - torch.log(T + LOG_EPS)).abs().mean(dim=(1, 2))
        loss = loss + sc.mean() + lm.mean()
    return loss / len(sizes)
