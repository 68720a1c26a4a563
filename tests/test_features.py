"""LPCNet features (specs 07): numba kernels vs the NumPy twin, known signals, streaming."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import speech_dir
from mlcodec.dsp import features as F
from mlcodec.dsp.features import (
    FRAME_SIZE, NB_BANDS, NB_FEATURES, FeatureExtractor, compute_features,
    feature_from_period, lpc_from_features, period_from_feature,
)
from mlcodec.dsp.features_ref import band_weights, compute_features_ref, lpc_from_cepstrum

FS = 16000
RNG = np.random.default_rng(1234)


def harmonic(f0: float, seconds: float = 1.0, amp: float = 3000.0) -> np.ndarray:
    t = np.arange(int(FS * seconds)) / FS
    return amp * sum(np.cos(2 * np.pi * f0 * h * t) / h for h in range(1, int(7800 / f0) + 1))


def deemph_white(n: int, sigma: float, seed: int = 7) -> np.ndarray:
    """Noise that is white *after* the 0.85 pre-emphasis (so its analysed spectrum is flat)."""
    w = np.random.default_rng(seed).standard_normal(n) * sigma
    out = np.empty(n)
    prev = 0.0
    for i in range(n):
        prev = w[i] + F.PREEMPH * prev
        out[i] = prev
    return out


def speech_excerpt(seconds: float = 2.0) -> np.ndarray:
    d = speech_dir()
    files = sorted((d / "train" / "cmu_arctic").glob("*/*.flac")) if d.is_dir() else []
    if not files:
        pytest.skip(f"speech data {d} is absent (expected ../shared/data/speech beside the repo)")
    x, rate = sf.read(files[0], dtype="float64")
    assert rate == FS
    return x[: int(seconds * FS)] * 32768.0


SIGNALS = {
    "tone_150": lambda: harmonic(150.0, 1.0),
    "tone_440": lambda: harmonic(440.0, 0.5),
    "noise": lambda: RNG.standard_normal(8000 + 37) * 500.0,
    "silence": lambda: np.zeros(3200),
    "dc": lambda: np.full(3200, 10000.0),
    "chirp": lambda: 4000 * np.sin(2 * np.pi * np.cumsum(np.linspace(80, 400, 16000)) / FS),
}


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_numba_matches_numpy_twin(name):
    x = SIGNALS[name]()
    a = compute_features(x)
    b = compute_features_ref(x)
    assert a.shape == b.shape == (-(-len(x) // FRAME_SIZE), NB_FEATURES)
    assert a.dtype == np.float32
    # both compute in float64 and round to float32: cepstra agree to float32 rounding
    np.testing.assert_allclose(a[:, :NB_BANDS], b[:, :NB_BANDS], atol=1e-4, rtol=0)
    np.testing.assert_allclose(a[:, 18:], b[:, 18:], atol=1e-4, rtol=0)


def test_numba_matches_twin_on_speech():
    x = speech_excerpt(2.0)
    a = compute_features(x)
    b = compute_features_ref(x)
    np.testing.assert_allclose(a[:, :NB_BANDS], b[:, :NB_BANDS], atol=1e-4, rtol=0)
    # the pitch track is a discrete decision: require identity on >= 99 % of frames
    same = np.abs(a[:, 18] - b[:, 18]) < 1e-4
    assert same.mean() >= 0.99
    np.testing.assert_allclose(a[same, 19], b[same, 19], atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_random_chunks_equal_whole(seed):
    rng = np.random.default_rng(seed)
    x = harmonic(120.0, 0.8) + rng.standard_normal(12800) * 300.0
    x = x[: 12800 - seed * 51]  # also a trailing partial frame
    whole = compute_features(x)
    ex = FeatureExtractor()
    parts, i = [], 0
    while i < len(x):
        k = int(rng.integers(1, 700))
        parts.append(ex.process(x[i:i + k]))
        i += k
    parts.append(ex.flush())
    got = np.concatenate(parts)
    assert np.array_equal(got, whole)
    assert ex.flush().shape == (0, NB_FEATURES)


def test_streaming_output_lags_by_lookahead():
    ex = FeatureExtractor()
    out = ex.process(np.zeros(FRAME_SIZE * 5))
    assert out.shape == (5 - F.PITCH_LOOKAHEAD, NB_FEATURES)
    assert ex.flush().shape == (F.PITCH_LOOKAHEAD, NB_FEATURES)


def test_silence():
    f = compute_features(np.zeros(1600))
    # every band at the log floor log10(0.01) = -2: c0 = -2*sqrt(18) - 4, others 0
    np.testing.assert_allclose(f[:, 0], -2 * np.sqrt(18) - 4, atol=1e-5)
    np.testing.assert_allclose(f[:, 1:NB_BANDS], 0.0, atol=1e-5)
    # no correlation: c = 0 -> softplus(0)/softplus(5) - 0.5
    np.testing.assert_allclose(f[:, 19], np.log(2) / np.log1p(np.exp(5)) - 0.5, atol=1e-6)
    p = period_from_feature(f[:, 18])
    assert np.all((p >= 32) & (p <= 256))


def test_dc():
    f = compute_features(np.full(3200, 10000.0))
    assert np.all(np.isfinite(f))
    # after the first frame, pre-emphasised DC is 1500: energy sits in the lowest band
    assert np.all(f[2:, 1] > 1.0)
    lpc = lpc_from_features(f)
    for a in lpc:
        assert np.max(np.abs(np.roots(np.r_[1.0, a]))) < 1.0


def test_white_noise_flat_spectrum_and_level():
    sigma = 1000.0
    x = deemph_white(FS * 2, sigma)
    f = compute_features(x)[2:]
    # band energies back from the cepstrum, averaged over frames (linear domain)
    L = (F.DCT.T @ (f[:, :NB_BANDS].astype(np.float64) + np.r_[4.0, np.zeros(17)]).T).T
    E = (10.0 ** L - 0.01).mean(axis=0)
    wsum = band_weights()[:, :160].sum(axis=1)
    expected = sigma ** 2 * 160.0 / 320.0 ** 2 * wsum   # E|X_k|^2 = sigma^2 sum(w^2) / 320^2
    np.testing.assert_allclose(E / expected, 1.0, atol=0.12)
    # flat: per-bin density equal across bands within +-0.5 dB
    dens_db = 10 * np.log10(E / wsum)
    assert np.ptp(dens_db) < 1.0
    # level: c0 is (sum of log10 band energies)/sqrt(18) - 4 (chi-square log bias < 0.2)
    c0_expected = np.log10(0.01 + expected).sum() / np.sqrt(18) - 4
    assert abs(f[:, 0].mean() - c0_expected) < 0.2
    # +20 dB raises every log band energy by 2, i.e. c0 by 2*sqrt(18), and nothing else
    g = compute_features(10 * x)[2:]
    np.testing.assert_allclose(g[:, 0] - f[:, 0], 2 * np.sqrt(18), atol=2e-3)
    np.testing.assert_allclose(g[:, 1:NB_BANDS], f[:, 1:NB_BANDS], atol=2e-3)


def test_lpc_from_features_matches_twin_and_is_stable():
    x = harmonic(200.0, 0.3) + RNG.standard_normal(4800) * 200
    f = compute_features(x)
    lpc = lpc_from_features(f)
    assert lpc.shape == (len(f), 16)
    for i in range(len(f)):
        np.testing.assert_allclose(lpc[i], lpc_from_cepstrum(f[i, :NB_BANDS].astype(np.float64)), atol=1e-8)
        assert np.max(np.abs(np.roots(np.r_[1.0, lpc[i]]))) < 1.0
    assert lpc_from_features(f[0]).shape == (16,)


def test_lpc_of_flat_spectrum_is_near_zero():
    # band energies of a flat spectrum grow with the band's weight sum; the comp factors of
    # specs 07 s4 undo that, so the LPC has (almost) no prediction gain
    wsum = band_weights()[:, :160].sum(axis=1)
    L = np.log10(1e4 * wsum)
    c = F.DCT @ L
    c[0] -= 4
    lpc = lpc_from_features(np.r_[c, 0.0, 0.0])
    assert np.max(np.abs(lpc)) < 0.05


@pytest.mark.parametrize("period", [32.0, 45.5, 64.0, 100.0, 200.0, 256.0])
def test_pitch_feature_mapping(period):
    f = feature_from_period(period)
    assert period_from_feature(f) == pytest.approx(period, rel=1e-12)
    # specs 07 s5.2: b = 0 -> 256 samples; b = 179 -> ~32.3 samples
    assert period_from_feature(-1.5) == pytest.approx(256.0)
    assert period_from_feature(179 / 60 - 1.5) == pytest.approx(256 * 2 ** (-179 / 60))


def test_window_and_tables():
    h = F.WINDOW[:160]
    assert h[0] == pytest.approx(3.78491532e-05, rel=1e-6)
    np.testing.assert_allclose(h ** 2 + h[::-1] ** 2, 1.0, atol=1e-12)
    np.testing.assert_allclose(F.DCT @ F.DCT.T, np.eye(18), atol=1e-12)   # orthonormal DCT-II
    assert F.AC_NOISE == pytest.approx(0.6842105, rel=1e-6)


def test_feature_timing_follows_input():
    # a burst in frame 10 shows up in frames 10 and 11 (window = previous + current frame)
    x = np.zeros(FS // 4)
    x[1600:1760] = RNG.standard_normal(160) * 5000
    c0 = compute_features(x)[:, 0]
    assert set(np.nonzero(c0 > c0.min() + 1)[0]) == {10, 11}
