"""Plain NumPy twin of :mod:`mlcodec.libopus.lpcnet_analysis` + :mod:`~mlcodec.libopus.lpcnet_features`.

Written separately from the numba code, frame by frame as ``dnn/lpcnet_enc.c`` reads: the kiss
FFT's butterflies vectorised over each stage, ``celt_log2`` through the float's bit pattern (a
uint32 view, as C's union), sums kept sequential (a Python loop over the summed index, NumPy over
the outputs). Same float32/double operation sequence, so it must equal the fast code bit for bit.
Slow (tests only). PitchDNN runs through :mod:`mlcodec.libopus.reference_pitchdnn`.
"""
from __future__ import annotations

import math

import numpy as np

from mlcodec.libopus import lpcnet_tables as T
from mlcodec.libopus.reference_pitchdnn import ReferencePitchDNN

F = np.float32
_LX = np.array([1.0, 8.88888895511627197265625e-01, 8.0e-01, 7.27272748947143554687500e-01,
                6.66666686534881591796875e-01, 6.15384638309478759765625e-01,
                5.71428596973419189453125e-01, 5.33333361148834228515625e-01], dtype=F)
_LY = np.array([0.0, 1.699250042438507080078125e-01, 3.219280838966369628906250e-01,
                4.594316184520721435546875e-01, 5.849624872207641601562500e-01,
                7.004396915435791015625000e-01, 8.073549270629882812500000e-01,
                9.068905711174011230468750e-01], dtype=F)
_LA = [F(8.74628424644470214843750000e-02), F(1.357829570770263671875), F(-6.3897705078125e-01),
       F(4.01971250772476196289062500e-01), F(-2.8415444493293762207031250e-01)]


def celt_log2(x) -> np.ndarray:
    """FLOAT_APPROX ``celt_log2`` on an array: exponent from the bits, quartic on the mantissa."""
    x = np.atleast_1d(np.asarray(x, dtype=F))
    bits = x.view(np.uint32).astype(np.int64)
    integer = (bits >> 23) - 127
    mb = (bits - (integer << 23)).astype(np.uint32)
    idx = (mb >> 20) & 7
    y = (mb.view(F) * _LX[idx] - F(1.0625)).astype(F)
    y = (_LA[0] + y * (_LA[1] + y * (_LA[2] + y * (_LA[3] + y * _LA[4])))).astype(F)
    return (integer.astype(F) + y + _LY[idx]).astype(F)


