"""mlcodec.inspect.table (the numba bulk scanner) against its reference twin, the
pure-Python library path (mlcodec.inspect.reference / parse_packet / parse_extensions), and against the
libopus vectors: every stream, packet and extension area, plus mutated inputs."""
from __future__ import annotations

import dataclasses
import io
import json
import random
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, vectors_dir, vector_set
import mlcodec.inspect as fs
from mlcodec.bitstream.extensions import Extension, parse_extensions
from mlcodec.bitstream.packet import build_packet, packet_extensions, parse_packet
from mlcodec.containers.oggopus import OggOpusWriter, OpusHead
from mlcodec.containers.opusdemo import encode_record
from mlcodec.errors import ContainerError, MlcodecError
from mlcodec.bitstream.reasons import ZERO_BYTE
from mlcodec.inspect import Summary, inspect_path
from mlcodec.inspect.batch import summarize
from mlcodec.containers.detect import open_input

SAMPLE = ROOT / "mlcodec" / "samples" / "sample.opus"


def _stream_files():
    d = vectors_dir() / "streams"
    if not d.is_dir():
        return []
    return sorted(d.glob("*.bit")) + sorted((d / "ogg").glob("*.opus"))


def _jsonl(set_name: str, file: str) -> list[dict]:
    d = vectors_dir() / set_name / file
    if not d.is_file():
        return []
    return [json.loads(x) for x in d.read_text().splitlines() if x.strip()]


STREAMS = _stream_files()
VALID_PACKETS = _jsonl("packets", "valid.jsonl")
MALFORMED_PACKETS = _jsonl("packets", "malformed.jsonl")
EXT_VALID = _jsonl("extensions", "valid.jsonl")
EXT_INVALID = _jsonl("extensions", "invalid.jsonl")

# ---------------------------------------------------------------------------------------------
# Reference twin: the pure-Python reports, normalised; the table, normalised the same way.

_ERR = re.compile(r"^(packet|extensions|multistream packet): .* at byte (\d+)$")


def _norm_error(err):
    if err is None:
        return None
    m = _ERR.match(err)
    if m:
        return (m.group(1), int(m.group(2)))
    return ("packet", None)  # zero-byte / lost packet (no offset)


def _ref(data: bytes, fmt: str = "auto"):
    reps, cerr = [], None
    try:
        for r in inspect_path(io.BytesIO(data), fmt):
            reps.append(r)
    except MlcodecError as exc:
        cerr = exc
    out = []
    for r in (x.to_dict() for x in reps):
        t = r["toc"]
        out.append({
            "packet": r["packet"], "stream": r["stream"], "offset": r["offset"], "granule": r["granule"],
            "toc": None if t is None else (t["config"], t["stereo"], t["code"]),
            "frames": r["frames"], "padding": r["padding"],
            "ext": [(e["frame"], e["id"], e["data"]) for e in r["extensions"]],
            "error": _norm_error(r["error"]), "serial": r.get("serial"),
            "final_range": r.get("final_range"),
        })
    return out, cerr, reps


def _fast(t: fs.PacketTable):
    out = []
    ogg = t.fmt == "ogg"
    for i in range(len(t)):
        toc = int(t.toc[i])
        e = int(t.error[i])
        err = None
        if e:
            err = (fs.error_kind(e), None if e == ZERO_BYTE else int(t.error_offset[i]))
        out.append({
            "packet": int(t.packet[i]), "stream": int(t.stream[i]) if ogg else None,
            "offset": int(t.offset[i]), "granule": int(t.granule[i]) if ogg else None,
            "toc": None if toc < 0 else (toc >> 3, bool(toc & 4), toc & 3),
            "frames": t.frame_lengths(i), "padding": int(t.padding_len[i]),
            "ext": [(f, x, d.hex()) for f, x, d in t.extensions(i)],
            "error": err, "serial": int(t.serial[i]) if ogg else None,
            "final_range": None if ogg else int(t.final_range[i]),
        })
    return out


