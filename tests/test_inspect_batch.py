"""mlcodec.inspect.batch (numpy-batched JSON Lines and summaries) against its reference twin,
mlcodec.inspect.reference: the same text and counts on the vector streams, on packets of every
framing and extension shape, across batch boundaries, with --id/--max-data, on mutated inputs."""
from __future__ import annotations

import io
import random

import pytest

from conftest import ROOT, vectors_dir
from mlcodec.bitstream.extensions import Extension
from mlcodec.bitstream.packet import build_packet
from mlcodec.containers.detect import open_input
from mlcodec.containers.oggopus import OggOpusWriter, OpusHead
from mlcodec.containers.opusdemo import encode_record
from mlcodec.errors import MlcodecError
from mlcodec.inspect import batch
from mlcodec.inspect.reference import inspect_input
from mlcodec.inspect.report import Summary

SAMPLE = ROOT / "mlcodec" / "samples" / "sample.opus"


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    """Vectorize every batch and cut inputs into many batches (boundaries get exercised)."""
    monkeypatch.setattr(batch, "BATCH", 37)
    monkeypatch.setattr(batch, "MIN_VECTOR", 1)


def _reference(data: bytes, fmt="auto", **kw):
    lines, summ, err = [], Summary(), None
    try:
        with open_input(io.BytesIO(data), fmt) as inp:
            for r in inspect_input(inp, **kw):
                lines.append(r.to_json() + "\n")
                summ.add(r)
    except MlcodecError as exc:
        err = exc
    return "".join(lines), summ.report(), err


def _fast(data: bytes, fmt="auto", **kw):
    text, summ, err = [], Summary(), None
    try:
        with open_input(io.BytesIO(data), fmt) as inp:
            for chunk in batch.iter_json(inp, summary=summ, **kw):
                text.append(chunk)
    except MlcodecError as exc:
        err = exc
    return "".join(text), summ.report(), err


def _same(data: bytes, fmt="auto", ids=None, max_data=None):
    ref = _reference(data, fmt, ids=ids, max_data=max_data)
    got = _fast(data, fmt, ids=ids, max_data=max_data)
    assert got[0] == ref[0]
    assert got[1] == ref[1]
    assert str(got[2]) == str(ref[2])
    try:
        with open_input(io.BytesIO(data), fmt) as inp:
            summ, err = batch.summarize(inp, ids=ids)
    except MlcodecError as exc:  # unrecognisable input: open_input itself raises
        assert ref[0] == "" and str(exc) == str(ref[2])
        return ref
    assert summ == ref[1] and str(err) == str(ref[2])
    return ref


def _inputs():
    d = vectors_dir() / "streams"
    files = sorted(d.glob("*.bit")) + sorted((d / "ogg").glob("*.opus")) if d.is_dir() else []
    return [SAMPLE] + files


@pytest.mark.parametrize("path", _inputs(), ids=lambda p: p.name)
def test_streams_equal_reference(path):
    data = path.read_bytes()
    _same(data)
    _same(data, ids=[33, 124], max_data=3)


def _shapes(rnd: random.Random) -> list[bytes]:
    """Packets of every framing the batch path handles, and of those it leaves to the reference."""
    out = []
    for k in range(300):
        config = rnd.randrange(32)
        nf = rnd.choice([1, 1, 1, 2, 3])
        if config in (3, 7, 11) or (config >= 16 and config & 3 == 3):
            nf = 1  # 60 ms / 20 ms CELT frames: keep under 120 ms
        same = rnd.random() < 0.5
        size = rnd.randrange(0, 60)
        frames = [bytes(rnd.randrange(256) for _ in range(size if same else rnd.randrange(0, 60)))
                  for _ in range(nf)]
        exts = []
        for _ in range(rnd.choice([0, 0, 1, 2, 5, 20])):
            eid = rnd.choice([3, 5, 33, 122, 124, 126])
            f = rnd.randrange(nf) if rnd.random() < 0.2 else 0
            n = rnd.randrange(2) if eid < 32 else rnd.choice([0, 1, 7, 40, 300])
            data = bytes([0x44, 12]) + bytes(n) if eid == 126 and n else bytes(rnd.randrange(256) for _ in range(n))
            exts.append(Extension(f, eid, data))
        exts.sort(key=lambda e: e.frame)
        pad_to = None
        if rnd.random() < 0.2:
            pad_to = len(build_packet(config, frames, extensions=exts, force_code3=True)) + rnd.choice([1, 300, 600])
        try:
            p = build_packet(config, frames, extensions=exts, pad_to=pad_to,
                             force_code3=rnd.random() < 0.5, stereo=rnd.random() < 0.3)
        except MlcodecError:
            continue
        out.append(p)
        if k % 7 == 0:  # and a damaged copy
            q = bytearray(p)
            q[rnd.randrange(len(q))] = rnd.randrange(256)
            out.append(bytes(q[: rnd.randrange(len(q) + 1)]))
    out.append(b"")
    return out


