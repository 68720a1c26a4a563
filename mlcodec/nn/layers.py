"""Layers bound by name from a weights set, and the compute functions that run them.

Binding follows libopus's ``linear_init`` / ``conv2d_init`` (specs 06 s2-s3): each array is
looked up by its exact name and its byte size checked against the declared shape. Unlike
libopus (which stops at the first failure and returns 1), binding collects **every**
problem and raises one :class:`~mlcodec.errors.WeightsError` listing them all. It accepts
and refuses exactly the ``linear_init`` cases of the libopus vectors, and is stricter where
libopus would read out of bounds or compute garbage (each extra rule says why):

* the record type must match the role (float / int8 / int32): libopus checks only byte
  sizes, so a float array bound as int8 weights would be silently reinterpreted;
* a sparse index with a negative block count or position: libopus loops forever on a
  negative count and reads before the input on a negative multiple-of-4 position;
* dense int8 weights need ``nb_out % 8 == 0`` and ``nb_in % 4 == 0`` (the 8x4 block
  loop of ``cgemv8x4`` silently drops or over-reads the remainder otherwise);
* a diagonal needs ``nb_out == 3*nb_in`` (a ``celt_assert`` in libopus, off in release).

Compute functions mirror ``compute_linear``, ``compute_generic_dense``, ``compute_glu``,
``compute_generic_gru``, ``compute_generic_conv1d[_dilation]``, ``compute_conv2d`` of the
portable-C path (see :mod:`mlcodec.nn.kernels`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from mlcodec.errors import WeightsError
from mlcodec.nn import kernels as K

#: libopus ``MAX_INPUTS``: the largest ``nb_inputs`` ``linear_init`` accepts (specs 06 s3).
MAX_INPUTS = 2048
#: 8x4 blocks: 32 values per block (specs 06 s3.2-3.3).
SPARSE_BLOCK_SIZE = 32
#: Partial sums of int8 products stay exact in float32 below this (libopus accumulates
#: per-block integer sums in a float; our int32 kernels equal it while |sums| < 2^24).
_EXACT_LIMIT = 1 << 24

# record types (specs 06 s1.1); weights.py defines the same codes
_FLOAT, _INT32, _INT8 = 0, 1, 3
_TYPE_TEXT = {0: "float", 1: "int32", 2: "qweight", 3: "int8"}

_EMPTY_F = np.zeros(0, dtype=np.float32)
_EMPTY_F2 = np.zeros((0, 0), dtype=np.float32)
_EMPTY_I8 = np.zeros((0, 0), dtype=np.int8)
_EMPTY_I = np.zeros(0, dtype=np.int32)
_EMPTY_U = np.zeros(0, dtype=np.uint32)


def activation_id(act) -> int:
    """Activation id from a name ("TANH") or id (specs 06 s6); WeightsError if unknown."""
    if isinstance(act, (int, np.integer)) and 0 <= int(act) <= 6:
        return int(act)
    name = str(act).upper()
    if name.startswith("ACTIVATION_"):
        name = name[len("ACTIVATION_"):]
    try:
        return K.ACTIVATIONS[name]
    except KeyError:
        raise WeightsError(f"unknown activation {act!r}") from None


# --- binding helpers -----------------------------------------------------------------------


def binding_error(problems: list[str], file=None, prefix: str = "") -> WeightsError:
    """One WeightsError for several binding problems; ``.problems`` keeps them as a list."""
    n = len(problems)
    err = WeightsError(f"{prefix}{n} binding problem{'s' if n > 1 else ''}: " + "; ".join(problems), file=file)
    err.problems = list(problems)
    return err


class _Binder:
    """Collects the problems of one binding so they can be reported together."""

    def __init__(self, ws: Mapping, layer: str):
        self.ws = ws
        self.layer = layer
        self.problems: list[str] = []

    def fail(self, msg: str) -> None:
        self.problems.append(f"{self.layer}: {msg}")

    def array(self, name: str | None, rtype: int, count: int | None, what: str, optional=False):
        """The data of record ``name`` if it has type ``rtype`` and ``count`` elements."""
        if name is None:
            return None
        rec = self.ws.get(name)
        if rec is None:
            if not optional:
                self.fail(f"missing record {name!r} ({what})")
            return None
        ok = True
        if rec.type != rtype:
            self.fail(f"record {name!r} is {_TYPE_TEXT.get(rec.type, f'type {rec.type}')}, "
                      f"expected {_TYPE_TEXT[rtype]} ({what})")
            ok = False
        if count is not None:
            esize = 1 if rtype == _INT8 else 4
            if rec.size != count * esize:
                self.fail(f"record {name!r} has {rec.size} bytes, expected {count * esize} "
                          f"({what}: {count} {_TYPE_TEXT[rtype]} values)")
                ok = False
        return rec.data if ok else None

    def raise_if_any(self) -> None:
        if self.problems:
            raise binding_error(self.problems, getattr(self.ws, "file", None))


def check_sparse_index(idx: np.ndarray, nb_in: int, nb_out: int) -> tuple[list[str], int]:
    """Validate an 8x4 block index as libopus's ``find_idx_check`` (plus sign checks).

    Returns (problems, total_blocks). libopus rules: every group fits in the array, each
    position ``p`` has ``p % 4 == 0`` and ``p + 3 < nb_in``, and groups x 8 == nb_out.
    """
    problems: list[str] = []
    idx = np.asarray(idx)
    remain = int(idx.size)
    p = total = rows = 0
    while remain > 0:
        n = int(idx[p])
        if n < 0:
            problems.append(f"block row {rows}: negative block count {n} at index entry {p}")
            return problems, total
        if remain < n + 1:
            problems.append(f"block row {rows}: {n} blocks overrun the index ({remain - 1} entries left)")
            return problems, total
        pos = idx[p + 1 : p + 1 + n].astype(np.int64)
        bad = (pos % 4 != 0) | (pos + 3 >= nb_in) | (pos < 0)
        if bad.any():
            k = int(np.argmax(bad))
            problems.append(f"block row {rows}: input position {int(pos[k])} is not a multiple of 4 "
                            f"inside 0..{nb_in - 4}" + (f" ({int(bad.sum())} bad positions)" if bad.sum() > 1 else ""))
        total += n
        rows += 1
        p += n + 1
        remain -= n + 1
    if rows * 8 != nb_out:
        problems.append(f"index covers {rows * 8} outputs ({rows} block rows), layer has {nb_out}")
    return problems, total


# --- linear layer --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LinearLayer:
    """libopus ``LinearLayer``: arrays in blob layout (None when absent) plus kernel-ready copies.

    ``mode`` picks the kernel (float wins over int8, as libopus; specs 06 s3). ``params`` is
    the tuple the numba kernels take; its weight arrays are repacked copies (int8 dense
    output-major, int8 sparse per block row), built once at bind time.
    """

    name: str
    nb_inputs: int
    nb_outputs: int
    bias: np.ndarray | None = None
    subias: np.ndarray | None = None
    weights: np.ndarray | None = None  #: int8, blob layout
    float_weights: np.ndarray | None = None
    weights_idx: np.ndarray | None = None
    diag: np.ndarray | None = None
    scale: np.ndarray | None = None
    mode: int = field(init=False, default=K.MODE_ZERO)
    params: tuple = field(init=False, repr=False, compare=False, default=())
    max_gather: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self):
        mode, params, gather = _kernel_params(self)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "max_gather", gather)

    @property
    def quantized(self) -> bool:
        return self.weights is not None

    @property
    def sparse(self) -> bool:
        return self.weights_idx is not None

    @property
    def kernel(self) -> str:
        return {K.MODE_ZERO: "zero", K.MODE_FLOAT_DENSE: "float dense", K.MODE_FLOAT_SPARSE: "float sparse",
                K.MODE_INT8_DENSE: "int8 dense", K.MODE_INT8_SPARSE: "int8 sparse",
                K.MODE_INT8_DENSE_EXACT: "int8 dense (float accumulation)",
                K.MODE_INT8_SPARSE_EXACT: "int8 sparse (float accumulation)"}[self.mode]


def _f32(a):
    return None if a is None else np.array(a, dtype=np.float32)  # private, writable, aligned copy


#: Sparse rows are padded with zero blocks to a multiple of this many blocks (32 int8
#: inputs) when that costs at most 50 % more work: LLVM's vector loop for the int8 dot
#: products steps 32 bytes at a time, and leftovers run scalar, 2-3x slower per MAC.
_ROW_BLOCK_QUANTUM = 8


def _padded_blocks(n: int) -> int:
    q = -(-n // _ROW_BLOCK_QUANTUM) * _ROW_BLOCK_QUANTUM
    return q if 2 * q <= 3 * n else n


def _kernel_params(L: LinearLayer):
    nb_in, nb_out = L.nb_inputs, L.nb_outputs
    idx = _EMPTY_I if L.weights_idx is None else np.array(L.weights_idx, dtype=np.int32)
    wf, wq, rowptr, gidx, gather = _EMPTY_F2, _EMPTY_I8, _EMPTY_I, _EMPTY_U, 0
    if L.float_weights is not None:
        if L.weights_idx is None:
            mode = K.MODE_FLOAT_DENSE
            wf = np.array(L.float_weights, dtype=np.float32).reshape(nb_in, nb_out)
        else:
            mode = K.MODE_FLOAT_SPARSE
            wf = np.array(L.float_weights, dtype=np.float32).reshape(-1, SPARSE_BLOCK_SIZE)
    elif L.weights is not None:
        w = np.asarray(L.weights, dtype=np.int8)
        wmax = int(np.abs(w.astype(np.int32)).max()) if w.size else 0
        if L.weights_idx is None:
            # blob order [ob][ib][r][c] -> output-major (nb_out, nb_in)
            wq = np.ascontiguousarray(
                w.reshape(nb_out // 8, nb_in // 4, 8, 4).transpose(0, 2, 1, 3).reshape(nb_out, nb_in))
            exact = nb_in * wmax * 128 < _EXACT_LIMIT
            mode = K.MODE_INT8_DENSE if exact else K.MODE_INT8_DENSE_EXACT
        else:
            rows = []
            p = 0
            for _row in range(nb_out // 8):
                n = int(idx[p])
                rows.append([int(v) for v in idx[p + 1 : p + 1 + n]])
                p += n + 1
            longest = max((len(r) for r in rows), default=0)
            exact = 4 * longest * wmax * 128 < _EXACT_LIMIT
            if exact:
                mode = K.MODE_INT8_SPARSE
                blocks = w.reshape(-1, 8, 4)
                zero = np.zeros((1, 8, 4), dtype=np.int8)
                rowptr = np.zeros(len(rows) + 1, dtype=np.int32)
                gl, wl, b = [], [], 0
                for r, positions in enumerate(rows):
                    n = len(positions)
                    npad = _padded_blocks(n)
                    rowptr[r + 1] = rowptr[r] + npad
                    # padding blocks read input block 0 with zero weights: the sum is unchanged
                    gl.extend([pp // 4 for pp in positions] + [0] * (npad - n))
                    blk = np.concatenate([blocks[b : b + n]] + [zero] * (npad - n)) if npad > n else blocks[b : b + n]
                    # output-major slab: output k, then block, then input within block
                    wl.append(blk.transpose(1, 0, 2).reshape(-1))
                    b += n
                gidx = np.array(gl, dtype=np.uint32)
                wq = np.concatenate(wl).astype(np.int8).reshape(1, -1) if wl else _EMPTY_I8
                gather = 4 * _padded_blocks(longest)
            else:
                mode = K.MODE_INT8_SPARSE_EXACT
                wq = np.array(w).reshape(1, -1)
    else:
        mode = K.MODE_ZERO
    bias = _f32(L.bias)
    scale = _f32(L.scale)
    diag = _f32(L.diag)
    params = (mode, wf, wq, idx, rowptr, gidx,
              _EMPTY_F if scale is None else scale,
              _EMPTY_F if bias is None else bias,
              _EMPTY_F if diag is None else diag)
    return mode, params, gather


def linear_init(ws: Mapping, bias=None, subias=None, weights=None, float_weights=None, weights_idx=None,
                diag=None, scale=None, nb_inputs: int = 0, nb_outputs: int = 0, *, name: str | None = None
                ) -> LinearLayer:
    """Bind a linear layer from explicitly named records, as libopus's ``linear_init``.

    Each argument names a record or is None (not used). Raises WeightsError listing every
    problem. ``name`` is only used in messages and the result.
    """
    lname = name or next((n.rsplit("_", 1)[0] for n in (bias, weights, float_weights) if n), "layer")
    B = _Binder(ws, lname)
    if nb_inputs > MAX_INPUTS:
        B.fail(f"nb_inputs {nb_inputs} exceeds libopus MAX_INPUTS ({MAX_INPUTS})")
    if nb_inputs <= 0 or nb_outputs <= 0:
        B.fail(f"non-positive shape {nb_inputs} -> {nb_outputs}")
    nb_in, nb_out = max(nb_inputs, 0), max(nb_outputs, 0)
    b = B.array(bias, _FLOAT, nb_out, "bias")
    sb = B.array(subias, _FLOAT, nb_out, "subias")
    total = None
    idx = None
    if weights_idx is not None:
        idx = B.array(weights_idx, _INT32, None, "sparse index")
        if idx is not None:
            probs, total = check_sparse_index(idx, nb_in, nb_out)
            for p in probs:
                B.fail(f"index {weights_idx!r}: {p}")
            if probs:
                idx, total = None, None
    dense_count = nb_in * nb_out
    w = None
    if weights is not None:
        if weights_idx is not None:
            if total is not None:
                w = B.array(weights, _INT8, SPARSE_BLOCK_SIZE * total, f"int8 weights, {total} 8x4 blocks")
            elif weights not in ws:
                B.fail(f"missing record {weights!r} (int8 weights)")
        else:
            w = B.array(weights, _INT8, dense_count, f"int8 weights {nb_in}x{nb_out}")
            if nb_out % 8 or nb_in % 4:
                B.fail(f"int8 weights need nb_outputs % 8 == 0 and nb_inputs % 4 == 0 (8x4 blocks), "
                       f"got {nb_in} -> {nb_out}")
    fw = None
    if float_weights is not None:
        if weights_idx is not None:
            if total is not None:
                fw = B.array(float_weights, _FLOAT, SPARSE_BLOCK_SIZE * total,
                             f"float weights, {total} 8x4 blocks", optional=True)
        else:
            fw = B.array(float_weights, _FLOAT, dense_count, f"float weights {nb_in}x{nb_out}", optional=True)
    d = B.array(diag, _FLOAT, nb_out, "GRU diagonal")
    if diag is not None and nb_out != 3 * nb_in:
        B.fail(f"a GRU diagonal needs nb_outputs == 3*nb_inputs, got {nb_in} -> {nb_out}")
    sc = None
    if weights is not None:
        if scale is None:
            B.fail("int8 weights named without a scale record")
        else:
            sc = B.array(scale, _FLOAT, nb_out, "scale")
    B.raise_if_any()
    return LinearLayer(lname, nb_in, nb_out, bias=b, subias=sb, weights=w, float_weights=fw,
                       weights_idx=idx, diag=d, scale=sc)


def linear_names(name: str, *, bias=True, quantized=False, sparse=False, diag=False, float_weights=True) -> dict:
    """Record names of linear layer ``name`` by the exporter's convention (specs 06 s2)."""
    return dict(
        bias=f"{name}_bias" if bias else None,
        subias=f"{name}_subias" if quantized else None,
        weights=f"{name}_weights_int8" if quantized else None,
        float_weights=f"{name}_weights_float" if float_weights or not quantized else None,
        weights_idx=f"{name}_weights_idx" if sparse else None,
        diag=f"{name}_weights_diag" if diag else None,
        scale=f"{name}_scale" if quantized else None,
    )


