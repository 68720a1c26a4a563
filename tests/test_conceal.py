"""The Concealer protocol, the repeat-and-fade baseline, make_concealer and crossfade
(mlcodec/codec/conceal.py)."""
import numpy as np
import pytest

from mlcodec.codec import conceal as C
from mlcodec.codec.conceal import NB_FEATURES, Concealer, RepeatFade, crossfade, make_concealer
from mlcodec.errors import CodecError


def test_repeat_fade_keeps_envelope_and_pitch_then_fades_energy():
    c = RepeatFade()
    assert isinstance(c, Concealer)
    rng = np.random.default_rng(0)
    good = rng.normal(0, 1, (5, NB_FEATURES)).astype(np.float32)
    good[-1, 0] = 4.0
    c.observe(good)
    out = np.concatenate([c.conceal(15), c.conceal(20)])   # one gap over two calls
    assert out.shape == (35, NB_FEATURES)
    np.testing.assert_array_equal(out[:, 1:], np.repeat(good[-1:, 1:], 35, 0))
    # level kept for FADE_START frames, then FADE_STEP per frame down to C0_FLOOR
    np.testing.assert_array_equal(out[:C.FADE_START, 0], 4.0)
    k = np.arange(C.FADE_START, 35)
    want = np.maximum(4.0 - (k - C.FADE_START + 1) * C.FADE_STEP, C.C0_FLOOR)
    np.testing.assert_allclose(out[C.FADE_START:, 0], want, atol=1e-5)
    assert out[-1, 0] == C.C0_FLOOR
    c.observe(good)                                        # a good frame restarts the fade
    assert c.conceal(1)[0, 0] == 4.0


def test_no_history_is_floor_level_and_reset_forgets():
    c = RepeatFade()
    assert np.all(c.conceal(3)[:, 0] == C.C0_FLOOR)
    c.observe(np.ones((2, NB_FEATURES), np.float32))
    c.reset()
    assert c.conceal(1)[0, 0] == C.C0_FLOOR
    assert c.conceal(0).shape == (0, NB_FEATURES)
    with pytest.raises(CodecError, match="negative"):
        c.conceal(-1)


def test_make_concealer():
    from mlcodec.codec.plc import NeuralConcealer

    n = make_concealer(None)
    assert isinstance(n, NeuralConcealer) and n.hold_pitch == C.HOLD_PITCH_FRAMES and n.quiet_c0 == C.QUIET_C0
    assert isinstance(make_concealer("neural"), NeuralConcealer)
    assert isinstance(make_concealer("repeat"), RepeatFade)
    r = RepeatFade()
    assert make_concealer(r) is r
    with pytest.raises(CodecError, match="unknown concealment"):
        make_concealer("magic")
    with pytest.raises(CodecError, match="lacks"):
        make_concealer(object())


def test_neural_holds_pitch_for_the_first_frames():
    from mlcodec.codec.plc import NeuralConcealer

    good = np.zeros((20, NB_FEATURES), np.float32)
    good[:, 18] = 0.3
    a, b = NeuralConcealer(), NeuralConcealer(hold_pitch=2)
    a.observe(good)
    b.observe(good)
    x = a.conceal(5)
    y = np.concatenate([b.conceal(1), b.conceal(4)])       # the count runs across calls
    assert np.all(y[:2, 18] == np.float32(0.3))
    np.testing.assert_array_equal(y[2:], x[2:])
    np.testing.assert_array_equal(y[:2, :18], x[:2, :18])


def test_neural_stays_quiet_after_silence():
    """From silence-level frames the predictor alone ramps up (it has seen pauses before
    speech); with quiet_c0 the gap stays at the last level, speech gaps are not touched."""
    from mlcodec.codec.plc import NeuralConcealer

    quiet = np.zeros((30, NB_FEATURES), np.float32)
    quiet[:, 0] = -11.5
    a, b = NeuralConcealer(), NeuralConcealer(quiet_c0=C.QUIET_C0)
    a.observe(quiet)
    b.observe(quiet)
    x, y = a.conceal(12), b.conceal(12)
    assert np.all(y[:, 0] <= -11.5) and np.array_equal(y[:, 1:], x[:, 1:])
    loud = quiet.copy()
    loud[:, 0] = 6.0
    a.observe(loud)
    b.observe(loud)
    assert np.array_equal(a.conceal(5), b.conceal(5))


def test_crossfade_ramps_from_concealed_to_decoded():
    d = np.ones((4, NB_FEATURES), np.float32)
    c = np.zeros((4, NB_FEATURES), np.float32)
    out = crossfade(c, d)
    assert np.all(np.diff(out[:, 0]) > 0) and 0 < out[0, 0] < out[-1, 0] < 1
    np.testing.assert_array_equal(out[:, 18:], d[:, 18:])