def _same(data: bytes, fmt: str = "auto"):
    """Scan with both paths; assert equal packets, verdicts and container errors."""
    ref, cerr, reps = _ref(data, fmt)
    try:
        t = fs.scan(data, fmt)
    except ContainerError as exc:
        # only unrecognisable input / an unsupported format may raise
        assert cerr is not None and not ref
        if fmt in ("auto", "ogg", "bit"):
            assert str(exc) == str(cerr) or "supports the ogg and bit" in str(exc)
        return None
    got = _fast(t)
    for k, (a, b) in enumerate(zip(got, ref)):
        assert a == b, f"row {k}"
    assert len(got) == len(ref)
    if cerr is None:
        assert t.container_error is None
    else:
        assert t.container_error is not None, str(cerr)
        assert (t.container_error.offset, t.container_error.reason) == (cerr.offset, cerr.reason)
        assert type(t.container_error) is type(cerr)
    summ = Summary()
    for r in reps:
        summ.add(r)
    # the scanner's summary is counts only; DRED coverage needs payload decoding (the batch
    # path and the reference do it when a DRED decoder is registered, as the CLI does)
    assert fs.summary(t) == dataclasses.replace(summ.report(), dred=None)
    # the table's messages are the reference's, word for word (one code->message table)
    assert [fs.error_message(t, i) for i in range(len(t))] == [r.error for r in reps]
    return t


# ---------------------------------------------------------------------------------------------
# Vector streams


@pytest.mark.parametrize("path", STREAMS, ids=lambda p: p.name)
def test_every_vector_stream_equals_reference(path):
    vector_set("streams")
    t = _same(path.read_bytes())
    assert t is not None and t.container_error is None
    desc = json.loads(path.with_suffix(".json").read_text())
    assert len(t) == desc["packet_count"]


def test_vector_streams_exist():
    vector_set("streams")
    assert len([p for p in STREAMS if p.suffix == ".bit"]) > 0
    assert len([p for p in STREAMS if p.suffix == ".opus"]) > 0


def test_sample_and_synthetic_ogg():
    _same(SAMPLE.read_bytes())
    _same(_multistream_ogg())
    _same(_big_packets_ogg())
    _same(_interleaved_ogg())


# ---------------------------------------------------------------------------------------------
# Packets (packets/valid.jsonl, malformed.jsonl)


def _packet_case(case):
    data = bytes.fromhex(case["packet"])
    sd = bool(case.get("self_delimited") or case.get("build", {}).get("self_delimited"))
    t = fs.scan_packets([data], self_delimited=sd)
    assert len(t) == 1
    parse = case["parse"]
    # reference twin
    try:
        pkt = parse_packet(data, self_delimited=sd)
        ref_err = None
    except MlcodecError as exc:
        pkt, ref_err = None, exc
    e = int(t.error[0])
    if ref_err is not None:
        assert parse["result"] != "OPUS_OK"
        assert e and fs.error_kind(e) == "packet"
        if data:
            assert int(t.error_offset[0]) == ref_err.offset
        assert t.frame_count[0] == 0 and t.ext_count[0] == 0
        return
    assert parse["result"] == "OPUS_OK"
    assert int(t.frame_count[0]) == parse["frame_count"] == len(pkt.frames)
    assert t.frame_lengths(0) == parse["frame_sizes"]
    assert int(t.padding_len[0]) == parse["padding_len"]
    assert int(t.padding_pos[0]) == parse["padding_offset"]
    assert int(t.length[0]) == parse["packet_offset"]
    assert int(t.toc[0]) == parse["toc"]
    exts = parse.get("extensions")
    got = [[f, x, d.hex()] for f, x, d in t.extensions(0)]
    try:
        ref_exts = packet_extensions(pkt)
        ref_x = None
    except MlcodecError as exc:
        ref_exts, ref_x = exc.partial, exc
    assert got == [[x.frame, x.id, x.data.hex()] for x in ref_exts]
    if ref_x is None:
        assert e == 0
    else:
        # both count from the packet start
        assert fs.error_kind(e) == "extensions"
        assert int(t.error_offset[0]) == ref_x.offset
    if exts is not None and int(t.padding_len[0]):
        assert (e == 0) == (exts["result"] == "OPUS_OK")
        assert got == [list(x) for x in exts["list"]]


