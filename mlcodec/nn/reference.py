"""Plain NumPy reference twins of :mod:`mlcodec.nn.kernels` (used by the tests).

Written independently of the kernels: they work on the weights in the blob's own layout
(8x4 int8 blocks, sparse index walked record by record; specs 06 s3) and reinterpret float
bits with ``ndarray.view`` where libopus does (``lpcnet_exp2``). Float arithmetic is the
same float32 operation sequence as libopus's generic C path (sequential accumulation per
output, separate multiply and add), so twins and kernels must agree bit for bit. Slow;
never used by the codec.
"""
from __future__ import annotations

import numpy as np

F32 = np.float32
_INT_MIN = -2147483648

_N = (F32(952.52801514), F32(96.39235687), F32(0.60863042))
_D = (F32(952.72399902), F32(413.36801147), F32(11.88600922))
_E = (F32(0.99992522), F32(0.69583354), F32(0.22606716), F32(0.078024523))


def _c_int(v: np.ndarray) -> np.ndarray:
    """C ``(int)`` of float64 values as x86 ``cvttsd2si``: truncate; NaN/out of range -> INT_MIN."""
    v = np.asarray(v, dtype=np.float64)
    ok = (v < 2147483648.0) & (v > -2147483649.0)
    out = np.full(v.shape, _INT_MIN, dtype=np.int64)
    out[ok] = np.trunc(v[ok]).astype(np.int64)
    return out


def tanh_approx(x) -> np.ndarray:
    x = np.asarray(x, dtype=F32)
    x2 = x * x
    num = (_N[2] * x2 + _N[1]) * x2 + _N[0]
    den = (_D[2] * x2 + _D[1]) * x2 + _D[0]
    num = num * x / den
    num = np.where(num < F32(1), num, F32(1))
    return np.where(F32(-1) > num, F32(-1), num).astype(F32)


def sigmoid_approx(x) -> np.ndarray:
    x = np.asarray(x, dtype=F32)
    return (F32(0.5) + F32(0.5) * tanh_approx(F32(0.5) * x)).astype(F32)


def exp2_approx(x) -> np.ndarray:
    """``lpcnet_exp2`` with the float bits reinterpreted through a uint32 view."""
    x = np.atleast_1d(np.asarray(x, dtype=F32))
    with np.errstate(invalid="ignore"):
        integer = _c_int(np.floor(x.astype(np.float64)))
    frac = x - integer.astype(F32)
    r = (_E[0] + frac * (_E[1] + frac * (_E[2] + _E[3] * frac))).astype(F32)
    bits = (r.view(np.uint32).astype(np.int64) + (integer << 23)) & 0x7FFFFFFF
    out = bits.astype(np.uint32).view(F32)
    return np.where(integer < -50, F32(0), out).astype(F32)


def exp_approx(x) -> np.ndarray:
    return exp2_approx(np.asarray(x, dtype=F32) * F32(1.44269504))


def activation(x, act: str) -> np.ndarray:
    """libopus ``compute_activation`` by name (LINEAR, SIGMOID, TANH, RELU, SOFTMAX, SWISH, EXP)."""
    x = np.asarray(x, dtype=F32)
    if act == "LINEAR":
        return x.copy()
    if act == "SIGMOID":
        return sigmoid_approx(x)
    if act == "TANH":
        return tanh_approx(x)
    if act == "RELU":
        return np.where(x < F32(0), F32(0), x).astype(F32)
    if act == "SWISH":
        return (x * sigmoid_approx(x)).astype(F32)
    if act == "EXP":
        return exp_approx(x)
    if act == "SOFTMAX":
        e = exp_approx(x)
        s = F32(0)
        for v in e:  # sequential float32 sum, as the C loop
            s = F32(s + v)
        inv = F32(1.0 / (float(s) + 1e-30))
        return (inv * e).astype(F32)
    raise ValueError(f"unknown activation {act}")


def quantize_input(x) -> np.ndarray:
    """Generic-C input quantisation ``(opus_int8)(int)floor(.5 + 127*x)``: wraps modulo 256."""
    x = np.asarray(x, dtype=F32)
    with np.errstate(invalid="ignore"):
        q = _c_int(np.floor(0.5 + (F32(127) * x).astype(np.float64)))
    return (q & 0xFF).astype(np.uint8).view(np.int8)


def _seq_matvec(w_rows: np.ndarray, x: np.ndarray, nb_out: int) -> np.ndarray:
    """Sum over inputs in order: ``y += w_rows[i] * x[i]`` in float32 (no FMA)."""
    y = np.zeros(nb_out, dtype=F32)
    for i in range(w_rows.shape[0]):
        y = (y + w_rows[i] * x[i]).astype(F32)
    return y


def sparse_blocks(idx: np.ndarray, nb_out: int):
    """Yield ``(block_number, first_output, first_input)`` for every stored 8x4 block."""
    p = blk = 0
    for row in range(0, nb_out, 8):
        n = int(idx[p])
        p += 1
        for _ in range(n):
            yield blk, row, int(idx[p])
            p += 1
            blk += 1


