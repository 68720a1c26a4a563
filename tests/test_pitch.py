"""Classical pitch estimator (mlcodec.dsp.pitch): known tones, tracking, speech vs an
independent autocorrelation method."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import speech_dir
from mlcodec.dsp.features import compute_features, period_from_feature

FS = 16000
SKIP = 4   # warm-up frames (history fills, look-ahead)


def tone(f0, seconds=0.6, amp=3000.0, first=1, phase_seed=0):
    """Harmonic tone (1/h amplitudes) up to 7.8 kHz; f0 may be an array (per sample)."""
    n = int(FS * seconds)
    f0 = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
    ph = 2 * np.pi * np.cumsum(f0) / FS
    rng = np.random.default_rng(phase_seed)
    hmax = int(7800 / f0.max())
    return amp * sum(np.cos(h * ph + rng.uniform(0, 2 * np.pi)) / h for h in range(first, hmax + 1))


def est_f0(x):
    return FS / period_from_feature(compute_features(x)[:, 18])


F0S = [62.5, 70.0, 82.4, 100.0, 123.0, 150.0, 175.5, 200.0, 250.0, 300.0, 333.3, 400.0, 450.0, 500.0]


@pytest.mark.parametrize("f0", F0S)
def test_harmonic_tone_within_one_percent(f0):
    f = est_f0(tone(f0))[SKIP:]
    assert np.max(np.abs(f / f0 - 1)) < 0.01, f"worst {f[np.argmax(np.abs(f / f0 - 1))]:.2f} Hz"


@pytest.mark.parametrize("f0", [62.5, 100.0, 220.0, 500.0])
def test_pure_sine_within_one_percent(f0):
    f = est_f0(5000 * np.sin(2 * np.pi * f0 * np.arange(9600) / FS))[SKIP + 2:]
    assert np.max(np.abs(f / f0 - 1)) < 0.01


@pytest.mark.parametrize("f0", [90.0, 140.0, 210.0])
def test_missing_fundamental(f0):
    # harmonics 2.. only: the period is still 1/f0 (no octave-up error)
    f = est_f0(tone(f0, first=2))[SKIP:]
    assert np.median(np.abs(f / f0 - 1)) < 0.01
    assert np.mean(np.abs(f / f0 - 1) < 0.02) > 0.95


def test_glide_is_tracked():
    # 100 -> 300 Hz exponential glide over 1 s: the estimate follows within 2 %
    n = FS
    f0 = 100 * 3 ** (np.arange(n) / n)
    f = est_f0(tone(f0, seconds=1.0))
    # pitch of frame t is centred on sample 160 t (specs 07 s5.1)
    centre = np.clip(np.arange(len(f)) * 160, 0, n - 1)
    err = np.abs(f / f0[centre] - 1)[SKIP:-2]
    assert np.mean(err < 0.02) > 0.95


def test_noisy_tone_robust():
    rng = np.random.default_rng(3)
    x = tone(160.0, seconds=1.0) + rng.standard_normal(FS) * 1500  # about 5 dB SNR
    f = est_f0(x)[SKIP:]
    assert np.mean(np.abs(f / 160 - 1) < 0.02) > 0.9


def test_correlation_feature_voiced_vs_noise():
    voiced = compute_features(tone(150.0))[SKIP:, 19]
    noise = compute_features(np.random.default_rng(5).standard_normal(9600) * 1000)[SKIP:, 19]
    assert voiced.min() > 0.4
    assert noise.mean() < 0.0
    assert np.all((voiced <= 0.5) & (noise >= -0.5))


# --- speech: compare against an independent method -----------------------------------------

def reference_pitch(x, n_frames):
    """Independent estimator: Boersma-style autocorrelation of a 40 ms Hann-windowed,
    1 kHz low-passed (FFT mask) raw-speech segment centred on each pitch frame, divided by the
    window's own autocorrelation. Returns (period, peak strength) per frame."""
    N = 640
    win = np.hanning(N)
    wac = np.correlate(win, win, "full")[N - 1:] + 1e-9
    pad = np.concatenate([np.zeros(N), x, np.zeros(N)])
    per = np.zeros(n_frames)
    strength = np.zeros(n_frames)
    for t in range(n_frames):
        c = 160 * t + N
        seg = pad[c - N // 2:c + N // 2]
        S = np.fft.rfft((seg - seg.mean()) * win, 2 * N)
        S[np.fft.rfftfreq(2 * N, 1 / FS) > 1000] = 0
        ac = np.fft.irfft(np.abs(S) ** 2)[:N]
        if ac[0] <= 0:
            continue
        r = np.nan_to_num((ac / ac[0]) / (wac / wac[0]))
        rr = r[32:258]
        peaks = np.nonzero((rr[1:-1] > rr[:-2]) & (rr[1:-1] >= rr[2:]))[0] + 33
        if not len(peaks) or r[peaks].max() <= 0:
            continue
        # shortest lag whose peak reaches 90 % of the best one (rules out period multiples)
        k = int(peaks[np.nonzero(r[peaks] >= 0.9 * r[peaks].max())[0][0]])
        # parabolic refinement
        a, b, cc = r[k - 1], r[k], r[k + 1]
        d = 0.5 * (a - cc) / (a - 2 * b + cc) if (a - 2 * b + cc) < 0 else 0.0
        per[t] = k + d
        strength[t] = b
    return per, strength


SPEECH_SOURCES = ["cmu_arctic", "librispeech", "speechocean762", "aishell1"]


@pytest.fixture(scope="module")
def speech_clips():
    d = speech_dir()
    if not d.is_dir():
        pytest.skip(f"speech data {d} is absent (expected ../shared/data/speech beside the repo)")
    clips = []
    for src in SPEECH_SOURCES:
        files = sorted((d / "train" / src).glob("*/*.flac"))
        if files:
            x, rate = sf.read(files[len(files) // 2], dtype="float64")
            assert rate == FS
            clips.append((src, x[FS // 2:FS // 2 + 3 * FS] * 32768.0))
    if not clips:
        pytest.skip(f"no speech files under {d}")
    return clips


def test_speech_pitch_agrees_with_independent_method(speech_clips):
    agree = total = 0
    for src, x in speech_clips:
        f = compute_features(x)
        ours = period_from_feature(f[:, 18])
        ref, strength = reference_pitch(x, len(f))
        # frames both methods call clearly voiced
        voiced = (strength > 0.8) & (f[:, 19] > 0.2)
        voiced[:SKIP] = False
        ok = np.abs(ours[voiced] / ref[voiced] - 1) < 0.05
        agree += ok.sum()
        total += voiced.sum()
    assert total > 100, "too few voiced frames to compare"
    rate = agree / total
    print(f"pitch agreement on {total} voiced frames: {100 * rate:.1f} %")
    assert rate > 0.90