@pytest.mark.parametrize("case", VALID_PACKETS, ids=lambda c: c["name"])
def test_valid_packets(case):
    _packet_case(case)


@pytest.mark.parametrize("case", MALFORMED_PACKETS, ids=lambda c: c["name"])
def test_malformed_packets(case):
    _packet_case(case)


def test_packet_sets_present():
    vector_set("packets")
    assert VALID_PACKETS and MALFORMED_PACKETS


# ---------------------------------------------------------------------------------------------
# Extension areas (extensions/valid.jsonl, invalid.jsonl), carried by a code-3 packet of
# nb_frames empty 2.5 ms CELT frames (CBR) whose padding is the area.


def _carrier(area: bytes, nb_frames: int) -> bytes:
    head = bytes([(16 << 3) | 3, nb_frames | (0x40 if area else 0)])
    n = len(area)
    lace = b"\xff" * (n // 254) + bytes([n % 254]) if area else b""
    return head + lace + area


def _ext_case(area: bytes, nb_frames: int, result: str, listed):
    data = _carrier(area, nb_frames)
    t = fs.scan_packets([data])
    assert int(t.frame_count[0]) == nb_frames and int(t.padding_len[0]) == len(area)
    got = [[f, x, d.hex()] for f, x, d in t.extensions(0)]
    assert got == [list(x) for x in listed]
    e = int(t.error[0])
    assert (e == 0) == (result == "OPUS_OK")
    try:
        ref = parse_extensions(area, nb_frames, base_offset=len(data) - len(area))
        assert e == 0 and got == [[x.frame, x.id, x.data.hex()] for x in ref]
    except MlcodecError as exc:
        assert fs.error_kind(e) == "extensions" and int(t.error_offset[0]) == exc.offset
        assert got == [[x.frame, x.id, x.data.hex()] for x in exc.partial]


@pytest.mark.parametrize("case", EXT_VALID, ids=lambda c: c["name"])
def test_extension_areas_valid(case):
    p = case["parse"]
    _ext_case(bytes.fromhex(case["encoded"]), case["nb_frames"], p["result"], p["extensions"])
    if case.get("parse_padded_equal"):
        _ext_case(bytes.fromhex(case["padded"]["encoded"]), case["nb_frames"], p["result"],
                  p["extensions"])


@pytest.mark.parametrize("case", EXT_INVALID, ids=lambda c: c["name"])
def test_extension_areas_invalid(case):
    _ext_case(bytes.fromhex(case["bytes"]), case["nb_frames"], case["result"], case["extensions"])


def test_extension_sets_present():
    vector_set("extensions")
    assert EXT_VALID and EXT_INVALID


# ---------------------------------------------------------------------------------------------
# Synthetic containers: continued packets, interleaved streams, multistream, broken pages


def _multistream_ogg() -> bytes:
    head = OpusHead(channels=3, pre_skip=312, input_sample_rate=48000, mapping_family=255,
                    stream_count=3, coupled_count=0, mapping=(0, 1, 2))
    f = io.BytesIO()
    w = OggOpusWriter(f, head=head, serial=21)
    for i in range(6):
        subs = [build_packet(19, [bytes([i, s]) * 10], self_delimited=s < 2,
                             extensions=[Extension(0, 40 + s, b"s%d" % s)]) for s in range(3)]
        w.write_packet(b"".join(subs))
    w.write_packet(b"\x98\xff\xff\x01")  # a broken multistream packet
    w.write_packet(b"".join(build_packet(19, [b"ab"], self_delimited=s < 2) for s in range(3)))
    w.write_packet(b"".join(build_packet(19 if s else 18, [b"ab"], self_delimited=s < 2)
                            for s in range(3)))  # durations differ
    w.close()
    return f.getvalue()


def _big_packets_ogg() -> bytes:
    """Packets from 1 byte to 200 kB: many continue across pages (specs 04 s1 lacing)."""
    rnd = random.Random(5)
    f = io.BytesIO()
    w = OggOpusWriter(f, serial=7, page_bytes=3000)
    for n in (0, 1, 254, 255, 256, 510, 65025, 70000, 200000, 3, 40):
        frames = [bytes(rnd.randrange(256) for _ in range(200))] * 2
        exts = [Extension(1, 33, bytes(rnd.randrange(256) for _ in range(n)))] if n else []
        w.write_packet(build_packet(1, frames, extensions=exts))
    w.close()
    return f.getvalue()


def _interleaved_ogg() -> bytes:
    """Two Opus logical streams and a non-Opus one, pages interleaved."""
    from mlcodec.containers.ogg import OggStreamWriter

    f = io.BytesIO()
    a = OggOpusWriter(f, serial=1, page_bytes=200, max_page_samples=4800)
    b = OggOpusWriter(f, serial=2, page_bytes=300)
    v = OggStreamWriter(f, 3)
    v.write_packet(b"\x01vorbis" + bytes(23), 0, flush=True)
    for i in range(60):
        a.write_packet(build_packet(9, [bytes([i]) * 30], extensions=[Extension(0, 5, b"")]))
        b.write_packet(build_packet(1, [bytes([i]) * 20, bytes([i]) * 7]))
        if i % 7 == 0:
            v.write_packet(bytes(300), i, flush=True)
    a.close()
    b.close()
    v.close()
    return f.getvalue()


@pytest.mark.parametrize("make", [_multistream_ogg, _big_packets_ogg, _interleaved_ogg])
def test_synthetic_ogg_cut_everywhere(make):
    data = make()
    step = max(1, len(data) // 60)
    for cut in list(range(0, len(data), step)) + [len(data) - 1]:
        _same(data[:cut])


def test_broken_pages():
    data = bytearray(SAMPLE.read_bytes())
    assert _same(bytes(data)).container_error is None
    # bad CRC in the 5th page, a wrong sequence number, garbage appended
    pages = [m.start() for m in re.finditer(b"OggS", data)]
    bad = bytearray(data)
    bad[pages[4] + 40] ^= 0xFF
    t = _same(bytes(bad))
    assert "CRC" in t.container_error.reason and t.container_error.offset == pages[4]
    assert len(t) > 0
    bad = bytearray(data)
    bad[pages[3] + 18] ^= 1
    _same(bytes(bad))
    _same(bytes(data) + b"garbage!" * 10)
    _same(bytes(data) + b"OggS")


def test_bit_records():
    recs = [encode_record(build_packet(9, [b"x" * 30], extensions=[Extension(0, 33, b"hello")]), 77),
            encode_record(b"", 0), encode_record(b"\x03\x00", 5),
            encode_record(build_packet(1, [b"a" * 10, b"b" * 11]), 1)]
    data = b"".join(recs)
    t = _same(data, "bit")
    assert t.final_range.tolist() == [77, 0, 5, 1]
    for cut in range(len(data)):
        _same(data[:cut], "bit")
    _same(b"\x7f\xff\xff\xff" + bytes(8), "bit")


# ---------------------------------------------------------------------------------------------
# Fuzz: mutated and random inputs give equal verdicts and never crash


def _mutate(src: bytes, rnd: random.Random) -> bytes:
    b = bytearray(src)
    for _ in range(rnd.randint(1, 8)):
        k = rnd.randrange(4)
        if not b:
            break
        i = rnd.randrange(len(b))
        if k == 0:
            b[i] = rnd.randrange(256)
        elif k == 1:
            b[i] ^= 1 << rnd.randrange(8)
        elif k == 2:
            del b[i:i + rnd.randint(1, 20)]
        else:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 10)))
    return bytes(b)


