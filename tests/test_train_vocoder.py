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


def test_sampler_without_mixing_draws_the_same_windows(corpus):
    """Adding decoded twins with mix 0 must not change a run's trajectory (resumed runs rely on it)."""
    a = WindowSampler(corpus, frames=3, batch=4, seed=5)
    b = WindowSampler(corpus, frames=3, batch=4, seed=5, decoded=[corpus["feats"] + 1], mix=0.0)
    for _ in range(3):
        fa, ta = a.next()
        fb, tb = b.next()
        assert np.array_equal(fa, fb) and np.array_equal(ta, tb)


def test_sampler_mixes_decoded_twins(corpus):
    twins = [corpus["feats"] + 100, corpus["feats"] + 200]
    s = WindowSampler(corpus, frames=3, batch=64, seed=1, decoded=twins, mix=0.5)
    f, _ = s.next()
    # each window is entirely clean, +100 or +200 (never a blend), and all three occur
    kinds = set()
    for w in f:
        lo = float(w[:, 0].min())
        kinds.add(2 if lo > 150 else 1 if lo > 50 else 0)
        assert (w[:, 0] > 150).all() or (w[:, 0] < 150).all()
    assert kinds == {0, 1, 2}


def test_decoded_features_track_the_clean_ones():
    """The codec's decoded features are aligned with the clean ones and improve with the bit rate."""
    from mlcodec.codec.model import load_model
    from train.vocoder.decoded import decode_features

    corpus = synthetic_corpus(3.0, seed=2)
    m = load_model()
    f = corpus["feats"]
    err = {}
    for preset, level in m.PRESETS.items():
        d = decode_features(m, f, level)
        assert d.shape == f.shape and d.dtype == np.float32
        err[preset] = float(np.sqrt(((d - f)[:, :18] ** 2).mean()))
        shifted = float(np.sqrt(((d[1:] - f[:-1])[:, :18] ** 2).mean()))
        assert err[preset] < shifted
    assert err["6k"] < err["3k"] < err["1.5k"]


def test_training_with_decoded_features_is_deterministic(corpus):
    from mlcodec.codec.model import load_model
    from train.vocoder.decoded import load_decoded

    dec = load_decoded(corpus, None, load_model())
    twins = [dec[k] for k in sorted(dec)]
    tc = TrainConfig(**{**TC.__dict__, "mix_decoded": 0.5})
    a = train(corpus, tc, TINY, log=lambda s: None, decoded=twins)
    b = train(corpus, tc, TINY, log=lambda s: None, decoded=twins)
    assert _blob(a) == _blob(b)
    assert _blob(a) != _blob(train(corpus, TC, TINY, log=lambda s: None))


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


def test_int8_aware_phase_switches_on_and_resumes_identically(corpus, tmp_path):
    """``qat_from``: fake quantization from that step on; an interrupted run resumes into it exactly."""
    tc = TrainConfig(**{**TC.__dict__, "qat_from": 2})
    logs: list[str] = []
    full = train(corpus, tc, TINY, log=logs.append)
    assert full.qat and any("int8-aware" in s for s in logs)
    assert _blob(full) != _blob(train(corpus, TC, TINY, log=lambda s: None))
    train(corpus, tc, TINY, out=tmp_path, log=lambda s: None, stop_after=3)
    resumed = train(corpus, tc, TINY, out=tmp_path, resume=True, log=lambda s: None)
    assert _blob(resumed) == _blob(full)


def test_load_blob_inverts_the_exporter(corpus, tmp_path):
    """A blob read back into torch exports the same bytes (fine-tuning starts exactly from it)."""
    from train.vocoder.export import load_blob

    m = train(corpus, TC, TINY, log=lambda s: None)
    p = tmp_path / "v.bin"
    export(m, p)
    back = load_blob(p)
    assert back.cfg == TINY
    assert _blob(back) == p.read_bytes()
    f = torch.from_numpy(corpus["feats"][None, :8])
    with torch.no_grad():
        assert torch.equal(back(f), m.eval()(f))


def test_fine_tuning_starts_from_the_init_model(corpus):
    from train.vocoder.train import train as train_fn

    base = train(corpus, TC, TINY, log=lambda s: None)
    tc0 = TrainConfig(**{**TC.__dict__, "steps": 0})
    assert _blob(train_fn(corpus, tc0, TINY, log=lambda s: None, init=base)) == _blob(base)
    tuned = train_fn(corpus, TC, TINY, log=lambda s: None, init=base)
    assert _blob(tuned) != _blob(base)


def test_adversarial_stage_is_deterministic_resumable_and_freezes_conditioning(corpus, tmp_path):
    from train.vocoder.adversarial import COND_MODULES, AdvConfig, train_adv

    base = train(corpus, TC, TINY, log=lambda s: None)
    ac = AdvConfig(steps=4, batch=2, frames=4, disc_warmup=2, ckpt_every=2, qat=False, seed=5)
    a = train_adv(corpus, ac, base, log=lambda s: None)
    b = train_adv(corpus, ac, base, log=lambda s: None)
    assert _blob(a) == _blob(b) != _blob(base)
    for name in COND_MODULES:   # the conditioning network is frozen
        for pa, pb in zip(getattr(a, name).parameters(), getattr(base, name).parameters()):
            assert torch.equal(pa, pb)
    warm = train_adv(corpus, AdvConfig(**{**ac.__dict__, "steps": 2}), base, log=lambda s: None)
    assert _blob(warm) == _blob(base)   # discriminator-only warm-up leaves the generator as it was
    part = train_adv(corpus, ac, base, out=tmp_path, log=lambda s: None, stop_after=3)
    assert _blob(part) != _blob(a)
    rest = train_adv(corpus, ac, base, out=tmp_path, resume=True, log=lambda s: None)
    assert _blob(rest) == _blob(a)
