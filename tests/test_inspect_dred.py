"""DRED (extension 126) in inspect-extensions (mlcodec.inspect.dred, cli/inspect.py) against
libopus 1.6.1's ``opus_dred_parse`` results in ``$MLCODEC_VECTORS/dred`` (cases from index.json):
every packet's ``dred`` object (version, q0, dQ, qmax, offset, latents, covers_ms), the same
text from the reference and the batched JSON paths, the coverage line against index.json and
mlcodec-inspect-summary.txt, and the CLI with and without installed tables."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mlcodec.containers.detect import open_input
from mlcodec.inspect import batch, decoders
from mlcodec.inspect.dred import dred_object, register_dred
from mlcodec.inspect.reference import inspect_input
from mlcodec.inspect.report import Summary

from test_dred import _rows as _jsonl, _streams, _summary_counts, real_tables  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def with_tables(real_tables):  # noqa: F811
    old = decoders.decoder(126)
    register_dred(real_tables)
    yield real_tables
    decoders.register_decoder(old)


def _check(obj, row):
    e = row["dred_ext"]
    assert (obj["version"], obj["q0"], obj["dq"], obj["qmax"]) == (e["version"], e["q0"], e["dQ"], e["qmax"])
    assert obj["offset"] == row["dred_offset"] and obj["offset_ms"] == 2.5 * row["dred_offset"]
    assert obj["latents"] == row["nb_latents"] and obj["covers_ms"] == 40 * row["nb_latents"]


def test_every_packet_dred_object_and_both_paths_agree(with_tables, monkeypatch):
    d, streams = _streams()
    for s in streams:
        rows = list(_jsonl(d / s["jsonl"]))
        with open_input(d / s["bit"]) as inp:
            reps = list(inspect_input(inp))
        assert len(reps) == len(rows)
        summ = Summary()
        for rep, row in zip(reps, rows):
            summ.add(rep)
            ds = [e.decoded for e in rep.extensions if e.id == 126]
            if row["dred_ext"] is None:
                assert not ds
                continue
            assert ds and ds[0][0] == "dred"
            _check(ds[0][1], row)
            assert json.loads(rep.to_json())["extensions"][0]["dred"] == ds[0][1]
        # the batched (numpy) path writes the reference's text, dred objects included
        monkeypatch.setattr(batch, "BATCH", 37)
        monkeypatch.setattr(batch, "MIN_VECTOR", 1)
        vsum = Summary()
        with open_input(d / s["bit"]) as inp:
            text = "".join(batch.iter_json(inp, summary=vsum))
        assert text == "".join(r.to_json() + "\n" for r in reps), s["name"]
        assert vsum.report().to_json() == summ.report().to_json()
        with open_input(d / s["bit"]) as inp:
            rep_only, err = batch.summarize(inp)
        assert err is None and rep_only.to_json() == summ.report().to_json()
        monkeypatch.undo()
        register_dred(with_tables)
        # the coverage line: index.json's counts, the most common covers_ms of libopus's parse
        sr = summ.report()
        n_dred = s["packets_with_dred_extension"]
        if not n_dred:
            assert sr.dred is None
            continue
        cov = Counter(40 * r["nb_latents"] for r in rows if r["dred_ext"] is not None)
        typical = max(cov.items(), key=lambda kv: (kv[1], kv[0]))[0]
        assert sr.dred["packets"] == s["packets"] and sr.dred["with_dred"] == n_dred
        assert sr.dred["typical_ms"] == typical
        assert sr.dred["line"].startswith(f"DRED in {n_dred}/{s['packets']} packets, {typical} ms typical")


def test_summary_counts_match_the_shipped_inspect_summary(with_tables):
    d, streams = _streams()
    counts = _summary_counts(d)
    for s in streams:
        with open_input(d / s["bit"]) as inp:
            rep, err = batch.summarize(inp)
        assert err is None
        assert sum(c.count for c in rep.by_id if c.id == 126) == counts[s["bit"]]
        assert (rep.dred or {}).get("with_dred", 0) == counts[s["bit"]]


def test_header_only_without_tables_and_bad_payloads():
    d, streams = _streams()
    s = next(s for s in streams if s["packets_with_dred_extension"])
    row = next(r for r in _jsonl(d / s["jsonl"]) if r["dred_ext"] is not None)
    with open_input(d / s["bit"]) as inp:
        rep = next(r for r in inspect_input(inp) if r.packet == row["packet"])
    obj = rep.extensions[0].decoded[1]  # the built-in decoder: header only
    assert obj["latents"] is None and obj["covers_ms"] is None and obj["offset"] == row["dred_offset"]
    # never raises: short, not 'D', unknown version, garbage
    assert dred_object(b"", 0, None) == {"version": None, "error": dred_object(b"", 0, None)["error"]}
    assert dred_object(b"X\x0c12", 0, None)["version"] is None
    assert "version" in dred_object(b"D\x63\x00", 0, None)["error"]
    rng = random.Random(5)
    for _ in range(300):
        data = b"D\x0c" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        o = dred_object(data, 0, None)
        assert ("error" in o) or o["version"] == 12


def _cli(args, models):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MLCODEC_MODELS_DIR=str(models))
    return subprocess.run([sys.executable, "-m", "cli.main", "inspect-extensions", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_json_summary_and_missing_tables(libopus_models, tmp_path):
    d, streams = _streams()
    s = next(s for s in streams if s["packets_with_dred_extension"])
    rows = list(_jsonl(d / s["jsonl"]))
    r = _cli(["--json", "--summary", str(d / s["bit"])], libopus_models)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    lines = r.stdout.splitlines()
    for line, row in zip(lines, rows):
        exts = [e for e in json.loads(line)["extensions"] if e["id"] == 126]
        if row["dred_ext"] is not None:
            _check(exts[0]["dred"], row)
    assert json.loads(lines[-1])["summary"]["dred"]["with_dred"] == s["packets_with_dred_extension"]
    r = _cli(["--summary-only", str(d / s["bit"])], libopus_models)
    assert r.returncode == 0 and f"DRED in {s['packets_with_dred_extension']}/{s['packets']} packets, " in r.stdout
    r = _cli(["--json", str(d / s["bit"])], tmp_path / "none")
    assert r.returncode == 0 and r.stderr.count("\n") == 1 and "mlcodec models install libopus" in r.stderr
    obj = next(e["dred"] for line in r.stdout.splitlines() for e in json.loads(line)["extensions"] if e["id"] == 126)
    assert obj["latents"] is None and obj["covers_ms"] is None
    r = _cli([str(d / s["bit"])], libopus_models)  # the table shows the decoded header
    assert r.returncode == 0 and "[DRED v12 q0 " in r.stdout and " ms" in r.stdout
    # damaged bytes: output and one error line at most, never a traceback
    data = bytearray((d / s["bit"]).read_bytes())
    rng = random.Random(3)
    for i in rng.sample(range(len(data)), 300):
        data[i] = rng.randrange(256)
    (tmp_path / "bad.bit").write_bytes(bytes(data))
    r = _cli(["--json", "--summary", str(tmp_path / "bad.bit")], libopus_models)
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr and r.stderr.count("\n") <= 1
