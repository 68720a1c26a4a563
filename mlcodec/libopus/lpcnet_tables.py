"""Constant tables of libopus's LPCNet analysis (``dnn/lpcnet_tables.c``, ``dnn/freq.c``), generated.

libopus ships these as float literals written by ``dump_lpcnet_tables.c``; we regenerate them
with the same double-precision formulas rounded to float32 (specs 07 s2.1-2.4).
``tests/test_libopus_lpcnet_features.py`` checks every value against the C file when the
libopus source tree is present.
"""
from __future__ import annotations

import math

import numpy as np

F32 = np.float32

FRAME_SIZE = 160  #: 10 ms hop (specs 07 s1)
WINDOW_SIZE = 320
OVERLAP_SIZE = 160
FREQ_SIZE = 161
NB_BANDS = 18
NB_FEATURES = 20
NB_TOTAL_FEATURES = 36
LPC_ORDER = 16
PREEMPHASIS = F32(0.85)
TRAINING_OFFSET = 80  #: pitch analysis delay (specs 07 s5.1)
PITCH_MIN_PERIOD = 32
PITCH_MAX_PERIOD = 256
NB_XCORR_FEATURES = PITCH_MAX_PERIOD - PITCH_MIN_PERIOD  #: 224
PITCH_IF_MAX_FREQ = 30
PITCH_IF_FEATURES = 3 * PITCH_IF_MAX_FREQ - 2  #: 88
PITCH_BUF_SIZE = PITCH_MAX_PERIOD + 2 * FRAME_SIZE  #: exc_buf / lp_buf length (416)

EBAND5MS = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 34, 40], dtype=np.int64)
WINDOW_SIZE_5MS = 4
#: ``compensation[]`` of freq.c (float literals in the C source, not a formula).
COMPENSATION = np.array([0.8, 1, 1, 1, 1, 1, 1, 1, 0.666667, 0.5, 0.5, 0.5, 0.333333, 0.25, 0.25,
                         0.2, 0.166667, 0.173913], dtype=F32)


def kiss_factors(n: int) -> list[tuple[int, int]]:
    """celt/kiss_fft.c ``kf_factor``: (radix, remaining length) stages as ``st->factors`` holds them.

    Radices are found 4 first, then 2, 3, 5, 7...; libopus then reverses their order.
    """
    stages = []
    p = 4
    while n > 1:
        while n % p:
            p = {4: 2, 2: 3}.get(p, p + 2)
        n //= p
        stages.append([p, n])
    # celt/kiss_fft.c kf_factor: "reverse the order to get the radix 4 at the end, so we can use the
    # fast degenerate case" -- radices are reversed, the remaining lengths recomputed.
    radices = [p for p, _ in stages][::-1]
    out, m = [], int(np.prod(radices))
    for p in radices:
        m //= p
        out.append((p, m))
    return out


def _bitrev(factors: list[tuple[int, int]], nfft: int) -> np.ndarray:
    """kiss_fft ``compute_bitrev_table`` (output position of each input sample)."""
    f = np.zeros(nfft, dtype=np.int64)

    def rec(fout, pos, fstride, k):
        p, m = factors[k]
        if m == 1:
            for j in range(p):
                f[pos] = fout + j
                pos += fstride
        else:
            for j in range(p):
                rec(fout, pos, fstride * p, k + 1)
                pos += fstride
                fout += m

    rec(0, 0, 1, 0)
    return f


FFT_N = WINDOW_SIZE
FFT_FACTORS = kiss_factors(FFT_N)  #: [(5, 64), (4, 16), (4, 4), (4, 1)] for 320
FFT_SCALE = F32(1.0 / FFT_N)  #: ``st->scale`` (0.0031250000f)
FFT_BITREV = _bitrev(FFT_FACTORS, FFT_N)
_phase = (-2 * math.pi / FFT_N) * np.arange(FFT_N, dtype=np.float64)  # compute_twiddles, float build
FFT_TW_RE = np.cos(_phase).astype(F32)
FFT_TW_IM = np.sin(_phase).astype(F32)
del _phase

#: ``half_window[i] = sin(.5*pi*sin(.5*pi*(i+.5)/OVERLAP)^2)`` (specs 07 s2.1).
HALF_WINDOW = np.array([math.sin(.5 * math.pi * math.sin(.5 * math.pi * (i + .5) / OVERLAP_SIZE)
                                 * math.sin(.5 * math.pi * (i + .5) / OVERLAP_SIZE))
                        for i in range(OVERLAP_SIZE)]).astype(F32)


def _dct_table() -> np.ndarray:
    t = np.zeros(NB_BANDS * NB_BANDS, dtype=F32)
    for i in range(NB_BANDS):
        for j in range(NB_BANDS):
            v = F32(math.cos((i + .5) * j * math.pi / NB_BANDS))
            if j == 0:
                v = F32(float(v) * math.sqrt(.5))
            t[i * NB_BANDS + j] = v
    return t


#: ``dct_table[j*NB_BANDS + k] = cos((j+.5)*k*pi/NB_BANDS)``, times sqrt(.5) for k = 0 (specs 07 s2.4).
DCT_TABLE = _dct_table()
SQRT_2_OVER_NB_BANDS = math.sqrt(2.0 / NB_BANDS)  #: ``sqrt(2./NB_BANDS)``, a double in C


def parse_c_tables(source: str) -> dict[str, np.ndarray]:
    """Read ``fft_bitrev``, ``fft_twiddles``, ``half_window``, ``dct_table`` and the kfft factors
    from libopus's ``lpcnet_tables.c`` text (for the conformance test)."""
    import re

    def body(name):
        m = re.search(name + r"\[[^\]]*\]\s*=\s*\{(.*?)\};", source, re.S)
        return m.group(1)

    nums = lambda s: [float(v.rstrip("f")) for v in re.findall(r"[-+]?[0-9][0-9.eE+-]*f?", s)]
    tw = np.array(nums(body("fft_twiddles")), dtype=F32).reshape(-1, 2)
    fac = re.search(r"\{([0-9, ]+)\}, /\* factors", source).group(1)
    f = [int(v) for v in fac.replace(" ", "").split(",") if v]
    return {
        "bitrev": np.array(nums(body("fft_bitrev")), dtype=np.int64),
        "tw_re": tw[:, 0], "tw_im": tw[:, 1],
        "half_window": np.array(nums(body("half_window")), dtype=F32),
        "dct_table": np.array(nums(body("dct_table")), dtype=F32),
        "factors": [(f[2 * i], f[2 * i + 1]) for i in range(len(f) // 2) if f[2 * i]],
    }
