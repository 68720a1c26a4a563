"""LPCNet-compatible acoustic features (specs 07), streaming, with numba hot loops.

Per 10 ms frame (160 samples at 16 kHz, int16-unit floats) the extractor outputs 20 values:
18 band-energy cepstra (specs 07 s2), the log-domain pitch feature and the pitch correlation
(specs 07 s5). libopus estimates pitch with PitchDNN; we use our own classical estimator
(normalised cross-correlation candidates + fixed-lag Viterbi tracking, docs/features.md), then
compute the correlation feature exactly as specs 07 s5.3 does from the chosen period. Optionally
(``pitch="net"``) features 18, 19 come from our pitch network instead (mlcodec.dsp.pitchnet).

Timing (specs 07 s6): frame t is complete when input samples [160t, 160t+160) have arrived.
The pitch tracker looks :data:`PITCH_LOOKAHEAD` frames ahead, so a streaming extractor emits
frame t once frame t + PITCH_LOOKAHEAD is complete (or at :meth:`FeatureExtractor.flush`).
The NumPy reference twin of every numba kernel is :mod:`mlcodec.dsp.features_ref`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from mlcodec.dsp.pitch import (  # noqa: F401  (re-exported estimator constants)
    JUMP_COST, LAG_HI, LAG_LO, N_CAND, N_LAGS, NCCF_FLOOR, OCTAVE_COST, PITCH_LOOKAHEAD,
    PITCH_MAX, PITCH_MIN, _NEG, _argmax_acc, _candidates, _dp_step, _nccf,
)

# --- specs 07 s1: frame layout -------------------------------------------------------------
FRAME_SIZE = 160
WINDOW_SIZE = 320
FREQ_SIZE = 161
NB_BANDS = 18
NB_FEATURES = 20
LPC_ORDER = 16
PREEMPH = 0.85
#: Index of the pitch feature and of the correlation feature (specs 07 s1).
PITCH_IDX = 18
CORR_IDX = 19

# --- specs 07 s2.1: power-complementary window ---------------------------------------------
_HALF = np.sin(0.5 * np.pi * np.sin(np.pi * (np.arange(160) + 0.5) / WINDOW_SIZE) ** 2)
WINDOW = np.concatenate([_HALF, _HALF[::-1]])
_WINDOW_SCALED = WINDOW / WINDOW_SIZE  # kiss-FFT's forward 1/N folded into the window

# --- specs 07 s2.3: band edges in units of 4 FFT bins (200 Hz) ------------------------------
EBAND = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 34, 40], dtype=np.int64)

# --- specs 07 s2.4 / s3: orthonormal DCT-II table, DCT[k, j] -------------------------------
_k = np.arange(NB_BANDS)[:, None]
_j = np.arange(NB_BANDS)[None, :]
DCT = np.sqrt(2.0 / NB_BANDS) * np.cos(np.pi * _k * (_j + 0.5) / NB_BANDS)
DCT[0] *= np.sqrt(0.5)
del _k, _j

# --- specs 07 s4: LPC from cepstrum ---------------------------------------------------------
COMP = np.array([0.8, 1, 1, 1, 1, 1, 1, 1, 0.666667, 0.5, 0.5, 0.5, 0.333333, 0.25, 0.25,
                 0.2, 0.166667, 0.173913])
#: Autocorrelation of a symmetric 320-bin power spectrum from its bins 0..159 (G[160] = 0).
AC_TABLE = 2.0 * np.cos(2 * np.pi * np.arange(LPC_ORDER + 1)[:, None] * np.arange(160)[None, :] / 320)
AC_TABLE[:, 0] = 1.0
AC_NOISE = 26.0 / 38.0  # "320/12/38." in C: integer division first (specs 07 s4)
LAG_WINDOW = 1.0 - 6e-5 * np.arange(LPC_ORDER + 1) ** 2

# --- specs 07 s5.1: low-pass biquad on the residual (ellip(2, 2, 20, 1200/8000)) -----------
BQ_B = np.array([1.0, -0.84946, 1.0])
BQ_A = np.array([1.0, -1.54220, 0.70781])
PITCH_DELAY = 80  # TRAINING_OFFSET, specs 07 s5.1
#: Low-passed residual history kept: lags + current frame + look-ahead frames.
LP_HIST = LAG_HI + FRAME_SIZE + PITCH_LOOKAHEAD * FRAME_SIZE + 3


def period_from_feature(p):
    """Pitch period in samples from the log-domain pitch feature (specs 07 s1, s5.2)."""
    return 256.0 / np.power(2.0, np.asarray(p, dtype=np.float64) + 1.5)


def feature_from_period(period):
    """Log-domain pitch feature from a (fractional) period in samples; inverse of the above."""
    return np.log2(256.0 / np.asarray(period, dtype=np.float64)) - 1.5


# ------------------------------------------------------------------------------------------
# numba kernels (twins in features_ref.py)
# ------------------------------------------------------------------------------------------

@njit(cache=True, fastmath=True)
def _cepstrum_from_power(P, ceps):
    """Band energies (triangular, s2.3), log floor (s2.4), DCT; writes 18 cepstra (c0 - 4)."""
    E = np.zeros(NB_BANDS)
    for i in range(NB_BANDS - 1):
        size = (EBAND[i + 1] - EBAND[i]) * 4
        base = EBAND[i] * 4
        for j in range(size):
            frac = j / size
            p = P[base + j]
            E[i] += (1.0 - frac) * p
            E[i + 1] += frac * p
    E[0] *= 2.0
    E[NB_BANDS - 1] *= 2.0
    L = np.empty(NB_BANDS)
    log_max = -2.0
    follow = -2.0
    for i in range(NB_BANDS):
        v = math.log10(0.01 + E[i])
        v = max(log_max - 8.0, max(follow - 2.5, v))
        L[i] = v
        log_max = max(log_max, v)
        follow = max(follow - 2.5, v)
    for k in range(NB_BANDS):
        acc = 0.0
        for j in range(NB_BANDS):
            acc += DCT[k, j] * L[j]
        ceps[k] = acc
    ceps[0] -= 4.0


@njit(cache=True)
def _levinson(ac, lpc):
    """Levinson-Durbin exactly as specs 07 s4 (lpcn_lpc); returns the final error."""
    for i in range(LPC_ORDER):
        lpc[i] = 0.0
    err = ac[0]
    if ac[0] == 0.0:
        return err
    for i in range(LPC_ORDER):
        rr = 0.0
        for j in range(i):
            rr += lpc[j] * ac[i - j]
        rr += ac[i + 1]
        r = -rr / err
        lpc[i] = r
        for j in range((i + 1) // 2):
            a = lpc[j]
            b = lpc[i - 1 - j]
            lpc[j] = a + r * b
            lpc[i - 1 - j] = b + r * a
        err -= r * r * err
        if err < 0.001 * ac[0]:
            break
    return err


@njit(cache=True)
def _band_energies_from_cepstrum(c, Eb):
    """Linear band energies 10^idct(c with c0 + 4) (specs 07 s3, s4 without comp)."""
    for i in range(NB_BANDS):
        acc = 0.0
        for k in range(NB_BANDS):
            acc += DCT[k, i] * c[k]
        acc += DCT[0, i] * 4.0
        Eb[i] = 10.0 ** acc


@njit(cache=True, fastmath=True)
def _lpc_from_cepstrum(c, lpc):
    """LPC (16) from 18 cepstra, specs 07 s4; returns the Levinson error."""
    Eb = np.empty(NB_BANDS)
    _band_energies_from_cepstrum(c, Eb)
    for i in range(NB_BANDS):
        Eb[i] *= COMP[i]
    G = np.empty(160)
    for i in range(NB_BANDS - 1):
        size = (EBAND[i + 1] - EBAND[i]) * 4
        base = EBAND[i] * 4
        for j in range(size):
            frac = j / size
            G[base + j] = (1.0 - frac) * Eb[i] + frac * Eb[i + 1]
    ac = np.empty(LPC_ORDER + 1)
    for n in range(LPC_ORDER + 1):
        acc = 0.0
        for k in range(160):
            acc += AC_TABLE[n, k] * G[k]
        ac[n] = acc
    ac[0] += ac[0] * 1e-4 + AC_NOISE
    for n in range(1, LPC_ORDER + 1):
        ac[n] *= LAG_WINDOW[n]
    return _levinson(ac, lpc)


@njit(cache=True)
def _pitch_outputs(lp, end, lag, out, k):
    """Pitch feature from a period, then the correlation feature per specs 07 s5.3."""
    f = math.log2(256.0 / lag) - 1.5
    f32 = np.float32(f)
    out[k, 0] = f32
    T = int(math.floor(0.5 + 256.0 / 2.0 ** (float(f32) + 1.5)))
    if T < PITCH_MIN:
        T = PITCH_MIN
    if T > PITCH_MAX:
        T = PITCH_MAX
    x0 = end - FRAME_SIZE
    xx = 0.0
    yy = 0.0
    xy = 0.0
    for n in range(FRAME_SIZE):
        a = lp[x0 + n]
        b = lp[x0 + n - T]
        xx += a * a
        yy += b * b
        xy += a * b
    c = xy / math.sqrt(1.0 + xx * yy)
    cp = math.log(1.0 + math.exp(5.0 * c)) / math.log(1.0 + math.exp(5.0))
    out[k, 1] = cp - 0.5


@njit(cache=True, fastmath=True)
def _analyze(y, P, prev_half, lpc_mem, bq, lp, ring_lag, ring_acc, ring_bp, ring_best,
             counters, out_ceps, out_pitch):
    """Run the per-frame pipeline on n new frames (pre-emphasised y, power spectra P).

    Writes cepstra of the new frames to out_ceps and (pitch, corr) of the frames decided
    during this call to out_pitch; returns how many frames were decided.
    """
    n = P.shape[0]
    R = PITCH_LOOKAHEAD + 1
    ceps = np.empty(NB_BANDS)
    lpc = np.empty(LPC_ORDER)
    a = np.empty(FRAME_SIZE)
    ext = np.empty(FRAME_SIZE + LPC_ORDER)
    res = np.empty(FRAME_SIZE)
    r = np.empty(N_LAGS)
    nd = 0
    H = lp.shape[0]
    for f in range(n):
        t = counters[0]
        _cepstrum_from_power(P[f], ceps)
        for k in range(NB_BANDS):
            out_ceps[f, k] = ceps[k]
        _lpc_from_cepstrum(ceps, lpc)
        # specs 07 s5.1: pitch signal = pre-emphasised input delayed by 80 samples
        for i in range(PITCH_DELAY):
            a[i] = prev_half[FRAME_SIZE - PITCH_DELAY + i]
        for i in range(FRAME_SIZE - PITCH_DELAY):
            a[PITCH_DELAY + i] = y[f * FRAME_SIZE + i]
        for i in range(FRAME_SIZE):
            prev_half[i] = y[f * FRAME_SIZE + i]
        # shift the low-passed residual history by one frame
        for i in range(H - FRAME_SIZE):
            lp[i] = lp[i + FRAME_SIZE]
        for k in range(LPC_ORDER):
            ext[k] = lpc_mem[k]
        for i in range(FRAME_SIZE):
            ext[LPC_ORDER + i] = a[i]
        for i in range(FRAME_SIZE):
            # residual e[n] = a[n] + sum_k lpc[k-1] a[n-k] (specs 07 s4 sign convention)
            acc = ext[LPC_ORDER + i]
            for k in range(LPC_ORDER):
                acc += lpc[k] * ext[LPC_ORDER + i - 1 - k]
            res[i] = acc
        s1 = bq[0]
        s2 = bq[1]
        for i in range(FRAME_SIZE):
            # transposed direct form II biquad (specs 07 s5.1)
            e = res[i]
            out = e + s1
            s1 = BQ_B[1] * e - BQ_A[1] * out + s2
            s2 = BQ_B[2] * e - BQ_A[2] * out
            lp[H - FRAME_SIZE + i] = out
        bq[0] = s1
        bq[1] = s2
        for k in range(LPC_ORDER):
            lpc_mem[k] = a[FRAME_SIZE - LPC_ORDER + k]
        _nccf(lp, H, r)
        row = t % R
        prow = (t - 1) % R
        carry = 0.0
        if t > 0:
            carry = ring_lag[prow, _argmax_acc(ring_acc, ring_lag, prow)]
        ring_best[row] = _candidates(r, carry, ring_lag[row], ring_acc[row])
        _dp_step(ring_lag, ring_acc, ring_bp, ring_best, row, prow, t == 0)
        counters[0] = t + 1
        if t >= PITCH_LOOKAHEAD:
            j = _argmax_acc(ring_acc, ring_lag, row)
            rr = row
            for _ in range(PITCH_LOOKAHEAD):
                j = ring_bp[rr, j]
                rr = (rr - 1) % R
            _pitch_outputs(lp, H - PITCH_LOOKAHEAD * FRAME_SIZE, ring_lag[rr, j], out_pitch, nd)
            nd += 1
            counters[1] += 1
    return nd


@njit(cache=True)
def _finish(lp, ring_lag, ring_acc, ring_bp, counters, out_pitch):
    """Decide all frames still waiting for look-ahead (end of stream); returns their count."""
    R = PITCH_LOOKAHEAD + 1
    t_last = counters[0] - 1
    nrem = counters[0] - counters[1]
    if nrem <= 0:
        return 0
    H = lp.shape[0]
    lags = np.empty(nrem)
    row = t_last % R
    j = _argmax_acc(ring_acc, ring_lag, row)
    for m in range(nrem):
        lags[nrem - 1 - m] = ring_lag[row, j]
        if m < nrem - 1:
            j = ring_bp[row, j]
            row = (row - 1) % R
    for m in range(nrem):
        age = nrem - 1 - m
        _pitch_outputs(lp, H - age * FRAME_SIZE, lags[m], out_pitch, m)
    counters[1] += nrem
    return nrem


# ------------------------------------------------------------------------------------------
# public API
# ------------------------------------------------------------------------------------------

def power_spectra(y_prev_half: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|X[k]|^2 (n, 161) of the windowed 320-sample frames (specs 07 s2.1-s2.2, 1/320 scaling)."""
    n = y.shape[0] // FRAME_SIZE
    buf = np.concatenate([y_prev_half, y[: n * FRAME_SIZE]])
    frames = np.lib.stride_tricks.sliding_window_view(buf, WINDOW_SIZE)[::FRAME_SIZE]
    X = np.fft.rfft(frames * _WINDOW_SCALED, axis=1)
    return X.real ** 2 + X.imag ** 2


