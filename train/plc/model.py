"""The PLC predictor in PyTorch: features of the past 10 ms frames -> the next frame's features.

Per frame t the input is ``[normalised features_t * m_t, m_t]`` with ``m_t`` = 1 for a
received frame and 0 for a lost one (its features are then zero, as libopus's deep PLC
feeds an all-zero input for lost frames, specs 08 / ``dnn/lpcnet_plc.c``); the output at
t predicts frame t+1. Layers: dense (21 -> D, tanh, float at run time), GRU D, GRU G (int8
at run time), dense (G -> 20, float). The feature normalisation is folded into the two
dense layers by the exporter, so the run-time input is ``[features * m, m]`` in raw units.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

NB_FEATURES = 20
NB_INPUTS = NB_FEATURES + 1


@dataclass(frozen=True)
class PLCArch:
    """Layer sizes (int8 GRUs need sizes that are multiples of 8 and 4, specs 06 s3.2)."""

    dense: int = 96
    gru: int = 96


class PLCNet(nn.Module):
    def __init__(self, arch: PLCArch = PLCArch()):
        super().__init__()
        self.arch = arch
        self.dense_in = nn.Linear(NB_INPUTS, arch.dense)
        self.gru1 = nn.GRU(arch.dense, arch.gru, batch_first=True)
        self.gru2 = nn.GRU(arch.gru, arch.gru, batch_first=True)
        self.dense_out = nn.Linear(arch.gru, NB_FEATURES)
        self.register_buffer("feat_mean", torch.zeros(NB_FEATURES))
        self.register_buffer("feat_std", torch.ones(NB_FEATURES))

    def set_normalisation(self, feats: np.ndarray) -> None:
        self.feat_mean.copy_(torch.tensor(feats.mean(0), dtype=torch.float32))
        self.feat_std.copy_(torch.tensor(feats.std(0) + 1e-3, dtype=torch.float32))

    def forward(self, f: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """f (B, T, 20) raw features, m (B, T) 1 = received / 0 = lost -> (B, T, 20) raw
        predictions of frames 1..T."""
        m = m.unsqueeze(-1)
        x = torch.cat([(f - self.feat_mean) / self.feat_std * m, m], -1)
        h = torch.tanh(self.dense_in(x))
        g1, _ = self.gru1(h)
        g2, _ = self.gru2(g1)
        return self.dense_out(g2) * self.feat_std + self.feat_mean


def plc_distortion(ref: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Weighted squared error per frame (B, T), emphasis on cepstrum and pitch: c0 x2,
    c1..c17 x1, pitch x100 weighted by voicing (reference correlation 0..0.3 -> 0..1, 0.05
    floor), correlation x8 (the codec's distortion, train/rdovae.py, with half its pitch
    weight: a predicted pitch is less certain than a coded one)."""
    err = (out - ref) ** 2
    voiced = (ref[..., 19] / 0.3).clamp(0.0, 1.0)
    d = err[..., 1:18].sum(-1) + 2.0 * err[..., 0]
    return d + 100.0 * (0.05 + voiced) * err[..., 18] + 8.0 * err[..., 19]
