"""Reference (no-training) speech synthesizer from the 20 LPCNet features (specs 07, 08 s1).

A classic mixed-excitation LPC vocoder, the codec's fallback and the floor for the neural one:

* envelope: the 18 cepstra, interpolated per 2.5 ms subframe between frames (linear in the
  cepstral = log-spectral domain), turned into an order-16 all-pole filter with the
  normative LPC-from-cepstrum rule (specs 07 s4), then re-fitted ENVELOPE_PASSES times so that
  the filter's band energies (specs 07 s2.3 weighting) match the decoded ones band by band;
* gain: per subframe, so that the filter's band energies add up to the decoded band
  energies; interpolated per sample;
* excitation: a band-limited pulse train (fractional pulse positions, windowed sinc) driven by
  the pitch feature (period interpolated per sample in the log domain, specs 07 s5.2) mixed
  with white noise; the mix follows the correlation feature (specs 07 s5.3) gated by the
  spectral tilt c1, with a noisier high band (above 2 kHz), as in mixed-excitation vocoders;
* output: CELP-style formant postfilter, de-emphasis 1/(1 - 0.85 z^-1) as FARGAN does
  (specs 08 s1.1), and a 70 Hz high-pass.

Output block t (160 samples) spans the interval between the centres of frames t-1 and t,
so the output lags the analysed input by :data:`SYNTH_DELAY` samples. Streaming and
chunking-invariant: all state lives in arrays that carry from one call to the next.
Details and measurements: docs/features.md.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from mlcodec.dsp.features import (
    DCT, EBAND, FRAME_SIZE, LPC_ORDER, NB_BANDS, NB_FEATURES, PITCH_MAX, PITCH_MIN, PREEMPH,
    _lpc_from_cepstrum,
)

#: Output delay in samples relative to the analysed input (one frame, see module docstring).
SYNTH_DELAY = FRAME_SIZE
N_SUB = 4
SUB = FRAME_SIZE // N_SUB
#: Half length of the windowed-sinc pulse kernel (samples).
PULSE_HALF = 4
#: Half length of the linear-phase low/high band split filter and its cut-off (Hz).
SPLIT_HALF = 8
SPLIT_HZ = 2000.0
#: Correlation (specs 07 s5.3, before the softplus) mapped to voicing 0..1 between these.
VOICING_LO = 0.1
VOICING_HI = 0.45
#: Spectral tilt gate on the voicing: c1 (low- vs high-band balance) from TILT_LO (noise-like,
#: fricative) to TILT_HI (voiced) scales the voicing from 0 to 1.
TILT_LO = -3.5
TILT_HI = -1.5
#: Share of the low-band voicing kept in the high band.
HIGH_VOICING = 0.8

#: Formant postfilter A(z/g1)/A(z/g2) (CELP-style), level-normalised per subframe; 0, 0 = off.
POSTFILTER_NUM = 0.7
POSTFILTER_DEN = 0.8

#: Output high-pass (2nd-order Butterworth, Hz): a pulse train has a DC line as strong as its
#: harmonics and the order-16 envelope cannot follow the pre-emphasis notch at 0 Hz, so
#: without it the resynthesis carries a low rumble that real (zero-mean) speech does not.
HIGHPASS_HZ = 70.0


def _butter_hp(fc: float) -> tuple[np.ndarray, np.ndarray]:
    """2nd-order Butterworth high-pass (bilinear transform), b and a with a[0] = 1."""
    w = np.tan(np.pi * fc / 16000.0)
    k = 1.0 / (1.0 + np.sqrt(2.0) * w + w * w)
    b = np.array([k, -2.0 * k, k])
    a = np.array([1.0, 2.0 * (w * w - 1.0) * k, (1.0 - np.sqrt(2.0) * w + w * w) * k])
    return b, a


HP_B, HP_A = _butter_hp(HIGHPASS_HZ) if HIGHPASS_HZ > 0 else (np.array([1.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]))

_n = np.arange(-SPLIT_HALF, SPLIT_HALF + 1)
_h = 2 * SPLIT_HZ / 16000 * np.sinc(2 * SPLIT_HZ / 16000 * _n) * (0.5 + 0.5 * np.cos(np.pi * _n / (SPLIT_HALF + 1)))
SPLIT_LP = _h / _h.sum()
del _n, _h

# Column sums of the specs 07 s2.3 band weighting over bins 0..159 (edge bands doubled), used
# to turn a power spectrum into the sum of its band energies.
_W = np.zeros(160)
for _i in range(NB_BANDS - 1):
    _size = (EBAND[_i + 1] - EBAND[_i]) * 4
    for _j in range(_size):
        _f = _j / _size
        _W[EBAND[_i] * 4 + _j] += (1 - _f) * (2.0 if _i == 0 else 1.0)
        _W[EBAND[_i] * 4 + _j] += _f * (2.0 if _i + 1 == NB_BANDS - 1 else 1.0)
BAND_WSUM = _W
del _W, _i, _j, _f, _size
#: Decoded log10 band energies are clipped to [LOG_FLOOR, LOG_MAX] before synthesis: -2 is
#: the analysis floor (specs 07 s2.4), a full-scale int16 signal stays below about 9.
LOG_FLOOR = -2.0
LOG_MAX = 10.0
#: Envelope refinement passes: re-fit the LPC to cancel its band-energy misfit (0 = off).
ENVELOPE_PASSES = 2
_K = np.arange(160)[:, None] * np.arange(1, LPC_ORDER + 1)[None, :] * (2 * np.pi / 320)
COS_TAB = np.cos(_K)
SIN_TAB = np.sin(_K)
del _K
#: E|X_k|^2 of a unit-variance white signal under the 1/320-scaled, windowed FFT (sum w^2 = 160).
WHITE_BIN_POWER = 160.0 / 320.0 ** 2
_SOFTPLUS5 = math.log(1.0 + math.exp(5.0))


def voicing_from_feature(f19):
    """Voicing 0..1 from the correlation feature: undo the softplus of specs 07 s5.3, then map."""
    cp = np.clip(np.asarray(f19, dtype=np.float64) + 0.5, 1e-6, 1.0)
    c = np.log(np.maximum(np.expm1(cp * _SOFTPLUS5), 1e-12)) / 5.0
    return np.clip((c - VOICING_LO) / (VOICING_HI - VOICING_LO), 0.0, 1.0)


@njit(cache=True)
def _voicing(f19):
    cp = min(max(f19 + 0.5, 1e-6), 1.0)
    c = math.log(max(math.expm1(cp * _SOFTPLUS5), 1e-12)) / 5.0
    v = (c - VOICING_LO) / (VOICING_HI - VOICING_LO)
    return min(max(v, 0.0), 1.0)


@njit(cache=True, fastmath=True)
def _gain(c, lpc):
    """Excitation gain so that the all-pole spectrum's band energies sum to the decoded ones."""
    target = 0.0
    for i in range(NB_BANDS):
        acc = 4.0 * DCT[0, i]
        for k in range(NB_BANDS):
            acc += DCT[k, i] * c[k]
        e = 10.0 ** acc - 0.01   # undo the 0.01 floor of specs 07 s2.4
        if e > 0.0:
            target += e
    model = 0.0
    for k in range(160):
        re = 1.0
        im = 0.0
        for m in range(LPC_ORDER):
            re += lpc[m] * COS_TAB[k, m]
            im -= lpc[m] * SIN_TAB[k, m]
        model += BAND_WSUM[k] / (re * re + im * im + 1e-30)
    model *= WHITE_BIN_POWER
    return math.sqrt(target / model) if model > 0.0 else 0.0