def _cut_whole(data: bytes, limit: int) -> bytes:
    """The longest prefix of whole Ogg pages / .bit records within ``limit`` bytes (at least
    the first five pages / records)."""
    pos, units = 0, 0
    while pos < len(data):
        if data[:4] == b"OggS":
            nseg = data[pos + 26]
            step = 27 + nseg + sum(data[pos + 27:pos + 27 + nseg])
        else:
            step = 8 + int.from_bytes(data[pos:pos + 4], "big")
        if pos + step > limit and units >= 5:
            break
        pos += step
        units += 1
    return data[:pos]


def _fuzz_sources() -> list[bytes]:
    srcs = [SAMPLE.read_bytes(), _multistream_ogg(), _interleaved_ogg(), _big_packets_ogg()]
    srcs += [p.read_bytes() for p in STREAMS]
    return [_cut_whole(s, 8000) for s in srcs]


_SOURCES = _fuzz_sources()


def _fix_crcs(data: bytes) -> bytes:
    """Recompute the CRC of every whole page found by its capture pattern (so mutations reach
    the stream, header and packet checks instead of all failing the CRC)."""
    from mlcodec.containers.ogg import crc32

    b = bytearray(data)
    for m in re.finditer(b"OggS", data):
        p = m.start()
        if p + 27 > len(b):
            continue
        nseg = b[p + 26]
        if p + 27 + nseg > len(b):
            continue
        total = 27 + nseg + sum(b[p + 27:p + 27 + nseg])
        if p + total > len(b):
            continue
        b[p + 22:p + 26] = bytes(4)
        b[p + 22:p + 26] = crc32(bytes(b[p:p + total])).to_bytes(4, "little")
    return bytes(b)


