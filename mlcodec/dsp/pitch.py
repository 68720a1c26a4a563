"""Classical pitch estimator for the LPCNet pitch feature (our replacement for PitchDNN).

libopus 1.5+ estimates pitch with a neural network (specs 07 s5.2). We use a classical design
(docs/features.md): per 10 ms frame, the normalised cross-correlation (NCCF) of the low-passed
LPC residual of specs 07 s5.1 over lags 31..257; its best local maxima, refined to a fraction
of a sample by parabolic interpolation, plus the previous frame's choice ("carry") are the
candidates; each scores its NCCF minus a small per-octave penalty (so the shortest of equally
good period multiples wins, a subharmonic check); a Viterbi search with a per-octave jump cost
(scaled by how voiced both frames are) picks the track, deciding each frame with
PITCH_LOOKAHEAD frames of look-ahead (fixed-lag smoothing). The kernels run inside
:func:`mlcodec.dsp.features._analyze`; the NumPy twin is in :mod:`mlcodec.dsp.features_ref`.

numba caches ``_analyze`` with these kernels inlined and does not notice edits here: after
changing this file, clear ``mlcodec/dsp/__pycache__/*.nb[ic]`` (docs/features.md).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Pitch period range in samples at 16 kHz (62.5-500 Hz, specs 07 s1).
PITCH_MIN = 32
PITCH_MAX = 256
#: NCCF window: one 10 ms frame (specs 07 s1).
FRAME_SIZE = 160
#: Frames of look-ahead of the fixed-lag Viterbi pitch tracker (= streaming output delay).
PITCH_LOOKAHEAD = 2
#: Candidates per frame: best NCCF peaks plus the previous frame's chosen lag ("carry").
N_CAND = 8
#: Local score penalty per octave of lag (prefers the shortest of equally good multiples).
OCTAVE_COST = 0.02
#: Transition cost per octave of pitch change between frames, scaled by voicing.
JUMP_COST = 0.5
#: Energy floor (int16 units squared, summed over a frame) in the NCCF denominator.
NCCF_FLOOR = 160.0
LAG_LO = PITCH_MIN - 1   # NCCF lags computed: LAG_LO..LAG_HI (neighbours for interpolation)
LAG_HI = PITCH_MAX + 1
N_LAGS = LAG_HI - LAG_LO + 1
_NEG = -1e30


@njit(cache=True, fastmath=True)
def _dot(a, b):
    acc = 0.0
    for n in range(a.shape[0]):
        acc += a[n] * b[n]
    return acc


@njit(cache=True, fastmath=True)
def _nccf(lp, end, r):
    """Normalised cross-correlation of lp[end-160:end] with lags LAG_LO..LAG_HI into r."""
    x0 = end - FRAME_SIZE
    xs = lp[x0:end]
    xx = _dot(xs, xs)
    y0 = x0 - LAG_LO
    ys = lp[y0:y0 + FRAME_SIZE]
    yy = _dot(ys, ys)
    for li in range(N_LAGS):
        y0 = x0 - LAG_LO - li
        if li > 0:
            # slide the lagged window one sample back in time
            yy += lp[y0] * lp[y0] - lp[y0 + FRAME_SIZE] * lp[y0 + FRAME_SIZE]
            if yy < 0.0:
                yy = 0.0
        xy = _dot(xs, lp[y0:y0 + FRAME_SIZE])
        r[li] = xy / math.sqrt((xx + NCCF_FLOOR) * (yy + NCCF_FLOOR))


@njit(cache=True)
def _r_at(r, lag):
    """NCCF at a fractional lag by linear interpolation of the integer grid."""
    pos = lag - LAG_LO
    i = int(math.floor(pos))
    if i < 0:
        return r[0]
    if i >= N_LAGS - 1:
        return r[N_LAGS - 1]
    f = pos - i
    return (1.0 - f) * r[i] + f * r[i + 1]


@njit(cache=True)
def _candidates(r, carry, cand_lag, cand_score):
    """Fill N_CAND candidates: best NCCF peaks (parabolic refinement) + carry lag.

    Returns the best peak correlation of the frame (voicing strength, >= 0).
    """
    peaks_lag = np.empty(N_LAGS)
    peaks_r = np.empty(N_LAGS)
    npk = 0
    for li in range(1, N_LAGS - 1):
        lag = LAG_LO + li
        if lag < PITCH_MIN or lag > PITCH_MAX:
            continue
        a = r[li - 1]
        b = r[li]
        c = r[li + 1]
        if b > 0.0 and b >= a and b > c:
            den = a - 2.0 * b + c
            d = 0.0
            if den < 0.0:
                d = 0.5 * (a - c) / den
                if d > 0.5:
                    d = 0.5
                elif d < -0.5:
                    d = -0.5
            val = b - 0.25 * (a - c) * d
            fl = lag + d
            if fl < PITCH_MIN:
                fl = float(PITCH_MIN)
            if fl > PITCH_MAX:
                fl = float(PITCH_MAX)
            peaks_lag[npk] = fl
            peaks_r[npk] = val
            npk += 1
    for j in range(N_CAND):
        cand_lag[j] = 0.0
        cand_score[j] = _NEG
    best = 0.0
    n = 0
    for j in range(N_CAND - 1):
        bi = -1
        bv = -1.0
        for p in range(npk):
            if peaks_r[p] > bv:
                bv = peaks_r[p]
                bi = p
        if bi < 0:
            break
        if j == 0:
            best = bv
        cand_lag[n] = peaks_lag[bi]
        cand_score[n] = bv - OCTAVE_COST * math.log2(peaks_lag[bi] / PITCH_MIN)
        peaks_r[bi] = -2.0
        n += 1
    if carry <= 0.0 and n == 0:
        carry = 128.0
    if carry > 0.0:
        cand_lag[N_CAND - 1] = carry
        cand_score[N_CAND - 1] = _r_at(r, carry) - OCTAVE_COST * math.log2(carry / PITCH_MIN)
    return best


@njit(cache=True)
def _dp_step(ring_lag, ring_acc, ring_bp, ring_best, row, prow, first):
    """One Viterbi step: accumulate scores of frame ``row`` from frame ``prow``."""
    if first:
        for j in range(N_CAND):
            ring_bp[row, j] = 0
        # scores already hold the local scores
        return
    w = min(ring_best[row], ring_best[prow])
    if w < 0.0:
        w = 0.0
    top = _NEG
    for j in range(N_CAND):
        lj = ring_lag[row, j]
        if lj <= 0.0:
            ring_acc[row, j] = _NEG
            ring_bp[row, j] = 0
            continue
        bi = 0
        bv = _NEG
        for i in range(N_CAND):
            li = ring_lag[prow, i]
            if li <= 0.0:
                continue
            v = ring_acc[prow, i] - JUMP_COST * w * abs(math.log2(lj / li))
            if v > bv:
                bv = v
                bi = i
        ring_acc[row, j] += bv
        ring_bp[row, j] = bi
        if ring_acc[row, j] > top:
            top = ring_acc[row, j]
    for j in range(N_CAND):
        if ring_lag[row, j] > 0.0:
            ring_acc[row, j] -= top


@njit(cache=True)
def _argmax_acc(ring_acc, ring_lag, row):
    bi = 0
    bv = _NEG * 10
    for j in range(N_CAND):
        if ring_lag[row, j] > 0.0 and ring_acc[row, j] > bv:
            bv = ring_acc[row, j]
            bi = j
    return bi
