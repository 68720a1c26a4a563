"""Plain NumPy reference twin of :mod:`mlcodec.dsp.features` (whole signal, slow, for tests).

Written independently from the numba kernels, straight from specs 07 and docs/features.md:
vectorised band weighting, DCT and autocorrelation as matrix products, the NCCF with direct
energies, and the pitch tracker as an explicit full-history Viterbi with the same fixed-lag
decision rule. Tests compare the two with stated tolerances.
"""
from __future__ import annotations

import numpy as np

from mlcodec.dsp import features as F

_BANDW = None


def band_weights() -> np.ndarray:
    """(18, 161) triangular band weighting matrix of specs 07 s2.3 (edge bands doubled)."""
    global _BANDW
    if _BANDW is None:
        W = np.zeros((F.NB_BANDS, F.FREQ_SIZE))
        for i in range(F.NB_BANDS - 1):
            size = (F.EBAND[i + 1] - F.EBAND[i]) * 4
            j = np.arange(size)
            k = F.EBAND[i] * 4 + j
            W[i, k] += 1 - j / size
            W[i + 1, k] += j / size
        W[0] *= 2
        W[-1] *= 2
        _BANDW = W
    return _BANDW


def cepstrum_from_power(P: np.ndarray) -> np.ndarray:
    """specs 07 s2.3-s2.4 for one frame's power spectrum (161,)."""
    E = band_weights() @ P
    L = np.empty(F.NB_BANDS)
    log_max = follow = -2.0
    for i in range(F.NB_BANDS):
        v = max(log_max - 8, follow - 2.5, np.log10(0.01 + E[i]))
        L[i] = v
        log_max = max(log_max, v)
        follow = max(follow - 2.5, v)
    c = F.DCT @ L
    c[0] -= 4
    return c


def levinson(ac: np.ndarray) -> np.ndarray:
    lpc = np.zeros(F.LPC_ORDER)
    err = ac[0]
    if ac[0] == 0:
        return lpc
    for i in range(F.LPC_ORDER):
        rr = np.dot(lpc[:i], ac[i:0:-1]) + ac[i + 1]
        r = -rr / err
        prev = lpc[:i].copy()
        lpc[:i] = prev + r * prev[::-1]
        lpc[i] = r
        err -= r * r * err
        if err < 0.001 * ac[0]:
            break
    return lpc


def lpc_from_cepstrum(c: np.ndarray) -> np.ndarray:
    """specs 07 s4."""
    t = np.array(c[: F.NB_BANDS], dtype=np.float64)
    t[0] += 4
    Eb = 10.0 ** (F.DCT.T @ t) * F.COMP
    G = np.zeros(320)
    for i in range(F.NB_BANDS - 1):
        size = (F.EBAND[i + 1] - F.EBAND[i]) * 4
        j = np.arange(size)
        G[F.EBAND[i] * 4 + j] = (1 - j / size) * Eb[i] + (j / size) * Eb[i + 1]
    G[161:] = G[1:160][::-1]
    n = np.arange(F.LPC_ORDER + 1)
    ac = np.cos(2 * np.pi * np.outer(n, np.arange(320)) / 320) @ G
    ac[0] += ac[0] * 1e-4 + F.AC_NOISE
    ac *= F.LAG_WINDOW
    return levinson(ac)


def nccf(lp: np.ndarray, end: int) -> np.ndarray:
    x = lp[end - F.FRAME_SIZE:end]
    out = np.empty(F.N_LAGS)
    for li, lag in enumerate(range(F.LAG_LO, F.LAG_HI + 1)):
        y = lp[end - F.FRAME_SIZE - lag:end - lag]
        out[li] = np.dot(x, y) / np.sqrt((np.dot(x, x) + F.NCCF_FLOOR) * (np.dot(y, y) + F.NCCF_FLOOR))
    return out


def r_at(r: np.ndarray, lag: float) -> float:
    return float(np.interp(lag - F.LAG_LO, np.arange(F.N_LAGS), r))


def candidates(r: np.ndarray, carry: float):
    """Candidate lags and local scores (N_CAND each; empty slots have lag 0) and voicing."""
    lags = np.arange(F.LAG_LO, F.LAG_HI + 1)
    a, b, c = r[:-2], r[1:-1], r[2:]
    mid = lags[1:-1]
    ok = (b > 0) & (b >= a) & (b > c) & (mid >= F.PITCH_MIN) & (mid <= F.PITCH_MAX)
    den = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(den < 0, np.clip(0.5 * (a - c) / den, -0.5, 0.5), 0.0)
    val = b - 0.25 * (a - c) * d
    fl = np.clip(mid + d, F.PITCH_MIN, F.PITCH_MAX)
    idx = np.nonzero(ok)[0]
    # stable descending order by value (ties keep the lower lag first, as the kernel does)
    order = idx[np.argsort(-val[idx], kind="stable")][: F.N_CAND - 1]
    cl = np.zeros(F.N_CAND)
    cs = np.full(F.N_CAND, F._NEG)
    cl[: len(order)] = fl[order]
    cs[: len(order)] = val[order] - F.OCTAVE_COST * np.log2(fl[order] / F.PITCH_MIN)
    best = float(val[order[0]]) if len(order) else 0.0
    if carry <= 0 and len(order) == 0:
        carry = 128.0
    if carry > 0:
        cl[-1] = carry
        cs[-1] = r_at(r, carry) - F.OCTAVE_COST * np.log2(carry / F.PITCH_MIN)
    return cl, cs, best


