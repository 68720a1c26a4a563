"""Layer binding by name (mlcodec.nn.layers) and model descriptions (mlcodec.nn.models)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlcodec.errors import MlcodecError, WeightsError
from mlcodec.nn import layers as LY
from mlcodec.nn import models as M
from mlcodec.nn.weights import read_weights, weights_to_bytes

rng = np.random.default_rng(42)


def blob(recs) -> "object":
    return read_weights(weights_to_bytes(recs))


def qlayer(name, nb_in, nb_out, **kw):
    W = rng.normal(0, 0.3, (nb_in, nb_out)).astype(np.float32)
    return LY.linear_records(name, W, rng.normal(0, 0.2, nb_out).astype(np.float32), **kw)


# --- linear_init rules -------------------------------------------------------------------------


def test_missing_and_wrong_sizes_are_all_listed():
    recs = qlayer("A", 32, 16, quantized=True)
    recs["A_scale"] = recs["A_scale"][:8]  # wrong size
    del recs["A_subias"]  # missing
    ws = blob(recs)
    with pytest.raises(WeightsError) as e:
        LY.bind_linear(ws, "A", 32, 16, quantized=True)
    msg = str(e.value)
    assert "2 binding problems" in msg
    assert "missing record 'A_subias'" in msg
    assert "'A_scale' has 32 bytes, expected 64" in msg


def test_wrong_type_is_refused_even_when_size_matches():
    recs = {"B_weights_float": np.zeros(16 * 8, np.float32), "B_bias": np.zeros(8, np.int32)}
    with pytest.raises(WeightsError, match="'B_bias' is int32, expected float"):
        LY.bind_linear(blob(recs), "B", 16, 8)


def test_optional_float_weights_absent_ok_wrong_size_refused():
    recs = qlayer("C", 16, 8, quantized=True)
    ws = blob(recs)
    layer = LY.bind_linear(ws, "C", 16, 8, quantized=True)
    assert layer.kernel == "int8 dense"
    recs["C_weights_float"] = np.zeros(10, np.float32)
    with pytest.raises(WeightsError, match="C_weights_float"):
        LY.bind_linear(blob(recs), "C", 16, 8, quantized=True)


def test_int8_needs_scale():
    recs = qlayer("D", 16, 8, quantized=True)
    with pytest.raises(WeightsError, match="without a scale"):
        LY.linear_init(blob(recs), "D_bias", None, "D_weights_int8", None, None, None, None, 16, 8)


def test_int8_dense_needs_8x4_blocks():
    ws = blob({"E_weights_int8": np.zeros(6 * 4, np.int8), "E_scale": np.ones(6, np.float32)})
    with pytest.raises(WeightsError, match="8x4 blocks"):
        LY.linear_init(ws, None, None, "E_weights_int8", None, None, None, "E_scale", 4, 6)


def test_max_inputs():
    ws = blob({"F_bias": np.zeros(8, np.float32)})
    with pytest.raises(WeightsError, match="MAX_INPUTS"):
        LY.linear_init(ws, "F_bias", None, None, None, None, None, None, 2049, 8)


@pytest.mark.parametrize("idx,problem", [
    ([1, 0, 1], "overrun"),
    ([1, 2], "not a multiple of 4"),
    ([1, 16], "not a multiple of 4"),  # 16 + 3 >= nb_in
    ([-1], "negative block count"),  # libopus would loop forever
    ([1, -4], "not a multiple of 4"),  # libopus would read before the input
    ([1, 0, 1, 4], "covers 16 outputs"),
])
def test_sparse_index_problems(idx, problem):
    ws = blob({"S_weights_idx": np.array(idx, np.int32), "S_weights_float": np.zeros(64, np.float32)})
    with pytest.raises(WeightsError, match=problem):
        LY.linear_init(ws, None, None, None, "S_weights_float", "S_weights_idx", None, None, 16, 8)


def test_diag_needs_three_times_inputs():
    recs = qlayer("G", 8, 24, quantized=True, block_mask=np.ones((3, 2), bool), diag=np.zeros(24))
    ws = blob(recs)
    LY.bind_linear(ws, "G", 8, 24, quantized=True, sparse=True, diag=True)
    with pytest.raises(WeightsError, match="3\\*nb_inputs"):
        LY.linear_init(ws, None, None, None, None, None, "G_weights_diag", None, 4, 24)


def test_unknown_activation():
    with pytest.raises(WeightsError, match="unknown activation"):
        LY.activation_id("GELU")
    assert LY.activation_id("ACTIVATION_TANH") == 2 and LY.activation_id(5) == 5


def test_bad_input_shape_is_weights_error():
    layer = LY.bind_linear(blob(qlayer("H", 16, 8, quantized=True)), "H", 16, 8, quantized=True)
    with pytest.raises(WeightsError, match="expected 16"):
        LY.compute_linear(layer, np.zeros(15, np.float32))


# --- exporter helpers ----------------------------------------------------------------------------


def test_quantize_weights_matches_spec_example():
    """Worked example of specs 06 s5 (nb_in 4, nb_out 8)."""
    W = np.array([[0.50, -0.25, 0.10, 0.00, 0.30, -0.60, 0.05, 0.20],
                  [-0.40, 0.35, 0.00, 0.15, -0.10, 0.20, 0.45, -0.05],
                  [0.20, 0.10, -0.30, 0.25, 0.05, 0.00, -0.15, 0.60],
                  [0.00, -0.05, 0.40, -0.20, 0.10, 0.30, 0.25, -0.35]])
    bias = np.array([0.1, -0.2, 0.0, 0.05, 0.3, -0.1, 0.2, 0.0])
    recs = LY.linear_records("X", W, bias, quantized=True)
    assert recs["X_weights_int8"].tolist() == [127, -102, 51, 0, -91, 127, 36, -18, 32, 0, -95, 127, 0, 76, 127,
                                               -102, 127, -42, 21, 42, -127, 42, 0, 64, 13, 116, -39, 64, 42,
                                               -11, 127, -74]
    layer = LY.bind_linear(blob(recs), "X", 4, 8, quantized=True)
    y = LY.compute_linear(layer, np.array([0.3, -0.8, 1.0, 0.05], np.float32))
    expected = [0.773, -0.459, -0.250, 0.170, 0.524, -0.425, -0.285, 0.685]
    assert np.abs(y - np.array(expected)).max() < 6e-4  # the spec prints 3 decimals


def test_subias_cancels_the_unsigned_offset():
    """x86 form scale*sum(wq*(xq+127)) + subias equals the generic scale*sum(wq*xq) + bias."""
    recs = qlayer("U", 64, 16, quantized=True)
    ws = blob(recs)
    layer = LY.bind_linear(ws, "U", 64, 16, quantized=True)
    x = rng.uniform(-1, 1, 64).astype(np.float32)
    from mlcodec.nn.reference import quantize_input
    xq = quantize_input(x).astype(np.float64)
    wq = layer.params[2].astype(np.float64)  # output-major
    x86 = layer.scale * (wq @ (xq + 127)) + layer.subias
    assert np.allclose(x86, LY.compute_linear(layer, x), atol=1e-5)


# --- stateful layers -------------------------------------------------------------------------------


def test_gru_state_and_reset():
    ws = blob({**qlayer("g_input", 8, 24, quantized=True), **qlayer("g_recurrent", 8, 24)})
    g = M._bind_layer(ws, M.LayerSpec("g", "gru", 8, 8, storage=M.LinearStorage(quantized=True)))
    x = rng.uniform(-1, 1, (5, 8)).astype(np.float32)
    a = g.run(x).copy()
    g.reset()
    b = np.stack([g.step(v).copy() for v in x])
    assert np.array_equal(a, b)
    h = LY.bind_linear(blob(qlayer("h", 4, 8)), "h", 4, 8)
    with pytest.raises(WeightsError, match="expected 4 -> 12"):
        LY.GRU(g.input, h)


def test_conv1d_kernel_size_and_errors():
    ws = blob(qlayer("c", 24, 16))
    conv = LY.Conv1d(LY.bind_linear(ws, "c", 24, 16), 8, dilation=2)
    assert conv.kernel_size == 3 and conv.mem.size == 8 * 2 * 2
    with pytest.raises(WeightsError, match="multiple"):
        LY.Conv1d(LY.bind_linear(ws, "c", 24, 16), 7)


def test_embedding():
    table = rng.normal(size=(10, 4)).astype(np.float32)
    ws = blob({"emb_weights_float": table.reshape(-1)})
    e = M._bind_layer(ws, M.LayerSpec("emb", "embedding", 10, 4))
    assert np.array_equal(e(3), table[3])
    with pytest.raises(WeightsError, match="outside"):
        e(10)


# --- models ---------------------------------------------------------------------------------------


def tiny_model() -> M.ModelSpec:
    return M.ModelSpec("tiny", (
        M.LayerSpec("d1", "dense", 16, 32, activation="TANH"),
        M.LayerSpec("g1", "gru", 32, 16, storage=M.LinearStorage(quantized=True, sparse=True),
                    recurrent=M.LinearStorage(quantized=True, sparse=True, diag=True)),
        M.LayerSpec("c1", "conv1d", 16, 16, storage=M.LinearStorage(quantized=True), kernel_size=2,
                    dilation=2, activation="TANH"),
        M.LayerSpec("u1", "glu", 16, 16, storage=M.LinearStorage(quantized=True)),
        M.LayerSpec("k1", "conv2d", 1, 2, ktime=3, kheight=3),
        M.LayerSpec("e1", "embedding", 5, 16),
    ), description="test model")


def tiny_weights() -> dict:
    recs = {}
    recs.update(qlayer("d1", 16, 32))
    recs.update(qlayer("g1_input", 32, 48, quantized=True, block_mask=rng.random((6, 8)) < 0.5))
    recs.update(qlayer("g1_recurrent", 16, 48, quantized=True, block_mask=rng.random((6, 4)) < 0.5,
                       diag=rng.normal(size=48)))
    recs.update(qlayer("c1", 32, 16, quantized=True))
    recs.update(qlayer("u1", 16, 16, quantized=True))
    recs["k1_bias"] = np.zeros(2, np.float32)
    recs["k1_weight_float"] = rng.normal(size=18).astype(np.float32)
    recs["e1_weights_float"] = rng.normal(size=80).astype(np.float32)
    return recs


def test_model_json_round_trip(tmp_path):
    m = tiny_model()
    p = tmp_path / "tiny.json"
    m.to_json(p)
    assert M.ModelSpec.from_json(p) == m
    assert M.ModelSpec.from_json(m.to_json()) == m
    assert json.loads(m.to_json())["layers"][1]["recurrent"]["diag"] is True


def test_model_bind_verify_describe():
    ws = blob(tiny_weights())
    m = tiny_model()
    assert M.verify(ws, m) == []
    assert M.verify(ws, json.loads(m.to_json())) == []  # a parsed JSON object works too
    bound = M.bind(ws, m)
    assert isinstance(bound["g1"], LY.GRU) and isinstance(bound["c1"], LY.Conv1d)
    assert isinstance(bound["k1"], LY.Conv2dLayer) and isinstance(bound["e1"], LY.Embedding)
    assert bound["g1"].recurrent.kernel == "int8 sparse"
    desc = M.describe_records(ws, [m])
    assert set(desc) == set(ws)
    assert "int8 weights 32x48" in desc["g1_input_weights_int8"]
    # registration makes it a known model
    M.register_model(m)
    try:
        assert M.describe_records(ws) == desc
        assert M.get_model("tiny") is m
    finally:
        M.unregister_model("tiny")


def test_model_bind_lists_every_problem():
    recs = tiny_weights()
    del recs["g1_recurrent_weights_diag"]
    recs["u1_scale"] = recs["u1_scale"][:4]
    ws = blob(recs)
    problems = M.verify(ws, tiny_model())
    assert len(problems) == 2
    assert any("g1_recurrent_weights_diag" in p for p in problems)
    assert any("u1_scale" in p for p in problems)
    with pytest.raises(WeightsError, match="do not bind to model tiny"):
        M.bind(ws, tiny_model())


def test_model_spec_errors(tmp_path):
    with pytest.raises(WeightsError, match="unknown kind"):
        M.LayerSpec("x", "lstm", 1, 1)
    with pytest.raises(WeightsError, match="unknown keys"):
        M.ModelSpec.from_dict({"name": "m", "layers": [{"name": "x", "kind": "dense", "nb_inputs": 1,
                                                        "nb_outputs": 1, "colour": 1}]})
    with pytest.raises(WeightsError, match="duplicate layer"):
        M.ModelSpec("m", (M.LayerSpec("x", "dense", 1, 8), M.LayerSpec("x", "dense", 1, 8)))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(WeightsError, match="cannot read model spec"):
        M.ModelSpec.from_json(bad)
    with pytest.raises(WeightsError, match="unknown model"):
        M.get_model("no-such-model")


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=400))
def test_model_spec_fuzz(data):
    """Random JSON-ish text never escapes as anything but an MlcodecError."""
    try:
        M.ModelSpec.from_json(data.decode("latin-1") if data[:1] == b"{" else "{" + data.hex() + "}")
    except MlcodecError:
        pass


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "kind", "nb_inputs", "nb_outputs", "storage", "recurrent", "layers",
                         "activation", "kernel_size", "quantized", "bias"]), inner, max_size=6),
    max_leaves=20)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "layers", "description"]), _json, max_size=3))
def test_model_spec_structure_fuzz(d):
    """Arbitrary JSON structures: a ModelSpec or a WeightsError, nothing else."""
    try:
        M.ModelSpec.from_dict(d)
    except MlcodecError:
        pass


def libopus_find_idx_check(idx, nb_in, nb_out):
    """Model of libopus's index validation (negative counts excluded: libopus would hang)."""
    remain, p, total = len(idx), 0, 0
    while remain > 0:
        n = idx[p]
        p += 1
        if remain < n + 1:
            return None
        for _ in range(n):
            pos = idx[p]
            p += 1
            if pos + 3 >= nb_in or pos & 3:
                return None
        nb_out -= 8
        remain -= n + 1
        total += n
    return total if nb_out == 0 else None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-8, 40), max_size=14), st.sampled_from([8, 16, 24, 32]),
       st.sampled_from([8, 16, 24]))