@pytest.mark.parametrize("seed", range(4))
def test_packet_shapes_equal_reference(seed):
    packets = _shapes(random.Random(seed))
    bit = b"".join(encode_record(p, i) for i, p in enumerate(packets))
    _same(bit, "bit")
    _same(bit, "bit", ids=[3, 126], max_data=1)
    f = io.BytesIO()
    w = OggOpusWriter(f, serial=9, input_sample_rate=48000)
    for p in packets:
        if p:
            w.write_packet(p)
    w.close()
    _same(f.getvalue(), "ogg")


def test_multistream_and_broken_tail():
    head = OpusHead(channels=2, pre_skip=312, input_sample_rate=48000, mapping_family=255,
                    stream_count=2, coupled_count=0, mapping=(0, 1))
    f = io.BytesIO()
    w = OggOpusWriter(f, serial=3, head=head)
    a = build_packet(9, [b"a" * 20], extensions=[Extension(0, 40, b"xy")], self_delimited=True)
    b = build_packet(9, [b"b" * 20], extensions=[Extension(0, 41, b"z")])
    for _ in range(50):
        w.write_packet(a + b)
    w.write_packet(b"\x48")  # a broken multistream packet
    w.close()
    data = f.getvalue()
    _same(data)
    _same(data + b"OggS\x00garbage")  # a container error after the packets


@pytest.mark.parametrize("seed", range(12))
def test_mutated_inputs_equal_reference(seed):
    rnd = random.Random(seed)
    srcs = _inputs()
    src = bytearray(srcs[seed % len(srcs)].read_bytes()[:20000])
    for _ in range(rnd.randint(1, 10)):
        src[rnd.randrange(len(src))] = rnd.randrange(256)
    if seed % 3 == 0:
        src = src[: rnd.randrange(1, len(src))]
    for fmt in ("auto", "ogg", "bit", "raw"):
        _same(bytes(src), fmt)


def test_small_inputs_do_not_import_numpy():
    import subprocess
    import sys

    code = ("import sys; from mlcodec.containers.detect import open_input; "
            "from mlcodec.inspect.batch import iter_json; "
            f"inp = open_input({str(SAMPLE)!r}); n = sum(c.count(chr(10)) for c in iter_json(inp)); "
            "assert n > 300 and 'numpy' not in sys.modules, sorted(sys.modules); print(n)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True)


def test_extension_decoder_hook():
    """A registered decoder names and describes its ID in both paths; JSON keeps its schema."""
    from click.testing import CliRunner

    from cli.main import cli
    from mlcodec.inspect import decoders

    old = decoders.decoder(33)
    decoders.register_decoder(decoders.ExtensionDecoder(
        33, name=lambda d: f"label ({len(d)} B)", describe=lambda d: f"<{d[:5].decode()}>"))
    try:
        data = SAMPLE.read_bytes()
        ref = _same(data)
        assert '"name":"label (' in ref[0] and '"describe"' not in ref[0]
        out = CliRunner().invoke(cli, ["inspect-extensions", str(SAMPLE)]).stdout
        assert "label (" in out and "<mlcod>" in out
    finally:
        decoders._DECODERS.pop(33, None)
        decoders._names.pop(33, None)
        if old is not None:
            decoders.register_decoder(old)
    assert '"name":"ID 33 (long)"' in _reference(SAMPLE.read_bytes())[0]
