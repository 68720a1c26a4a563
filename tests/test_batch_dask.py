"""Issue 15 item 4: the batch on dask.distributed (``--scheduler``) against a LocalCluster of two
worker processes on loopback TCP gives byte-identical outputs to the local run, and per-file
errors as in local mode."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install 'mlcodec[dask]')")


def _tone(seconds: float, f0: float) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    x = np.sign(np.sin(2 * np.pi * f0 * t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
    return np.round(0.2 * x * 32767).astype(np.int16)


def test_dask_local_cluster_same_bytes_as_local(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mlcodec_cli.main import cli

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    sf.write(src / "a.wav", _tone(1.0, 120), 16000, subtype="PCM_16")
    sf.write(src / "sub" / "b.flac", _tone(1.5, 190), 16000, subtype="PCM_16")
    (src / "sub" / "bad.wav").write_bytes(b"RIFF not really")
    local = CliRunner().invoke(cli, ["encode", str(src), "-o", str(tmp_path / "local")])
    assert local.exit_code == 1, local.output
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        # the address through the environment, as a cluster job script would set it
        monkeypatch.setenv("MLCODEC_SCHEDULER", cluster.scheduler_address)
        r = CliRunner().invoke(cli, ["encode", str(src), "-o", str(tmp_path / "dask"),
                                     "--report", str(tmp_path / "r.jsonl")])
    assert r.exit_code == 1, r.output  # one bad input, as locally
    assert r.stderr.count("error:") == 1 and "bad.wav" in r.stderr
    rep = {Path(json.loads(ln)["input"]).name: json.loads(ln) for ln in (tmp_path / "r.jsonl").read_text().splitlines()}
    assert {k: v["status"] for k, v in rep.items()} == {"a.wav": "ok", "b.flac": "ok", "bad.wav": "error"}
    for rel in ("a.opus", "sub/b.opus"):
        assert (tmp_path / "dask" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes()
    assert not (tmp_path / "dask" / "sub" / "bad.opus").exists()