@example([2, 0, 4], 8, 8)
@example([1, 4, 2, 0, 4, 0], 8, 24)
@example([1, -4], 8, 8)
def test_sparse_index_acceptance_matches_libopus(idx, nb_in, nb_out):
    """Accept exactly what libopus accepts, minus negative entries; accepted layers compute like the twin."""
    from mlcodec.nn import reference as R

    if any(v < 0 for v in idx[:1]):
        expected = None
    else:
        try:
            expected = libopus_find_idx_check(idx, nb_in, nb_out)
        except IndexError:  # walked past the end: libopus's remain check prevents this
            expected = None
    if expected is not None and any(v < 0 for v in idx):
        expected = None  # stricter: a negative position (multiple of 4) would read before x
    total = expected if expected is not None else 1
    w = rng.integers(-127, 128, 32 * max(total, 1)).astype(np.int8)
    recs = {"S_weights_idx": np.array(idx or [0], np.int32), "S_scale": np.full(nb_out, 0.01, np.float32)}
    if total:
        recs["S_weights_int8"] = w
    ws = blob(recs)
    args = (None, None, "S_weights_int8" if total else None, None, "S_weights_idx", None, "S_scale", nb_in, nb_out)
    if not idx:
        return  # an empty record cannot be written; covered by the weights tests
    if expected is None:
        with pytest.raises(WeightsError):
            LY.linear_init(ws, *args)
        return
    layer = LY.linear_init(ws, *args)
    x = rng.uniform(-1, 1, nb_in).astype(np.float32)
    arrays = {"weights_idx": ws["S_weights_idx"].data, "scale": ws["S_scale"].data}
    if total:
        arrays["weights_int8"] = w
    ref = R.linear(arrays, nb_in, nb_out, x)
    assert np.array_equal(LY.compute_linear(layer, x), ref)
