"""Ogg pages (RFC 3533, specs 04 §1, §7): CRC, lacing, page reader/writer, packet reassembly."""
from __future__ import annotations

import io
import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from conftest import vector_set
from mlcodec.containers import ogg
from mlcodec.errors import ContainerError, MlcodecError


def _ogg_cases():
    try:
        d = vector_set("streams") / "ogg"
    except pytest.skip.Exception:
        return []
    return sorted(d.glob("*.opus"))


OGG_FILES = _ogg_cases()


def test_crc_check_value_and_table():
    assert ogg.crc32(b"123456789") == 0x89A1897F
    assert ogg.crc32_reference(b"123456789") == 0x89A1897F
    assert ogg.CRC_TABLE[1] == 0x04C11DB7 and ogg.CRC_TABLE[128] == 0x690CE0EE


@given(st.binary(max_size=600))
@settings(max_examples=150)
def test_crc_fast_equals_reference(data):
    assert ogg.crc32(data) == ogg.crc32_reference(data)


@pytest.mark.parametrize("size,laces", [(600, [255, 255, 90]), (510, [255, 255, 0]), (255, [255, 0]),
                                        (0, [0]), (254, [254])])
def test_lacing(size, laces):
    assert ogg.lacing(size) == laces


def test_spec_worked_pages():
    # specs 04 §7: BOS page with the §3.1 OpusHead, serial 0x12345678.
    head = bytes.fromhex("4F707573486561640101380180BB0000000000")
    page = ogg.build_page(head, [19], flags=ogg.FLAG_BOS, granule=0, serial=0x12345678, sequence=0)
    assert len(page) == 47 and page[22:26] == bytes.fromhex("3D11C0BB")
    tags = bytes.fromhex("4F707573546167730700000" "06D6C636F646563010000000F000000454E434F4445523D6D6C636F646563")
    page = ogg.build_page(tags, [0x2A], flags=0, granule=0, serial=0x12345678, sequence=1)
    assert int.from_bytes(page[22:26], "little") == 0xCE40FF58
    page = ogg.build_page(bytes.fromhex("48112248334455"), [3, 4], flags=ogg.FLAG_EOS, granule=1732,
                          serial=0x12345678, sequence=2)
    assert page == bytes.fromhex("4F 67 67 53 00 04 C4 06 00 00 00 00 00 00 78 56 34 12 02 00 00 00"
                                 " 6B AE 4C 07 02 03 04 48 11 22 48 33 44 55")


@pytest.mark.parametrize("path", OGG_FILES, ids=lambda p: p.name)
def test_vector_pages_match_description(path):
    desc = json.loads(path.with_suffix(".json").read_text())
    data = path.read_bytes()
    pages = list(ogg.iter_pages(io.BytesIO(data), file=str(path)))
    assert len(pages) == len(desc["pages"])
    for p, e in zip(pages, desc["pages"]):
        assert (p.offset, p.flags, p.granule, p.serial, p.sequence, p.crc, list(p.segments),
                p.packets_completed, p.size) == (
            e["offset"], e["flags"], e["granule"], e["serial"], e["sequence"], e["crc"], e["segments"],
            e["packets_completed"], e["size"])
    # Re-serialising page by page reproduces the file exactly.
    assert b"".join(p.to_bytes() for p in pages) == data
    out = io.BytesIO()
    ogg.write_pages(out, pages)
    assert out.getvalue() == data
    pkts = list(ogg.iter_packets(pages))
    assert len(pkts) == desc["packet_count"] + 2
    for p, e in zip(pkts[2:], desc["packets"]):
        assert len(p.data) == e["len"] and p.page == e["ogg_page"]


class _Trickle(io.RawIOBase):
    """A non-seekable pipe-like stream returning at most ``n`` bytes per read."""

    def __init__(self, data: bytes, n: int):
        self._d, self._n, self._p = data, n, 0

    def readable(self):
        return True

    def readinto(self, b):
        k = min(len(b), self._n, len(self._d) - self._p)
        b[:k] = self._d[self._p: self._p + k]
        self._p += k
        return k

    def read1(self, n=-1):
        k = min(self._n, len(self._d) - self._p) if n < 0 else min(n, self._n, len(self._d) - self._p)
        out = self._d[self._p: self._p + k]
        self._p += k
        return out

    def seekable(self):
        return False


@pytest.mark.parametrize("path", OGG_FILES[:1], ids=lambda p: p.name)
def test_streaming_reader_on_trickling_pipe(path):
    data = path.read_bytes()
    a = [(p.serial, p.packetno, p.data, p.offset) for p in ogg.read_packets(io.BytesIO(data))]
    b = [(p.serial, p.packetno, p.data, p.offset) for p in ogg.read_packets(_Trickle(data, 7))]
    assert a == b


