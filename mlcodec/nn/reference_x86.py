"""NumPy twins of :mod:`mlcodec.nn.kernels_x86` (libopus ``vec_avx.h``, SSE2 path; tests only).

Independent of the kernels except for the ``rcpps`` instruction itself, which NumPy lacks
(:func:`mlcodec.nn.kernels_x86.rcp_array` executes it). Works on blob-layout arrays like
:mod:`mlcodec.nn.reference`; ``arch="generic"`` delegates to that module.
"""
from __future__ import annotations

import numpy as np

from mlcodec.nn import reference as R
from mlcodec.nn.kernels_x86 import rcp_array

F32 = np.float32


def rcp(x) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=F32).reshape(-1)
    out = np.empty_like(x)
    rcp_array(x, out)
    return out


def _clamp(v, lo, hi):
    m = np.where(F32(hi) < v, F32(hi), v)
    return np.where(F32(lo) > m, F32(lo), m).astype(F32)


def tanh(x) -> np.ndarray:
    x = np.asarray(x, F32).reshape(-1)
    x2 = x * x
    num = (F32(0.60863042) * x2 + F32(96.39235687)) * x2 + F32(952.52801514)
    den = (F32(11.88600922) * x2 + F32(413.36801147)) * x2 + F32(952.72399902)
    return _clamp((num * x).astype(F32) * rcp(den), -1, 1)


def sigmoid(x) -> np.ndarray:
    x = np.asarray(x, F32).reshape(-1)
    x2 = x * x
    num = (F32(0.00950985) * x2 + F32(6.02452230)) * x2 + F32(238.13200378)
    den = (F32(0.74287558) * x2 + F32(103.34200287)) * x2 + F32(952.72399902)
    return _clamp(((num * x).astype(F32) * rcp(den)).astype(F32) + F32(0.5), 0, 1)


def activation(x, act: str, arch: str) -> np.ndarray:
    if arch == "x86" and act == "TANH":
        return tanh(x)
    if arch == "x86" and act == "SIGMOID":
        return sigmoid(x)
    if arch == "x86" and act == "SWISH":
        x = np.asarray(x, F32)
        return (x * sigmoid(x)).astype(F32)
    return R.activation(x, act)


def linear(arrays: dict, nb_in: int, nb_out: int, x, arch: str) -> np.ndarray:
    """compute_linear; x86 int8: ``scale*sum(wq*xu) + subias`` with ``xu = uint8(127 + round(127x))``."""
    if arch != "x86" or arrays.get("weights_float") is not None or arrays.get("weights_int8") is None:
        return R.linear(arrays, nb_in, nb_out, x)
    x = np.asarray(x, F32)
    q = R._c_int(np.floor(0.5 + (F32(127) * x).astype(np.float64)))
    xu = (q + 127) & 0xFF  # unsigned char
    w = np.asarray(arrays["weights_int8"], np.int64)
    acc = np.zeros(nb_out, np.int64)
    idx = arrays.get("weights_idx")
    if idx is None:
        blocks = w.reshape(nb_out // 8, nb_in // 4, 8, 4)
        for ob in range(nb_out // 8):
            acc[8 * ob : 8 * ob + 8] = (blocks[ob] * xu.reshape(nb_in // 4, 1, 4)).sum(axis=(0, 2))
    else:
        for blk, row, pos in R.sparse_blocks(idx, nb_out):
            acc[row : row + 8] += (w[blk * 32 : blk * 32 + 32].reshape(8, 4) * xu[pos : pos + 4]).sum(axis=1)
    y = (acc.astype(F32) * np.asarray(arrays["scale"], F32)).astype(F32)
    if arrays.get("subias") is not None:
        y = (y + np.asarray(arrays["subias"], F32)).astype(F32)
    if arrays.get("diag") is not None:
        d = np.asarray(arrays["diag"], F32)
        for k in range(3):
            y[k * nb_in : (k + 1) * nb_in] = (y[k * nb_in : (k + 1) * nb_in] + d[k * nb_in : (k + 1) * nb_in] * x)
    return y.astype(F32)


def dense(arrays, nb_in, nb_out, x, act: str, arch: str) -> np.ndarray:
    return activation(linear(arrays, nb_in, nb_out, x, arch), act, arch)


def glu(arrays, n, x, arch: str) -> np.ndarray:
    x = np.asarray(x, F32)
    return (x * activation(linear(arrays, n, n, x, arch), "SIGMOID", arch)).astype(F32)


def gru_step(in_arrays, in_nb_in, rec_arrays, state, x, arch: str) -> np.ndarray:
    """compute_generic_gru; returns the new state."""
    state = np.asarray(state, F32)
    n = state.shape[0]
    a = linear(in_arrays, in_nb_in, 3 * n, x, arch)
    c = linear(rec_arrays, n, 3 * n, state, arch)
    zr = activation((a[: 2 * n] + c[: 2 * n]).astype(F32), "SIGMOID", arch)
    z, r = zr[:n], zr[n:]
    h = activation((a[2 * n :] + c[2 * n :] * r).astype(F32), "TANH", arch)
    return (z * state + (F32(1) - z) * h).astype(F32)