def _mutate_bodies(src: bytes, rnd: random.Random) -> bytes:
    """Overwrite or flip bytes (headers of pages included), keeping the length."""
    b = bytearray(src)
    for _ in range(rnd.randint(1, 12)):
        i = rnd.randrange(len(b))
        b[i] = rnd.randrange(256) if rnd.random() < 0.5 else b[i] ^ (1 << rnd.randrange(8))
    return bytes(b)


def _mutate_bit_payloads(src: bytes, rnd: random.Random) -> bytes:
    """Mutate packet bytes of an opus_demo file, keeping its record lengths."""
    b = bytearray(src)
    pos, spans = 0, []
    while pos + 8 <= len(b):
        n = int.from_bytes(b[pos:pos + 4], "big")
        if n and pos + 8 + n <= len(b):
            spans.append((pos + 8, n))
        pos += 8 + n
    for _ in range(rnd.randint(1, 30)):
        a, n = spans[rnd.randrange(len(spans))]
        b[a + rnd.randrange(n)] = rnd.randrange(256) if rnd.random() < 0.5 else 0x03
    return bytes(b)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 10 ** 9))
def test_fuzz_mutated_containers_equal_reference(seed):
    rnd = random.Random(seed)
    src = _SOURCES[seed % len(_SOURCES)]
    ogg = src[:4] == b"OggS"
    if not ogg and seed % 2:
        data = _mutate_bit_payloads(src, rnd)
    elif ogg and seed % 2:
        data = _fix_crcs(_mutate_bodies(src, rnd))
    else:
        data = _mutate(src, rnd)
    _same(data, ("ogg" if ogg else "bit") if seed % 5 else "auto")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=8), st.booleans())
def test_fuzz_random_packets_equal_reference(packets, sd):
    t = fs.scan_packets(packets, self_delimited=sd)
    assert len(t) == len(packets)
    for i, data in enumerate(packets):
        try:
            pkt = parse_packet(data, self_delimited=sd)
        except MlcodecError as exc:
            assert t.error[i] and fs.error_kind(int(t.error[i])) == "packet"
            assert int(t.error_offset[i]) == exc.offset
            continue
        assert t.frame_lengths(i) == [len(x) for x in pkt.frames]
        assert int(t.padding_len[i]) == len(pkt.padding)
        try:
            ref = packet_extensions(pkt)
            assert t.error[i] == 0
        except MlcodecError as exc:
            ref = exc.partial
            assert fs.error_kind(int(t.error[i])) == "extensions"
            assert int(t.error_offset[i]) == exc.offset
        assert t.extensions(i) == [(x.frame, x.id, x.data) for x in ref]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=60), st.integers(1, 48))
