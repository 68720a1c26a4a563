"""numba kernels of libopus's LPCNet feature analysis (``dnn/lpcnet_enc.c``, ``dnn/freq.c``).

Operation for operation the float32/double sequence of libopus's portable C build (specs 07
s2-s5): kiss-FFT radix 5/4 butterflies, ``celt_log2`` with FLOAT_APPROX (libopus's default
configure), the LPC-from-cepstrum path, the residual, biquad and xcorr features. Every C
expression that promotes to double (``sqrt``, ``pow``, ``exp``, ``log``, the ``ener1`` sums) does
so here too; everything else stays float32 (numba ``fastmath=False``: no FMA, no reassociation).
The NumPy twin is :mod:`mlcodec.libopus.reference_lpcnet_features`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

import mlcodec.libopus.lpcnet_tables as T  # a DSP-layer module (tests/test_architecture.py)

F32 = np.float32
_J = dict(cache=True, fastmath=False, error_model="numpy")

_BITREV = T.FFT_BITREV
_TWR = T.FFT_TW_RE
_TWI = T.FFT_TW_IM
_SCALE = T.FFT_SCALE
_STAGES = np.array(T.FFT_FACTORS, dtype=np.int64)
_HALF_WINDOW = T.HALF_WINDOW
_DCT = T.DCT_TABLE
_SQ = T.SQRT_2_OVER_NB_BANDS
_EBAND = T.EBAND5MS
_COMP = T.COMPENSATION

_F0 = F32(0.0)
_F1 = F32(1.0)
_F2 = F32(2.0)
_F4 = F32(4.0)
_F6 = F32(6.0)
_F8 = F32(8.0)
_F10 = F32(10.0)
_F64INV = F32(1.0 / 64)  # (1.f/64), exact
_FM1 = F32(-1.0)
_F25 = F32(2.5)
_FM2 = F32(-2.0)
_E15 = F32(1e-15)
_E2 = F32(1e-2)
_E3 = F32(.001)
_E30 = F32(1e-30)
_F07 = F32(.7)
_F05 = F32(.5)
_F5 = F32(5.0)
_PREEMPH = T.PREEMPHASIS
_LOG10_2 = F32(0.3010299957)
_WIN = F32(T.WINDOW_SIZE)
# [b,a] = ellip(2, 2, 20, 1200/8000) (specs 07 s5.1)
_LP_B0 = F32(-0.84946)
_LP_B1 = F32(1.0)
_LP_A0 = F32(-1.54220)
_LP_A1 = F32(0.70781)
_F1_60 = F32(1.0) / F32(60.0)  # (1.f/60.f)
_LOG1P_E5 = math.log(1 + math.exp(5.0))  # log(1+exp(5.f)) in double

# celt/mathops.h FLOAT_APPROX celt_log2
_LOG2_X_NORM = np.array([1.000000000000000000000000000, 8.88888895511627197265625e-01,
                         8.00000000000000000000000e-01, 7.27272748947143554687500e-01,
                         6.66666686534881591796875e-01, 6.15384638309478759765625e-01,
                         5.71428596973419189453125e-01, 5.33333361148834228515625e-01], dtype=F32)
_LOG2_Y_NORM = np.array([0.0, 1.699250042438507080078125e-01, 3.219280838966369628906250e-01,
                         4.594316184520721435546875e-01, 5.849624872207641601562500e-01,
                         7.004396915435791015625000e-01, 8.073549270629882812500000e-01,
                         9.068905711174011230468750e-01], dtype=F32)
_LA0 = F32(8.74628424644470214843750000e-02)
_LA1 = F32(1.357829570770263671875000000000)
_LA2 = F32(-6.3897705078125000000000000e-01)
_LA3 = F32(4.01971250772476196289062500e-01)
_LA4 = F32(-2.8415444493293762207031250e-01)
_F10625 = F32(1.0625)


@njit(**_J)
def celt_log2(x):
    """``celt_log2`` (FLOAT_APPROX) of a positive normal float32: exponent + quartic on the mantissa."""
    m, e = math.frexp(np.float64(x))  # x = m*2^e, m in [0.5, 1): exact
    integer = e - 1
    mant = F32(m * 2.0)  # in.f after removing the exponent, in [1, 2)
    idx = int((mant - _F1) * _F8)  # (in.i >> 20) & 7: the top 3 mantissa bits
    y = mant * _LOG2_X_NORM[idx] - _F10625
    y = _LA0 + y * (_LA1 + y * (_LA2 + y * (_LA3 + y * _LA4)))
    return F32(integer) + y + _LOG2_Y_NORM[idx]


@njit(**_J)
def kiss_fft(xr, xi, fr, fi):
    """libopus ``opus_fft_c`` (float) of 320 points: scale+bit-reverse, then radix 4,4,4,5 stages."""
    n = _BITREV.shape[0]
    for i in range(n):
        fr[_BITREV[i]] = xr[i] * _SCALE
        fi[_BITREV[i]] = xi[i] * _SCALE
    L = _STAGES.shape[0]
    fstride = np.ones(L + 1, dtype=np.int64)
    for k in range(L):
        fstride[k + 1] = fstride[k] * _STAGES[k, 0]
    m = _STAGES[L - 1, 1]
    for k in range(L - 1, -1, -1):
        m2 = _STAGES[k - 1, 1] if k != 0 else 1
        p = _STAGES[k, 0]
        if p == 4:
            _bfly4(fr, fi, fstride[k], m, fstride[k], m2)
        else:
            _bfly5(fr, fi, fstride[k], m, fstride[k], m2)
        m = m2


@njit(**_J)
def _bfly4(fr, fi, fstride, m, N, mm):
    if m == 1:
        for i in range(N):
            a = 4 * i
            s0r = fr[a] - fr[a + 2]
            s0i = fi[a] - fi[a + 2]
            fr[a] = fr[a] + fr[a + 2]
            fi[a] = fi[a] + fi[a + 2]
            s1r = fr[a + 1] + fr[a + 3]
            s1i = fi[a + 1] + fi[a + 3]
            fr[a + 2] = fr[a] - s1r
            fi[a + 2] = fi[a] - s1i
            fr[a] = fr[a] + s1r
            fi[a] = fi[a] + s1i
            s1r = fr[a + 1] - fr[a + 3]
            s1i = fi[a + 1] - fi[a + 3]
            fr[a + 1] = s0r + s1i
            fi[a + 1] = s0i - s1r
            fr[a + 3] = s0r - s1i
            fi[a + 3] = s0i + s1r
        return
    for i in range(N):
        for j in range(m):
            f0 = i * mm + j
            f1 = f0 + m
            f2 = f0 + 2 * m
            f3 = f0 + 3 * m
            t1 = j * fstride
            t2 = 2 * j * fstride
            t3 = 3 * j * fstride
            s0r = fr[f1] * _TWR[t1] - fi[f1] * _TWI[t1]
            s0i = fr[f1] * _TWI[t1] + fi[f1] * _TWR[t1]
            s1r = fr[f2] * _TWR[t2] - fi[f2] * _TWI[t2]
            s1i = fr[f2] * _TWI[t2] + fi[f2] * _TWR[t2]
            s2r = fr[f3] * _TWR[t3] - fi[f3] * _TWI[t3]
            s2i = fr[f3] * _TWI[t3] + fi[f3] * _TWR[t3]
            s5r = fr[f0] - s1r
            s5i = fi[f0] - s1i
            fr[f0] = fr[f0] + s1r
            fi[f0] = fi[f0] + s1i
            s3r = s0r + s2r
            s3i = s0i + s2i
            s4r = s0r - s2r
            s4i = s0i - s2i
            fr[f2] = fr[f0] - s3r
            fi[f2] = fi[f0] - s3i
            fr[f0] = fr[f0] + s3r
            fi[f0] = fi[f0] + s3i
            fr[f1] = s5r + s4i
            fi[f1] = s5i - s4r
            fr[f3] = s5r - s4i
            fi[f3] = s5i + s4r


@njit(**_J)
def _bfly5(fr, fi, fstride, m, N, mm):
    yar = _TWR[fstride * m]
    yai = _TWI[fstride * m]
    ybr = _TWR[fstride * 2 * m]
    ybi = _TWI[fstride * 2 * m]
    for i in range(N):
        for u in range(m):
            f0 = i * mm + u
            f1 = f0 + m
            f2 = f0 + 2 * m
            f3 = f0 + 3 * m
            f4 = f0 + 4 * m
            s0r = fr[f0]
            s0i = fi[f0]
            t = u * fstride
            s1r = fr[f1] * _TWR[t] - fi[f1] * _TWI[t]
            s1i = fr[f1] * _TWI[t] + fi[f1] * _TWR[t]
            t = 2 * u * fstride
            s2r = fr[f2] * _TWR[t] - fi[f2] * _TWI[t]
            s2i = fr[f2] * _TWI[t] + fi[f2] * _TWR[t]
            t = 3 * u * fstride
            s3r = fr[f3] * _TWR[t] - fi[f3] * _TWI[t]
            s3i = fr[f3] * _TWI[t] + fi[f3] * _TWR[t]
            t = 4 * u * fstride
            s4r = fr[f4] * _TWR[t] - fi[f4] * _TWI[t]
            s4i = fr[f4] * _TWI[t] + fi[f4] * _TWR[t]
            s7r = s1r + s4r
            s7i = s1i + s4i
            s10r = s1r - s4r
            s10i = s1i - s4i
            s8r = s2r + s3r
            s8i = s2i + s3i
            s9r = s2r - s3r
            s9i = s2i - s3i
            fr[f0] = fr[f0] + (s7r + s8r)
            fi[f0] = fi[f0] + (s7i + s8i)
            s5r = s0r + (s7r * yar + s8r * ybr)
            s5i = s0i + (s7i * yar + s8i * ybr)
            s6r = s10i * yai + s9i * ybi
            s6i = -(s10r * yai + s9r * ybi)
            fr[f1] = s5r - s6r
            fi[f1] = s5i - s6i
            fr[f4] = s5r + s6r
            fi[f4] = s5i + s6i
            s11r = s0r + (s7r * ybr + s8r * yar)
            s11i = s0i + (s7i * ybr + s8i * yar)
            s12r = s9i * yai - s10i * ybi
            s12i = s10r * ybi - s9r * yai
            fr[f2] = s11r + s12r
            fi[f2] = s11i + s12i
            fr[f3] = s11r - s12r
            fi[f3] = s11i - s12i


@njit(**_J)
def _dct(out, inp, table_t):
    """freq.c ``dct`` (table_t False) / ``idct`` (True): float sums, times sqrt(2/18) in double."""
    n = 18
    for i in range(n):
        s = _F0
        for j in range(n):
            if table_t:
                s = s + inp[j] * _DCT[i * n + j]
            else:
                s = s + inp[j] * _DCT[j * n + i]
        out[i] = F32(np.float64(s) * _SQ)


@njit(**_J)
def _lpc_from_cepstrum(lpc, ceps, xr, xi, fr, fi):
    """freq.c ``lpc_from_cepstrum`` -> ``lpc_from_bands`` -> ``lpcn_lpc`` (specs 07 s4)."""
    tmp = np.empty(18, dtype=np.float32)
    Ex = np.empty(18, dtype=np.float32)
    for i in range(18):
        tmp[i] = ceps[i]
    tmp[0] = tmp[0] + _F4
    _dct(Ex, tmp, True)
    for i in range(18):
        Ex[i] = F32(math.pow(10.0, np.float64(Ex[i])) * np.float64(_COMP[i]))
    # interp_band_gain, Xr[160] = 0
    g = np.zeros(161, dtype=np.float32)
    for i in range(17):
        bs = (_EBAND[i + 1] - _EBAND[i]) * 4
        for j in range(bs):
            frac = F32(j) / F32(bs)
            g[_EBAND[i] * 4 + j] = (_F1 - frac) * Ex[i] + frac * Ex[i + 1]
    # inverse_transform: Hermitian extension, forward FFT, reversed output times 320
    for i in range(161):
        xr[i] = g[i]
        xi[i] = _F0
    for i in range(161, 320):
        xr[i] = xr[320 - i]
        xi[i] = -xi[320 - i]
    kiss_fft(xr, xi, fr, fi)
    ac = np.empty(17, dtype=np.float32)
    ac[0] = _WIN * fr[0]
    for i in range(1, 17):
        ac[i] = _WIN * fr[320 - i]
    ac[0] = F32(np.float64(ac[0]) + (np.float64(ac[0]) * 1e-4 + 320 // 12 / 38.))
    for i in range(1, 17):
        ac[i] = F32(np.float64(ac[i]) * (1 - 6e-5 * i * i))
    # lpcn_lpc (float build: the Q-shifts are no-ops)
    for i in range(16):
        lpc[i] = _F0
    error = ac[0]
    if ac[0] != _F0:
        for i in range(16):
            rr = _F0
            for j in range(i):
                rr = rr + lpc[j] * ac[i - j]
            rr = rr + ac[i + 1]
            r = -rr / error
            lpc[i] = r
            for j in range((i + 1) >> 1):
                t1 = lpc[j]
                t2 = lpc[i - 1 - j]
                lpc[j] = t1 + r * t2
                lpc[i - 1 - j] = t2 + r * t1
            error = error - (r * r) * error
            if error < _E3 * ac[0]:
                break


@njit(**_J)
def analyze(pcm, st, feats, iff, xcf, lpw):
    """Run ``compute_frame_features`` up to (not including) PitchDNN for each 160-sample frame.

    ``pcm`` (T*160,) float32 in int16 units; ``st`` the state vector (see ``STATE_*``);
    writes ``feats`` (T, 36) (cepstrum and LPC; 18/19 later), ``iff`` (T, 88) and ``xcf`` (T, 224)
    (PitchDNN inputs) and ``lpw`` (T, 416), the low-passed residual history for the correlation.
    """
    amem = st[0:160]
    prev_r = st[161:191]
    prev_i = st[191:221]
    pitch_mem = st[221:237]
    exc = st[238:654]
    lp = st[654:1070]
    x = np.empty(320, dtype=np.float32)
    zi = np.zeros(320, dtype=np.float32)
    Xr = np.empty(320, dtype=np.float32)
    Xi = np.empty(320, dtype=np.float32)
    wr = np.empty(320, dtype=np.float32)
    wi = np.empty(320, dtype=np.float32)
    cr = np.empty(320, dtype=np.float32)
    ci = np.empty(320, dtype=np.float32)
    inp = np.empty(160, dtype=np.float32)
    aligned = np.empty(160, dtype=np.float32)
    Ex = np.empty(18, dtype=np.float32)
    Ly = np.empty(18, dtype=np.float32)
    lpc = np.empty(16, dtype=np.float32)
    fx = np.empty(176, dtype=np.float32)
    xcorr = np.empty(224, dtype=np.float32)
    enorm = np.empty(224, dtype=np.float32)
    T_ = pcm.shape[0] // 160
    for t in range(T_):
        # preemphasis (lpcnet_enc.c): y = x + mem; mem = -coef*x
        mem = st[160]
        for i in range(160):
            v = pcm[t * 160 + i]
            inp[i] = v + mem
            mem = -_PREEMPH * v
        st[160] = mem
        for i in range(80):
            aligned[i] = amem[80 + i]
        # frame_analysis
        for i in range(160):
            x[i] = amem[i]
            x[160 + i] = inp[i]
            amem[i] = inp[i]
        for i in range(160):
            x[i] = x[i] * _HALF_WINDOW[i]
            x[319 - i] = x[319 - i] * _HALF_WINDOW[i]
        kiss_fft(x, zi, Xr, Xi)
        for i in range(18):
            Ex[i] = _F0
        for i in range(17):
            bs = (_EBAND[i + 1] - _EBAND[i]) * 4
            for j in range(bs):
                frac = F32(j) / F32(bs)
                k = _EBAND[i] * 4 + j
                tmp = Xr[k] * Xr[k]
                tmp = tmp + Xi[k] * Xi[k]
                Ex[i] = Ex[i] + (_F1 - frac) * tmp
                Ex[i + 1] = Ex[i + 1] + frac * tmp
        Ex[0] = Ex[0] * _F2
        Ex[17] = Ex[17] * _F2
        # instantaneous-frequency features (specs 07 s5.2)
        v = _F64INV * (_F10 * (_LOG10_2 * celt_log2(_E15 + Xr[0] * Xr[0])) - _F6)
        iff[t, 0] = max(_FM1, min(_F1, v))
        for i in range(1, 30):
            pr = Xr[i] * prev_r[i] + Xi[i] * prev_i[i]
            pi = Xi[i] * prev_r[i] - Xr[i] * prev_i[i]
            n1 = F32(1.0 / math.sqrt(np.float64(_E15 + pr * pr + pi * pi)))
            iff[t, 3 * i - 2] = pr * n1
            iff[t, 3 * i - 1] = pi * n1
            v = _F64INV * (_F10 * (_LOG10_2 * celt_log2(_E15 + Xr[i] * Xr[i] + Xi[i] * Xi[i])) - _F6)
            iff[t, 3 * i] = max(_FM1, min(_F1, v))
        for i in range(30):
            prev_r[i] = Xr[i]
            prev_i[i] = Xi[i]
        # log band energies with floor, DCT (specs 07 s2.4)
        logmax = _FM2
        follow = _FM2
        for i in range(18):
            y = _LOG10_2 * celt_log2(_E2 + Ex[i])
            a = follow - _F25
            y = a if a > y else y
            a = logmax - _F8
            y = a if a > y else y
            Ly[i] = y
            logmax = logmax if logmax > y else y
            a = follow - _F25
            follow = a if a > y else y
        _dct(feats[t, 0:18], Ly, False)
        feats[t, 0] = feats[t, 0] - _F4
        _lpc_from_cepstrum(lpc, feats[t, 0:18], wr, wi, cr, ci)
        for i in range(16):
            feats[t, 20 + i] = lpc[i]
        # residual, excitation and low-passed residual (specs 07 s5.1)
        for i in range(256):
            exc[i] = exc[160 + i]
            lp[i] = lp[160 + i]
        for i in range(80):
            aligned[80 + i] = inp[i]
        for i in range(16):
            fx[i] = pitch_mem[i]
        for i in range(160):
            fx[16 + i] = aligned[i]
        for i in range(16):
            pitch_mem[i] = aligned[144 + i]
        for i in range(160):  # celt_fir: x[i] + sum_j lpc[15-j]*x[i+j-16]
            s = fx[16 + i]
            for j in range(16):
                s = s + lpc[15 - j] * fx[i + j]
            lp[256 + i] = s
        pf = st[237]
        for i in range(160):
            exc[256 + i] = lp[256 + i] + _F07 * pf
            pf = lp[256 + i]
        st[237] = pf
        m0 = st[1070]
        m1 = st[1071]
        for i in range(160):  # lpcnet_enc.c biquad (reordered form)
            xi_ = lp[256 + i]
            yi = xi_ + m0
            m00 = m0
            m0 = ((_LP_B0 - _LP_A0) * xi_ + m1) - _LP_A0 * m0
            m1 = ((_LP_B1 - _LP_A1) * xi_ + _E30) - _LP_A1 * m00
            lp[256 + i] = yi
        st[1070] = m0
        st[1071] = m1
        # xcorr features
        for i in range(224):  # celt_pitch_xcorr: each lag summed in order of j (loops swapped)
            xcorr[i] = _F0
        for j in range(160):
            a = exc[256 + j]
            for i in range(224):
                xcorr[i] = xcorr[i] + a * exc[i + j]
        e0 = _F0
        for j in range(160):
            e0 = e0 + exc[256 + j] * exc[256 + j]
        e1f = _F0
        for j in range(160):
            e1f = e1f + exc[j] * exc[j]
        e1 = np.float64(e1f)
        for i in range(224):
            enorm[i] = F32(np.float64(_F1 + e0) + e1)
            xcf[t, i] = _F2 * xcorr[i]
            a = np.float64(exc[i + 160])
            b = np.float64(exc[i])
            e1 = e1 + (a * a - b * b)
        for i in range(224):
            xcf[t, i] = xcf[t, i] / enorm[i]
        for i in range(416):
            lpw[t, i] = lp[i]


STATE_SIZE = 1072  #: analysis_mem 160, mem_preemph, prev_if 2x30, pitch_mem 16, pitch_filt, exc 416, lp 416, lp_mem 2


@njit(**_J)
def pitch_decision(out, dnn_pitch):
    """End of ``compute_pitchdnn``: argmax over the first 180 logits, soft average of +-2 bins."""
    for t in range(out.shape[0]):
        pos = 0
        maxval = _FM1
        for i in range(180):
            if out[t, i] > maxval:
                pos = i
                maxval = out[t, i]
        s = _F0
        c = _F0
        for i in range(max(0, pos - 2), min(179, pos + 2) + 1):
            p = F32(math.exp(np.float64(out[t, i])))
            s = s + p * F32(i)
            c = c + p
        dnn_pitch[t] = F32(np.float64(_F1_60 * (s / c)) - 1.5)


@njit(**_J)
def frame_correlation(lpw, dnn_pitch, feats):
    """Features 18, 19 from the PitchDNN output and the low-passed residual (specs 07 s5.3)."""
    for t in range(lpw.shape[0]):
        d = np.float64(dnn_pitch[t])
        pitch = int(math.floor(.5 + 256. / math.pow(2.0, (1. / 60.) * ((d + 1.5) * 60))))
        xx = _F0
        yy = _F0
        xy = _F0
        for i in range(160):
            xx = xx + lpw[t, 256 + i] * lpw[t, 256 + i]
        for i in range(160):
            yy = yy + lpw[t, 256 - pitch + i] * lpw[t, 256 - pitch + i]
        for i in range(160):
            xy = xy + lpw[t, 256 + i] * lpw[t, 256 - pitch + i]
        fc = F32(np.float64(xy) / math.sqrt(np.float64(_F1 + xx * yy)))
        fc = F32(math.log(np.float64(_F1) + math.exp(np.float64(_F5 * fc))) / _LOG1P_E5)
        feats[t, 18] = dnn_pitch[t]
        feats[t, 19] = fc - _F05