def linear(arrays: dict, nb_in: int, nb_out: int, x) -> np.ndarray:
    """libopus ``compute_linear``, generic path, from blob-layout arrays.

    ``arrays`` maps the roles ``bias, weights_int8, weights_float, weights_idx, diag, scale``
    to arrays (absent roles omitted). Float weights win over int8 (specs 06 s3).
    """
    x = np.asarray(x, dtype=F32)
    wf = arrays.get("weights_float")
    wq = arrays.get("weights_int8")
    idx = arrays.get("weights_idx")
    if wf is not None:
        wf = np.asarray(wf, dtype=F32)
        if idx is None:
            y = _seq_matvec(wf.reshape(nb_in, nb_out), x, nb_out)
        else:
            y = np.zeros(nb_out, dtype=F32)
            for blk, row, pos in sparse_blocks(idx, nb_out):
                b = wf[blk * 32 : blk * 32 + 32].reshape(4, 8)  # input-major [c][r]
                for c in range(4):
                    y[row : row + 8] = (y[row : row + 8] + b[c] * x[pos + c]).astype(F32)
    elif wq is not None:
        xq = quantize_input(x).astype(np.int64)
        y = np.zeros(nb_out, dtype=F32)
        if idx is None:
            blocks = np.asarray(wq, dtype=np.int64).reshape(nb_out // 8, nb_in // 4, 8, 4)
            for ib in range(nb_in // 4):
                # per-block integer sums, accumulated in float as libopus does
                t = (blocks[:, ib] * xq[4 * ib : 4 * ib + 4]).sum(axis=2).reshape(nb_out)
                y = (y + t.astype(F32)).astype(F32)
        else:
            w = np.asarray(wq, dtype=np.int64)
            for blk, row, pos in sparse_blocks(idx, nb_out):
                b = w[blk * 32 : blk * 32 + 32].reshape(8, 4)  # output-major [r][c]
                t = (b * xq[pos : pos + 4]).sum(axis=1)
                y[row : row + 8] = (y[row : row + 8] + t.astype(F32)).astype(F32)
        y = (y * np.asarray(arrays["scale"], dtype=F32)).astype(F32)
    else:
        y = np.zeros(nb_out, dtype=F32)
    if arrays.get("bias") is not None:
        y = (y + np.asarray(arrays["bias"], dtype=F32)).astype(F32)
    if arrays.get("diag") is not None:
        d = np.asarray(arrays["diag"], dtype=F32)
        m = nb_in
        for k in range(3):
            y[k * m : (k + 1) * m] = (y[k * m : (k + 1) * m] + d[k * m : (k + 1) * m] * x).astype(F32)
    return y


def dense(arrays, nb_in, nb_out, x, act: str) -> np.ndarray:
    return activation(linear(arrays, nb_in, nb_out, x), act)


def glu(arrays, n, x) -> np.ndarray:
    x = np.asarray(x, dtype=F32)
    return (x * sigmoid_approx(linear(arrays, n, n, x))).astype(F32)


def gru_step(in_arrays, in_nb_in, rec_arrays, state, x) -> np.ndarray:
    """One ``compute_generic_gru`` step; returns the new state."""
    state = np.asarray(state, dtype=F32)
    n = state.shape[0]
    a = linear(in_arrays, in_nb_in, 3 * n, x)
    c = linear(rec_arrays, n, 3 * n, state)
    zr = sigmoid_approx((a[: 2 * n] + c[: 2 * n]).astype(F32))
    z, r = zr[:n], zr[n:]
    h = tanh_approx((a[2 * n :] + c[2 * n :] * r).astype(F32))
    return (z * state + (F32(1) - z) * h).astype(F32)


def conv1d_sequence(arrays, nb_in, nb_out, X, mem, act: str, dilation: int = 1):
    """``compute_generic_conv1d[_dilation]`` over the rows of X; returns (outputs, new mem)."""
    X = np.asarray(X, dtype=F32)
    mem = np.array(mem, dtype=F32)
    isz = X.shape[1]
    k = nb_in // isz
    outs = []
    for x in X:
        taps = [mem[t * isz * dilation : t * isz * dilation + isz] for t in range(k - 1)]
        tmp = np.concatenate(taps + [x]).astype(F32)
        outs.append(dense(arrays, nb_in, nb_out, tmp, act))
        if mem.size:
            mem = np.concatenate([mem[isz:], x]).astype(F32)
    return np.stack(outs), mem


def conv2d_step(w, bias, mem, x, height, hstride, act: str):
    """``compute_conv2d`` (float); ``w`` (out, in, kt, kh); returns (out, new mem)."""
    w = np.asarray(w, dtype=F32)
    out_ch, in_ch, kt, kh = w.shape
    stride = height + kh - 1
    ts = in_ch * stride
    buf = np.concatenate([np.asarray(mem, F32), np.asarray(x, F32)]).reshape(kt, in_ch, stride)
    out = np.zeros(out_ch * hstride, dtype=F32)
    for o in range(out_ch):
        acc = np.zeros(height, dtype=F32)
        for m in range(in_ch):
            if kt == 3 and kh == 3:
                s = None
                for t in range(3):
                    for h in range(3):
                        p = (w[o, m, t, h] * buf[t, m, h : h + height]).astype(F32)
                        s = p if s is None else (s + p).astype(F32)
                acc = (acc + s).astype(F32)
            else:
                for t in range(kt):
                    for h in range(kh):
                        acc = (acc + w[o, m, t, h] * buf[t, m, h : h + height]).astype(F32)
        if bias is not None:
            acc = (acc + F32(bias[o])).astype(F32)
        out[o * hstride : o * hstride + height] = activation(acc, act)
    new_mem = buf.reshape(-1)[ts:].copy()
    return out, new_mem
