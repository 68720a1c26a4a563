"""The Concealer protocol and the default repeat-and-fade concealer (mlcodec/codec/conceal.py)."""
import numpy as np

from mlcodec.codec.conceal import NB_FEATURES, SILENCE, Concealer, RepeatFadeConcealer, crossfade


def test_repeat_fade_keeps_envelope_and_pitch_and_fades_energy():
    c = RepeatFadeConcealer(fade_frames=10)
    assert isinstance(c, Concealer)
    rng = np.random.default_rng(0)
    good = rng.normal(0, 1, (5, NB_FEATURES)).astype(np.float32)
    good[-1, 0] = 10.0
    c.observe(good)
    out = c.conceal(15)
    assert out.shape == (15, NB_FEATURES)
    np.testing.assert_allclose(out[:, 1:18], np.repeat(good[-1:, 1:18], 15, 0))
    np.testing.assert_allclose(out[:, 18], good[-1, 18])
    assert np.all(np.diff(out[:, 0]) <= 0) and out[0, 0] < 10.0 and out[0, 0] > 7.0
    np.testing.assert_allclose(out[9:, 0], SILENCE[0], atol=1e-5)   # silent after 100 ms
    # the fade continues across calls; a new good frame restarts it
    assert c.conceal(1)[0, 0] == SILENCE[0]
    c.observe(good)
    assert c.conceal(1)[0, 0] > 7.0


def test_no_history_is_silence_and_reset_forgets():
    c = RepeatFadeConcealer()
    np.testing.assert_array_equal(c.conceal(3), np.repeat(SILENCE[None], 3, 0))
    c.observe(np.ones((2, NB_FEATURES), np.float32))
    c.reset()
    np.testing.assert_array_equal(c.conceal(1)[0], SILENCE)
    assert c.conceal(0).shape == (0, NB_FEATURES)


def test_crossfade_ramps_from_concealed_to_decoded():
    d = np.ones((4, NB_FEATURES), np.float32)
    c = np.zeros((4, NB_FEATURES), np.float32)
    out = crossfade(c, d)
    assert np.all(np.diff(out[:, 0]) > 0) and 0 < out[0, 0] < out[-1, 0] < 1
    np.testing.assert_array_equal(out[:, 18:], d[:, 18:])
