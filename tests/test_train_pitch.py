"""Pitch network recipe (train/pitch): seeded runs give identical blobs, and the exported blob on
the int8 core reproduces the torch model (layer order, GRU gates, conv padding). Needs the
optional ``train`` extra (PyTorch)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed (optional extra: pip install -e '.[train]')")

from mlcodec.dsp.pitchnet import PitchNet  # noqa: E402
from mlcodec.nn.weights import weights_to_bytes  # noqa: E402
from train.pitch.train import records, train_on  # noqa: E402

SIZES = (16, 16, 16)


def examples(seed=0, files=6, frames=60):
    """Synthetic (iff, xcf, logits): xcorr peaks at a wandering lag, teacher logits peaked there."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(files):
        b = np.clip(90 + np.cumsum(rng.normal(0, 2, frames)), 0, 179).astype(int)
        iff = rng.uniform(-1, 1, (frames, 88)).astype(np.float16)
        xcf = rng.normal(0, 0.1, (frames, 224))
        lag = np.round(256 * 2 ** (-b / 60)).astype(int)
        xcf[np.arange(frames), 256 - lag] = 0.9
        lg = -0.01 * (np.arange(180)[None, :] - b[:, None]) ** 2
        out.append((iff, xcf.astype(np.float16), lg.astype(np.float16)))
    return out


def _run(seed, steps=3):
    torch.set_num_threads(1)
    return train_on(examples(), None, steps, seed, 20, 4, 3e-3, SIZES, log=lambda m: None)


def test_seeded_training_is_bit_identical():
    a = weights_to_bytes(records(_run(5)))
    assert a == weights_to_bytes(records(_run(5)))
    assert a != weights_to_bytes(records(_run(6)))


def test_export_matches_torch_model_on_int8_core():
    model = _run(2, steps=40)
    iff, xcf, _ = examples(seed=9, files=1, frames=50)[0]
    I, X = iff.astype(np.float32), xcf.astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(I)[None], torch.from_numpy(X)[None])[0].numpy()
    got = PitchNet(weights_to_bytes(records(model))).logits(I, X)
    # int8 weights and inputs, libopus's tanh/sigmoid approximations; measured: max 0.018 on
    # logits up to ~2, every argmax the same
    assert np.max(np.abs(got - want)) < 0.05
    assert np.mean(got[:, :180].argmax(1) == want[:, :180].argmax(1)) >= 0.95
