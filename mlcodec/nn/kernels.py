"""numba kernels of the inference core: libopus's portable-C ("generic") layer arithmetic.

We mirror libopus's portable C path (``dnn/vec.h`` without SSE/AVX/NEON, ``dnn/nnet.c``,
``dnn/nnet_arch.h``; specs 06 s3-s6) operation for operation in float32, so results are
bit-identical to it (vectors ``nnet``, path ``generic``):

* float matrix products accumulate each output sequentially over its inputs, starting
  from 0, with separate multiply and add (no FMA: ``fastmath=False`` forbids contraction
  and reassociation), then add the bias; vectorisation only runs across outputs.
* int8 products quantise the input as ``(int)floor(0.5 + 127*x)`` kept modulo 256
  (two's complement wrap, no saturation; NaN or |value| >= 2^31 gives 0, as the x86
  ``cvttsd2si`` the reference build ran on), multiply-accumulate exactly in int32, then
  ``out = float(acc) * scale (+ bias)``. libopus accumulates per-block integer sums in a
  float; both agree exactly while every partial sum stays below 2^24, which the binder
  guarantees before choosing the int32 kernels (else it selects the ``*_exact`` kernels that
  accumulate like libopus).
* activations use libopus's rational tanh/sigmoid and polynomial exp (specs 06 s6).

Every kernel writes into caller-provided arrays (outputs and scratch), so nothing is
allocated per call. Kernels use ``error_model="numpy"``: numba's default Python error model
adds a zero-divisor check to every division, which blocks vectorisation of the activations
(their denominators are >= 952, never 0). ``reference.py`` holds the plain NumPy twins used
by the tests.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# --- activation ids (specs 06 s6; libopus nnet.h ACTIVATION_*) ---------------------------
ACT_LINEAR = 0
ACT_SIGMOID = 1
ACT_TANH = 2
ACT_RELU = 3
ACT_SOFTMAX = 4
ACT_SWISH = 5
ACT_EXP = 6
ACTIVATIONS = {
    "LINEAR": ACT_LINEAR,
    "SIGMOID": ACT_SIGMOID,
    "TANH": ACT_TANH,
    "RELU": ACT_RELU,
    "SOFTMAX": ACT_SOFTMAX,
    "SWISH": ACT_SWISH,
    "EXP": ACT_EXP,
}

# --- linear-layer kernel selectors (see layers.LinearLayer.mode) ----------------------------
MODE_ZERO = 0  #: no weights: output = 0 (+ bias)
MODE_FLOAT_DENSE = 1
MODE_FLOAT_SPARSE = 2
MODE_INT8_DENSE = 3  #: int32 accumulation (exact: partial sums < 2^24 guaranteed)
MODE_INT8_SPARSE = 4
MODE_INT8_DENSE_EXACT = 5  #: per-block float accumulation, as libopus, for huge layers
MODE_INT8_SPARSE_EXACT = 6

# float32 constants (numba keeps np.float32 globals as float32 so arithmetic stays float32)
_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_FM1 = np.float32(-1.0)
_FHALF = np.float32(0.5)
_F127 = np.float32(127.0)
# tanh rational approximation (specs 06 s6)
_N0 = np.float32(952.52801514)
_N1 = np.float32(96.39235687)
_N2 = np.float32(0.60863042)
_D0 = np.float32(952.72399902)
_D1 = np.float32(413.36801147)
_D2 = np.float32(11.88600922)
# exp2 polynomial and log2(e) (specs 06 s6)
_E0 = np.float32(0.99992522)
_E1 = np.float32(0.69583354)
_E2 = np.float32(0.22606716)
_E3 = np.float32(0.078024523)
_LOG2E = np.float32(1.44269504)
_INT_MIN = -2147483648


# --- scalar helpers ----------------------------------------------------------------------


@intrinsic
def madd_i8(typingctx, acc, a, b):
    """``acc + int32(a) * int32(b)`` in 32-bit arithmetic for int8 ``a``, ``b``.

    numba widens integer arithmetic to int64, which vectorises to slow 64-bit multiplies
    (``vpmuldq`` on 4 lanes); emitting the i32 multiply-add directly lets LLVM vectorise
    the dot products in 32-bit lanes (``vpmaddwd`` for one row, 16-lane ``vpmulld`` for the
    eight-row loop), 2x faster. Callers keep |sums| < 2^24, far from int32 overflow.
    """
    sig = types.int32(types.int32, types.int8, types.int8)

    def codegen(context, builder, signature, args):
        acc_v, a_v, b_v = args
        i32 = ir.IntType(32)
        prod = builder.mul(builder.sext(a_v, i32), builder.sext(b_v, i32), flags=["nsw"])
        return builder.add(acc_v, prod, flags=["nsw"])

    return sig, codegen



@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def tanh_approx(x):
    """libopus generic ``tanh_approx``: clamp(x*(N0+N1x^2+N2x^4)/(D0+D1x^2+D2x^4), -1, 1) in float32."""
    x2 = x * x
    num = (_N2 * x2 + _N1) * x2 + _N0
    den = (_D2 * x2 + _D1) * x2 + _D0
    num = num * x / den
    # MAX32(-1, MIN32(1, num)) with C's `a < b ? a : b`
    m = num if num < _F1 else _F1
    return _FM1 if _FM1 > m else m


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def sigmoid_approx(x):
    """libopus generic ``sigmoid_approx``: 0.5 + 0.5*tanh_approx(0.5*x)."""
    return _FHALF + _FHALF * tanh_approx(_FHALF * x)


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _c_int(v):
    """C ``(int)v`` for a float64 ``v`` as x86 does it: truncation, INT_MIN when out of range or NaN."""
    if v >= 2147483648.0 or v <= -2147483649.0 or v != v:
        return _INT_MIN
    return int(v)


@intrinsic
def _f32_bits(typingctx, x):
    """Reinterpret a float32 as its uint32 bit pattern (C's union trick in ``lpcnet_exp2``)."""
    sig = types.uint32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@intrinsic
def _bits_f32(typingctx, b):
    """Reinterpret a uint32 bit pattern as a float32."""
    sig = types.float32(types.uint32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@njit(cache=True, fastmath=False, error_model="numpy")
def exp2_approx(x):
    """libopus generic ``lpcnet_exp2`` (float32 in, float32 out), bit-exact.

    ``i = (int)floor(x)``; 0 if i < -50; else the cubic in ``f = x - i`` with ``i << 23``
    added to its bit pattern (modulo 2^32) and the sign bit masked (specs 06 s6). Beyond
    x = 128 the exponent field overflows into Inf/NaN patterns, exactly as in C.
    """
    integer = _c_int(np.floor(np.float64(x)))
    if integer < -50:
        return _F0
    frac = x - np.float32(integer)
    r = _E0 + frac * (_E1 + frac * (_E2 + _E3 * frac))
    bits = (np.int64(_f32_bits(r)) + (np.int64(integer) << 23)) & 0x7FFFFFFF
    return _bits_f32(np.uint32(bits))


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def exp_approx(x):
    """libopus ``lpcnet_exp(x) = lpcnet_exp2(x * 1.44269504f)``."""
    return exp2_approx(x * _LOG2E)


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def quantize_input(v):
    """Generic-C int8 input quantisation ``(opus_int8)(int)floor(0.5 + 127*v)`` (wraps mod 256)."""
    q = _c_int(np.floor(0.5 + np.float64(_F127 * v)))
    q = q & 0xFF
    return q - 256 if q >= 128 else q


# --- activations ---------------------------------------------------------------------------


@njit(cache=True, fastmath=False, error_model="numpy")
def activation(x, out, act):
    """libopus ``compute_activation`` (generic build) of ``x`` into ``out`` (may be the same array).

    SOFTMAX follows the vectors (nnet/README): ``exp_approx(x_i) / sum`` without max
    subtraction, the normaliser computed as C's ``1.f/(sum+1e-30)`` (double, then float).
    """
    n = x.shape[0]
    if act == ACT_LINEAR:
        for i in range(n):
            out[i] = x[i]
    elif act == ACT_SIGMOID:
        for i in range(n):
            out[i] = sigmoid_approx(x[i])
    elif act == ACT_TANH:
        for i in range(n):
            out[i] = tanh_approx(x[i])
    elif act == ACT_RELU:
        for i in range(n):
            v = x[i]
            out[i] = _F0 if v < _F0 else v
    elif act == ACT_SWISH:
        for i in range(n):
            v = x[i]
            out[i] = v * sigmoid_approx(v)
    elif act == ACT_EXP:
        for i in range(n):
            out[i] = exp_approx(x[i])
    elif act == ACT_SOFTMAX:
        s = _F0
        for i in range(n):
            e = exp_approx(x[i])
            out[i] = e
            s += e
        inv = np.float32(1.0 / (np.float64(s) + 1e-30))
        for i in range(n):
            out[i] = inv * out[i]
    else:
        for i in range(n):
            out[i] = x[i]


# --- matrix products (no bias); X is (B, nb_in), Y is (B, nb_out) -------------------------


@njit(cache=True, fastmath=False, error_model="numpy")
def quantize_rows(X, XQ):
    """Quantise each input row to int8 (generic C rule, see :func:`quantize_input`).

    ``XQ`` may be wider than ``X``; the extra columns are left untouched.
    """
    for b in range(X.shape[0]):
        for i in range(X.shape[1]):
            XQ[b, i] = quantize_input(X[b, i])


@njit(cache=True, fastmath=False, error_model="numpy")
def float_dense(w, X, Y):
    """``Y[b, j] = sum_i w[i, j] * X[b, i]`` summed in input order (libopus ``sgemv``).

    ``w`` is the blob's input-major (nb_in, nb_out) float matrix.
    """
    nb_in = w.shape[0]
    nb_out = w.shape[1]
    for b in range(X.shape[0]):
        y = Y[b]
        x = X[b]
        for j in range(nb_out):
            y[j] = _F0
        for i in range(nb_in):
            xi = x[i]
            wi = w[i]
            for j in range(nb_out):
                y[j] += wi[j] * xi


@njit(cache=True, fastmath=False, error_model="numpy")
def float_sparse(w, idx, X, Y):
    """8x4 block-sparse float product (libopus ``sparse_sgemv8x4``); blocks input-major ``w[c*8+r]``."""
    for b in range(X.shape[0]):
        y = Y[b]
        x = X[b]
        for j in range(Y.shape[1]):
            y[j] = _F0
        p = 0
        blk = 0
        for row in range(0, Y.shape[1], 8):
            n = idx[p]
            p += 1
            for _k in range(n):
                pos = idx[p]
                p += 1
                wb = w[blk * 32 : blk * 32 + 32]
                yr = y[row : row + 8]
                for c in range(4):
                    xc = x[pos + c]
                    for r in range(8):
                        yr[r] += wb[c * 8 + r] * xc
                blk += 1


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _dot8(w0, w1, w2, w3, w4, w5, w6, w7, x, n):
    """Eight int8 dot products against the same ``x`` in one pass (int32 sums).

    One loop with eight reductions lets LLVM vectorise over the inputs while loading ``x``
    once for all eight outputs (measured 10-30 % faster than eight separate dot products).
    """
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = np.int32(0)
    for i in range(n):
        xi = x[i]
        a0 = madd_i8(a0, w0[i], xi)
        a1 = madd_i8(a1, w1[i], xi)
        a2 = madd_i8(a2, w2[i], xi)
        a3 = madd_i8(a3, w3[i], xi)
        a4 = madd_i8(a4, w4[i], xi)
        a5 = madd_i8(a5, w5[i], xi)
        a6 = madd_i8(a6, w6[i], xi)
        a7 = madd_i8(a7, w7[i], xi)
    return a0, a1, a2, a3, a4, a5, a6, a7


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _store8(y, j, scale, acc):
    for k in range(8):
        y[j + k] = np.float32(acc[k]) * scale[j + k]


@njit(cache=True, fastmath=False, error_model="numpy")
def int8_dense(wq, scale, XQ, Y):
    """Dense int8 product ``Y[b, j] = float(sum_i wq[j, i] * XQ[b, i]) * scale[j]``.

    ``wq`` is the output-major (nb_out, nb_in) repack of the blob's 8x4 blocks
    (nb_out % 8 == 0), so each output is an int32 dot product over contiguous int8,
    computed eight outputs at a time. The eight weight rows are reused for every row of
    ``XQ`` while they are hot in L1.
    """
    nb_out = wq.shape[0]
    nb_in = wq.shape[1]
    for j in range(0, nb_out, 8):
        for b in range(XQ.shape[0]):
            acc = _dot8(wq[j], wq[j + 1], wq[j + 2], wq[j + 3], wq[j + 4], wq[j + 5], wq[j + 6], wq[j + 7],
                        XQ[b], nb_in)
            _store8(Y[b], j, scale, acc)


@njit(cache=True, fastmath=False, error_model="numpy")
def int8_dense_exact(wq, scale, XQ, Y):
    """Dense int8 product accumulated as libopus does: a float sum of per-4-input int sums."""
    nb_out = wq.shape[0]
    nb_in = wq.shape[1]
    for b in range(XQ.shape[0]):
        xq = XQ[b]
        for j in range(nb_out):
            wj = wq[j]
            acc = _F0
            for i in range(0, nb_in, 4):
                t = (np.int32(wj[i]) * np.int32(xq[i]) + np.int32(wj[i + 1]) * np.int32(xq[i + 1])
                     + np.int32(wj[i + 2]) * np.int32(xq[i + 2]) + np.int32(wj[i + 3]) * np.int32(xq[i + 3]))
                acc += np.float32(t)
            Y[b, j] = acc * scale[j]


@njit(cache=True, fastmath=False, error_model="numpy")
def int8_sparse(wrow, rowptr, bpos, scale, XQ, XG, Y):
    """8x4 block-sparse int8 product, int32 accumulation.

    Repacked layout (see layers): block row ``r8`` owns blocks ``rowptr[r8]..rowptr[r8+1]``
    whose first inputs are ``4*bpos[k]``, and an output-major weight slab
    ``wrow[32*rowptr[r8] + k*len + i]`` (``len`` = 4 x blocks) for output k. The row's
    inputs are gathered 4 bytes at a time into ``XG`` (int8 scratch, multiple of 4 bytes)
    and the eight outputs are contiguous int8 dot products (:func:`_dot8`). ``XQ`` rows must have
    a multiple of 4 bytes. Rows are the outer loop so a row's weights stay in L1 across
    frames. ``bpos`` is uint32 (validated at bind time): gathers skip index wrap-around.
    """
    nrows = rowptr.shape[0] - 1
    xg32 = XG.view(np.uint32)
    XQ32 = XQ.view(np.uint32)  # once per call: a view per row costs more than the gather
    for r8 in range(nrows):
        start = rowptr[r8]
        nblk = rowptr[r8 + 1] - start
        ln = 4 * nblk
        pos = bpos[start : start + nblk]
        base = 32 * start
        for b in range(XQ.shape[0]):
            xq32 = XQ32[b]
            for k in range(nblk):
                xg32[k] = xq32[pos[k]]
            # slices: indices provably >= 0, so the loop vectorises
            acc = _dot8(wrow[base : base + ln], wrow[base + ln : base + 2 * ln],
                        wrow[base + 2 * ln : base + 3 * ln], wrow[base + 3 * ln : base + 4 * ln],
                        wrow[base + 4 * ln : base + 5 * ln], wrow[base + 5 * ln : base + 6 * ln],
                        wrow[base + 6 * ln : base + 7 * ln], wrow[base + 7 * ln : base + 8 * ln], XG, ln)
            _store8(Y[b], 8 * r8, scale, acc)


@njit(cache=True, fastmath=False, error_model="numpy")
def int8_sparse_exact(w, idx, scale, XQ, Y):
    """Sparse int8 product on the blob layout, accumulated exactly as libopus (float per block)."""
    for b in range(XQ.shape[0]):
        xq = XQ[b]
        y = Y[b]
        for j in range(Y.shape[1]):
            y[j] = _F0
        p = 0
        blk = 0
        for row in range(0, Y.shape[1], 8):
            n = idx[p]
            p += 1
            for _k in range(n):
                pos = idx[p]
                p += 1
                base = blk * 32
                for r in range(8):
                    t = (np.int32(w[base + r * 4]) * np.int32(xq[pos])
                         + np.int32(w[base + r * 4 + 1]) * np.int32(xq[pos + 1])
                         + np.int32(w[base + r * 4 + 2]) * np.int32(xq[pos + 2])
                         + np.int32(w[base + r * 4 + 3]) * np.int32(xq[pos + 3]))
                    y[row + r] += np.float32(t)
                blk += 1
        for j in range(Y.shape[1]):
            y[j] = y[j] * scale[j]


# --- linear layer = product + bias + diag (libopus compute_linear, generic) ----------------


@njit(cache=True, fastmath=False, error_model="numpy")
def linear(L, X, Y, XQ, XG):
    """libopus ``compute_linear`` (generic path) for every row of ``X`` into ``Y``.

    ``L`` is the layer tuple built by ``layers.LinearLayer.params``:
    ``(mode, wf, wq, idx, rowptr, gidx, scale, bias, diag)``; absent arrays are empty.
    ``XQ`` (1-D int8, >= B*(nb_in+3)) and ``XG`` (1-D int8, >= longest sparse row, a multiple
    of 4 bytes) are scratch.
    """
    mode = L[0]
    wf = L[1]
    wq = L[2]
    idx = L[3]
    scale = L[6]
    bias = L[7]
    diag = L[8]
    nb = X.shape[0]
    nb_in = X.shape[1]
    if mode == MODE_FLOAT_DENSE:
        float_dense(wf, X, Y)
    elif mode == MODE_FLOAT_SPARSE:
        float_sparse(wf.reshape(-1), idx, X, Y)
    elif mode == MODE_ZERO:
        Y[:, :] = _F0
    else:
        # rows padded to a multiple of 4 bytes so the sparse kernel can gather 4 inputs at once
        width = (nb_in + 3) // 4 * 4 if mode == MODE_INT8_SPARSE else nb_in
        xq = XQ[: nb * width].reshape((nb, width))
        quantize_rows(X, xq)
        if mode == MODE_INT8_DENSE:
            int8_dense(wq, scale, xq, Y)
        elif mode == MODE_INT8_DENSE_EXACT:
            int8_dense_exact(wq, scale, xq, Y)
        elif mode == MODE_INT8_SPARSE:
            int8_sparse(wq.reshape(-1), L[4], L[5], scale, xq, XG, Y)
        else:
            int8_sparse_exact(wq.reshape(-1), idx, scale, xq, Y)
    nb_out = Y.shape[1]
    if bias.shape[0] > 0:
        for b in range(nb):
            for j in range(nb_out):
                Y[b, j] += bias[j]
    if diag.shape[0] > 0:
        m = nb_in
        for b in range(nb):
            for i in range(m):
                xi = X[b, i]
                Y[b, i] += diag[i] * xi
                Y[b, i + m] += diag[i + m] * xi
                Y[b, i + 2 * m] += diag[i + 2 * m] * xi


@njit(cache=True, fastmath=False, error_model="numpy")
def dense(L, X, Y, act, XQ, XG):
    """libopus ``compute_generic_dense``: ``Y = act(linear(X))`` row by row."""
    linear(L, X, Y, XQ, XG)
    for b in range(Y.shape[0]):
        activation(Y[b], Y[b], act)


@njit(cache=True, fastmath=False, error_model="numpy")
def glu(L, X, Y, tmp, XQ, XG):
    """libopus ``compute_glu``: ``Y = X * sigmoid(linear(X))`` (nb_in == nb_out); ``tmp`` 1-D >= Y.size."""
    t = tmp[: Y.shape[0] * Y.shape[1]].reshape((Y.shape[0], Y.shape[1]))
    linear(L, X, t, XQ, XG)
    for b in range(Y.shape[0]):
        activation(t[b], t[b], ACT_SIGMOID)
        for j in range(Y.shape[1]):
            Y[b, j] = X[b, j] * t[b, j]


@njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _gru_gates(a, c, s):
    """GRU update from ``a`` = input product row (overwritten) and ``c`` = recurrent product row.

    Gate order [z | r | h]; ``h = tanh(a_h + r * c_h)``; ``s = z*s + (1-z)*h`` (specs 06 s4.2),
    in libopus's order of operations.
    """
    n = s.shape[0]
    for i in range(2 * n):
        a[i] += c[i]
    for i in range(2 * n):
        a[i] = sigmoid_approx(a[i])
    for i in range(n):
        a[2 * n + i] += c[2 * n + i] * a[n + i]
    for i in range(n):
        a[2 * n + i] = tanh_approx(a[2 * n + i])
    for i in range(n):
        z = a[i]
        a[2 * n + i] = z * s[i] + (_F1 - z) * a[2 * n + i]
    for i in range(n):
        s[i] = a[2 * n + i]


@njit(cache=True, fastmath=False, error_model="numpy")
def gru_step(Li, Lr, state, x, zrh, recur, XQ, XG):
    """One libopus ``compute_generic_gru`` step; ``state`` (1, N) is updated in place.

    ``x`` is (1, nb_in); ``zrh`` and ``recur`` are (1, 3N) float32 scratch.
    """
    linear(Li, x, zrh[:1], XQ, XG)
    linear(Lr, state, recur, XQ, XG)
    _gru_gates(zrh[0], recur[0], state[0])


@njit(cache=True, fastmath=False, error_model="numpy")
def gru_sequence(Li, Lr, state, X, Y, zrh, recur, XQ, XG):
    """GRU steps over the rows of ``X`` (T, nb_in); ``Y[t]`` = state after step t.

    The input products of all T frames do not depend on the state, so they are computed
    first as one batch (weights reused across frames; ``zrh`` >= (T, 3N), ``XQ`` >=
    T*(nb_in+3) bytes); only the recurrent product runs step by step. Each step's arithmetic
    is exactly that of :func:`gru_step`.
    """
    T = X.shape[0]
    A = zrh[:T]
    linear(Li, X, A, XQ, XG)
    for t in range(T):
        linear(Lr, state, recur, XQ, XG)
        _gru_gates(A[t], recur[0], state[0])
        for i in range(state.shape[1]):
            Y[t, i] = state[0, i]


@njit(cache=True, fastmath=False, error_model="numpy")
def conv1d_sequence(L, mem, X, Y, act, dilation, tmp, XQ, XG):
    """libopus ``compute_generic_conv1d[_dilation]`` over the rows of ``X`` (T, input_size).

    ``mem`` holds the previous ``input_size*dilation*(k-1)`` inputs, oldest first, and is
    updated in place; ``Y`` is (T, nb_out). Taps of frame t are the frames t-(k-1)d .. t-d
    and t (specs 06 s4.4-4.5). All T tap vectors are built first in ``tmp`` (>= (T, nb_in))
    and multiplied as one batch, so the weights are reused across frames; every row gets
    exactly the arithmetic of a one-frame call. ``XQ`` needs >= T*(nb_in+3) bytes.
    """
    isz = X.shape[1]
    nb_in = tmp.shape[1]
    k = nb_in // isz
    mlen = mem.shape[0]
    nfr = mlen // isz  # frames held in mem
    T = X.shape[0]
    for t in range(T):
        tb = tmp[t]
        for tap in range(k):
            # frame index in the virtual sequence [mem frames | X frames]
            f = nfr + t - (k - 1 - tap) * dilation
            if f < nfr:
                src = f * isz
                for i in range(isz):
                    tb[tap * isz + i] = mem[src + i]
            else:
                xf = X[f - nfr]
                for i in range(isz):
                    tb[tap * isz + i] = xf[i]
    rows = tmp[:T]
    linear(L, rows, Y, XQ, XG)
    for t in range(T):
        activation(Y[t], Y[t], act)
    if mlen > 0:
        # mem keeps the newest nfr frames of [mem | X]
        if T >= nfr:
            for fr in range(nfr):
                xf = X[T - nfr + fr]
                for i in range(isz):
                    mem[fr * isz + i] = xf[i]
        else:
            for i in range(mlen - T * isz):
                mem[i] = mem[i + T * isz]
            for t in range(T):
                for i in range(isz):
                    mem[mlen - T * isz + t * isz + i] = X[t, i]


@njit(cache=True, fastmath=False, error_model="numpy")
def conv2d_step(w, bias, mem, x, out, height, hstride, act, inbuf):
    """libopus ``compute_conv2d`` (float): one time slice ``x`` (in_ch*(height+kh-1)).

    ``w`` is (out_ch, in_ch, ktime, kheight); ``mem`` keeps the previous ktime-1 slices;
    ``out`` has out_ch*hstride values; ``inbuf`` is ktime*in_ch*(height+kh-1) scratch. The
    3x3 case sums its nine products before adding them, as libopus's unrolled
    ``conv2d_3x3_float`` does; other shapes accumulate one product at a time.
    """
    out_ch = w.shape[0]
    in_ch = w.shape[1]
    kt = w.shape[2]
    kh = w.shape[3]
    in_stride = height + kh - 1
    ts = in_ch * in_stride
    mlen = (kt - 1) * ts
    for i in range(mlen):
        inbuf[i] = mem[i]
    for i in range(ts):
        inbuf[mlen + i] = x[i]
    for i in range(mlen):
        mem[i] = inbuf[ts + i]
    for o in range(out_ch):
        for j in range(height):
            out[o * hstride + j] = _F0
        for m in range(in_ch):
            if kt == 3 and kh == 3:
                b0 = m * in_stride
                b1 = ts + m * in_stride
                b2 = 2 * ts + m * in_stride
                wm = w[o, m]
                for j in range(height):
                    s = (wm[0, 0] * inbuf[b0 + j] + wm[0, 1] * inbuf[b0 + j + 1]
                         + wm[0, 2] * inbuf[b0 + j + 2] + wm[1, 0] * inbuf[b1 + j]
                         + wm[1, 1] * inbuf[b1 + j + 1] + wm[1, 2] * inbuf[b1 + j + 2]
                         + wm[2, 0] * inbuf[b2 + j] + wm[2, 1] * inbuf[b2 + j + 1]
                         + wm[2, 2] * inbuf[b2 + j + 2])
                    out[o * hstride + j] += s
            else:
                for t in range(kt):
                    for h in range(kh):
                        wv = w[o, m, t, h]
                        base = t * ts + m * in_stride + h
                        for j in range(height):
                            out[o * hstride + j] += wv * inbuf[base + j]
    if bias.shape[0] > 0:
        for o in range(out_ch):
            for j in range(height):
                out[o * hstride + j] += bias[o]
    for o in range(out_ch):
        seg = out[o * hstride : o * hstride + height]
        activation(seg, seg, act)


@njit(cache=True, fastmath=False, error_model="numpy")
def embedding_row(table, index, out):
    """Copy row ``index`` of an embedding table (nb_in entries x dim, specs 06 s4.7)."""
    for j in range(out.shape[0]):
        out[j] = table[index, j]
