"""numba kernels (mlcodec.nn.kernels) against their NumPy reference twins (mlcodec.nn.reference).

Kernels and twins implement the same float32 operation sequence, so every comparison is
bit-exact (compared as uint32 bit patterns; NaN payloads included).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlcodec.nn import kernels as K
from mlcodec.nn import layers as LY
from mlcodec.nn import reference as R
from mlcodec.nn.weights import read_weights, weights_to_bytes

ACTS = list(K.ACTIVATIONS)


def same_bits(a, b) -> bool:
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def special_values() -> np.ndarray:
    """Edge inputs: zeros, tiny, large, the exp cut-off, +-inf, NaN, and a dense sweep."""
    v = [0.0, -0.0, 1e-30, -1e-30, 1e-7, 0.5, -0.5, 1, -1, 2, 8.9, 9.1, 20, -20, 34.6, -34.7, -35,
         -36, 88, 89, 100, -100, 1e6, -1e6, 3e9, -3e9, 1e30, -1e30, np.inf, -np.inf, np.nan]
    return np.concatenate([np.array(v, np.float32), np.linspace(-40, 40, 4001, dtype=np.float32)])


@pytest.mark.parametrize("act", ACTS)
def test_activation_matches_reference(act):
    x = special_values()
    if act == "SOFTMAX":
        x = x[np.isfinite(x) & (np.abs(x) < 30)][:200]
    out = np.empty_like(x)
    K.activation(x, out, K.ACTIVATIONS[act])
    with np.errstate(all="ignore"):
        ref = R.activation(x, act)
    assert same_bits(out, ref)


def test_activation_in_place_equals_out_of_place():
    x = np.random.default_rng(1).uniform(-6, 6, 257).astype(np.float32)
    for act in ACTS:
        y = np.empty_like(x)
        K.activation(x, y, K.ACTIVATIONS[act])
        z = x.copy()
        K.activation(z, z, K.ACTIVATIONS[act])
        assert same_bits(y, z), act


def test_tanh_sigmoid_bounds_and_accuracy():
    x = np.linspace(-12, 12, 20001, dtype=np.float32)
    t = LY.activate(x, "TANH")
    s = LY.activate(x, "SIGMOID")
    assert t.min() >= -1 and t.max() <= 1 and s.min() >= 0 and s.max() <= 1
    # libopus's rational approximation: max error about 6e-5 (specs 06 s6)
    assert np.abs(t - np.tanh(x.astype(np.float64))).max() < 1e-4
    assert np.abs(s - 1 / (1 + np.exp(-x.astype(np.float64)))).max() < 1e-4


def test_exp_approximation_accuracy_and_cutoff():
    x = np.linspace(-30, 30, 6001, dtype=np.float32)
    e = LY.activate(x, "EXP")
    rel = np.abs(e / np.exp(x.astype(np.float64)) - 1)
    assert rel.max() < 1e-4
    # lpcnet_exp2 returns exactly 0 when floor(x*log2 e) < -50
    assert LY.activate(np.array([-35.0, -40.0], np.float32), "EXP").tolist() == [0.0, 0.0]


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 64), elements=st.floats(width=32, allow_nan=True)))
def test_activations_hypothesis(x):
    for act in ("SIGMOID", "TANH", "RELU", "SWISH", "EXP"):
        out = np.empty_like(x)
        K.activation(x, out, K.ACTIVATIONS[act])
        with np.errstate(all="ignore"):
            assert same_bits(out, R.activation(x, act)), act


def test_quantize_input_wraps_like_generic_c():
    x = np.array([0, 0.5 / 127, -0.5 / 127, 1, -1, 1.004, 1.01, 2, -2, 3, -3, 1e10, np.inf, np.nan], np.float32)
    xq = np.zeros((1, x.size), np.int8)
    K.quantize_rows(x.reshape(1, -1), xq)
    ref = R.quantize_input(x)
    assert np.array_equal(xq[0], ref)
    # floor(0.5 + 127x): round half up; no saturation: 2 -> 254 -> -2 (mod 256)
    assert ref[:5].tolist() == [0, 1, 0, 127, -127]
    assert int(ref[5]) == -128  # 127.5 rounds to 128, which wraps to -128
    assert int(ref[7]) == -2 and int(ref[8]) == 2  # 254 wraps to -2, -254 wraps to 2
    assert ref[-3:].tolist() == [0, 0, 0]  # (int) of huge/inf/NaN is INT_MIN on x86: low byte 0


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 80), elements=st.floats(-4, 4, width=32)))
def test_quantize_hypothesis(x):
    xq = np.zeros((1, x.size), np.int8)
    K.quantize_rows(x.reshape(1, -1), xq)
    assert np.array_equal(xq[0], R.quantize_input(x))


# --- linear kernels on random layers ---------------------------------------------------------


def random_layer(rng, nb_in, nb_out, *, quantized, sparse, density=0.5, diag=False, bias=True, wmax=None):
    W = rng.normal(0, 0.3, (nb_in, nb_out)).astype(np.float32)
    b = rng.normal(0, 0.2, nb_out).astype(np.float32) if bias else None
    mask = (rng.random((nb_out // 8, nb_in // 4)) < density) if sparse else None
    if mask is not None:
        mask[0, 0] = True  # never an entirely empty index
    d = rng.normal(0, 0.3, nb_out).astype(np.float32) if diag else None
    recs = LY.linear_records("L", W, b, quantized=quantized, block_mask=mask, diag=d)
    ws = read_weights(weights_to_bytes(recs))
    layer = LY.bind_linear(ws, "L", nb_in, nb_out, bias=bias, quantized=quantized, sparse=sparse, diag=diag)
    arrays = {k: ws[f"L_{v}"].data for k, v in (("bias", "bias"), ("weights_int8", "weights_int8"),
                                                 ("weights_float", "weights_float"), ("weights_idx", "weights_idx"),
                                                 ("diag", "weights_diag"), ("scale", "scale")) if f"L_{v}" in ws}
    return layer, arrays


CASES = [
    # (nb_in, nb_out, quantized, sparse, diag)
    (24, 20, False, False, False),
    (40, 32, False, False, False),
    (64, 32, False, True, False),
    (32, 24, True, False, False),
    (64, 32, True, True, False),
    (24, 72, True, True, True),
    (512, 64, True, False, False),
    (256, 768, True, True, True),
    (1024, 16, True, False, False),
    (2048, 16, True, False, False),  # partial sums may pass 2^24: float-accumulation kernel
    (2048, 16, True, True, False),
]


@pytest.mark.parametrize("nb_in,nb_out,quantized,sparse,diag", CASES)
def test_linear_matches_reference(nb_in, nb_out, quantized, sparse, diag):
    rng = np.random.default_rng(nb_in * 7 + nb_out)
    layer, arrays = random_layer(rng, nb_in, nb_out, quantized=quantized, sparse=sparse, diag=diag,
                                 density=0.9 if nb_in >= 2048 else 0.3)
    X = rng.uniform(-1.2, 1.2, (5, nb_in)).astype(np.float32)  # a little beyond [-1, 1]: wrap-around
    Y = LY.compute_linear(layer, X)
    for b in range(5):
        assert same_bits(Y[b], R.linear(arrays, nb_in, nb_out, X[b])), (layer.kernel, b)
        assert same_bits(LY.compute_linear(layer, X[b]), Y[b])  # batch == one by one


def test_large_layers_select_float_accumulation():
    rng = np.random.default_rng(3)
    dense, _ = random_layer(rng, 2048, 16, quantized=True, sparse=False)
    small, _ = random_layer(rng, 512, 16, quantized=True, sparse=False)
    assert dense.mode == K.MODE_INT8_DENSE_EXACT and small.mode == K.MODE_INT8_DENSE


def test_int8_accumulation_extreme_values_exact():
    """All-127 weights against all-(-128)-wrapped inputs: partial sums beyond 2^24."""
    nb_in, nb_out = 2048, 8
    w = np.full(nb_in * nb_out, 127, np.int8)
    recs = {"X_weights_int8": w, "X_scale": np.full(nb_out, 1.0, np.float32),
            "X_subias": np.zeros(nb_out, np.float32)}
    ws = read_weights(weights_to_bytes(recs))
    layer = LY.linear_init(ws, None, "X_subias", "X_weights_int8", None, None, None, "X_scale", nb_in, nb_out)
    x = np.full(nb_in, 128.4 / 127, np.float32)  # quantises to 128 -> wraps to -128
    y = LY.compute_linear(layer, x)
    ref = R.linear({"weights_int8": w, "scale": np.ones(nb_out, np.float32)}, nb_in, nb_out, x)
    assert same_bits(y, ref)
    assert y[0] == np.float32(-127 * 128 * 2048)


def test_zero_layer_is_bias_only():
    ws = read_weights(weights_to_bytes({"Z_bias": np.arange(8, dtype=np.float32)}))
    layer = LY.linear_init(ws, "Z_bias", None, None, "Z_weights_float", None, None, None, 4, 8)
    assert layer.kernel == "zero"
    assert LY.compute_linear(layer, np.ones(4, np.float32)).tolist() == list(range(8))


def test_kernels_are_deterministic():
    rng = np.random.default_rng(5)
    layer, _ = random_layer(rng, 256, 768, quantized=True, sparse=True, diag=True)
    x = rng.uniform(-1, 1, (16, 256)).astype(np.float32)
    a = LY.compute_dense(layer, x, "TANH")
    b = LY.compute_dense(layer, x, "TANH")
    assert same_bits(a, b)


def test_out_buffer_is_used():
    rng = np.random.default_rng(6)
    layer, _ = random_layer(rng, 32, 24, quantized=True, sparse=False)
    out = np.zeros((3, 24), np.float32)
    x = rng.uniform(-1, 1, (3, 32)).astype(np.float32)
    res = LY.compute_dense(layer, x, "SIGMOID", out=out)
    assert res is out and same_bits(out, LY.compute_dense(layer, x, "SIGMOID"))


@pytest.mark.parametrize("shape", [(3, 3, 2, 3, 6), (2, 5, 1, 2, 7), (1, 1, 4, 4, 5)])
def test_conv2d_matches_reference(shape):
    kt, kh, in_ch, out_ch, height = shape
    rng = np.random.default_rng(sum(shape))
    w = rng.normal(0, 0.3, (out_ch, in_ch, kt, kh)).astype(np.float32)
    bias = rng.normal(0, 0.2, out_ch).astype(np.float32)
    ws = read_weights(weights_to_bytes({"C_bias": bias, "C_weight_float": w.reshape(-1)}))
    conv = LY.Conv2d(LY.bind_conv2d(ws, "C", in_ch, out_ch, kt, kh), height, height + 1, "TANH")
    mem = np.zeros(conv.mem.size, np.float32)
    for _ in range(4):
        x = rng.uniform(-1, 1, conv.slice_len).astype(np.float32)
        got = conv.step(x)
        ref, mem = R.conv2d_step(w, bias, mem, x, height, height + 1, "TANH")
        for o in range(out_ch):
            s = slice(o * (height + 1), o * (height + 1) + height)
            assert same_bits(got[s], ref[s])


def test_gru_and_conv1d_match_reference():
    rng = np.random.default_rng(8)
    li, ai = random_layer(rng, 24, 96, quantized=True, sparse=False)
    lr, ar = random_layer(rng, 32, 96, quantized=True, sparse=True, diag=True)
    g = LY.GRU(li, lr)
    state = np.zeros(32, np.float32)
    X = rng.uniform(-1, 1, (7, 24)).astype(np.float32)
    out = g.run(X)
    for t in range(7):
        state = R.gru_step(ai, 24, ar, state, X[t])
        assert same_bits(out[t], state)
    lc, ac = random_layer(rng, 48, 16, quantized=False, sparse=False)
    conv = LY.Conv1d(lc, 8, dilation=3, activation="RELU")
    Xc = rng.uniform(-2, 2, (9, 8)).astype(np.float32)
    ref, mem = R.conv1d_sequence(ac, 48, 16, Xc, np.zeros(8 * 3 * 5, np.float32), "RELU", 3)
    got = np.stack([conv.step(x) for x in Xc])
    assert same_bits(got, ref) and same_bits(conv.mem, mem)


def test_glu_matches_reference():
    rng = np.random.default_rng(9)
    layer, arrays = random_layer(rng, 64, 64, quantized=True, sparse=True)
    X = rng.uniform(-1, 1, (4, 64)).astype(np.float32)
    Y = LY.compute_glu(layer, X)
    for b in range(4):
        assert same_bits(Y[b], R.glu(arrays, 64, X[b]))


@pytest.mark.parametrize("chunks", [(1, 1, 1, 1, 1, 1, 1, 1, 1, 1), (2, 3, 5), (10,), (4, 1, 5)])
def test_conv1d_batched_equals_frame_by_frame(chunks):
    """Conv1d.run on T frames at once (one batched product) == one frame at a time, mem included."""
    rng = np.random.default_rng(10)
    layer, _ = random_layer(rng, 3 * 8, 16, quantized=True, sparse=False)
    X = rng.uniform(-1, 1, (sum(chunks), 8)).astype(np.float32)
    one = LY.Conv1d(layer, 8, dilation=3, activation="TANH")
    ref = np.stack([one.step(x).copy() for x in X])
    many = LY.Conv1d(layer, 8, dilation=3, activation="TANH")
    got, pos = [], 0
    for c in chunks:
        got.append(many.run(X[pos : pos + c]).copy())
        pos += c
    assert same_bits(np.concatenate(got), ref) and same_bits(many.mem, one.mem)


def test_gru_run_equals_steps():
    """GRU.run (input products batched over frames) == step by step, bit for bit."""
    rng = np.random.default_rng(11)
    li, _ = random_layer(rng, 40, 96, quantized=True, sparse=True)
    lr, _ = random_layer(rng, 32, 96, quantized=True, sparse=True, diag=True)
    X = rng.uniform(-1, 1, (9, 40)).astype(np.float32)
    a = LY.GRU(li, lr)
    ref = np.stack([a.step(x).copy() for x in X])
    b = LY.GRU(li, lr)
    got = np.concatenate([b.run(X[:4]), b.run(X[4:5]), b.run(X[5:])])
    assert same_bits(got, ref)