def bind_linear(ws: Mapping, name: str, nb_inputs: int, nb_outputs: int, *, bias=True, quantized=False,
                sparse=False, diag=False) -> LinearLayer:
    """Bind linear layer ``name`` using the exporter's record names (float weights optional when quantized)."""
    names = linear_names(name, bias=bias, quantized=quantized, sparse=sparse, diag=diag)
    return linear_init(ws, **names, nb_inputs=nb_inputs, nb_outputs=nb_outputs, name=name)


# --- scratch --------------------------------------------------------------------------------


class Scratch:
    """Reusable kernel scratch (quantised inputs, gathered inputs, temporaries); grows, never shrinks."""

    def __init__(self):
        self.xq = np.zeros(MAX_INPUTS, dtype=np.int8)
        self.xg = np.zeros(MAX_INPUTS, dtype=np.int8)
        self.tmp = np.zeros(4096, dtype=np.float32)

    def ensure(self, xq=0, xg=0, tmp=0) -> "Scratch":
        if xq > self.xq.size:
            self.xq = np.zeros(xq + 4, dtype=np.int8)
        if xg > self.xg.size:
            self.xg = np.zeros((xg + 3) // 4 * 4, dtype=np.int8)
        if tmp > self.tmp.size:
            self.tmp = np.zeros(tmp, dtype=np.float32)
        return self


_SCRATCH = Scratch()


def _rows(x, n: int, what: str) -> np.ndarray:
    """``x`` as a C-contiguous float32 (B, n) array (a copy only when needed)."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != n:
        raise WeightsError(f"{what}: expected {n} input values per row, got shape {np.shape(x)}")
    if not a.flags.c_contiguous or not a.flags.writeable:
        a = np.array(a, dtype=np.float32, order="C")
    return a


def _out(out, shape, squeeze: bool):
    """The caller's output array viewed as ``shape`` (never a copy), or a new one."""
    if out is None:
        return np.zeros(shape, dtype=np.float32), None
    if not isinstance(out, np.ndarray) or out.dtype != np.float32 or not out.flags.c_contiguous \
            or not out.flags.writeable or out.size != int(np.prod(shape)):
        raise WeightsError(f"out must be a writable C-contiguous float32 array of {int(np.prod(shape))} values")
    return out.reshape(shape), out


def compute_linear(layer: LinearLayer, x, out=None, scratch: Scratch | None = None) -> np.ndarray:
    """libopus ``compute_linear`` for one vector (nb_in,) or a batch of rows (B, nb_in)."""
    X = _rows(x, layer.nb_inputs, layer.name)
    s = (scratch or _SCRATCH).ensure(xq=X.shape[0] * (X.shape[1] + 3), xg=layer.max_gather)
    Y, ret = _out(out, (X.shape[0], layer.nb_outputs), np.ndim(x) == 1)
    K.linear(layer.params, X, Y, s.xq, s.xg)
    return (ret if ret is not None else (Y[0] if np.ndim(x) == 1 else Y))


def compute_dense(layer: LinearLayer, x, activation="LINEAR", out=None, scratch: Scratch | None = None):
    """libopus ``compute_generic_dense``: ``act(linear(x))``, one vector or a batch of rows."""
    X = _rows(x, layer.nb_inputs, layer.name)
    s = (scratch or _SCRATCH).ensure(xq=X.shape[0] * (X.shape[1] + 3), xg=layer.max_gather)
    Y, ret = _out(out, (X.shape[0], layer.nb_outputs), np.ndim(x) == 1)
    K.dense(layer.params, X, Y, activation_id(activation), s.xq, s.xg)
    return (ret if ret is not None else (Y[0] if np.ndim(x) == 1 else Y))


def compute_glu(layer: LinearLayer, x, out=None, scratch: Scratch | None = None):
    """libopus ``compute_glu``: ``x * sigmoid(linear(x))`` (square layer)."""
    if layer.nb_inputs != layer.nb_outputs:
        raise WeightsError(f"{layer.name}: GLU needs a square layer, got {layer.nb_inputs} -> {layer.nb_outputs}")
    X = _rows(x, layer.nb_inputs, layer.name)
    s = (scratch or _SCRATCH).ensure(xq=X.shape[0] * (X.shape[1] + 3), xg=layer.max_gather, tmp=X.size)
    Y, ret = _out(out, X.shape, np.ndim(x) == 1)
    K.glu(layer.params, X, Y, s.tmp, s.xq, s.xg)
    return (ret if ret is not None else (Y[0] if np.ndim(x) == 1 else Y))


# --- stateful layers --------------------------------------------------------------------------


@dataclass(eq=False)
class GRU:
    """libopus GRU ``G`` = linear ``G_input`` (nb_in -> 3N) and ``G_recurrent`` (N -> 3N), with state.

    ``step(x)`` runs ``compute_generic_gru`` and returns the new state (also kept in ``state``).
    """

    input: LinearLayer
    recurrent: LinearLayer
    state: np.ndarray = None
    name: str = ""

    def __post_init__(self):
        n = self.recurrent.nb_inputs
        problems = []
        if self.recurrent.nb_outputs != 3 * n:
            problems.append(f"recurrent layer is {n} -> {self.recurrent.nb_outputs}, expected {n} -> {3 * n}")
        if self.input.nb_outputs != 3 * n:
            problems.append(f"input layer has {self.input.nb_outputs} outputs, expected 3*{n}")
        if problems:
            raise WeightsError(f"GRU {self.name or self.input.name}: " + "; ".join(problems))
        self.units = n
        if self.state is None:
            self.state = np.zeros((1, n), dtype=np.float32)
        else:
            self.state = np.array(self.state, dtype=np.float32).reshape(1, n)
        self._zrh = np.zeros((1, 3 * n), dtype=np.float32)
        self._rec = np.zeros((1, 3 * n), dtype=np.float32)
        self._xq = np.zeros(max(self.input.nb_inputs, n) + 4, dtype=np.int8)
        self._xg = np.zeros(max(self.input.max_gather, self.recurrent.max_gather, 4), dtype=np.int8)

    def reset(self, state=None) -> None:
        self.state[:] = 0 if state is None else np.asarray(state, dtype=np.float32).reshape(1, -1)

    def step(self, x) -> np.ndarray:
        X = _rows(x, self.input.nb_inputs, self.input.name)
        K.gru_step(self.input.params, self.recurrent.params, self.state, X[:1], self._zrh, self._rec,
                   self._xq, self._xg)
        return self.state[0]

    def run(self, X, out=None) -> np.ndarray:
        """Steps over the rows of ``X`` (T, nb_in); returns (T, N) states."""
        X = _rows(X, self.input.nb_inputs, self.input.name)
        T = X.shape[0]
        Y, ret = _out(out, (T, self.units), False)
        if T > self._zrh.shape[0]:  # grow the batch scratch (kept for later calls)
            self._zrh = np.zeros((T, 3 * self.units), dtype=np.float32)
            self._xq = np.zeros(T * (max(self.input.nb_inputs, self.units) + 3) + 4, dtype=np.int8)
        K.gru_sequence(self.input.params, self.recurrent.params, self.state, X, Y, self._zrh, self._rec,
                       self._xq, self._xg)
        return ret if ret is not None else Y


@dataclass(eq=False)
class Conv1d:
    """Causal conv1d as libopus: linear layer over ``kernel_size`` frames of ``input_size``, with memory."""

    layer: LinearLayer
    input_size: int
    dilation: int = 1
    activation: str | int = "LINEAR"

    def __post_init__(self):
        L = self.layer
        if self.input_size <= 0 or L.nb_inputs % self.input_size:
            raise WeightsError(f"conv1d {L.name}: nb_inputs {L.nb_inputs} is not a multiple of "
                               f"input_size {self.input_size}")
        if self.dilation < 1:
            raise WeightsError(f"conv1d {L.name}: dilation {self.dilation} < 1")
        self.kernel_size = L.nb_inputs // self.input_size
        self.act = activation_id(self.activation)
        self.mem = np.zeros(self.input_size * self.dilation * (self.kernel_size - 1), dtype=np.float32)
        self._tmp = np.zeros((1, L.nb_inputs), dtype=np.float32)
        self._xq = np.zeros(L.nb_inputs + 4, dtype=np.int8)
        self._xg = np.zeros(max(L.max_gather, 4), dtype=np.int8)

    def reset(self) -> None:
        self.mem[:] = 0

    def run(self, X, out=None) -> np.ndarray:
        """Process frames (T, input_size) or one frame; returns (T, nb_out) (or (nb_out,))."""
        Xr = _rows(X, self.input_size, self.layer.name)
        T = Xr.shape[0]
        Y, ret = _out(out, (T, self.layer.nb_outputs), False)
        if T > self._tmp.shape[0]:  # grow the batch scratch (kept for later calls)
            self._tmp = np.zeros((T, self.layer.nb_inputs), dtype=np.float32)
            self._xq = np.zeros(T * (self.layer.nb_inputs + 3) + 4, dtype=np.int8)
        K.conv1d_sequence(self.layer.params, self.mem, Xr, Y, self.act, self.dilation, self._tmp,
                          self._xq, self._xg)
        if ret is not None:
            return ret
        return Y[0] if np.ndim(X) == 1 else Y

    step = run


@dataclass(frozen=True, eq=False)
class Conv2dLayer:
    """libopus ``Conv2dLayer``: float weights (out_ch, in_ch, ktime, kheight) and optional bias."""

    name: str
    in_channels: int
    out_channels: int
    ktime: int
    kheight: int
    float_weights: np.ndarray
    bias: np.ndarray | None


def conv2d_init(ws: Mapping, bias, float_weights, in_channels, out_channels, ktime, kheight, *,
                name: str | None = None) -> Conv2dLayer:
    """Bind a conv2d layer as libopus's ``conv2d_init`` (every problem listed)."""
    lname = name or (float_weights or bias or "conv2d").rsplit("_", 2)[0]
    B = _Binder(ws, lname)
    if min(in_channels, out_channels, ktime, kheight) <= 0:
        B.fail(f"non-positive shape in={in_channels} out={out_channels} ktime={ktime} kheight={kheight}")
    n = max(in_channels, 0) * max(out_channels, 0) * max(ktime, 0) * max(kheight, 0)
    b = B.array(bias, _FLOAT, max(out_channels, 0), "bias")
    w = B.array(float_weights, _FLOAT, n,
                f"weights {out_channels}x{in_channels}x{ktime}x{kheight}")
    B.raise_if_any()
    return Conv2dLayer(lname, in_channels, out_channels, ktime, kheight,
                       np.array(w, dtype=np.float32).reshape(out_channels, in_channels, ktime, kheight),
                       _f32(b))


def bind_conv2d(ws, name, in_channels, out_channels, ktime, kheight, *, bias=True) -> Conv2dLayer:
    """Bind conv2d ``name`` from ``name_bias`` and ``name_weight_float`` (specs 06 s2)."""
    return conv2d_init(ws, f"{name}_bias" if bias else None, f"{name}_weight_float", in_channels, out_channels,
                       ktime, kheight, name=name)


@dataclass(eq=False)
class Conv2d:
    """Stateful conv2d runner: one time slice of in_ch x (height + kheight - 1) values per step."""

    layer: Conv2dLayer
    height: int
    hstride: int | None = None
    activation: str | int = "LINEAR"

    def __post_init__(self):
        L = self.layer
        self.hstride = self.hstride or self.height
        if self.hstride < self.height:
            raise WeightsError(f"conv2d {L.name}: hstride {self.hstride} < height {self.height}")
        self.act = activation_id(self.activation)
        self.slice_len = L.in_channels * (self.height + L.kheight - 1)
        self.mem = np.zeros((L.ktime - 1) * self.slice_len, dtype=np.float32)
        self._buf = np.zeros(L.ktime * self.slice_len, dtype=np.float32)
        self._bias = L.bias if L.bias is not None else _EMPTY_F

    def reset(self) -> None:
        self.mem[:] = 0

    def step(self, x, out=None) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
        if not x.flags.writeable:
            x = x.copy()
        if x.size != self.slice_len:
            raise WeightsError(f"conv2d {self.layer.name}: expected {self.slice_len} inputs, got {x.size}")
        n = self.layer.out_channels * self.hstride
        o = np.zeros(n, dtype=np.float32) if out is None else _out(out, (n,), False)[0]
        K.conv2d_step(self.layer.float_weights, self._bias, self.mem, x, o, self.height, self.hstride,
                      self.act, self._buf)
        return o if out is None else out


@dataclass(frozen=True, eq=False)
class Embedding:
    """Embedding table stored as a linear layer's float weights (entries x dim; specs 06 s4.7)."""

    name: str
    table: np.ndarray

    def __call__(self, index: int) -> np.ndarray:
        i = int(index)
        if not 0 <= i < self.table.shape[0]:
            raise WeightsError(f"embedding {self.name}: index {i} outside 0..{self.table.shape[0] - 1}")
        return self.table[i].copy()


def bind_embedding(ws, name, entries: int, dim: int) -> Embedding:
    """Bind embedding ``name`` from ``name_weights_float`` (entries x dim floats)."""
    B = _Binder(ws, name)
    w = B.array(f"{name}_weights_float", _FLOAT, entries * dim, f"embedding table {entries}x{dim}")
    B.raise_if_any()
    return Embedding(name, np.array(w, dtype=np.float32).reshape(entries, dim))


def activate(x, activation, out=None) -> np.ndarray:
    """libopus ``compute_activation`` (generic build) on a float32 vector."""
    x = np.array(x, dtype=np.float32).reshape(-1)  # private copy: one numba specialisation
    o = np.empty_like(x) if out is None else _out(out, x.shape, False)[0]
    K.activation(x, o, activation_id(activation))
    return o if out is None else out


# --- export: float weights -> libopus records ----------------------------------------------


def quantize_weights(W: np.ndarray, bias=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """libopus exporter quantisation of W (nb_in, nb_out) (specs 06 s5.1).

    Per output j: ``q = max(max|W[:, j]|/127, max_k |W[2k, j] + W[2k+1, j]|/129)``,
    ``Wq = round(W/q)``, ``scale = q/127``, ``subias = bias - q * sum_i Wq[i, j]``.
    Returns (Wq int8 (nb_in, nb_out), scale, subias) as float32 where applicable.
    """
    W = np.asarray(W, dtype=np.float64)
    nb_in, nb_out = W.shape
    b = np.zeros(nb_out) if bias is None else np.asarray(bias, dtype=np.float64)
    q = np.abs(W).max(axis=0) / 127
    if nb_in >= 2:
        pairs = W[: nb_in // 2 * 2].reshape(nb_in // 2, 2, nb_out).sum(axis=1)
        q = np.maximum(q, np.abs(pairs).max(axis=0) / 129)
    q = np.where(q > 0, q, 1.0)
    Wq = np.clip(np.round(W / q), -127, 127).astype(np.int8)
    subias = b - q * Wq.astype(np.float64).sum(axis=0)
    return Wq, (q / 127).astype(np.float32), subias.astype(np.float32)


def linear_records(name: str, W, bias=None, *, quantized=False, block_mask=None, diag=None,
                   float_weights: bool | None = None) -> dict[str, np.ndarray]:
    """Records of linear layer ``name`` as libopus's exporter writes them (specs 06 s2-s3).

    ``W`` is (nb_in, nb_out) float; ``block_mask`` (nb_out/8, nb_in/4) bool makes it 8x4
    block-sparse; ``diag`` (3*nb_in) is stored as ``_weights_diag``. Float weights are
    written for float layers (and for quantised ones only if ``float_weights`` is True).
    The result maps record names to arrays for ``weights.write_weights``.
    """
    W64 = np.asarray(W, dtype=np.float64)  # quantise from the caller's precision
    W = W64.astype(np.float32)
    nb_in, nb_out = W.shape
    out: dict[str, np.ndarray] = {}
    if bias is not None:
        out[f"{name}_bias"] = np.asarray(bias, dtype=np.float32)
    if quantized or block_mask is not None:
        if nb_out % 8 or nb_in % 4:
            raise WeightsError(f"{name}: 8x4 blocks need nb_out % 8 == 0 and nb_in % 4 == 0, got {nb_in}x{nb_out}")
    if block_mask is not None:
        mask = np.asarray(block_mask, dtype=bool).reshape(nb_out // 8, nb_in // 4)
        idx: list[int] = []
        for r in range(nb_out // 8):
            cols = np.nonzero(mask[r])[0]
            idx += [len(cols)] + [int(c) * 4 for c in cols]
        keep = np.repeat(np.repeat(mask.T, 4, axis=0), 8, axis=1)
        W = W * keep
        W64 = W64 * keep
    if quantized:
        Wq, scale, subias = quantize_weights(W64, bias)
        out[f"{name}_subias"] = subias
        if block_mask is None:
            out[f"{name}_weights_int8"] = np.ascontiguousarray(
                Wq.T.reshape(nb_out // 8, 8, nb_in // 4, 4).transpose(0, 2, 1, 3)).reshape(-1)
        else:
            blocks = [Wq[c : c + 4, 8 * r : 8 * r + 8].T.reshape(-1)  # [r][c]
                      for r in range(nb_out // 8) for c in np.nonzero(mask[r])[0] * 4]
            out[f"{name}_weights_int8"] = np.concatenate(blocks).astype(np.int8) if blocks else np.zeros(0, np.int8)
    if not quantized or float_weights:
        if block_mask is None:
            out[f"{name}_weights_float"] = W.reshape(-1).copy()
        else:
            blocks = [W[c : c + 4, 8 * r : 8 * r + 8].reshape(-1)  # [c][r]
                      for r in range(nb_out // 8) for c in np.nonzero(mask[r])[0] * 4]
            out[f"{name}_weights_float"] = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    if block_mask is not None:
        out[f"{name}_weights_idx"] = np.array(idx, dtype=np.int32)
    if diag is not None:
        out[f"{name}_weights_diag"] = np.asarray(diag, dtype=np.float32)
    if quantized:
        out[f"{name}_scale"] = scale
    return out