@njit(cache=True, fastmath=True)
def _refine_envelope(c, lpc, ctmp2):
    """One pass: compare the all-pole model's band energies with the decoded ones and move the
    cepstrum by the (DCT of the) log misfit, then re-derive the LPC (specs 07 s4 rule)."""
    S = np.empty(160)
    for k in range(160):
        re = 1.0
        im = 0.0
        for m in range(LPC_ORDER):
            re += lpc[m] * COS_TAB[k, m]
            im -= lpc[m] * SIN_TAB[k, m]
        S[k] = WHITE_BIN_POWER / (re * re + im * im + 1e-30)
    Lt = np.empty(NB_BANDS)
    Em = np.empty(NB_BANDS)
    tot_t = 0.0
    tot_m = 0.0
    for i in range(NB_BANDS):
        acc = 4.0 * DCT[0, i]
        for k in range(NB_BANDS):
            acc += DCT[k, i] * c[k]
        Lt[i] = acc
        e = 10.0 ** acc - 0.01
        if e > 0.0:
            tot_t += e
        Em[i] = 0.0
    # triangular band weighting of specs 07 s2.3 (each bin feeds two neighbouring bands)
    for i in range(NB_BANDS - 1):
        size = (EBAND[i + 1] - EBAND[i]) * 4
        base = EBAND[i] * 4
        for j in range(size):
            frac = j / size
            Em[i] += (1.0 - frac) * S[base + j]
            Em[i + 1] += frac * S[base + j]
    Em[0] *= 2.0
    Em[NB_BANDS - 1] *= 2.0
    for i in range(NB_BANDS):
        tot_m += Em[i]
    g2 = tot_t / tot_m if tot_m > 0.0 else 0.0
    for k in range(NB_BANDS):
        ctmp2[k] = c[k]
    for i in range(NB_BANDS):
        d = Lt[i] - math.log10(0.01 + g2 * Em[i])
        for k in range(NB_BANDS):
            ctmp2[k] += DCT[k, i] * d
    _lpc_from_cepstrum(ctmp2, lpc)


