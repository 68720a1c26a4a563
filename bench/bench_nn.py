"""Benchmark of the numba inference kernels against NumPy float32 BLAS on one core.

GFLOP/s (2 flops per multiply-accumulate; sparse layers count only stored blocks, and also
"dense-equivalent" flops) of each kernel on libopus-like shapes (specs 06/08): int8 dense
512x512, GRU of 256 and 384 units, 8x4 block-sparse int8 at 10-25 % density, conv1d, GLU.
NumPy float32 BLAS matvec and matmul of the same sizes are measured in the same run on
the same core; the table gives each kernel's ratio to them.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_nn.py [--quick] [--batch 64]
    .venv/bin/python bench/bench_nn.py --startup   # cold vs warm numba cache start-up

Thread counts are forced to 1 below, before NumPy or numba load.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcodec.nn import kernels as K  # noqa: E402
from mlcodec.nn.layers import GRU, Conv1d, LinearLayer, Scratch  # noqa: E402


def timeit(fn, min_time: float) -> float:
    """Best-of-3 mean seconds per call, each round lasting at least ``min_time``/3."""
    fn()
    best = float("inf")
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= min_time / 3:
                break
        best = min(best, dt / n)
    return best


def quantized_layer(rng, nb_in, nb_out, *, density=None, diag=False, name="L") -> LinearLayer:
    """A random int8 layer in blob layout (dense, or 8x4 block-sparse at ``density``)."""
    bias = rng.normal(0, 0.1, nb_out).astype(np.float32)
    scale = np.full(nb_out, 1 / 127 / 127, np.float32)
    if density is None:
        w = rng.integers(-127, 128, nb_in * nb_out).astype(np.int8)
        return LinearLayer(name, nb_in, nb_out, bias=bias, weights=w, scale=scale)
    idx, nblk = [], 0
    for _row in range(nb_out // 8):
        cols = [c for c in range(0, nb_in, 4) if rng.random() < density]
        idx += [len(cols)] + cols
        nblk += len(cols)
    w = rng.integers(-127, 128, 32 * nblk).astype(np.int8)
    d = rng.normal(0, 0.1, nb_out).astype(np.float32) if diag else None
    return LinearLayer(name, nb_in, nb_out, bias=bias, weights=w, scale=scale,
                       weights_idx=np.array(idx, np.int32), diag=d)


def float_layer(rng, nb_in, nb_out, name="F") -> LinearLayer:
    return LinearLayer(name, nb_in, nb_out, bias=rng.normal(0, 0.1, nb_out).astype(np.float32),
                       float_weights=rng.normal(0, 0.1, nb_in * nb_out).astype(np.float32))


def stored_macs(layer: LinearLayer) -> int:
    if layer.weights_idx is None:
        return layer.nb_inputs * layer.nb_outputs
    return int(layer.weights.size if layer.weights is not None else layer.float_weights.size)


#: Child program for --startup: import the core, bind one layer of each kind, call each once.
_STARTUP_CHILD = r"""
import time
t0 = time.perf_counter()
import numpy as np
from mlcodec.nn import layers as LY
from mlcodec.nn.weights import read_weights, weights_to_bytes
t1 = time.perf_counter()
rng = np.random.default_rng(0)
r = {}
W = lambda i, o: rng.normal(0, 0.3, (i, o))
r.update(LY.linear_records("d", W(32, 16), np.zeros(16)))
r.update(LY.linear_records("q", W(32, 16), np.zeros(16), quantized=True))
r.update(LY.linear_records("u", W(16, 16), np.zeros(16), quantized=True))
r.update(LY.linear_records("g_input", W(16, 48), np.zeros(48), quantized=True))
r.update(LY.linear_records("g_recurrent", W(16, 48), np.zeros(48), quantized=True,
                           block_mask=np.ones((6, 4), bool), diag=np.zeros(48)))
