"""Training recipe: seeded determinism, export folding (torch == run-time float and int8
paths) and the Laplace table fit. Needs the optional
``train`` extra (PyTorch); skipped with the reason when it is absent."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed (optional extra: pip install -e '.[train]')")

from mlcodec.codec import model as cm  # noqa: E402
from mlcodec.nn.weights import weights_to_bytes  # noqa: E402
from train.config import ArchConfig, TrainConfig  # noqa: E402
from train.data import Batcher, synthetic_features  # noqa: E402
from train.export import base_tables, build_records, encode_latents_torch, fit_laplace, folded_layers  # noqa: E402
from train.train import make_model, set_determinism, train_loop  # noqa: E402

SMALL = ArchConfig(latent_dim=16, enc_dense=16, enc_gru=16, enc_conv=16, dec_dense=16, dec_gru=16)


def _tiny_run(seed: int, steps: int = 4) -> bytes:
    tc = replace(TrainConfig(), seed=seed, steps=steps, batch=4, seq_latents=12, log_every=1000)
    set_determinism(tc.seed, 1)
    feats = synthetic_features(3000, seed=seed)
    model = make_model(SMALL, feats, tc.seed)
    train_loop(model, Batcher(feats, tc.seq_latents * SMALL.frames_per_latent, tc.batch, tc.seed), tc,
               None, log=lambda m: None)
    _, m = folded_layers(model)
    tables = base_tables(model, m)
    tables.update(fit_laplace(encode_latents_torch(model, feats, m, seq=100), tables))
    rec = build_records(model, tables, [15, 8, 0], np.linspace(100, 10, 16))
    return weights_to_bytes(rec)


def test_seeded_training_is_bit_identical():
    a = _tiny_run(7)
    b = _tiny_run(7)
    assert a == b
    assert _tiny_run(8) != a


def test_export_matches_torch_float_path():
    """The blob's float path reproduces the torch model: checks GRU gate order, conv taps,
    normalisation and quantizer-scale folding."""
    set_determinism(3, 1)
    feats = synthetic_features(2000, seed=3)
    model = make_model(ArchConfig(), feats, 3).eval()
    _, m = folded_layers(model)
    tables = base_tables(model, m)
    tables.update(fit_laplace(encode_latents_torch(model, feats, m, seq=100), tables))
    rec = build_records(model, tables, [15, 8, 0], np.linspace(100, 10, 16))
    rt = cm.load_model(weights_to_bytes(rec))
    x = feats[:200]
    with torch.no_grad():
        zt = model.encode(torch.from_numpy(x)[None]).numpy()[0] * m[None, :]
    for fixed, tol in ((False, 2e-3), (True, 0.1)):
        z = rt.new_encoder(fixed_point=fixed).process(x)
        assert np.max(np.abs(z - zt)) < tol * (1 + np.abs(zt).max()), fixed
    # decoder: same dequantized input through torch (unfolded units) and run time
    lv = 5
    t = rt.quant_tables(lv)
    zh = cm.dequantize(cm.quantize(zt, t), t)
    with torch.no_grad():
        yt = model.decode(torch.from_numpy(zh / m[None, :]).float()[None], torch.tensor([lv])).numpy()[0]
    y = rt.new_decoder(lv, fixed_point=False).process(zh)
    assert np.max(np.abs(y - yt)) < 2e-3 * (1 + np.abs(yt).max())


def test_fit_laplace_recovers_parameters():
    """Samples drawn from the coder's own model give back its p0 and decay (Q8)."""
    rng = np.random.default_rng(0)
    n, p0, r = 200000, 0.6, 0.4
    zero = rng.random(n) < p0
    mag = 1 + rng.geometric(1 - r, n) - 1
    sign = np.where(rng.random(n) < 0.5, -1, 1)
    q = np.where(zero, 0, sign * mag).astype(np.float64)
    tables = {"scale_q8": np.full((1, 1), 256), "dead_zone_q8": np.zeros((1, 1), np.int32)}
    fit = fit_laplace(q[:, None], tables)
    assert abs(int(fit["p0_q8"][0, 0]) - round(256 * p0)) <= 1
    assert abs(int(fit["r_q8"][0, 0]) - round(256 * r)) <= 2
