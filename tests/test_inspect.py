"""`mlcodec inspect-extensions` (docs/inspect-extensions.md): every vector stream as a table,
as JSON Lines and from stdin; malformed packets, broken containers, closed pipes."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlcodec_cli.main import cli
from conftest import ROOT, vector_set
from mlcodec.bitstream.extensions import Extension
from mlcodec.bitstream.packet import build_packet
from mlcodec.containers.oggopus import OggOpusWriter
from mlcodec.containers.rawframe import RawWriter
from mlcodec.inspect import SCHEMA_VERSION, inspect_path

PACKET_KEYS = ["packet", "stream", "offset", "granule", "toc", "frames", "padding", "extensions", "error"]
SAMPLE = ROOT / "mlcodec" / "samples" / "sample.opus"


def _files():
    try:
        d = vector_set("streams")
    except pytest.skip.Exception:
        return []
    return sorted(d.glob("*.bit")) + sorted((d / "ogg").glob("*.opus"))


FILES = _files()


def _run(args, input=None):
    return CliRunner().invoke(cli, ["inspect-extensions", *args], input=input, catch_exceptions=False)


def _check_json_against_description(lines: list[dict], path: Path) -> None:
    desc = json.loads(path.with_suffix(".json").read_text())
    assert len(lines) == desc["packet_count"]
    for rep, e in zip(lines, desc["packets"]):
        assert list(rep)[: len(PACKET_KEYS)] == PACKET_KEYS
        assert rep["packet"] == e["index"] and rep["error"] is None
        assert rep["toc"]["config"] == e["config"] and rep["toc"]["code"] == e["code"]
        assert rep["toc"]["stereo"] == bool(e["stereo"])
        assert rep["frames"] == e["frame_sizes"] and rep["padding"] == e["padding_len"]
        assert [(x["frame"], x["id"], x["length"]) for x in rep["extensions"]] == [
            (x["frame"], x["id"], x["len"]) for x in e["extensions"]]
        for x in rep["extensions"]:
            assert len(x["data"]) == 2 * x["length"]
        if "file_offset" in e:
            assert rep["offset"] == e["file_offset"] and rep["final_range"] == e["enc_final_range"]
            assert rep["stream"] is None and rep["granule"] is None
        else:
            assert rep["stream"] == 0 and rep["granule"] is not None


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_stream_json_table_and_stdin(path):
    r = _run(["--json", str(path)])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    _check_json_against_description(lines, path)
    # stdin gives the same objects
    r2 = _run(["--json", "-"], input=path.read_bytes())
    assert r2.exit_code == 0 and r2.stdout == r.stdout
    # table
    r3 = _run([str(path)])
    assert r3.exit_code == 0, r3.output
    assert "CELT" in r3.stdout or "SILK" in r3.stdout or "Hybrid" in r3.stdout
    assert str(len(lines) - 1) in r3.stdout
    if any(rep["extensions"] for rep in lines):
        assert "QEXT" in r3.stdout


def test_summary_filter_and_max_data():
    qext = [p for p in FILES if "qext" in p.name]
    if not qext:
        pytest.skip("this vector directory ($MLCODEC_VECTORS) has no QEXT stream (streams/*qext*)")
    path = qext[0]
    r = _run(["--json", "--summary", "--max-data", "3", "--id", "124", str(path)])
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    summ = lines[-1]["summary"]
    assert summ["schema"] == SCHEMA_VERSION and summ["packets"] == len(lines) - 1
    n = sum(len(x["extensions"]) for x in lines[:-1])
    assert summ["by_id"] == [{"id": 124, "name": "QEXT", "count": n,
                              "bytes": sum(e["length"] for x in lines[:-1] for e in x["extensions"])}]
    assert sum(f["count"] for f in summ["by_frame"]) == n
    assert all(len(e["data"]) <= 6 for x in lines[:-1] for e in x["extensions"])
    r = _run(["--json", "--id", "5", str(path)])
    assert all(json.loads(x)["extensions"] == [] for x in r.stdout.splitlines())
    r = _run(["--summary", str(path)])
    assert r.exit_code == 0 and "extensions per ID" in r.stdout


def test_shipped_sample_is_meaningful():
    reps = [r.to_dict() for r in inspect_path(SAMPLE)]
    assert len(reps) > 300 and all(r["error"] is None for r in reps)
    ids = {e["id"] for r in reps for e in r["extensions"]}
    assert {3, 33} <= ids
    assert SAMPLE.stat().st_size < 30_000
    r = _run([str(SAMPLE)])
    assert r.exit_code == 0 and "mlcodec demo packet 0" in r.stdout


def test_malformed_packet_gets_error_and_processing_continues(tmp_path):
    f = tmp_path / "p.raw"
    with open(f, "wb") as fh:
        w = RawWriter(fh)
        w.write_packet(build_packet(1, [b"abc"], extensions=[Extension(0, 40, b"xyz")]))
        w.write_packet(b"\x0b\x85")  # code 3 VBR, 5 frames, lengths missing
        w.write_packet(b"")  # lost packet
        w.write_packet(b"\x0b\x41\x02ab")  # padding length claims more than present
        w.write_packet(build_packet(1, [b"abc"]))
    r = _run(["--json", str(f)])
    assert r.exit_code == 0
    reps = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(reps) == 5
    assert reps[0]["error"] is None and reps[0]["extensions"][0]["id"] == 40
    assert reps[1]["error"] and reps[2]["error"] and reps[3]["error"] and reps[4]["error"] is None
    r = _run([str(f)])
    assert r.exit_code == 0 and "error" in r.stdout


def _mlcodec(*args, **kw):
    exe = Path(sys.executable).parent / "mlcodec"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "mlcodec_cli.main"]
    return subprocess.run(cmd + ["inspect-extensions", *args], capture_output=True, timeout=120, **kw)


def _ogg_bytes(n: int) -> bytes:
    f = io.BytesIO()
    w = OggOpusWriter(f, serial=11)
    for i in range(n):
        w.write_packet(build_packet(1, [bytes([i & 0xFF]) * 30], extensions=[Extension(0, 33, b"%d" % i)]))
    w.close()
    return f.getvalue()


@pytest.mark.parametrize("cut,reason", [(-7, "truncated Ogg page"), (None, "capture pattern"), (0, "bad Ogg page CRC")])
def test_broken_container_prints_readable_then_one_error_line(tmp_path, cut, reason):
    good = _ogg_bytes(200)
    if cut is None:
        data = good + b"this is garbage after the last page"
    elif cut == 0:
        b = bytearray(good)
        b[len(b) // 2] ^= 0xFF
        data = bytes(b)
    else:
        data = good[:cut]
    f = tmp_path / "broken.opus"
    f.write_bytes(data)
    for args in (["--json", str(f)], [str(f)]):
        p = _mlcodec(*args)
        assert p.returncode == 1
        err = p.stderr.decode().strip().splitlines()
        assert len(err) == 1 and err[0].startswith("mlcodec: error: ") and str(f) in err[0]
        assert "offset" in err[0] and reason in err[0] and "Traceback" not in err[0]
        if args[0] == "--json":
            lines = p.stdout.decode().splitlines()
            assert lines and all(json.loads(x)["error"] is None for x in lines)
            if cut is None:
                assert len(lines) == 200  # everything readable was printed


def test_stdin_and_unrecognised_input():
    p = _mlcodec("--json", "-", input=_ogg_bytes(5))
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 5
    p = _mlcodec("-", input=b"plain text, not a codec stream at all\n")
    assert p.returncode == 1 and b"unrecognised container" in p.stderr and b"Traceback" not in p.stderr
    p = _mlcodec("/nonexistent/file.opus")
    assert p.returncode != 0 and b"Traceback" not in p.stderr and p.stderr.count(b"\n") == 1


def test_closed_pipe_ends_quietly(tmp_path):
    f = tmp_path / "big.opus"
    f.write_bytes(_ogg_bytes(20000))
    exe = Path(sys.executable).parent / "mlcodec"
    for args in (["--json"], []):
        proc = subprocess.Popen([str(exe), "inspect-extensions", *args, str(f)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        first = proc.stdout.readline()
        assert first
        proc.stdout.close()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and err == b"", err
    # and through a real shell pipe into head
    out = subprocess.run(f"'{exe}' inspect-extensions --json '{f}' | head -n 2", shell=True,
                         capture_output=True, timeout=120)
    assert out.returncode == 0 and out.stderr == b"" and len(out.stdout.splitlines()) == 2


def _multistream_ogg() -> bytes:
    from mlcodec.containers.oggopus import OpusHead

    head = OpusHead(channels=3, pre_skip=312, input_sample_rate=48000, mapping_family=255,
                    stream_count=3, coupled_count=0, mapping=(0, 1, 2))
    f = io.BytesIO()
    w = OggOpusWriter(f, head=head, serial=21)
    for i in range(6):
        subs = [build_packet(16 + 3, [bytes([i, s]) * 10], self_delimited=s < 2,
                             extensions=[Extension(0, 40 + s, b"s%d" % s)]) for s in range(3)]
        w.write_packet(b"".join(subs))
    w.write_packet(b"\x98\xff\xff\x01")  # a broken multistream packet: error, then go on
    w.write_packet(b"".join(build_packet(19, [b"ab"], self_delimited=s < 2) for s in range(3)))
    w.close()
    return f.getvalue()


def test_multistream_ogg_reports_each_stream(tmp_path):
    f = tmp_path / "ms.opus"
    f.write_bytes(_multistream_ogg())
    r = _run(["--json", str(f)])
    assert r.exit_code == 0, r.output
    reps = [json.loads(x) for x in r.stdout.splitlines()]
    assert [(x["packet"], x["stream"]) for x in reps[:18]] == [(i, s) for i in range(6) for s in range(3)]
    assert all(x["extensions"][0]["id"] == 40 + x["stream"] for x in reps[:18])
    assert reps[18]["error"] and reps[18]["packet"] == 6
    assert [x["stream"] for x in reps[19:]] == [0, 1, 2] and all(x["error"] is None for x in reps[19:])
    data = f.read_bytes()
    for x in reps[:18]:  # offsets point at each stream's TOC byte
        assert data[x["offset"]] >> 3 == 19
    assert _run([str(f)]).exit_code == 0


def test_fast_json_lines_equal_json_dumps():
    import dataclasses

    srcs = [SAMPLE] + FILES[:3] + [io.BytesIO(_multistream_ogg())]
    for src in srcs:
        for rep in inspect_path(src):
            assert rep.to_json() == json.dumps(rep.to_dict(), separators=(",", ":"))
    for rep in [dataclasses.replace(r, error='quote " and \\ and é') for r in inspect_path(SAMPLE)][:3]:
        assert json.loads(rep.to_json()) == rep.to_dict()


@pytest.mark.parametrize("seed", range(40))
def test_fuzz_inspect_mutated_inputs(seed):
    import random

    from mlcodec.errors import MlcodecError

    rnd = random.Random(seed)
    srcs = [SAMPLE] + FILES
    src = bytearray(srcs[seed % len(srcs)].read_bytes()[:4000])
    for _ in range(rnd.randint(1, 10)):
        src[rnd.randrange(len(src))] = rnd.randrange(256)
    if seed % 4 == 0:
        src = src[: rnd.randrange(1, len(src))]
    for fmt in ("auto", "ogg", "bit", "raw", "packet"):
        try:
            for rep in inspect_path(io.BytesIO(bytes(src)), fmt):
                assert set(PACKET_KEYS) <= set(rep.to_dict())
        except MlcodecError:
            pass


def test_ogg_without_opus_stream_is_an_error(tmp_path):
    from mlcodec.containers.ogg import OggStreamWriter

    f = tmp_path / "vorbis.ogg"
    with open(f, "wb") as fh:
        w = OggStreamWriter(fh, 5)
        w.write_packet(b"\x01vorbis" + bytes(23), 0, flush=True)
        w.write_packet(b"audio", 100)
        w.close()
    p = _mlcodec("--json", str(f))
    assert p.returncode == 1 and b"no Opus logical stream" in p.stderr and p.stdout == b""


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_summary_only_fast_path_equals_full_summary(path):
    """--summary-only (numba bulk scanner) gives the same counts as --summary (pure Python)."""
    full = _run(["--json", "--summary", str(path)])
    fast = _run(["--json", "--summary-only", str(path)])
    assert full.exit_code == 0 and fast.exit_code == 0, fast.output
    assert json.loads(fast.stdout) == json.loads(full.stdout.splitlines()[-1])
    table = _run(["--summary-only", str(path)])
    assert table.exit_code == 0 and "packets" in table.stdout


def test_summary_only_broken_container_counts_then_fails(tmp_path):
    f = tmp_path / "cut.opus"
    f.write_bytes(_ogg_bytes(200)[:-7])
    p = _mlcodec("--json", "--summary-only", str(f))
    assert p.returncode == 1
    summ = json.loads(p.stdout.decode())["summary"]
    assert 0 < summ["packets"] < 200
    err = p.stderr.decode().strip().splitlines()
    assert len(err) == 1 and "truncated Ogg page" in err[0] and str(f) in err[0]


def test_codec_extension_named_with_version_in_reports_and_summaries(tmp_path):
    """ID 122 (mlcodec's payload) shows as 'mlcodec' in both paths: the format version lives in the
    stream's OpusTags (format 2 payloads have no version byte), not in the payload."""
    f = io.BytesIO()
    w = OggOpusWriter(f, serial=5)
    for i in range(30):
        w.write_packet(build_packet(9, [b""], force_code3=True,
                                    extensions=[Extension(0, 122, bytes([1, i, 7, 9]))]))
    w.close()
    path = tmp_path / "codec.opus"
    path.write_bytes(f.getvalue())
    lines = [json.loads(x) for x in _run(["--json", "--summary", str(path)]).stdout.splitlines()]
    assert {e["name"] for x in lines[:-1] for e in x["extensions"]} == {"mlcodec"}
    fast = json.loads(_run(["--json", "--summary-only", str(path)]).stdout)
    assert fast == lines[-1] and fast["summary"]["by_id"][0]["name"] == "mlcodec"


def test_extension_error_offsets_count_from_packet_start(tmp_path):
    """A malformed extension area reports the offset inside the packet, not inside the padding."""
    area = bytes([40 << 1 | 1, 10]) + b"abcdef"  # ID 40 claims 10 bytes; only 6 follow
    bad = bytes([0x0B, 0x41, len(area)]) + b"\x11" * 20 + area  # code 3, 1 frame, padding
    f = io.BytesIO()
    w = OggOpusWriter(f, serial=3)
    w.write_packet(bad)
    w.close()
    path = tmp_path / "bad.opus"
    path.write_bytes(f.getvalue())
    lines = [json.loads(x) for x in _run(["--json", str(path)]).stdout.splitlines()]
    rep = lines[0]
    assert rep["error"] and rep["padding"] == len(area)
    import re
    m = re.search(r"(?:offset|byte) (\d+)", rep["error"])
    assert m and int(m.group(1)) >= 23, rep["error"]  # inside the area, counted from the TOC byte