def test_fuzz_random_extension_areas(area, nb_frames):
    data = _carrier(area, nb_frames)
    t = fs.scan_packets([data])
    try:
        ref = parse_extensions(area, nb_frames, base_offset=len(data) - len(area))
        assert t.error[0] == 0
    except MlcodecError as exc:
        ref = exc.partial
        assert int(t.error_offset[0]) == exc.offset
    assert t.extensions(0) == [(x.frame, x.id, x.data) for x in ref]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_only_mlcodec_errors(data):
    for fmt in ("auto", "ogg", "bit"):
        try:
            fs.scan(data, fmt)
        except MlcodecError:
            pass
        try:
            fs.scan(b"OggS" + data, fmt)
        except MlcodecError:
            pass


# ---------------------------------------------------------------------------------------------
# Summary and the CLI entry point


def test_summary_with_id_filter_and_fast_summary(tmp_path):
    data = _interleaved_ogg() + bytes(3)  # ends in a broken page
    t = fs.scan(data)
    assert t.container_error is not None
    for ids in ([5], [33, 5], [99]):
        summ = Summary()
        try:
            for r in inspect_path(io.BytesIO(data), ids=ids):
                summ.add(r)
        except MlcodecError:
            pass
        assert fs.summary(t, ids) == summ.report()
    f = tmp_path / "x.opus"
    f.write_bytes(data)
    with open_input(str(f)) as inp:
        d, err = summarize(inp)
    assert d == fs.summary(t) and err.offset == t.container_error.offset and err.file == str(f)
    with open_input(io.BytesIO(data)) as inp:
        d2, err2 = summarize(inp, ids=[5])
    assert d2 == fs.summary(t, [5]) and err2 is not None
    with pytest.raises(ContainerError):
        open_input(io.BytesIO(b""))
    # raw framing goes through the pure-Python path
    from mlcodec.containers.rawframe import RawWriter

    b = io.BytesIO()
    w = RawWriter(b)
    w.write_packet(build_packet(9, [b"q" * 9], extensions=[Extension(0, 7, b"z")]))
    w.close()
    with open_input(io.BytesIO(b.getvalue())) as inp:
        d3, err3 = summarize(inp)
    assert err3 is None and d3.by_id[0].id == 7


def test_table_accessors_and_messages():
    t = fs.scan(_multistream_ogg())
    assert t.fmt == "ogg" and len(t.streams) == 1 and t.streams[0].serial == 21
    errs = [fs.error_message(t, i) for i in range(len(t))]
    assert sum(e is not None for e in errs) == 2
    assert all(e.startswith("multistream packet: ") for e in errs if e)
    assert t.packet_bytes(0)[0] >> 3 == 19
    with pytest.raises(ContainerError):
        fs.scan(b"OPKT....", "raw")
    with pytest.raises(ContainerError):
        fs.scan(np.zeros(4, np.float32))


def test_growth_paths_equal_reference():
    """Tables that outgrow their first allocation: many frames, many extensions, a long
    repeated region (the kernel stops, grows, and redoes the packet)."""
    area_big_region = b"\x06" * 300 + b"\x04"          # 300 short ID-3 extensions, then RTE
    area_many = b"\x07\x01" * 200                        # 200 short ID-3 extensions with payload
    cases = [_carrier(area_big_region, 3), _carrier(area_many, 1), _carrier(b"\x06" * 40 + b"\x04", 48)]
    cases += [bytes([(16 << 3) | 3, 48]) + bytes(48)] * 3    # 48 CBR frames each
    t = fs.scan_packets(cases)
    for i, data in enumerate(cases):
        pkt = parse_packet(data)
        assert t.frame_lengths(i) == [len(f) for f in pkt.frames]
        ref = packet_extensions(pkt)
        assert t.extensions(i) == [(x.frame, x.id, x.data) for x in ref]
        assert t.error[i] == 0
    assert int(t.ext_count[0]) == 300 * 3 and int(t.ext_count[2]) == 40 * 48
