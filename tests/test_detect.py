"""Container detection by content (docs/containers.md), incl. pipes."""
from __future__ import annotations

import io
import os

import pytest

from conftest import vector_set
from mlcodec.bitstream.packet import build_packet
from mlcodec.containers import detect, rawframe
from mlcodec.containers.oggopus import OggOpusWriter
from mlcodec.containers.opusdemo import encode_record
from mlcodec.errors import ContainerError


def _files():
    try:
        d = vector_set("streams")
    except pytest.skip.Exception:
        return []
    return sorted(d.glob("*.bit")) + sorted((d / "ogg").glob("*.opus"))


FILES = _files()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_vectors_detected_by_content(path, tmp_path):
    want = "ogg" if path.suffix == ".opus" else "bit"
    # A misleading name must not matter.
    other = tmp_path / ("x.bit" if want == "ogg" else "x.opus")
    other.write_bytes(path.read_bytes())
    with detect.open_input(other) as inp:
        assert inp.format == want
        assert inp.stream.read() == path.read_bytes()  # peeked bytes are handed back


def _ogg() -> bytes:
    f = io.BytesIO()
    w = OggOpusWriter(f, serial=1)
    w.write_packet(build_packet(1, [b"abc"]))
    w.close()
    return f.getvalue()


@pytest.mark.parametrize("data,fmt", [
    (_ogg(), "ogg"),
    (rawframe.HEADER + b"\x02\x08a", "raw"),
    (encode_record(b"\x08abc", 0) + encode_record(b"\x08de", 0x12345678), "bit"),
    (encode_record(b"\x08abc", 0xFFFFFFFF), "bit"),
    (build_packet(1, [b"abcdef"], extensions=[(0, 33, b"hi")]), "packet"),
])
def test_detect_kinds(data, fmt):
    with detect.open_input(io.BytesIO(data)) as inp:
        assert inp.format == fmt
        assert inp.stream.read() == data


@pytest.mark.parametrize("data,reason", [
    (b"", "empty input"),
    (b"hello, this is not opus at all\n" * 3, "unrecognised container"),
    (os.urandom(1 << 17), "unrecognised container"),
])
def test_unrecognised(data, reason):
    with pytest.raises(ContainerError, match=reason) as ei:
        detect.open_input(io.BytesIO(data), name="in.dat")
    assert ei.value.file == "in.dat" and ei.value.offset == 0


def test_format_override_and_unknown():
    with detect.open_input(io.BytesIO(b"junk"), "raw") as inp:
        assert inp.format == "raw"
    with detect.open_input(io.BytesIO(b"\x08"), "packet") as inp:
        assert inp.format == "packet"
    with pytest.raises(ContainerError, match="unrecognised"):
        detect.open_input(io.BytesIO(b"\x08"))
    with pytest.raises(ContainerError, match="unknown format"):
        detect.open_input(io.BytesIO(b"junk"), "mp3")


def test_pipe_reads_incrementally():
    r, w = os.pipe()
    data = _ogg() * 1
    os.write(w, data)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        with detect.open_input(f) as inp:
            assert inp.format == "ogg" and inp.stream.read() == data
