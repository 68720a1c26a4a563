"""Vocoder training recipe (train/vocoder): determinism, resume, export round trip (specs 06, 08 s1)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (training-only dependency)")

from mlcodec.nn.weights import read_weights, weights_to_bytes  # noqa: E402
from mlcodec.vocoder.fargan import NeuralVocoder, VocoderModel, _period  # noqa: E402
from train.vocoder.data import WindowSampler, synthetic_corpus  # noqa: E402
from train.vocoder.export import export, model_records  # noqa: E402
from train.vocoder.model import FarganLite, VocoderConfig, periods_from_features  # noqa: E402
from train.vocoder.train import TrainConfig, train  # noqa: E402

TINY = VocoderConfig(cond=16, pembed=4, fdense1=16, fconv1=16, fwc=16, gru=16, skip=16)
TC = TrainConfig(steps=4, batch=2, frames=4, warmup=2, ckpt_every=2, seed=7)


@pytest.fixture(scope="module")
def corpus():
    return synthetic_corpus(2.0, seed=3)


def _blob(model) -> bytes:
    return weights_to_bytes(model_records(model))


def test_two_seeded_runs_export_identical_blobs(corpus):
    a = train(corpus, TC, TINY, log=lambda s: None)
    b = train(corpus, TC, TINY, log=lambda s: None)
    assert _blob(a) == _blob(b)
    c = train(corpus, TrainConfig(**{**TC.__dict__, "seed": 8}), TINY, log=lambda s: None)
    assert _blob(a) != _blob(c)


def test_interrupted_and_resumed_run_equals_uninterrupted(corpus, tmp_path):
    full = train(corpus, TC, TINY, log=lambda s: None)
    part = train(corpus, TC, TINY, out=tmp_path, log=lambda s: None, stop_after=1)
    assert _blob(part) != _blob(full)
    train(corpus, TC, TINY, out=tmp_path, resume=True, log=lambda s: None, stop_after=2)
    resumed = train(corpus, TC, TINY, out=tmp_path, resume=True, log=lambda s: None)
    assert torch.load(tmp_path / "ckpt.pt", weights_only=False)["step"] == TC.steps
    assert _blob(resumed) == _blob(full)


def test_existing_checkpoint_needs_resume(corpus, tmp_path):
    train(corpus, TrainConfig(**{**TC.__dict__, "steps": 1}), TINY, out=tmp_path, log=lambda s: None)
    with pytest.raises(SystemExit):
        train(corpus, TC, TINY, out=tmp_path, log=lambda s: None)


def test_sampler_alignment(corpus):
    s = WindowSampler(corpus, frames=3, batch=4, seed=0)
    f, t = s.next()
    assert f.shape == (4, 5, 20) and t.shape == (4, 480)
    assert np.abs(t).max() <= 1.0


def test_export_roundtrip_float_path_matches_torch(corpus, tmp_path):
    torch.manual_seed(0)
    model = FarganLite(VocoderConfig()).eval()
    path = tmp_path / "v.bin"
    export(model, path)
    f = corpus["feats"][:12]
    ft = torch.from_numpy(f[None])
    with torch.no_grad():
        y = model(ft)[0].double().numpy()
        per = periods_from_features(ft[..., 18])
        pe = model.pembed(torch.clamp(per - 32, 0, 223))
        h = torch.tanh(model.fdense1(torch.cat([ft, pe], -1)))[0, :2].numpy()
    ref = np.zeros_like(y)
    mem = 0.0
    for i, v in enumerate(y):  # de-emphasis (specs 08 s1.1)
        mem = v + 0.85 * mem
        ref[i] = mem
    ws = read_weights(path)
    for fixed, min_snr in ((False, 40.0), (True, 3.0)):
        voc = NeuralVocoder(VocoderModel(ws, fixed_point=fixed))
        # start from the state torch has after its two context frames
        voc._conv[:] = h.reshape(-1)
        voc._st[0] = _period(f[1, 18])
        out = voc.synthesize(f[2:]) / 32768.0
        snr = 10 * np.log10((ref ** 2).sum() / max(((out - ref) ** 2).sum(), 1e-30))
        assert snr > min_snr, (fixed, snr)