_BLOCK = 256  # frames per analysis block inside process()
#: Pitch estimators of :class:`FeatureExtractor`: our classical tracker, our pitch network.
PITCH_ESTIMATORS = ("classic", "net")


class FeatureExtractor:
    """Streaming feature analysis: chunks of any size give the same frames as the whole file.

    :meth:`process` returns the frames that are final so far (each frame waits for
    :data:`PITCH_LOOKAHEAD` later frames); :meth:`flush` zero-pads a trailing partial frame
    and returns everything left. The total number of frames is ceil(samples / 160).
    ``pitch="net"`` takes features 18, 19 from our pitch network (:mod:`mlcodec.dsp.pitchnet`,
    libopus's PitchDNN definition; ``pitch_weights`` overrides its blob) instead of the classic
    tracker; the cepstrum and the emission timing are the same.
    """

    def __init__(self, pitch: str = "classic", pitch_weights=None) -> None:
        if pitch not in PITCH_ESTIMATORS:
            raise ValueError(f"unknown pitch estimator {pitch!r} (one of {', '.join(PITCH_ESTIMATORS)})")
        self.pitch = pitch
        self._net = None
        self._net_queue = np.zeros((0, 2))
        if pitch == "net":  # our pitch network (mlcodec.dsp.pitchnet); its own import keeps start-up light
            from mlcodec.dsp.pitchnet import PitchNetTracker

            self._net = PitchNetTracker(pitch_weights)
        self._pending = np.zeros(0)
        self._pre_mem = 0.0                      # last raw input sample (pre-emphasis state)
        self._prev_half = np.zeros(FRAME_SIZE)   # previous pre-emphasised frame
        self._lpc_mem = np.zeros(LPC_ORDER)
        self._bq = np.zeros(2)
        self._lp = np.zeros(LP_HIST)
        R = PITCH_LOOKAHEAD + 1
        self._ring_lag = np.zeros((R, N_CAND))
        self._ring_acc = np.zeros((R, N_CAND))
        self._ring_bp = np.zeros((R, N_CAND), dtype=np.int64)
        self._ring_best = np.zeros(R)
        self._counters = np.zeros(2, dtype=np.int64)  # frames analysed, frames emitted
        self._ceps_queue = np.zeros((0, NB_BANDS))
        self._flushed = False

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Feed int16-unit samples; returns the (k, 20) float32 frames completed so far."""
        if self._flushed:
            raise ValueError("FeatureExtractor already flushed")
        x = np.asarray(chunk, dtype=np.float64).reshape(-1)
        if self._pending.size:
            x = np.concatenate([self._pending, x])
        n = x.shape[0] // FRAME_SIZE
        self._pending = x[n * FRAME_SIZE:].copy()
        if n == 0:
            return np.zeros((0, NB_FEATURES), dtype=np.float32)
        x = x[: n * FRAME_SIZE]
        if self._net is not None:
            self._net_queue = np.concatenate([self._net_queue, self._net.process(x)])
        # specs 07 s2 step 1: pre-emphasis y[n] = x[n] - 0.85 x[n-1]
        prev = np.empty_like(x)
        prev[0] = self._pre_mem
        prev[1:] = x[:-1]
        y = x - PREEMPH * prev
        self._pre_mem = float(x[-1])
        ceps = np.empty((n, NB_BANDS))
        pitch = np.empty((n, 2))
        nd = 0
        # blocks of frames keep the spectra in cache; results do not depend on the blocking
        for b0 in range(0, n, _BLOCK):
            b1 = min(n, b0 + _BLOCK)
            yb = y[b0 * FRAME_SIZE:b1 * FRAME_SIZE]
            P = power_spectra(self._prev_half, yb)
            nd += _analyze(yb, P, self._prev_half, self._lpc_mem, self._bq, self._lp,
                           self._ring_lag, self._ring_acc, self._ring_bp, self._ring_best,
                           self._counters, ceps[b0:b1], pitch[nd:])
        return self._emit(ceps, pitch[:nd])

    def _emit(self, ceps: np.ndarray, pitch: np.ndarray) -> np.ndarray:
        q = np.concatenate([self._ceps_queue, ceps]) if self._ceps_queue.size else ceps
        k = pitch.shape[0]
        self._ceps_queue = q[k:].copy()
        out = np.empty((k, NB_FEATURES), dtype=np.float32)
        out[:, :NB_BANDS] = q[:k]
        out[:, NB_BANDS:] = pitch
        if self._net is not None:  # the network's pitch/correlation replace the classic tracker's
            out[:, NB_BANDS:] = self._net_queue[:k]
            self._net_queue = self._net_queue[k:]
        return out

    def flush(self) -> np.ndarray:
        """End of stream: zero-pad a partial frame and return all remaining frames."""
        if self._flushed:
            return np.zeros((0, NB_FEATURES), dtype=np.float32)
        parts = []
        if self._pending.size:
            pad = np.zeros(FRAME_SIZE - self._pending.size)
            parts.append(self.process(pad))
        self._flushed = True
        pitch = np.empty((PITCH_LOOKAHEAD + 1, 2))
        nd = _finish(self._lp, self._ring_lag, self._ring_acc, self._ring_bp, self._counters,
                     pitch)
        parts.append(self._emit(np.zeros((0, NB_BANDS)), pitch[:nd]))
        return np.concatenate(parts) if len(parts) > 1 else parts[0]


def compute_features(x: np.ndarray, pitch: str = "classic", pitch_weights=None) -> np.ndarray:
    """Features (ceil(len/160), 20) float32 of a whole int16-unit 16 kHz signal.

    ``pitch``: "classic" (our NCCF + Viterbi tracker, the default) or "net" (our pitch network,
    libopus's PitchDNN definition, :mod:`mlcodec.dsp.pitchnet`; ``pitch_weights`` overrides
    its shipped blob).
    """
    ex = FeatureExtractor(pitch, pitch_weights)
    a = ex.process(x)
    b = ex.flush()
    return np.concatenate([a, b])


def cepstrum_to_band_energies(c: np.ndarray) -> np.ndarray:
    """Linear band energies (18,) from one frame's 18 cepstra (specs 07 s3, inverse of s2.4)."""
    Eb = np.empty(NB_BANDS)
    _band_energies_from_cepstrum(np.ascontiguousarray(c[:NB_BANDS], dtype=np.float64), Eb)
    return Eb


def lpc_from_features(f: np.ndarray) -> np.ndarray:
    """LPC (n, 16) from the cepstrum of (n, >=18) features (or (16,) from one frame), specs 07 s4."""
    f = np.asarray(f, dtype=np.float64)
    single = f.ndim == 1
    f2 = np.atleast_2d(f)
    out = np.empty((f2.shape[0], LPC_ORDER))
    lpc = np.empty(LPC_ORDER)
    for i in range(f2.shape[0]):
        _lpc_from_cepstrum(np.ascontiguousarray(f2[i, :NB_BANDS]), lpc)
        out[i] = lpc
    return out[0] if single else out