def fft(x_re, x_im) -> tuple[np.ndarray, np.ndarray]:
    """``opus_fft_c`` (float, nfft 320) with the generated tables; returns (re, im)."""
    n = T.FFT_N
    fr = np.zeros(n, dtype=F)
    fi = np.zeros(n, dtype=F)
    fr[T.FFT_BITREV] = np.asarray(x_re, F) * T.FFT_SCALE
    fi[T.FFT_BITREV] = np.asarray(x_im, F) * T.FFT_SCALE
    tr, ti = T.FFT_TW_RE, T.FFT_TW_IM
    fst = [1]
    for p, _ in T.FFT_FACTORS:
        fst.append(fst[-1] * p)
    L = len(T.FFT_FACTORS)
    m = T.FFT_FACTORS[-1][1]
    for k in range(L - 1, -1, -1):
        p = T.FFT_FACTORS[k][0]
        mm = T.FFT_FACTORS[k - 1][1] if k else 1
        N, fs = fst[k], fst[k]
        j = np.arange(m)
        base = (np.arange(N)[:, None] * mm + j[None, :]).reshape(-1)  # Fout positions, all i and j
        jj = np.tile(j, N)

        def cmul(a, t):
            return (fr[a] * tr[t] - fi[a] * ti[t]).astype(F), (fr[a] * ti[t] + fi[a] * tr[t]).astype(F)

        if p == 4:
            if m == 1:
                base = np.arange(N) * 4
                a0, a1, a2, a3 = base, base + 1, base + 2, base + 3
                s0 = (fr[a0] - fr[a2], fi[a0] - fi[a2])
                f0 = (fr[a0] + fr[a2], fi[a0] + fi[a2])
                s1 = (fr[a1] + fr[a3], fi[a1] + fi[a3])
                f2 = (f0[0] - s1[0], f0[1] - s1[1])
                f0 = (f0[0] + s1[0], f0[1] + s1[1])
                s1 = (fr[a1] - fr[a3], fi[a1] - fi[a3])
                fr[a0], fi[a0], fr[a2], fi[a2] = f0[0], f0[1], f2[0], f2[1]
                fr[a1], fi[a1] = s0[0] + s1[1], s0[1] - s1[0]
                fr[a3], fi[a3] = s0[0] - s1[1], s0[1] + s1[0]
            else:
                a0, a1, a2, a3 = base, base + m, base + 2 * m, base + 3 * m
                s0 = cmul(a1, jj * fs)
                s1 = cmul(a2, 2 * jj * fs)
                s2 = cmul(a3, 3 * jj * fs)
                s5 = (fr[a0] - s1[0], fi[a0] - s1[1])
                f0 = (fr[a0] + s1[0], fi[a0] + s1[1])
                s3 = (s0[0] + s2[0], s0[1] + s2[1])
                s4 = (s0[0] - s2[0], s0[1] - s2[1])
                fr[a2], fi[a2] = f0[0] - s3[0], f0[1] - s3[1]
                fr[a0], fi[a0] = f0[0] + s3[0], f0[1] + s3[1]
                fr[a1], fi[a1] = s5[0] + s4[1], s5[1] - s4[0]
                fr[a3], fi[a3] = s5[0] - s4[1], s5[1] + s4[0]
        else:  # radix 5
            ya = (tr[fs * m], ti[fs * m])
            yb = (tr[fs * 2 * m], ti[fs * 2 * m])
            a = [base + q * m for q in range(5)]
            s0 = (fr[a[0]].copy(), fi[a[0]].copy())
            s1, s2, s3, s4 = (cmul(a[q], q * jj * fs) for q in range(1, 5))
            s7 = (s1[0] + s4[0], s1[1] + s4[1])
            s10 = (s1[0] - s4[0], s1[1] - s4[1])
            s8 = (s2[0] + s3[0], s2[1] + s3[1])
            s9 = (s2[0] - s3[0], s2[1] - s3[1])
            fr[a[0]] = s0[0] + (s7[0] + s8[0])
            fi[a[0]] = s0[1] + (s7[1] + s8[1])
            s5 = (s0[0] + (s7[0] * ya[0] + s8[0] * yb[0]), s0[1] + (s7[1] * ya[0] + s8[1] * yb[0]))
            s6 = (s10[1] * ya[1] + s9[1] * yb[1], -(s10[0] * ya[1] + s9[0] * yb[1]))
            fr[a[1]], fi[a[1]] = s5[0] - s6[0], s5[1] - s6[1]
            fr[a[4]], fi[a[4]] = s5[0] + s6[0], s5[1] + s6[1]
            s11 = (s0[0] + (s7[0] * yb[0] + s8[0] * ya[0]), s0[1] + (s7[1] * yb[0] + s8[1] * ya[0]))
            s12 = (s9[1] * ya[1] - s10[1] * yb[1], s10[0] * yb[1] - s9[0] * ya[1])
            fr[a[2]], fi[a[2]] = s11[0] + s12[0], s11[1] + s12[1]
            fr[a[3]], fi[a[3]] = s11[0] - s12[0], s11[1] - s12[1]
        m = mm
    return fr, fi


def _seq_dot_rows(vecs, x) -> np.ndarray:
    """out[k] = sum_j x[j] * vecs[j][k], accumulated in order of j in float32."""
    out = np.zeros(len(vecs[0]), dtype=F)
    for j in range(len(x)):
        out = (out + x[j] * vecs[j]).astype(F)
    return out


def _dct(v, transpose: bool) -> np.ndarray:
    tab = T.DCT_TABLE.reshape(18, 18)
    rows = tab.T if transpose else tab  # dct: sum_j in[j]*tab[j, i]; idct: sum_j in[j]*tab[i, j]
    s = _seq_dot_rows(list(rows), np.asarray(v, F))
    return (s.astype(np.float64) * T.SQRT_2_OVER_NB_BANDS).astype(F)


