"""Issue 15 items 2-3 (command line): -o DIR with directories and manifests, --skip-existing,
the JSON Lines report, and no orphans after kill -9 (the rerun redoes only what is missing)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def _speech(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = 110 + 20 * seed + 40 * np.sin(2 * np.pi * 0.7 * t)
    x = np.sign(np.sin(2 * np.pi * np.cumsum(f0) / 16000)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
    return np.round((0.2 * x + 0.01 * rng.standard_normal(t.shape)) * 32767).astype(np.int16)


def cli(*args, check=True):
    """The command in this process (click's runner: no start-up per call); exit code and stderr."""
    from click.testing import CliRunner

    from mlcodec_cli.main import cli as main

    r = CliRunner().invoke(main, [str(a) for a in args])
    if check:
        assert r.exit_code == 0, r.output
    return r


def _report(path: Path) -> dict[str, dict]:
    return {json.loads(ln)["input"]: json.loads(ln) for ln in path.read_text().splitlines()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    for i, rel in enumerate(["s1/a.wav", "s1/b.flac", "s2/deep/c.wav"]):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(d / rel, _speech(1.0 + 0.25 * i, i), 16000, subtype="PCM_16")
    (d / "s2" / "notes.txt").write_text("not audio, not listed\n")
    return d


def test_directory_mirrored_report_and_skip_existing(corpus, tmp_path):
    from mlcodec.io.transcode import encode_file

    out, rep = tmp_path / "out", tmp_path / "r.jsonl"
    (corpus / "s2" / "bad.wav").write_bytes(b"RIFF junk")
    try:
        r = cli("encode", corpus, "-o", out, "-j", "2", "--report", rep, check=False)
    finally:
        (corpus / "s2" / "bad.wav").unlink()
    assert r.exit_code == 1 and r.stderr.count("error:") == 1 and "bad.wav" in r.stderr
    made = sorted(str(p.relative_to(out)) for p in out.rglob("*.opus"))
    assert made == ["s1/a.opus", "s1/b.opus", "s2/deep/c.opus"]  # nothing for bad.wav
    first = _report(rep)
    bad = first.pop(str(corpus / "s2" / "bad.wav"))
    assert bad["status"] == "error" and "bad.wav" in bad["error"] and bad["duration"] is None
    assert {r["status"] for r in first.values()} == {"ok"} and len(first) == 3
    for r in first.values():  # the report's numbers agree with the file
        assert os.path.getsize(r["output"]) == r["file_bytes"]
        assert r["file_kbps"] == pytest.approx(r["file_bytes"] * 8 / r["duration"] / 1000, abs=2e-3)
        assert set(r) >= {"input", "output", "status", "duration", "seconds", "payload_kbps", "error"}
    before = {p: p.read_bytes() for p in out.rglob("*.opus")}
    # a foreign file, a truncated one and a file made with other settings are redone
    (out / "s1" / "a.opus").write_bytes(before[out / "s1" / "a.opus"][:-30])
    encode_file(corpus / "s1" / "b.flac", out / "s1" / "b.opus", bitrate="6k")
    r = cli("encode", corpus, "-o", out, "--resume", "--report", rep)
    again = _report(rep)
    status = {Path(k).name: v["status"] for k, v in again.items()}
    assert status == {"a.wav": "ok", "b.flac": "ok", "c.wav": "skipped"}, r.stderr
    assert "1 of 3 outputs already complete" in r.stderr
    assert {p: p.read_bytes() for p in out.rglob("*.opus")} == before  # same bytes as the first run


def test_manifests_txt_and_csv(corpus, tmp_path):
    (tmp_path / "list.txt").write_text(f"# inputs\n{corpus}/s1/a.wav\n\n{corpus}/s2/deep/c.wav\n")
    (tmp_path / "list.csv").write_text(f"speaker,input\nx,{corpus}/s1/b.flac\n")
    cli("encode", tmp_path / "list.txt", tmp_path / "list.csv", "-o", tmp_path / "out")
    made = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.opus"))
    # the .txt entries mirror below their common folder; the single .csv entry lands flat
    assert made == ["b.opus", "s1/a.opus", "s2/deep/c.opus"]
    (tmp_path / "bad.csv").write_text("path\nx.wav\n")
    r = cli("encode", tmp_path / "bad.csv", "-o", tmp_path / "out2", check=False)
    assert r.exit_code == 2 and "'input' column" in r.stderr


def _children(pid: int) -> list[int]:
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited (init reaps it)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the worker processes")
def test_kill_9_leaves_no_orphans_and_rerun_finishes_same_bytes(tmp_path):
    """kill -9 on a running batch: 0 workers alive 2 s later, 0 temp files; the rerun with
    --resume redoes only the unfinished files and gives the uninterrupted run's bytes."""
    from mlcodec.io.transcode import encode_file

    src = tmp_path / "in"
    src.mkdir()
    n = 4
    for i in range(n):  # long enough that the kill lands while inputs are still being read
        sf.write(src / f"f{i}.wav", _speech(30.0, i), 16000, subtype="PCM_16")
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "mlcodec_cli.main", "encode", src, "-o", out, "-j", "2"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(out.glob("*.opus")):
            time.sleep(0.05)
        workers = _children(p.pid)
        assert list(out.glob("*.opus")) and workers, "the batch did not start"
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
    time.sleep(2.0)
    assert [w for w in workers if _alive(w)] == []
    assert list(out.glob(".*.tmp")) == []  # the workers removed their partial outputs
    finished = {x.name for x in out.glob("*.opus")}
    assert 0 < len(finished) < n, "kill -9 did not land mid-batch"
    r = cli("encode", src, "-o", out, "-j", "2", "--skip-existing", "--report", tmp_path / "r.jsonl")
    status = {Path(k).stem + ".opus": v["status"] for k, v in _report(tmp_path / "r.jsonl").items()}
    assert status == {f"f{i}.opus": "skipped" if f"f{i}.opus" in finished else "ok" for i in range(n)}, r.stderr
    for i in range(n):  # uninterrupted reference
        encode_file(src / f"f{i}.wav", tmp_path / "ref.opus")
        assert (out / f"f{i}.opus").read_bytes() == (tmp_path / "ref.opus").read_bytes()


WATCHDOG_SCRIPT = r"""
import os, sys, time
import mlcodec_cli.batch as b
b._parent_death_signal = lambda signum: False      # as on a system without PR_SET_PDEATHSIG
r, w = os.pipe()
pid = os.fork()
if pid == 0:                                        # the worker
    for fd in (1, 2):                               # let the test's pipes close
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    b._pool_init(os.getppid())
    os.write(w, b"%d\n" % os.getpid())
    time.sleep(60)                                  # idle, as a worker waiting for work
    os._exit(0)
print(os.read(r, 32).decode().strip(), flush=True)  # the middle process dies, unannounced
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_watchdog_ends_worker_without_pdeathsig():
    """The fallback where PR_SET_PDEATHSIG does not exist: the parent-pid watchdog thread."""
    r = subprocess.run([sys.executable, "-c", WATCHDOG_SCRIPT], capture_output=True, text=True, timeout=60)
    worker = int(r.stdout.split()[0])
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.05)
    assert not _alive(worker)
