"""``mlcodec dump-weights`` (cli/weights.py): table, --json, --export, --diff, --verify, errors."""
from __future__ import annotations

import json
import types

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import vector_set

import mlcodec_cli.weights as cliw
from mlcodec_cli.main import cli
from mlcodec.nn import weights as W


def run(*args):
    return CliRunner().invoke(cli, ["dump-weights", *map(str, args)])


@pytest.fixture(scope="module")
def blob_path():
    return vector_set("nnet") / "weights.bin"


@pytest.fixture(scope="module")
def manifest():
    return json.loads((vector_set("nnet") / "manifest.json").read_text())


def _one_error_line(r):
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mlcodec: error: "), r.output
    return lines[0]


def test_table_shows_every_record(blob_path, manifest):
    r = run(blob_path)
    assert r.exit_code == 0, r.output
    for rec in manifest["blob_records"]:
        assert rec["name"] in r.output
    assert "60 records, 41024 bytes" in r.output
    for col in ("name", "type", "count", "min", "max", "std", "zero", "blk0", "sat"):
        assert col in r.output


def test_json_document(blob_path, manifest):
    r = run(blob_path, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["schema"] == cliw.JSON_SCHEMA and doc["bytes"] == blob_path.stat().st_size and doc["strict"] is True
    assert doc["sha256"] == W.weights_checksum(blob_path.read_bytes())
    assert len(doc["records"]) == len(manifest["blob_records"])
    for got, exp in zip(doc["records"], manifest["blob_records"]):
        assert (got["name"], got["type"], got["size"], got["block_size"], got["offset"], got["data_offset"]) == (
            exp["name"], exp["type"], exp["size"], exp["block_size"], exp["header_offset"], exp["data_offset"])
        assert set(got["stats"]) >= {"min", "max", "mean", "std", "zero_fraction", "block_sparsity",
                                     "saturated", "crc32", "index", "zero_blocks", "nonfinite"}
    # Figures checked against the raw values, whatever records this vector set holds.
    ws = W.read_weights(blob_path)
    by_name = {r["name"]: r for r in doc["records"]}
    for name, got in by_name.items():
        raw = ws[name].data
        want = int(np.isin(raw, (-128, -127, 127)).sum()) if got["type"] in (2, 3) else None  # int8 kinds
        assert got["stats"]["saturated"] == want, name
    for layer in manifest["layers"].values():  # sparse weights report their index: 32 values a block
        arrays = layer.get("arrays", {})
        for role in ("weights_int8", "weights_float"):
            if "weights_idx" in arrays and role in arrays:
                index = by_name[arrays[role]]["stats"]["index"]
                assert index["blocks"] * 32 == ws[arrays[role]].data.size


def test_export(blob_path, tmp_path):
    out = tmp_path / "w.npz"
    r = run(blob_path, "--export", out)
    assert r.exit_code == 0, r.output
    z = np.load(out)
    ws = W.read_weights(blob_path)
    assert sorted(z.files) == sorted(ws)
    assert all(np.array_equal(z[name], ws[name].data) for name in ws)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]


def test_diff(blob_path, tmp_path):
    ws = W.read_weights(blob_path)
    floats = [n for n, rec in ws.items() if rec.type == 0]
    if len(floats) < 3:
        pytest.skip("this vector set's weights.bin has fewer than 3 float records to drop/change/keep")
    gone, changed, same = floats[:3]
    extra = "x" + max(ws, key=len)[:40]  # a name the blob does not have
    recs = {n: rec for n, rec in ws.items() if n != gone}
    recs[changed] = (ws[changed].data + np.float32(0.25)).astype(np.float32)
    recs[extra] = np.ones(3, np.float32)
    other = tmp_path / "o.bin"
    W.write_weights(other, recs)
    r = run(blob_path, "--diff", other)
    assert r.exit_code == 0, r.output
    assert f"3 of {len(ws) + 1} names differ" in r.output
    doc = json.loads(run(blob_path, "--diff", other, "--json").output)
    d = {x["name"]: x for x in doc["diff"]["records"]}
    assert d[gone]["status"] == "missing" and d[extra]["status"] == "added"
    assert d[changed]["status"] == "changed" and d[changed]["max_abs_diff"] == pytest.approx(0.25, abs=1e-3)
    assert d[same] == {**d[same], "status": "same", "max_abs_diff": 0.0}


def test_corrupt_blobs_give_one_line(tmp_path):
    for case in map(json.loads, (vector_set("nnet") / "blob_parse.jsonl").read_text().splitlines()):
        if case["parse_weights"] >= 0:
            continue
        path = tmp_path / f"{case['name']}.bin"
        path.write_bytes(bytes.fromhex(case["blob"]))
        line = _one_error_line(run(path))
        assert str(path) in line and "offset" in line and "record" in line