@njit(cache=True)
def _limit_cepstrum(c, L):
    """Clip the log band energies of a cepstrum to [LOG_FLOOR, LOG_MAX] (in place); valid
    features are left bit-for-bit untouched."""
    bad = False
    for i in range(NB_BANDS):
        acc = 4.0 * DCT[0, i]
        for k in range(NB_BANDS):
            acc += DCT[k, i] * c[k]
        L[i] = acc
        if acc > LOG_MAX or acc < LOG_FLOOR - 1e-3:
            bad = True
    if not bad:
        return
    for i in range(NB_BANDS):
        L[i] = min(max(L[i], LOG_FLOOR), LOG_MAX)
    for k in range(NB_BANDS):
        acc = 0.0
        for i in range(NB_BANDS):
            acc += DCT[k, i] * L[i]
        c[k] = acc
    c[0] -= 4.0


@njit(cache=True)
def _rand(st):
    """Approximately Gaussian unit-variance noise (Irwin-Hall of 4) from a 32-bit LCG."""
    s = st[0]
    acc = 0.0
    for _ in range(4):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        acc += s / 4294967296.0
    st[0] = s
    return (acc - 2.0) * 1.7320508075688772


@njit(cache=True)
def _synth(feat, out, fs, cprev, lpc, mem, pbuf, dline, u2line, rng, pfx, pfy, hp):
    """Synthesize len(feat) frames into out. fs = float state:
    [started, logP_prev, v_prev, g_prev_sub, phase, deemph, postfilter gain]."""
    ctmp = np.empty(NB_BANDS)
    ctmp2 = np.empty(NB_BANDS)
    sub_s = np.empty(SUB)
    sub_z = np.empty(SUB)
    an = np.empty(LPC_ORDER)
    ad = np.empty(LPC_ORDER)
    ccur = np.empty(NB_BANDS)
    DL = 2 * SPLIT_HALF + 1
    PB = pbuf.shape[0]
    for f in range(feat.shape[0]):
        for k in range(NB_BANDS):
            ccur[k] = feat[f, k]
        _limit_cepstrum(ccur, ctmp)
        per = 256.0 / 2.0 ** (feat[f, 18] + 1.5)
        per = min(max(per, float(PITCH_MIN)), float(PITCH_MAX))
        logp = math.log(per)
        tilt = min(max((feat[f, 1] - TILT_LO) / (TILT_HI - TILT_LO), 0.0), 1.0)
        v = _voicing(feat[f, 19]) * tilt
        if fs[0] == 0.0:
            for k in range(NB_BANDS):
                cprev[k] = ccur[k]
            fs[1] = logp
            fs[2] = v
            _lpc_from_cepstrum(ccur, lpc)
            fs[3] = _gain(ccur, lpc)
            fs[0] = 1.0
        logp0 = fs[1]
        v0 = fs[2]
        # large pitch jumps (octave errors, new talkspurt) switch instead of gliding
        glide = abs(logp - logp0) < 0.4
        for s in range(N_SUB):
            alpha = (s + 0.5) / N_SUB
            for k in range(NB_BANDS):
                ctmp[k] = (1.0 - alpha) * cprev[k] + alpha * ccur[k]
            _lpc_from_cepstrum(ctmp, lpc)
            for _ in range(ENVELOPE_PASSES):
                _refine_envelope(ctmp, lpc, ctmp2)
            g1 = _gain(ctmp, lpc)
            g0 = fs[3]
            for n in range(SUB):
                i = s * SUB + n
                beta = (i + 1) / FRAME_SIZE
                if glide:
                    P = math.exp((1.0 - beta) * logp0 + beta * logp)
                else:
                    P = math.exp(logp0 if beta < 0.5 else logp)
                vv = (1.0 - beta) * v0 + beta * v
                g = g0 + (g1 - g0) * (n + 1) / SUB
                # pulse train: phase accumulator, fractional position, windowed sinc
                ph = fs[4] + 1.0 / P
                if ph >= 1.0:
                    ph -= 1.0
                    frac = ph * P          # how far (samples) the pulse lies before "now"
                    amp = math.sqrt(P)
                    for m in range(-PULSE_HALF, PULSE_HALF + 1):
                        x = m + frac
                        w = 0.5 + 0.5 * math.cos(math.pi * x / (PULSE_HALF + 1))
                        sv = 1.0 if abs(x) < 1e-9 else math.sin(math.pi * x) / (math.pi * x)
                        pbuf[PULSE_HALF + m] += amp * sv * w
                fs[4] = ph
                p = pbuf[0]
                for m in range(PB - 1):
                    pbuf[m] = pbuf[m + 1]
                pbuf[PB - 1] = 0.0
                nz = _rand(rng)
                vl = vv
                vh = vv * HIGH_VOICING
                u1 = math.sqrt(vl) * p + math.sqrt(1.0 - vl) * nz
                u2 = math.sqrt(vh) * p + math.sqrt(1.0 - vh) * nz
                for m in range(DL - 1):
                    dline[m] = dline[m + 1]
                    u2line[m] = u2line[m + 1]
                dline[DL - 1] = u1 - u2
                u2line[DL - 1] = u2
                e = u2line[SPLIT_HALF]
                for m in range(DL):
                    e += SPLIT_LP[m] * dline[DL - 1 - m]
                # all-pole synthesis 1/A(z), A(z) = 1 + sum lpc[k] z^-(k+1) (specs 07 s4)
                acc = g * e
                for k in range(LPC_ORDER):
                    acc -= lpc[k] * mem[k]
                for k in range(LPC_ORDER - 1, 0, -1):
                    mem[k] = mem[k - 1]
                mem[0] = acc
                sub_s[n] = acc
            # formant postfilter on the pre-emphasised subframe, then level normalisation
            gn = 1.0
            gd = 1.0
            for k in range(LPC_ORDER):
                gn *= POSTFILTER_NUM
                gd *= POSTFILTER_DEN
                an[k] = lpc[k] * gn
                ad[k] = lpc[k] * gd
            es = 0.0
            ez = 0.0
            for n in range(SUB):
                u = sub_s[n]
                w = u
                for k in range(LPC_ORDER):
                    w += an[k] * pfx[k]
                for k in range(LPC_ORDER):
                    w -= ad[k] * pfy[k]
                for k in range(LPC_ORDER - 1, 0, -1):
                    pfx[k] = pfx[k - 1]
                    pfy[k] = pfy[k - 1]
                pfx[0] = u
                pfy[0] = w
                sub_z[n] = w
                es += u * u
                ez += w * w
            gp1 = math.sqrt((es + 1e-3) / (ez + 1e-3))
            gp0 = fs[6] if fs[6] > 0.0 else gp1
            for n in range(SUB):
                gpn = gp0 + (gp1 - gp0) * (n + 1) / SUB
                y = gpn * sub_z[n] + PREEMPH * fs[5]
                fs[5] = y
                # output high-pass, transposed direct form II
                o = HP_B[0] * y + hp[0]
                hp[0] = HP_B[1] * y - HP_A[1] * o + hp[1]
                hp[1] = HP_B[2] * y - HP_A[2] * o
                out[f * FRAME_SIZE + s * SUB + n] = o
            fs[6] = gp1
            fs[3] = g1
        for k in range(NB_BANDS):
            cprev[k] = ccur[k]
        fs[1] = logp
        fs[2] = v


