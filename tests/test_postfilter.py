"""Pitch postfilter (mlcodec/vocoder/postfilter.py): numba kernel vs NumPy twin, known signals."""
from __future__ import annotations

import numpy as np
import pytest

from mlcodec.vocoder.postfilter import ALPHA, PitchPostfilter, frame_params, postfilter_reference


def _feats(k: int, period: float, corr: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = rng.normal(0, 1, (k, 20)).astype(np.float32)
    f[:, 18] = np.log2(256.0 / period) - 1.5     # specs 07 s5.2: T = 256 / 2^(f18 + 1.5)
    f[:, 19] = corr - 0.5
    return f


def test_frame_params_follow_the_feature_definitions():
    T, g = frame_params(_feats(3, 100.0, 1.0))
    np.testing.assert_allclose(T, 100.0, rtol=1e-5)
    np.testing.assert_allclose(g, ALPHA)
    T, g = frame_params(_feats(2, 10.0, -3.0))        # clamped: period >= 32, voicing >= 0
    assert (T == 32.0).all() and (g == 0.0).all()


@pytest.mark.parametrize("chunks", [[12], [1] * 12, [5, 0, 7], [3, 9]], ids=["whole", "1x12", "5-0-7", "3-9"])
def test_streaming_kernel_matches_numpy_twin(chunks):
    rng = np.random.default_rng(4)
    f = rng.normal(0, 1, (12, 20)).astype(np.float32)
    f[:, 18] = rng.uniform(-1.2, 1.5, 12)                 # periods across the whole 32..255 range
    f[:, 19] = rng.uniform(-0.5, 0.5, 12)
    x = rng.normal(0, 3000, 12 * 160).astype(np.float32)
    pf = PitchPostfilter()
    got, i = [], 0
    for c in chunks:
        got.append(pf.process(x[160 * i:160 * (i + c)], f[i:i + c]))
        i += c
    got = np.concatenate(got)
    want = postfilter_reference(x, f)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)   # int16 units; float64 inside both


def test_periodic_signal_passes_unchanged():
    period = 80.0                                           # 200 Hz, an integer lag
    n = 20 * 160
    x = (3000 * np.sin(2 * np.pi * np.arange(n) / period)).astype(np.float32)
    y = PitchPostfilter().process(x, _feats(20, period, 1.0))
    np.testing.assert_allclose(y[400:], x[400:], atol=0.5)


def test_noise_between_harmonics_is_attenuated_by_the_comb_gain():
    rng = np.random.default_rng(1)
    n = 200 * 160
    x = rng.normal(0, 1000, n).astype(np.float32)
    y = PitchPostfilter(0.5).process(x, _feats(200, 64.0, 1.0))   # g = 0.5, integer lag
    ratio = float(np.mean(y[1000:].astype(np.float64) ** 2) / np.mean(x[1000:].astype(np.float64) ** 2))
    assert ratio == pytest.approx((1 + 0.25) / 1.5 ** 2, rel=0.03)


def test_unvoiced_frames_are_left_alone_and_state_resets():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1000, 4 * 160).astype(np.float32)
    f = _feats(4, 100.0, 0.0)
    np.testing.assert_allclose(PitchPostfilter().process(x, f), x, atol=1e-3)
    pf = PitchPostfilter()
    a = pf.process(x, _feats(4, 100.0, 1.0))
    pf.reset()
    np.testing.assert_array_equal(pf.process(x, _feats(4, 100.0, 1.0)), a)


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError, match="160 per frame"):
        PitchPostfilter().process(np.zeros(100, np.float32), _feats(1, 100.0, 1.0))