def test_corrupt_other_in_diff(blob_path, tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(blob_path.read_bytes()[:1000])
    assert "truncated payload" in _one_error_line(run(blob_path, "--diff", bad))


def test_missing_file():
    line = _one_error_line(run("/nonexistent/w.bin"))
    assert "/nonexistent/w.bin" in line and "No such file" in line


def test_lenient_mode(tmp_path):
    path = tmp_path / "dup.bin"
    one = W.weights_to_bytes({"a": np.ones(2, np.float32)})
    path.write_bytes(one + one)
    assert "duplicate name" in _one_error_line(run(path))
    r = run(path, "--lenient", "--json")
    assert r.exit_code == 0 and len(json.loads(r.output)["records"]) == 2


def test_no_file_without_shipped_model(monkeypatch):
    monkeypatch.setattr(W, "shipped_weights", lambda: [])
    assert "no shipped model yet; give a FILE" in _one_error_line(run())


def test_no_file_uses_shipped_model(monkeypatch, tmp_path):
    path = tmp_path / "shipped.bin"
    W.write_weights(path, {"x_bias": np.zeros(8, np.float32)})
    monkeypatch.setattr(W, "shipped_weights", lambda: [path])
    r = run()
    assert r.exit_code == 0 and "x_bias" in r.output


def _fake_models(problems):
    calls = []

    def verify(ws, model):
        calls.append(model)
        return problems

    return types.SimpleNamespace(
        KNOWN_MODELS={"toy": object()}, verify=verify,
        describe_records=lambda ws: {"x_bias": "dense toy: 8 outputs"},
    ), calls


def test_verify_and_shapes(monkeypatch, tmp_path):
    path = tmp_path / "m.bin"
    W.write_weights(path, {"x_bias": np.zeros(8, np.float32)})
    fake, calls = _fake_models([])
    monkeypatch.setattr(cliw, "_models", lambda: fake)
    r = run(path, "--verify", "toy")
    assert r.exit_code == 0 and "binds to toy: OK" in r.output and calls == ["toy"]
    assert "dense toy: 8 outputs" in run(path).output
    assert json.loads(run(path, "--json").output)["records"][0]["shape"] == "dense toy: 8 outputs"
    spec = tmp_path / "model.json"
    spec.write_text('{"layers": {}}')
    assert run(path, "--verify", spec).exit_code == 0 and calls[-1] == {"layers": {}}
    assert "unknown model 'nope'" in _one_error_line(run(path, "--verify", "nope"))

    fake, calls = _fake_models(["x_bias: expected 16 floats, found 8"])
    monkeypatch.setattr(cliw, "_models", lambda: fake)
    r = run(path, "--verify", "toy")
    assert r.exit_code == 1 and "expected 16 floats" in r.output
    doc = json.loads(run(path, "--verify", "toy", "--json").output)
    assert doc["verify"] == {"model": "toy", "ok": False, "problems": ["x_bias: expected 16 floats, found 8"]}


def test_verify_without_models(monkeypatch, blob_path):
    monkeypatch.setattr(cliw, "_models", lambda: None)
    assert "not available" in _one_error_line(run(blob_path, "--verify", "toy"))
    assert run(blob_path).exit_code == 0  # the table does not need model knowledge


def test_broken_describe_degrades(monkeypatch, blob_path):
    fake = types.SimpleNamespace(describe_records=lambda ws: 1 / 0)
    monkeypatch.setattr(cliw, "_models", lambda: fake)
    r = run(blob_path, "--json")
    assert r.exit_code == 0
    assert any("layer shapes unavailable" in w for w in json.loads(r.output)["warnings"])


def test_shipped_models_by_name():
    """No FILE shows the shipped codec model; 'vocoder' names the shipped vocoder blob."""
    shipped = {p.stem.split("_v")[0]: p for p in W.shipped_weights()}
    if "codec" not in shipped:
        pytest.skip("no shipped codec model in this checkout")
    r = run("--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["file"].endswith(shipped["codec"].name)
    if "vocoder" in shipped:
        r = run("--json", "vocoder")
        assert r.exit_code == 0 and json.loads(r.output)["file"].endswith(shipped["vocoder"].name)
    assert _one_error_line(run("no-such-model"))


def test_shipped_codec_model_describes_and_verifies(blob_path):
    """The shipped codec blob binds to the 'codec' model spec; its records get layer shapes;
    a blob of other layers (the libopus vector blob) does not bind."""
    if not any(p.stem.startswith("codec") for p in W.shipped_weights()):
        pytest.skip("no shipped codec model in this checkout")
    r = run("--json", "--verify", "codec")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    shapes = {rec["name"]: rec["shape"] for rec in doc["records"]}
    assert shapes["enc_gru1_input_weights_int8"].startswith("enc_gru1 (gru)")
    assert "40x64" in shapes["enc_dense1_weights_float"]
    r = run("--verify", "codec", blob_path)
    assert r.exit_code == 1 and "does not bind to codec" in r.output