def _write_streams(streams: dict[int, list[tuple[bytes, int]]], page_bytes: int, order: list[int]) -> bytes:
    out = io.BytesIO()
    writers = {s: ogg.OggStreamWriter(out, s, page_bytes=page_bytes) for s in streams}
    pos = {s: 0 for s in streams}
    for s in order:
        if pos[s] < len(streams[s]):
            data, g = streams[s][pos[s]]
            pos[s] += 1
            writers[s].write_packet(data, g, flush=(pos[s] % 3 == 0))
    for s, w in writers.items():
        for data, g in streams[s][pos[s]:]:
            w.write_packet(data, g)
        w.close()
    return out.getvalue()


@given(st.dictionaries(st.integers(0, 2**32 - 1),
                       st.lists(st.binary(max_size=700), max_size=12), min_size=1, max_size=3),
       st.sampled_from([50, 300, 4096]), st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None)
def test_write_read_roundtrip_interleaved(streams, page_bytes, rnd):
    seq = {s: [(d, 960 * (i + 1)) for i, d in enumerate(pk)] for s, pk in streams.items()}
    order = [s for s in seq for _ in seq[s]]
    rnd.shuffle(order)
    data = _write_streams(seq, page_bytes, order)
    got: dict[int, list] = {s: [] for s in seq}
    pages = list(ogg.iter_pages(io.BytesIO(data)))
    for p in ogg.iter_packets(pages):
        got[p.serial].append(p)
    for s, pk in seq.items():
        assert [p.data for p in got[s]] == [d for d, _ in pk]
        for p in got[s]:
            if p.granule is not None:
                assert p.granule == pk[p.packetno][1]
    assert b"".join(p.to_bytes() for p in pages) == data
    for s in seq:
        mine = [p for p in pages if p.serial == s]
        assert mine[0].bos and mine[-1].eos
        assert [p.sequence for p in mine] == list(range(len(mine)))


def test_big_packet_spans_pages():
    out = io.BytesIO()
    w = ogg.OggStreamWriter(out, 7)
    big = bytes(range(256)) * 600  # 153 600 bytes: needs 3 pages
    w.write_packet(b"x", 0, flush=True)
    w.write_packet(big, 960)
    w.close()
    pages = list(ogg.iter_pages(io.BytesIO(out.getvalue())))
    assert any(p.continued for p in pages)
    pk = list(ogg.iter_packets(pages))
    assert [p.data for p in pk] == [b"x", big]
    assert pk[1].offset == pages[1].offset + 27 + len(pages[1].segments)


@pytest.mark.parametrize("mutate,reason", [
    (lambda b: b[:-5], "truncated Ogg page"),
    (lambda b: b[:30], "truncated Ogg page"),
    (lambda b: b + b"garbage!" * 5, "capture pattern"),
    (lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], "bad Ogg page CRC"),
])
def test_broken_input_yields_then_raises(mutate, reason):
    out = io.BytesIO()
    w = ogg.OggStreamWriter(out, 1, page_bytes=64)
    for i in range(20):
        w.write_packet(bytes([i]) * 40, 960 * i)
    w.close()
    good = out.getvalue()
    pages_ok = list(ogg.iter_pages(io.BytesIO(good)))
    got = []
    with pytest.raises(ContainerError) as ei:
        for p in ogg.iter_pages(io.BytesIO(mutate(good)), file="x.ogg"):
            got.append(p)
    assert reason in ei.value.reason and ei.value.file == "x.ogg"
    assert ei.value.offset is not None
    # Everything before the broken page was yielded.
    assert got == pages_ok[: len(got)]
    assert ei.value.offset == (got[-1].offset + got[-1].size if got else 0)


def test_sequence_gap_and_missing_bos():
    out = io.BytesIO()
    w = ogg.OggStreamWriter(out, 1, page_bytes=10)
    for i in range(5):
        w.write_packet(b"abcdefghijkl", i)
    w.close()
    pages = list(ogg.iter_pages(io.BytesIO(out.getvalue())))
    with pytest.raises(ContainerError, match="sequence"):
        list(ogg.iter_packets(pages[:2] + pages[3:]))
    with pytest.raises(ContainerError, match="BOS"):
        list(ogg.iter_packets(pages[1:]))
    with pytest.raises(ContainerError, match="after the end"):
        list(ogg.iter_packets(pages + [pages[-1]]))


@pytest.mark.parametrize("seed", range(40))
def test_fuzz_mutated_pages(seed):
    rnd = random.Random(seed)
    src = OGG_FILES[seed % len(OGG_FILES)].read_bytes()[:6000] if OGG_FILES else b"OggS" * 100
    b = bytearray(src)
    for _ in range(rnd.randint(1, 8)):
        b[rnd.randrange(len(b))] = rnd.randrange(256)
    if seed % 3 == 0:
        b = b[: rnd.randrange(len(b))]
    for check in (True, False):
        try:
            for _ in ogg.iter_packets(ogg.iter_pages(io.BytesIO(bytes(b)), check_crc=check)):
                pass
        except MlcodecError:
            pass


@given(st.binary(max_size=400))
@settings(max_examples=100)
def test_fuzz_random_bytes(data):
    try:
        list(ogg.read_packets(io.BytesIO(b"OggS" + data)))
    except MlcodecError:
        pass