r["k_weight_float"] = rng.normal(size=9).astype(np.float32)
ws = read_weights(weights_to_bytes(r))
x = rng.uniform(-1, 1, 32).astype(np.float32)
LY.compute_dense(LY.bind_linear(ws, "d", 32, 16), x, "TANH")
LY.compute_dense(LY.bind_linear(ws, "q", 32, 16, quantized=True), x, "SIGMOID")
LY.compute_glu(LY.bind_linear(ws, "u", 16, 16, quantized=True), x[:16])
g = LY.GRU(LY.bind_linear(ws, "g_input", 16, 48, quantized=True),
           LY.bind_linear(ws, "g_recurrent", 16, 48, quantized=True, sparse=True, diag=True))
g.step(x[:16])
LY.Conv1d(LY.bind_linear(ws, "q", 32, 16, quantized=True), 16, 1, "TANH").step(x[:16])
LY.Conv2d(LY.bind_conv2d(ws, "k", 1, 1, 3, 3, bias=False), 4).step(np.zeros(6, np.float32))
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""


def startup() -> int:
    """Import + first call of every layer kind, with a cold and then a warm numba cache."""
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(root))
        print("| numba cache | import (s) | first calls (s) | total (s) |")
        print("|---|---|---|---|")
        for label in ("cold (empty)", "warm", "warm"):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _STARTUP_CHILD], env=env, capture_output=True,
                                 text=True, check=True).stdout.split()
            wall = time.perf_counter() - t0
            print(f"| {label} | {float(out[0]):.2f} | {float(out[1]):.2f} | {wall:.2f} (process) |")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter timings (about 4x faster)")
    ap.add_argument("--batch", type=int, default=64, help="frames per batched call (default 64)")
    ap.add_argument("--startup", action="store_true", help="measure cold/warm start-up instead")
    args = ap.parse_args(argv)
    if args.startup:
        return startup()
    mt = 0.15 if args.quick else 0.6
    B = args.batch
    rng = np.random.default_rng(1)
    sc = Scratch()
    rows = []  # (kernel, shape, batch, GFLOP/s, dense-eq GFLOP/s, blas_mv, blas_mm)

    blas_cache: dict = {}

    def blas(nb_in, nb_out, batch):
        """float32 BLAS GFLOP/s for x @ W (matvec when batch == 1) on the same shapes."""
        key = (nb_in, nb_out, batch)
        if key not in blas_cache:
            W = rng.standard_normal((nb_in, nb_out)).astype(np.float32)
            X = rng.standard_normal((batch, nb_in)).astype(np.float32)
            Y = np.empty((batch, nb_out), np.float32)
            if batch == 1:
                x, y = X[0], Y[0]
                t = timeit(lambda: np.dot(x, W, out=y), mt)
            else:
                t = timeit(lambda: np.matmul(X, W, out=Y), mt)
            blas_cache[key] = 2 * nb_in * nb_out * batch / t / 1e9
        return blas_cache[key]

    def linear_row(label, layer, batch):
        X = rng.uniform(-1, 1, (batch, layer.nb_inputs)).astype(np.float32)
        Y = np.empty((batch, layer.nb_outputs), np.float32)
        sc.ensure(xq=X.size, xg=layer.max_gather)
        t = timeit(lambda: K.linear(layer.params, X, Y, sc.xq, sc.xg), mt)
        gf = 2 * stored_macs(layer) * batch / t / 1e9
        gfd = 2 * layer.nb_inputs * layer.nb_outputs * batch / t / 1e9
        rows.append((label, f"{layer.nb_inputs}x{layer.nb_outputs}", batch, gf, gfd,
                     blas(layer.nb_inputs, layer.nb_outputs, 1), blas(layer.nb_inputs, layer.nb_outputs, B)))

    q512 = quantized_layer(rng, 512, 512)
    f512 = float_layer(rng, 512, 512)
    for b in (1, 16, B):
        linear_row("int8 dense", q512, b)
    for b in (1, B):
        linear_row("float dense", f512, b)
    for dens in (0.10, 0.25):
        sq = quantized_layer(rng, 512, 512, density=dens)
        for b in (1, B):
            linear_row(f"int8 sparse {int(dens * 100)}%", sq, b)
    # float sparse from the same index
    sq = quantized_layer(rng, 512, 512, density=0.25)
    sf = LinearLayer("SF", 512, 512, bias=sq.bias, weights_idx=sq.weights_idx,
                     float_weights=rng.normal(0, 0.1, sq.weights.size).astype(np.float32))
    linear_row("float sparse 25%", sf, 1)

    # GRUs: int8 input layer (nb_in = units) and int8 recurrent layer. ``run`` over B frames
    # batches the input products (the recurrent ones stay sequential); ``step`` is one frame.
    for units, sparse_rec in ((256, False), (384, False), (384, True)):
        li = quantized_layer(rng, units, 3 * units, name="gi")
        lr = (quantized_layer(rng, units, 3 * units, density=0.25, diag=True, name="gr") if sparse_rec
              else quantized_layer(rng, units, 3 * units, name="gr"))
        g = GRU(li, lr)
        X = rng.uniform(-1, 1, (B, units)).astype(np.float32)
        Y = np.empty((B, units), np.float32)
        macs = stored_macs(li) + stored_macs(lr) + (units * 3 if sparse_rec else 0)
        label = f"GRU int8{' (rec. sparse 25%+diag)' if sparse_rec else ''}"
        x1 = X[:1].copy()
        for how, batch, fn in (("run", B, lambda: g.run(X, out=Y)), ("step", 1, lambda: g.step(x1))):
            t = timeit(fn, mt) / batch
            gf = 2 * macs / t / 1e9
            gfd = 2 * 2 * units * 3 * units / t / 1e9
            rows.append((f"{label}, {how}", f"{units} units", batch, gf, gfd,
                         blas(units, 3 * units, 1), blas(units, 3 * units, B)))

    # conv1d: 128 channels, kernel 3, int8: B frames per call (batched taps) and one frame per call
    cl = quantized_layer(rng, 3 * 128, 128, name="conv")
    conv = Conv1d(cl, 128, 1, "TANH")
    X = rng.uniform(-1, 1, (B, 128)).astype(np.float32)
    Y = np.empty((B, 128), np.float32)
    t = timeit(lambda: conv.run(X, out=Y), mt) / B
    gf = 2 * 384 * 128 / t / 1e9
    rows.append(("conv1d int8 k=3 (frames batched)", "384x128", B, gf, gf, blas(384, 128, 1), blas(384, 128, B)))
    x1, y1 = X[:1].copy(), Y[:1].copy()
    t = timeit(lambda: conv.run(x1, out=y1), mt)
    gf = 2 * 384 * 128 / t / 1e9
    rows.append(("conv1d int8 k=3 (one frame/call)", "384x128", 1, gf, gf, blas(384, 128, 1), blas(384, 128, B)))
    # GLU 256 int8, batched
    gl = quantized_layer(rng, 256, 256, name="glu")
    X = rng.uniform(-1, 1, (B, 256)).astype(np.float32)
    Y = np.empty((B, 256), np.float32)
    sc.ensure(xq=X.size, tmp=X.size)
    t = timeit(lambda: K.glu(gl.params, X, Y, sc.tmp, sc.xq, sc.xg), mt)
    gf = 2 * 256 * 256 * B / t / 1e9
    rows.append(("GLU int8", "256x256", B, gf, gf, blas(256, 256, 1), blas(256, 256, B)))

    print(f"# single core; numpy {np.__version__}; BLAS batch for matmul = {B}; "
          "ratios = kernel GFLOP/s (stored weights) / BLAS float32 GFLOP/s of the same shape")
    hdr = ("kernel", "shape", "batch", "GFLOP/s", "dense-eq", "BLAS mv", "BLAS mm", "/mv", "/mm")
    print(f"| {' | '.join(hdr)} |")
    print("|" + "---|" * len(hdr))
    for label, shape, b, gf, gfd, mv, mm in rows:
        print(f"| {label} | {shape} | {b} | {gf:.1f} | {gfd:.1f} | {mv:.1f} | {mm:.1f} | {gf / mv:.2f} | {gf / mm:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