def _band_weights():
    for i in range(17):
        bs = int(T.EBAND5MS[i + 1] - T.EBAND5MS[i]) * 4
        for j in range(bs):
            yield i, int(T.EBAND5MS[i]) * 4 + j, F(j) / F(bs)


def lpc_from_cepstrum(ceps) -> np.ndarray:
    t = np.array(ceps[:18], dtype=F)
    t[0] = t[0] + F(4)
    Ex = _dct(t, True)
    Ex = np.array([F(math.pow(10.0, float(e)) * float(c)) for e, c in zip(Ex, T.COMPENSATION)], dtype=F)
    g = np.zeros(161, dtype=F)
    for i, k, frac in _band_weights():
        g[k] = (F(1) - frac) * Ex[i] + frac * Ex[i + 1]
    xr = np.concatenate([g, g[1:160][::-1]]).astype(F)
    xi = np.concatenate([np.zeros(161, F), -np.zeros(159, F)])
    yr, _ = fft(xr, xi)
    ac = np.concatenate([[F(320) * yr[0]], F(320) * yr[320 - np.arange(1, 17)]]).astype(F)
    ac[0] = F(float(ac[0]) + (float(ac[0]) * 1e-4 + 26 / 38.))
    for i in range(1, 17):
        ac[i] = F(float(ac[i]) * (1 - 6e-5 * i * i))
    lpc = np.zeros(16, dtype=F)
    err = ac[0]
    if ac[0] != 0:
        for i in range(16):
            rr = F(0)
            for j in range(i):
                rr = F(rr + lpc[j] * ac[i - j])
            rr = F(rr + ac[i + 1])
            r = F(-rr / err)
            lpc[i] = r
            for j in range((i + 1) >> 1):
                a, b = lpc[j], lpc[i - 1 - j]
                lpc[j], lpc[i - 1 - j] = F(a + r * b), F(b + r * a)
            err = F(err - F(r * r) * err)
            if err < F(.001) * ac[0]:
                break
    return lpc


