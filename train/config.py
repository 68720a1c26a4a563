"""Architecture and training hyper-parameters of the mlcodec latent coder (RDOVAE-style).

Kept free of torch so that the exporter, the tests and the docs can read the sizes. The
runtime (``mlcodec/codec/model.py``) never imports this module: it reads every size back
from the ``codec_config`` record of the blob.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: LPCNet features used by the codec (specs 07 s1: 18 cepstrum, pitch, correlation).
NB_FEATURES = 20
#: Blob format version of the codec records (``codec_config[0]``).
CODEC_BLOB_VERSION = 1


@dataclass(frozen=True)
class ArchConfig:
    """Layer sizes. Every int8 layer needs nb_out % 8 == 0 and nb_in % 4 == 0 (specs 06 s3.2)."""

    frames_per_latent: int = 2   # 2 x 10 ms feature frames -> one latent every 20 ms (specs 05 s3)
    latent_dim: int = 32         # quantized latent values per 20 ms
    nb_levels: int = 16          # quantizer levels (0 = finest, 15 = coarsest), as DRED
    enc_dense: int = 64          # enc_dense1 (float) width
    enc_gru: int = 64            # enc_gru1 / enc_gru2 state size
    enc_conv: int = 64           # enc_conv1 (causal, kernel 2) output channels
    dec_dense: int = 96          # dec_dense1 (float) width
    dec_gru: int = 96            # dec_gru1 / dec_gru2 state size

    @property
    def enc_in(self) -> int:
        return NB_FEATURES * self.frames_per_latent

    @property
    def enc_buf(self) -> int:
        """Size of the concatenated encoder activations read by enc_zdense."""
        return self.enc_dense + 2 * self.enc_gru + self.enc_conv

    @property
    def dec_in(self) -> int:
        """Decoder input: dequantized latent plus the quantizer-level feature (specs 05 s4)."""
        return self.latent_dim + 1

    @property
    def dec_buf(self) -> int:
        return self.dec_dense + 2 * self.dec_gru


@dataclass(frozen=True)
class TrainConfig:
    """Rate-distortion training settings (see docs/training.md)."""

    seed: int = 1
    seq_latents: int = 100        # training sequence length in latents (2 s)
    batch: int = 32
    steps: int = 6000
    lr: float = 3e-3
    lr_final: float = 1e-4        # cosine decay to this
    lambda_lo: float = 0.0003     # rate weight of level 0 (most bits), per bit per latent
    lambda_hi: float = 0.35       # rate weight of the coarsest level (x1.60 per level)
    pitch_weight: float = 200.0   # pitch error weight (x (0.05 + voicing)), raw feature units
    corr_weight: float = 8.0
    c0_weight: float = 2.0
    ceps_weight: float = 1.0
    threads: int = 1             # 1 beats 2 by 10x on a shared 2-core machine (measured)
    log_every: int = 50
    ckpt_every: int = 250
    time_budget_s: float = 0.0    # 0 = no wall limit (stop after ``steps``)
    extra: dict = field(default_factory=dict)

    def level_lambdas(self, nb_levels: int) -> list[float]:
        r = self.lambda_hi / self.lambda_lo
        return [self.lambda_lo * r ** (l / (nb_levels - 1)) for l in range(nb_levels)]


def to_dict(cfg) -> dict:
    return asdict(cfg)