def pitch_outputs(lp: np.ndarray, end: int, lag: float) -> tuple[float, float]:
    f = np.float32(np.log2(256.0 / lag) - 1.5)
    T = int(np.clip(np.floor(0.5 + 256.0 / 2.0 ** (float(f) + 1.5)), F.PITCH_MIN, F.PITCH_MAX))
    x = lp[end - F.FRAME_SIZE:end]
    y = lp[end - F.FRAME_SIZE - T:end - T]
    c = np.dot(x, y) / np.sqrt(1 + np.dot(x, x) * np.dot(y, y))
    cp = np.log1p(np.exp(5 * c)) / np.log1p(np.exp(5.0))
    return float(f), float(cp - 0.5)


def compute_features_ref(x: np.ndarray) -> np.ndarray:
    """Reference features (ceil(len/160), 20) for a whole int16-unit signal."""
    x = np.asarray(x, dtype=np.float64)
    n = -(-len(x) // F.FRAME_SIZE)
    x = np.concatenate([x, np.zeros(n * F.FRAME_SIZE - len(x))])
    y = x - F.PREEMPH * np.concatenate([[0.0], x[:-1]])
    buf = np.concatenate([np.zeros(F.FRAME_SIZE), y])
    win = F.WINDOW
    D = F.PITCH_LOOKAHEAD
    # pitch signal: pre-emphasised input delayed by 80 samples (specs 07 s5.1)
    a_all = np.concatenate([np.zeros(F.PITCH_DELAY), y])[: n * F.FRAME_SIZE]
    lp_all = np.zeros(F.LP_HIST + n * F.FRAME_SIZE)   # zero history, then one block per frame
    a_hist = np.zeros(F.LPC_ORDER)
    z = np.zeros(2)
    ceps = np.zeros((n, F.NB_BANDS))
    lags = np.zeros((n, F.N_CAND))
    acc = np.zeros((n, F.N_CAND))
    bp = np.zeros((n, F.N_CAND), dtype=int)
    out = np.zeros((n, F.NB_FEATURES), dtype=np.float32)
    decided = []
    for t in range(n):
        X = np.fft.rfft(buf[t * 160:t * 160 + 320] * win) / 320
        ceps[t] = cepstrum_from_power(np.abs(X) ** 2)
        lpc = lpc_from_cepstrum(ceps[t])
        a = a_all[t * 160:(t + 1) * 160]
        ext = np.concatenate([a_hist, a])
        res = a + np.array([np.dot(lpc, ext[15 + i::-1][:16]) for i in range(160)])
        a_hist = a[-16:]
        lp = np.empty(160)
        s1, s2 = z
        for i in range(160):
            o = res[i] + s1
            s1 = F.BQ_B[1] * res[i] - F.BQ_A[1] * o + s2
            s2 = F.BQ_B[2] * res[i] - F.BQ_A[2] * o
            lp[i] = o
        z = np.array([s1, s2])
        end = F.LP_HIST + (t + 1) * 160
        lp_all[end - 160:end] = lp
        r = nccf(lp_all, end)
        carry = 0.0
        if t > 0:
            valid = lags[t - 1] > 0
            carry = lags[t - 1][np.argmax(np.where(valid, acc[t - 1], -np.inf))]
        lags[t], acc[t], best = candidates(r, carry)
        if t == 0:
            bests = [best]
        else:
            bests.append(best)
            w = max(0.0, min(bests[t], bests[t - 1]))
            pv = lags[t - 1] > 0
            for j in range(F.N_CAND):
                if lags[t, j] <= 0:
                    acc[t, j] = F._NEG
                    continue
                with np.errstate(divide="ignore"):
                    v = np.where(pv, acc[t - 1] - F.JUMP_COST * w * np.abs(np.log2(lags[t, j] / np.where(pv, lags[t - 1], 1))), -np.inf)
                bp[t, j] = int(np.argmax(v))
                acc[t, j] += v[bp[t, j]]
            valid = lags[t] > 0
            acc[t, valid] -= acc[t, valid].max()
        if t >= D:
            j = int(np.argmax(np.where(lags[t] > 0, acc[t], -np.inf)))
            for s in range(t, t - D, -1):
                j = bp[s, j]
            decided.append((t - D, lags[t - D, j]))
    # end of stream: backtrack the rest from the best final state
    if n:
        j = int(np.argmax(np.where(lags[n - 1] > 0, acc[n - 1], -np.inf)))
        tail = []
        for s in range(n - 1, len(decided) - 1, -1):
            tail.append((s, lags[s, j]))
            j = bp[s, j]
        decided.extend(reversed(tail))
    lp_ends = F.LP_HIST + (np.arange(n) + 1) * 160
    for t, lag in decided:
        out[t, :18] = ceps[t]
        out[t, 18], out[t, 19] = pitch_outputs(lp_all, lp_ends[t], lag)
    return out