class ReferenceFeatureExtractor:
    """Frame-by-frame ``lpcnet_compute_single_frame_features`` (36 features per frame)."""

    def __init__(self, ws):
        self.pitchdnn = ReferencePitchDNN(ws)
        self.amem = np.zeros(160, F)
        self.mem_preemph = F(0)
        self.prev = (np.zeros(30, F), np.zeros(30, F))
        self.pitch_mem = np.zeros(16, F)
        self.pitch_filt = F(0)
        self.exc = np.zeros(416, F)
        self.lp = np.zeros(416, F)
        self.lp_mem = [F(0), F(0)]

    def frame(self, pcm160) -> np.ndarray:
        x = np.asarray(pcm160, dtype=F)
        inp = np.zeros(160, F)
        mem = self.mem_preemph
        for i in range(160):
            inp[i] = x[i] + mem
            mem = F(-T.PREEMPHASIS * x[i])
        self.mem_preemph = mem
        aligned = np.concatenate([self.amem[80:], inp[:80]]).astype(F)
        w = np.concatenate([self.amem, inp]).astype(F)
        self.amem = inp.copy()
        w[:160] = w[:160] * T.HALF_WINDOW
        w[160:] = w[160:] * T.HALF_WINDOW[::-1]
        Xr, Xi = fft(w, np.zeros(320, F))
        Ex = np.zeros(18, F)
        for i, k, frac in _band_weights():
            tmp = F(F(Xr[k] * Xr[k]) + F(Xi[k] * Xi[k]))
            Ex[i] = F(Ex[i] + F(F(1) - frac) * tmp)
            Ex[i + 1] = F(Ex[i + 1] + frac * tmp)
        Ex[0] *= F(2)
        Ex[17] *= F(2)
        # IF features
        pr_, pi_ = self.prev
        iff = np.zeros(88, F)
        log10 = lambda v: (F(0.3010299957) * celt_log2(v)).astype(F)
        clamp = lambda v: np.maximum(F(-1), np.minimum(F(1), v))
        iff[0] = clamp(F(1 / 64) * (F(10) * log10(F(1e-15) + Xr[0] * Xr[0]) - F(6)))[0]
        k = np.arange(1, 30)
        pr = (Xr[k] * pr_[k] + Xi[k] * pi_[k]).astype(F)
        pim = (Xi[k] * pr_[k] - Xr[k] * pi_[k]).astype(F)
        n1 = (1.0 / np.sqrt((F(1e-15) + pr * pr + pim * pim).astype(np.float64))).astype(F)
        iff[3 * k - 2] = pr * n1
        iff[3 * k - 1] = pim * n1
        iff[3 * k] = clamp(F(1 / 64) * (F(10) * log10(F(1e-15) + Xr[k] * Xr[k] + Xi[k] * Xi[k]) - F(6)))
        self.prev = (Xr[:30].copy(), Xi[:30].copy())
        # cepstrum
        Ly = np.zeros(18, F)
        logmax, follow = F(-2), F(-2)
        for i in range(18):
            y = log10(F(1e-2) + Ex[i])[0]
            a = F(follow - F(2.5))
            y = a if a > y else y
            a = F(logmax - F(8))
            y = a if a > y else y
            Ly[i] = y
            logmax = logmax if logmax > y else y
            follow = follow - F(2.5) if follow - F(2.5) > y else y
        feats = np.zeros(36, F)
        feats[:18] = _dct(Ly, False)
        feats[0] = feats[0] - F(4)
        lpc = lpc_from_cepstrum(feats)
        feats[20:] = lpc
        # residual, excitation, low-pass
        self.exc[:256] = self.exc[160:].copy()
        self.lp[:256] = self.lp[160:].copy()
        fx = np.concatenate([self.pitch_mem, aligned]).astype(F)
        self.pitch_mem = aligned[144:].copy()
        res = fx[16:].copy()
        for j in range(16):
            res = (res + lpc[15 - j] * fx[j:j + 160]).astype(F)
        self.lp[256:] = res
        prevs = np.concatenate([[self.pitch_filt], res[:-1]]).astype(F)
        self.exc[256:] = (res + F(.7) * prevs).astype(F)
        self.pitch_filt = res[-1]
        b0, b1, a0, a1 = F(-0.84946), F(1.0), F(-1.54220), F(0.70781)
        m0, m1 = self.lp_mem
        for i in range(160):
            xi = self.lp[256 + i]
            yi = F(xi + m0)
            m0, m1 = F(F(F(b0 - a0) * xi + m1) - a0 * m0), F(F(F(b1 - a1) * xi + F(1e-30)) - a1 * m0)
            self.lp[256 + i] = yi
        self.lp_mem = [m0, m1]
        exc = self.exc
        xc = _seq_dot_rows([exc[j:j + 224] for j in range(160)], exc[256:416])
        e0 = _seq_dot_rows([np.array([v]) for v in exc[256:416]], exc[256:416])[0]
        e1 = float(_seq_dot_rows([np.array([v]) for v in exc[:160]], exc[:160])[0])
        xcf = np.zeros(224, F)
        for i in range(224):
            en = F(float(F(1) + e0) + e1)
            xcf[i] = F(F(2) * xc[i]) / en
            e1 = e1 + (float(exc[i + 160]) ** 2 - float(exc[i]) ** 2)
        dnn_pitch = self.pitchdnn.frame(iff, xcf)
        pitch = int(math.floor(.5 + 256. / math.pow(2.0, (1. / 60.) * ((float(dnn_pitch) + 1.5) * 60))))
        cur, past = self.lp[256:], self.lp[256 - pitch:416 - pitch]
        dot = lambda a, b: _seq_dot_rows([np.array([v]) for v in a], b)[0]
        xx, yy, xy = dot(cur, cur), dot(past, past), dot(cur, past)
        fc = F(float(xy) / math.sqrt(float(F(1) + F(xx * yy))))
        fc = F(math.log(1.0 + math.exp(float(F(5) * fc))) / math.log(1 + math.exp(5.0)))
        feats[18] = dnn_pitch
        feats[19] = fc - F(.5)
        return feats


def reference_features(ws, pcm) -> np.ndarray:
    """(frames, 36) features of int16-unit samples (whole frames only)."""
    ex = ReferenceFeatureExtractor(ws)
    pcm = np.asarray(pcm, dtype=F)
    return np.array([ex.frame(pcm[t * 160:t * 160 + 160]) for t in range(len(pcm) // 160)], dtype=F).reshape(-1, 36)