class ReferenceSynth:
    """Streaming reference vocoder: feed (k, 20) feature frames, get k*160 samples each call."""

    def __init__(self, seed: int = 1) -> None:
        self._fs = np.zeros(7)
        self._pfx = np.zeros(LPC_ORDER)
        self._pfy = np.zeros(LPC_ORDER)
        self._hp = np.zeros(2)
        self._cprev = np.zeros(NB_BANDS)
        self._lpc = np.zeros(LPC_ORDER)
        self._mem = np.zeros(LPC_ORDER)
        self._pbuf = np.zeros(2 * PULSE_HALF + 2)
        self._dline = np.zeros(2 * SPLIT_HALF + 1)
        self._u2line = np.zeros(2 * SPLIT_HALF + 1)
        self._rng = np.array([seed & 0xFFFFFFFF], dtype=np.int64)

    def synthesize(self, features: np.ndarray) -> np.ndarray:
        """(k, >=20) features -> (k*160,) float32 samples in int16 units."""
        f = np.ascontiguousarray(np.atleast_2d(np.asarray(features, dtype=np.float64))[:, :NB_FEATURES])
        if f.shape[1] < NB_FEATURES:
            raise ValueError(f"expected {NB_FEATURES} features per frame, got {f.shape[1]}")
        # decoded features may be slightly out of range (or, if corrupted, non-finite):
        # keep the vocoder finite and bounded rather than trusting them
        f = np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)
        np.clip(f[:, 18], -1.5, 1.5, out=f[:, 18])   # 62.5..500 Hz (specs 07 s1)
        np.clip(f[:, 19], -0.5, 0.5, out=f[:, 19])
        out = np.empty(f.shape[0] * FRAME_SIZE)
        _synth(f, out, self._fs, self._cprev, self._lpc, self._mem, self._pbuf, self._dline,
               self._u2line, self._rng, self._pfx, self._pfy, self._hp)
        return out.astype(np.float32)


def synthesize(features: np.ndarray) -> np.ndarray:
    """Whole-signal reference synthesis: (n, 20) features -> (n*160,) float32 (int16 units)."""
    return ReferenceSynth().synthesize(features)
