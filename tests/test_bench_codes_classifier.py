"""bench/bench_codes_classifier.py: its classifier learns (and can fail), its log-mel, split and
codes adapter are right. Seeded, synthetic data, a few seconds."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
torch = pytest.importorskip("torch", reason="PyTorch (the 'train' extra) is not installed")
import bench_codes_classifier as bc  # noqa: E402


def _speakers(rng, n_classes=4, per_class=6, dim=6):
    """Sequences whose frames come from a class-specific mean and a class-specific frame-to-frame
    correlation (a per-class 'voice'), buried in unit noise."""
    means = rng.normal(0, 0.6, (n_classes, dim))
    rho = np.linspace(0.0, 0.8, n_classes)
    xs, ys = [], []
    for c in range(n_classes):
        for _ in range(per_class):
            n = int(rng.integers(40, 90))
            e = rng.normal(0, 1, (n, dim))
            for t in range(1, n):
                e[t] = rho[c] * e[t - 1] + np.sqrt(1 - rho[c] ** 2) * e[t]
            xs.append((means[c] + e).astype(np.float32))
            ys.append(c)
    return xs, ys


def _halves(xs, ys):
    tr = [i for i in range(len(xs)) if i % 3]
    te = [i for i in range(len(xs)) if i % 3 == 0]
    return [xs[i] for i in tr], [ys[i] for i in tr], [xs[i] for i in te], [ys[i] for i in te]


def test_sequence_classifier_beats_chance_and_fails_on_wrong_labels():
    rng = np.random.default_rng(1)
    trx, tr_y, tex, te_y = _halves(*_speakers(rng, per_class=9))
    good = bc.train_eval(trx, tr_y, tex, te_y, frame_rate=25, seed=0, steps=60)
    assert good["acc"] >= 0.75, good  # chance is 0.25
    # Trained on every speaker under its neighbour's name, the same run must score below chance.
    bad = bc.train_eval(trx, [(y + 1) % 4 for y in tr_y], tex, te_y, frame_rate=25, seed=0, steps=60)
    assert bad["acc"] <= 0.25, bad
    assert good["train_s"] > 0 and good["params"] > 0


def test_frame_classifier_beats_the_majority_class():
    rng = np.random.default_rng(2)
    xs, ys = [], []
    for _ in range(12):  # label: a slowly varying hidden state, seen through 3 noisy dims of 5
        n = 120
        state = (np.convolve(rng.normal(0, 1, n + 20), np.ones(10) / 10, "same")[10:n + 10] > 0.2).astype(np.int64)
        x = rng.normal(0, 1, (n, 5))
        x[:, :3] += 1.5 * state[:, None]
        xs.append(x.astype(np.float32))
        ys.append(state)
    trx, tr_y, tex, te_y = xs[:8], ys[:8], xs[8:], ys[8:]
    prior = max(np.mean(np.concatenate(te_y)), 1 - np.mean(np.concatenate(te_y)))
    r = bc.train_eval(trx, tr_y, tex, te_y, frame_rate=25, seed=0, steps=80)
    assert r["acc"] >= max(0.85, prior + 0.1), (r, prior)


def test_log_mel_of_a_sine_peaks_in_the_band_holding_its_frequency():
    t = np.arange(16000) / 16000
    for f0 in (300.0, 1000.0, 4000.0):
        m = bc.log_mel(0.5 * np.sin(2 * np.pi * f0 * t))
        assert m.shape == (1 + (16000 - 400) // 160, 40)
        band = int(np.argmax(m.mean(0)))
        lo, hi = np.nonzero(bc._FB[band])[0][[0, -1]] * 16000 / 512
        assert lo <= f0 <= hi, (f0, band, lo, hi)


@pytest.mark.parametrize("n", range(2, 13))
def test_split_gives_disjoint_nonempty_train_and_test(n):
    files = [f"f{i}" for i in range(n)]
    tr, te = bc.split(files)
    assert tr and te and not set(tr) & set(te) and sorted(tr + te) == sorted(files)


def test_codes_of_and_decoded_features_match_the_streaming_decoder():
    import soundfile as sf

    import mlcodec
    from mlcodec.codec.files import decode_stream

    x, rate = sf.read(str(ROOT / "mlcodec" / "samples" / "sample.flac"), dtype="float32", frames=16000)
    data = mlcodec.encode(x, rate, "1.5k", serial=1)
    c = bc.codes_of(data)
    assert c.q.dtype.kind == "i" and c.q.ndim == 2 and c.frame_rate == 50
    assert len(set(c.levels.tolist())) == 1 and c.nbytes == len(data)
    feats = []
    decode_stream(io.BytesIO(data), lambda x: None, vocoder="reference", feature_sink=feats.append)
    np.testing.assert_array_equal(bc.decoded_features(c), np.concatenate(feats))
    assert c.q.shape[0] * 2 == np.concatenate(feats).shape[0]
