"""PyTorch model of the mlcodec latent coder: a small causal RDOVAE (specs 08 s2, 05 s5).

Encoder (every 20 ms, input 2 feature frames [older, newer] = 40 values):
    d1 = tanh(enc_dense1(x))                 40 -> 64   (float at run time)
    g1 = enc_gru1(d1)                        64 -> 64
    c1 = tanh(enc_conv1([d1, g1] , k=2))    2x128 -> 64 (causal)
    g2 = enc_gru2([d1, g1, c1])             192 -> 64
    z  = enc_zdense([d1, g1, c1, g2])       256 -> 32   (linear)
Quantizer (per level l and dimension i, DRED style): y = z * scale[l,i]; soft dead zone
y - dz*tanh(y/(dz+0.1)); round. Rate proxy: a Laplace of decay r[l,i] per unit step,
integrated over the rounding cell with additive uniform noise (training relaxation).
Decoder (every 20 ms, input latent_dim dequantized values + level feature l/8 - 1):
    e1 = tanh(dec_dense1(zhat))              33 -> 96   (float at run time)
    h1 = dec_gru1(e1)                        96 -> 96
    h2 = dec_gru2([e1, h1])                 192 -> 96
    f  = dec_output([e1, h1, h2])           288 -> 40   (2 frames [older, newer])
Features are normalised with dataset mean/std inside the model; the exporter folds the
normalisation into enc_dense1 and dec_output.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from train.config import NB_FEATURES, ArchConfig


class RDOVAE(nn.Module):
    def __init__(self, arch: ArchConfig):
        super().__init__()
        self.arch = a = arch
        self.register_buffer("feat_mean", torch.zeros(NB_FEATURES))
        self.register_buffer("feat_std", torch.ones(NB_FEATURES))
        self.enc_dense1 = nn.Linear(a.enc_in, a.enc_dense)
        self.enc_gru1 = nn.GRU(a.enc_dense, a.enc_gru, batch_first=True)
        self.enc_conv1 = nn.Conv1d(a.enc_dense + a.enc_gru, a.enc_conv, kernel_size=2)
        self.enc_gru2 = nn.GRU(a.enc_dense + a.enc_gru + a.enc_conv, a.enc_gru, batch_first=True)
        self.enc_zdense = nn.Linear(a.enc_buf, a.latent_dim)
        self.dec_dense1 = nn.Linear(a.dec_in, a.dec_dense)
        self.dec_gru1 = nn.GRU(a.dec_dense, a.dec_gru, batch_first=True)
        self.dec_gru2 = nn.GRU(a.dec_dense + a.dec_gru, a.dec_gru, batch_first=True)
        self.dec_output = nn.Linear(a.dec_buf, a.enc_in)
        # Per-level quantizer parameters: [log-scale raw, dead-zone raw, decay logit].
        L, D = a.nb_levels, a.latent_dim
        lv = torch.linspace(0.0, 1.0, L)[:, None].expand(L, D)
        self.q_scale_raw = nn.Parameter((2.0 - 2.5 * lv).clone())      # softplus -> ~2.1 .. ~0.2
        self.q_dz_raw = nn.Parameter(torch.full((L, D), -2.0))           # 0.5*softplus -> ~0.06
        self.q_decay_raw = nn.Parameter(torch.full((L, D), 0.0))         # sigmoid -> 0.5

    # --- quantizer parameters -----------------------------------------------------------
    def q_scale(self) -> torch.Tensor:
        return F.softplus(self.q_scale_raw) + 1e-3

    def q_deadzone(self) -> torch.Tensor:
        return 0.5 * F.softplus(self.q_dz_raw)

    def q_decay(self) -> torch.Tensor:
        return torch.sigmoid(self.q_decay_raw).clamp(1e-3, 0.999)

    # --- encoder / decoder over whole sequences (batch, time, ...) ------------------------
    def encode(self, feats: torch.Tensor) -> torch.Tensor:
        """feats (B, T*K, 20) raw -> z (B, T, latent_dim)."""
        a = self.arch
        B, n, _ = feats.shape
        T = n // a.frames_per_latent
        x = (feats[:, : T * a.frames_per_latent] - self.feat_mean) / self.feat_std
        x = x.reshape(B, T, a.enc_in)
        d1 = torch.tanh(self.enc_dense1(x))
        g1, _ = self.enc_gru1(d1)
        buf = torch.cat([d1, g1], -1)
        # causal kernel-2 conv: left-pad one zero frame (conv memory starts at zero).
        c_in = F.pad(buf.transpose(1, 2), (1, 0))
        c1 = torch.tanh(self.enc_conv1(c_in)).transpose(1, 2)
        buf = torch.cat([buf, c1], -1)
        g2, _ = self.enc_gru2(buf)
        buf = torch.cat([buf, g2], -1)
        return self.enc_zdense(buf)

    def decode(self, zhat: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """zhat (B, T, D) dequantized, level (B,) ints -> raw features (B, T*K, 20)."""
        a = self.arch
        B, T, _ = zhat.shape
        lf = (level.to(zhat.dtype) * 0.125 - 1.0)[:, None, None].expand(B, T, 1)
        e1 = torch.tanh(self.dec_dense1(torch.cat([zhat, lf], -1)))
        h1, _ = self.dec_gru1(e1)
        buf = torch.cat([e1, h1], -1)
        h2, _ = self.dec_gru2(buf)
        buf = torch.cat([buf, h2], -1)
        out = self.dec_output(buf).reshape(B, T * a.frames_per_latent, NB_FEATURES)
        return out * self.feat_std + self.feat_mean

    # --- quantization ------------------------------------------------------------------
    def quantize_train(self, z: torch.Tensor, level: torch.Tensor):
        """Relaxed quantization. Returns (zhat for the decoder, rate in bits per latent (B,T))."""
        scale = self.q_scale()[level][:, None, :]
        dz = self.q_deadzone()[level][:, None, :]
        r = self.q_decay()[level][:, None, :]
        y = z * scale
        y = y - dz * torch.tanh(y / (dz + 0.1))
        # straight-through hard rounding for the decoder (what inference sees)
        yq = y + (torch.round(y) - y).detach()
        # additive uniform noise for the rate proxy
        yn = y + (torch.rand_like(y) - 0.5)
        rate = laplace_bits(yn, r).sum(-1)
        return yq / scale, rate

    def quantize_hard(self, z: torch.Tensor, level: torch.Tensor):
        scale = self.q_scale()[level][:, None, :]
        dz = self.q_deadzone()[level][:, None, :]
        y = z * scale
        y = y - dz * torch.tanh(y / (dz + 0.1))
        q = torch.round(y)
        return q, q / scale


def laplace_bits(v: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """-log2 of the mass of a unit-step Laplace (decay r per step) over [v-1/2, v+1/2]."""
    alpha = -torch.log(r)
    av = v.abs()
    # |v| >= 1/2: 0.5*exp(-alpha(|v|-1/2))*(1-r)
    log_out = math.log(0.5) - alpha * (av - 0.5) + torch.log1p(-r)
    # |v| < 1/2: 1 - 0.5 exp(-alpha(|v|+1/2)) - 0.5 exp(-alpha(1/2-|v|))
    inner = 1.0 - 0.5 * torch.exp(-alpha * (av + 0.5)) - 0.5 * torch.exp(-alpha * (0.5 - av).clamp(min=0))
    log_in = torch.log(inner.clamp(min=1e-9))
    logp = torch.where(av >= 0.5, log_out, log_in)
    return -logp / math.log(2.0)


def feature_distortion(ref: torch.Tensor, out: torch.Tensor, tc) -> torch.Tensor:
    """Weighted squared error per frame (B, n): cepstrum, c0, voicing-weighted pitch, corr.

    Pitch (feature 18) matters most perceptually but only where the frame is voiced, so its
    error is weighted by a voicing degree: the reference correlation (feature 19, about
    -0.5..0.5) mapped 0..0.3 -> 0..1, plus a 0.05 floor.
    """
    err = (out - ref) ** 2
    voiced = (ref[..., 19] / 0.3).clamp(0.0, 1.0)
    d = tc.ceps_weight * err[..., 1:18].sum(-1) + tc.c0_weight * err[..., 0]
    d = d + tc.pitch_weight * (0.05 + voiced) * err[..., 18] + tc.corr_weight * err[..., 19]
    return d
