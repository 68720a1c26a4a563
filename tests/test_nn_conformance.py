"""Conformance against libopus's layer code: vectors ``$MLCODEC_VECTORS/nnet``.

Every ``tests`` entry of manifest.json must match libopus's portable-C path (``generic``)
**bit for bit**: we mirror its float32 operation order exactly, and int8 arithmetic is
integer (tolerance: 0 ULP; see docs/nn.md). The other recorded paths (x86 builds) are
checked against the differences the vectors document, and every ``linear_init.jsonl`` case
must be accepted or refused exactly as libopus does.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import vector_set, vectors_dir

from mlcodec.errors import WeightsError
from mlcodec.nn import layers as LY
from mlcodec.nn import models as M
from mlcodec.nn import reference as R
from mlcodec.nn.weights import read_weights

#: Allowed difference from the generic path, in float32 ULP. We reproduce libopus's
#: operation order, so 0 is expected; a non-zero value would only be justified by a
#: compiler contracting a*b+c into an FMA, which fastmath=False forbids.
GENERIC_ULP = 0


def _manifest():
    d = vectors_dir() / "nnet"
    if not (d / "manifest.json").is_file():
        return {"tests": [], "layers": {}}
    return json.loads((d / "manifest.json").read_text())


def _jsonl(name):
    p = vectors_dir() / "nnet" / name
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


MANIFEST = _manifest()
TESTS = MANIFEST["tests"]
LINEAR_INIT = _jsonl("linear_init.jsonl")


@pytest.fixture(scope="module")
def nnet():
    d = vector_set("nnet")
    manifest = json.loads((d / "manifest.json").read_text())
    ws = read_weights(d / manifest.get("blob", "weights.bin"))
    return d, manifest, ws


def load(d, rel) -> np.ndarray:
    return np.fromfile(d / rel, dtype="<f4")


def layer_spec(name: str, spec: dict) -> M.LayerSpec:
    """A models.LayerSpec for one manifest ``layers`` entry (linear-level, as libopus binds)."""
    if spec["kind"] == "conv2d":
        return M.LayerSpec(name, "conv2d", spec["in_channels"], spec["out_channels"],
                           storage=M.LinearStorage(bias="bias" in spec["arrays"]),
                           ktime=spec["ktime"], kheight=spec["kheight"])
    st = M.LinearStorage(bias=spec["has_bias"], quantized=spec["quantized"], sparse=spec["sparse"],
                         diag=spec["diag"])
    return M.LayerSpec(name, "linear", spec["nb_inputs"], spec["nb_outputs"], storage=st)


def test_model_from_manifest_binds_and_names_every_record(nnet):
    d, manifest, ws = nnet
    model = M.ModelSpec("nnet-vectors", tuple(layer_spec(n, s) for n, s in manifest["layers"].items()))
    assert M.verify(ws, model) == []
    bound = M.bind(ws, model)
    assert set(bound) == set(manifest["layers"])
    # the spec's record names are exactly the arrays the manifest lists
    named = {v for s in manifest["layers"].values() for v in s["arrays"].values()}
    described = M.describe_records(ws, [model])
    assert named <= set(described)
    assert set(described) <= set(ws)
    # kernel selection: float wins over int8 (dense_q_dbg), as compute_linear
    if "dense_q_dbg" in bound:
        assert bound["dense_q_dbg"].kernel == "float dense"


def _bind(ws, manifest, name):
    spec = manifest["layers"][name]
    if spec["kind"] == "conv2d":
        return LY.bind_conv2d(ws, name, spec["in_channels"], spec["out_channels"], spec["ktime"], spec["kheight"],
                              bias="bias" in spec["arrays"])
    a = spec["arrays"]
    return LY.linear_init(ws, a.get("bias"), a.get("subias"), a.get("weights_int8"), a.get("weights_float"),
                          a.get("weights_idx"), a.get("diag"), a.get("scale"), spec["nb_inputs"],
                          spec["nb_outputs"], name=name)


def run_case(t, d, manifest, ws) -> np.ndarray:
    """Our output for one manifest test (all steps concatenated, as the .f32 files)."""
    f = t["function"]
    x = load(d, t["input"])
    if f == "compute_activation":
        return LY.activate(x, t["activation"])
    if f == "compute_generic_dense":
        return LY.compute_dense(_bind(ws, manifest, t["layer"]), x, t["activation"])
    if f == "compute_glu":
        return LY.compute_glu(_bind(ws, manifest, t["layer"]), x)
    if f == "compute_generic_gru":
        g = LY.GRU(_bind(ws, manifest, t["layers"][0]), _bind(ws, manifest, t["layers"][1]),
                   state=load(d, t["state0"]))
        return g.run(x.reshape(t["steps"], -1)).reshape(-1)
    if f in ("compute_generic_conv1d", "compute_generic_conv1d_dilation"):
        conv = LY.Conv1d(_bind(ws, manifest, t["layer"]), t["input_size"], t.get("dilation", 1), t["activation"])
        assert conv.mem.size == t["mem_len"]
        return conv.run(x.reshape(t["steps"], -1)).reshape(-1)
    if f == "compute_conv2d":
        conv = LY.Conv2d(_bind(ws, manifest, t["layer"]), t["height"], t["hstride"], t["activation"])
        assert conv.mem.size == t["mem_len"]
        return np.concatenate([conv.step(s) for s in x.reshape(t["steps"], -1)])
    raise AssertionError(f"unknown function {f}")


def _arrays(manifest, ws, name):
    return {k: ws[v].data for k, v in manifest["layers"][name]["arrays"].items() if k != "subias"}


def run_reference(t, d, manifest, ws) -> np.ndarray:
    """The same case through the NumPy reference twins (blob-layout arrays)."""
    f = t["function"]
    x = load(d, t["input"])
    if f == "compute_activation":
        return R.activation(x, t["activation"])
    if f == "compute_generic_gru":
        li, lr = t["layers"]
        nin = manifest["layers"][li]["nb_inputs"]
        st, outs = load(d, t["state0"]), []
        for xx in x.reshape(t["steps"], -1):
            st = R.gru_step(_arrays(manifest, ws, li), nin, _arrays(manifest, ws, lr), st, xx)
            outs.append(st)
        return np.concatenate(outs)
    spec = manifest["layers"][t["layer"]]
    if f == "compute_conv2d":
        w = ws[spec["arrays"]["weights_float"]].data.reshape(spec["out_channels"], spec["in_channels"],
                                                             spec["ktime"], spec["kheight"])
        bias = ws[spec["arrays"]["bias"]].data if "bias" in spec["arrays"] else None
        mem, outs = np.zeros(t["mem_len"], np.float32), []
        for xx in x.reshape(t["steps"], -1):
            o, mem = R.conv2d_step(w, bias, mem, xx, t["height"], t["hstride"], t["activation"])
            outs.append(o)
        return np.concatenate(outs)
    arrays, nin, nout = _arrays(manifest, ws, t["layer"]), spec["nb_inputs"], spec["nb_outputs"]
    if f == "compute_generic_dense":
        return R.dense(arrays, nin, nout, x, t["activation"])
    if f == "compute_glu":
        return R.glu(arrays, nin, x)
    out, _ = R.conv1d_sequence(arrays, nin, nout, x.reshape(t["steps"], -1), np.zeros(t["mem_len"], np.float32),
                               t["activation"], t.get("dilation", 1))
    return out.reshape(-1)


def ulp_distance(a, b) -> int:
    """Largest distance in float32 units in the last place (ordered bit patterns)."""
    def ordered(v):
        i = np.asarray(v, np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return int(np.abs(ordered(a) - ordered(b)).max()) if np.size(a) else 0


@pytest.mark.parametrize("t", TESTS, ids=[t["name"] for t in TESTS])
def test_generic_path(t, nnet):
    d, manifest, ws = nnet
    got = run_case(t, d, manifest, ws)
    exp = load(d, t["outputs"]["generic"])
    assert got.size == exp.size
    assert ulp_distance(got, exp) <= GENERIC_ULP, f"max |diff| {np.abs(got - exp).max()}"


@pytest.mark.parametrize("t", TESTS, ids=[t["name"] for t in TESTS])
def test_reference_twin(t, nnet):
    d, manifest, ws = nnet
    exp = load(d, t["outputs"]["generic"])
    assert ulp_distance(run_reference(t, d, manifest, ws), exp) <= GENERIC_ULP


@pytest.mark.parametrize("t", TESTS, ids=[t["name"] for t in TESTS])
def test_other_paths_differ_as_documented(t, nnet):
    """x86 paths: our distance to each is exactly the recorded generic-vs-path difference."""
    d, manifest, ws = nnet
    got = run_case(t, d, manifest, ws).astype(np.float64)
    outs = {p: load(d, f) for p, f in t["outputs"].items()}
    for path, maxdiff in t["max_abs_diff_vs_generic"].items():
        diff = float(np.abs(got - outs[path]).max())
        assert diff == pytest.approx(maxdiff, rel=1e-6, abs=1e-12), path
    for group in t["identical_groups"]:
        for p in group[1:]:
            assert np.array_equal(outs[p].view(np.uint32), outs[group[0]].view(np.uint32))


@pytest.mark.parametrize("case", LINEAR_INIT, ids=[c["name"] for c in LINEAR_INIT])
def test_linear_init(case, nnet):
    d, manifest, ws = nnet
    a = manifest["layers"][case["layer"]]["arrays"]
    args = (a.get("bias"), a.get("subias"), a.get("weights_int8"), a.get("weights_float"), a.get("weights_idx"),
            a.get("diag"), a.get("scale"), case["nb_inputs"], case["nb_outputs"])
    if case["linear_init"] == 0:
        layer = LY.linear_init(ws, *args)
        assert (layer.nb_inputs, layer.nb_outputs) == (case["nb_inputs"], case["nb_outputs"])
    else:
        with pytest.raises(WeightsError) as e:
            LY.linear_init(ws, *args)
        assert case["layer"] in str(e.value)


def test_vector_tables_present():
    """Guard: the table-driven tests above are not silently empty when vectors exist."""
    d = vector_set("nnet")
    assert (d / "manifest.json").is_file()
    assert len(TESTS) > 0 and len(LINEAR_INIT) > 0


def test_mutated_blobs_bind_or_fail_cleanly(nnet):
    """Fuzz smoke: flip bytes of weights.bin; reading + binding the vectors' layers either works
    or raises an MlcodecError (never IndexError, ValueError, ...)."""
    from mlcodec.errors import MlcodecError

    d, manifest, ws = nnet
    raw = (d / manifest.get("blob", "weights.bin")).read_bytes()
    model = M.ModelSpec("nnet-vectors", tuple(layer_spec(n, s) for n, s in manifest["layers"].items()))
    rng = np.random.default_rng(1234)
    outcomes = {"bound": 0, "refused": 0}
    for _ in range(60):
        buf = bytearray(raw)
        for _ in range(int(rng.integers(1, 6))):
            rec = manifest["blob_records"][int(rng.integers(len(manifest["blob_records"])))]
            # mostly data bytes (values, index entries), sometimes header fields
            off = rec["header_offset"] + int(rng.integers(8, 20)) if rng.random() < 0.3 else \
                rec["data_offset"] + int(rng.integers(max(rec["size"], 1)))
            buf[off] = int(rng.integers(256))
        try:
            ws2 = read_weights(bytes(buf), strict=False)
            layers = M.bind(ws2, model)
            x = rng.uniform(-1, 1, 64).astype(np.float32)
            for name, layer in layers.items():
                if isinstance(layer, LY.LinearLayer):
                    LY.compute_linear(layer, x[: layer.nb_inputs] if layer.nb_inputs <= 64 else
                                      np.zeros(layer.nb_inputs, np.float32))
            outcomes["bound"] += 1
        except MlcodecError:
            outcomes["refused"] += 1
    assert outcomes["bound"] and outcomes["refused"]
