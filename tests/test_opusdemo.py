"""opus_demo .bit files: every vector stream reproduces its libopus description exactly."""
from __future__ import annotations

import io
import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from conftest import vector_set
from mlcodec.bitstream.packet import parse_packet
from mlcodec.bitstream.extensions import parse_extensions
from mlcodec.containers.opusdemo import BitWriter, encode_record, iter_bit
from mlcodec.errors import ContainerError, MlcodecError

_BW = {"NB": 1101, "MB": 1102, "WB": 1103, "SWB": 1104, "FB": 1105}


def _bit_cases():
    try:
        return sorted(vector_set("streams").glob("*.bit"))
    except pytest.skip.Exception:
        return []


BIT_FILES = _bit_cases()


def describe_packet(data: bytes) -> dict:
    """Our view of one packet in the vocabulary of the vectors' description JSON."""
    d = {"len": len(data), "toc": data[0], "config": data[0] >> 3, "stereo": (data[0] >> 2) & 1,
         "code": data[0] & 3}
    try:
        p = parse_packet(data)
    except MlcodecError as exc:
        d["parse"] = getattr(exc, "code", "error")
        return d
    d.update(parse="OPUS_OK", frame_count=p.frame_count, frame_sizes=list(p.frame_lengths),
             payload_offset=p.payload_offset, padding_offset=p.padding_offset,
             padding_len=len(p.padding), samples_48k=p.samples_48k, bandwidth=_BW[p.toc.bandwidth])
    try:
        exts = parse_extensions(p.padding, p.frame_count) if p.padding else []
        d["extensions_result"] = "OPUS_OK"
    except MlcodecError as exc:
        exts = exc.partial
        d["extensions_result"] = getattr(exc, "code", "error")
    # Payload offsets: the payloads appear in bitstream order, each after its header bytes.
    out, cur = [], p.padding_offset
    for e in exts:
        at = data.find(e.data, cur) if e.data else None
        if at is None:  # empty payload: it sits right after its 1-byte header
            at = cur + 1
        out.append({"frame": e.frame, "id": e.id, "len": len(e.data), "offset": at})
        cur = at + len(e.data)
    d["extensions"] = out
    return d


_KEYS = ("len", "toc", "config", "stereo", "code", "parse", "frame_count", "frame_sizes",
         "payload_offset", "padding_offset", "padding_len", "samples_48k", "bandwidth",
         "extensions_result", "extensions")


@pytest.mark.parametrize("path", BIT_FILES, ids=lambda p: p.name)
def test_vector_stream_matches_description(path):
    desc = json.loads(path.with_suffix(".json").read_text())
    recs = list(iter_bit(io.BytesIO(path.read_bytes()), file=str(path)))
    assert len(recs) == desc["packet_count"]
    for r, e in zip(recs, desc["packets"]):
        assert (r.index, r.offset, r.final_range) == (e["index"], e["file_offset"], e["enc_final_range"])
        got = describe_packet(r.data)
        want = {k: e[k] for k in _KEYS}
        assert got == want, f"packet {r.index}"


@given(st.lists(st.tuples(st.binary(max_size=1500), st.integers(0, 2**32 - 1)), max_size=20))
@settings(max_examples=80)
def test_roundtrip(records):
    f = io.BytesIO()
    w = BitWriter(f)
    for d, rng in records:
        w.write_packet(d, rng)
    w.close()
    got = list(iter_bit(io.BytesIO(f.getvalue())))
    assert [(g.data, g.final_range) for g in got] == records
    off = 8
    for g, (d, _) in zip(got, records):
        assert g.offset == off
        off += 8 + len(d)


def test_truncation_yields_then_raises():
    data = b"".join(encode_record(bytes([i]) * 20, i) for i in range(5))
    for cut, reason in ((len(data) - 3, "truncated opus_demo packet"), (len(data) - 25, "record header")):
        got = []
        with pytest.raises(ContainerError, match=reason) as ei:
            for r in iter_bit(io.BytesIO(data[:cut]), file="t.bit"):
                got.append(r)
        assert len(got) == 4 and ei.value.file == "t.bit" and ei.value.offset == 4 * 28


def test_implausible_length():
    with pytest.raises(ContainerError, match="claims"):
        list(iter_bit(io.BytesIO(b"\x7f\xff\xff\xff" + bytes(8))))


@pytest.mark.parametrize("seed", range(30))
def test_fuzz_mutated(seed):
    rnd = random.Random(seed)
    src = bytearray(BIT_FILES[seed % len(BIT_FILES)].read_bytes()[:3000]) if BIT_FILES else bytearray(100)
    for _ in range(rnd.randint(1, 5)):
        src[rnd.randrange(len(src))] = rnd.randrange(256)
    try:
        for r in iter_bit(io.BytesIO(bytes(src))):
            describe_packet(r.data) if r.data else None
    except MlcodecError:
        pass
