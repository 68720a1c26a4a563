"""Ogg Opus (RFC 7845, specs 04 §2-§6): headers, timing, reader, writer, multistream."""
from __future__ import annotations

import io
import json
import random
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from conftest import vector_set
from mlcodec.containers import ogg, oggopus
from mlcodec.containers.oggopus import OggOpusWriter, OpusHead, OpusTags, read_ogg_opus
from mlcodec.errors import ContainerError, MlcodecError


def _ogg_cases():
    try:
        return sorted((vector_set("streams") / "ogg").glob("*.opus"))
    except pytest.skip.Exception:
        return []


OGG_FILES = _ogg_cases()


def test_spec_head_and_tags_examples():
    raw = bytes.fromhex("4F707573486561640101380180BB0000000000")
    h = OpusHead.parse(raw)
    assert (h.version, h.channels, h.pre_skip, h.input_sample_rate, h.output_gain, h.mapping_family) == (
        1, 1, 312, 48000, 0, 0)
    assert h.to_bytes() == raw
    tags = OpusTags("mlcodec", ("ENCODER=mlcodec",))
    assert tags.to_bytes().hex().upper() == (
        "4F707573546167730700000006D6C636F646563010000000F000000454E434F4445523D6D6C636F646563"
        .replace("0700000006D", "070000006D"))
    assert OpusTags.parse(tags.to_bytes()) == tags


@pytest.mark.parametrize("path", OGG_FILES, ids=lambda p: p.name)
def test_vector_headers_packets_and_timing(path):
    desc = json.loads(path.with_suffix(".json").read_text())
    r = read_ogg_opus(path)
    h, eh = r.head, desc["opus_head"]
    assert (h.version, h.channels, h.pre_skip, h.input_sample_rate, h.output_gain, h.mapping_family) == (
        eh["version"], eh["channels"], eh["pre_skip"], eh["input_sample_rate"], eh["output_gain"],
        eh["mapping_family"])
    assert h.to_bytes().hex() == eh["hex"]
    assert r.tags.as_dict() == desc["opus_tags"]
    pk = list(r.packets())
    assert len(pk) == desc["packet_count"]
    for p, e in zip(pk, desc["packets"]):
        assert (p.index, len(p.data), p.page, p.samples, p.data[0]) == (
            e["index"], e["len"], e["ogg_page"], e["samples_48k"], e["toc"])
    # Page granules: the last packet of each page ends exactly at the page granule.
    for p in pk:
        if p.page_granule is not None and not p.eos:
            assert p.granule == p.page_granule
    # Playback length (pre-skip and end trimming applied) equals opusinfo's.
    txt = path.with_suffix(".opusinfo.txt").read_text()
    m = re.search(r"Playback length: (\d+)m:(\d+\.\d+)s", txt)
    secs = int(m.group(1)) * 60 + float(m.group(2))
    total = sum(p.pcm_end - p.pcm_start for p in pk)
    assert total == round(secs * 48000)
    # PCM ranges tile the output without gaps.
    ranges = [(p.pcm_start, p.pcm_end) for p in pk if p.pcm_end > p.pcm_start]
    assert ranges[0][0] == 0
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def _toc_packet(config: int, nbytes: int, seed: int = 0) -> bytes:
    rnd = random.Random(seed)
    return bytes([config << 3]) + bytes(rnd.randrange(256) for _ in range(nbytes))


def _write(packets, *, final=None, **kw) -> bytes:
    out = io.BytesIO()
    w = OggOpusWriter(out, **kw)
    for p in packets:
        w.write_packet(p)
    w.close(final_granule=final)
    return out.getvalue()


@given(st.lists(st.tuples(st.sampled_from([1, 3, 9, 13, 16, 19, 31]), st.integers(0, 400)), min_size=1, max_size=80),
       st.integers(0, 959), st.sampled_from([1, 2]), st.integers(0, 5000),
       st.dictionaries(st.text("ABCDEFGH", min_size=1, max_size=5), st.text(max_size=20), max_size=3))
@settings(max_examples=60, deadline=None)
def test_writer_reader_roundtrip(specs, trim, channels, pre_skip, tags):
    packets = [_toc_packet(c, n, i) for i, (c, n) in enumerate(specs)]
    durs = [oggopus.packet_samples(p) for p in packets]
    full = sum(durs)
    trim = min(trim, durs[-1] - 1)
    final = full - trim
    pre_skip = min(pre_skip, final)
    data = _write(packets, final=final, channels=channels, pre_skip=pre_skip, serial=77, tags=tags,
                  input_sample_rate=16000, page_bytes=500)
    r = read_ogg_opus(io.BytesIO(data))
    assert r.head.channels == channels and r.head.pre_skip == pre_skip and r.serial == 77
    assert dict(c.split("=", 1) for c in r.tags.comments) == tags
    got = list(r.packets())
    assert [p.data for p in got] == packets
    ends, acc = [], 0
    for d in durs:
        acc += d
        ends.append(acc)
    assert [p.granule for p in got] == ends
    assert sum(p.pcm_end - p.pcm_start for p in got) == final - pre_skip


def test_writer_spec_rules_and_pagination():
    packets = [_toc_packet(1, 30, i) for i in range(120)]  # 120 x 20 ms
    data = _write(packets, serial=5, pre_skip=312)
    pages = list(ogg.iter_pages(io.BytesIO(data)))
    assert pages[0].bos and pages[0].segments == (19,) and pages[0].granule == 0
    assert pages[1].granule == 0 and not pages[1].continued
    assert pages[-1].eos and not any(p.eos for p in pages[:-1])
    # Pages hold at most one second of audio.
    prev = 0
    for p in pages[2:]:
        assert p.granule - prev <= 48000
        prev = p.granule
    assert pages[-1].granule == 120 * 960


def test_writer_refuses_empty_packet_and_backwards_granule():
    w = OggOpusWriter(io.BytesIO())
    with pytest.raises(ContainerError):
        w.write_packet(b"")
    w.write_packet(b"\x08abc", 960)
    with pytest.raises(ContainerError):
        w.write_packet(b"\x08abc", 100)


@pytest.mark.parametrize("raw,reason", [
    (b"OpusHead\x01\x00" + bytes(9), "channel count 0"),
    (b"OpusHead\x10\x01" + bytes(9), "incompatible version"),
    (b"OpusHead\x01\x01", "bytes, at least"),
    (b"OpusHead\x01\x03" + bytes(9), "family 0 allows"),
    (b"OpusHead\x01\x02" + bytes(8) + b"\x01" + b"\x00", "cut short"),
    (b"OpusHead\x01\x02" + bytes(8) + b"\x01" + b"\x01\x02\x00\x01", "exceeds"),
    (b"OpusHead\x01\x02" + bytes(8) + b"\xff" + b"\x01\x00\x00\x05", "beyond"),
])
def test_bad_opushead(raw, reason):
    with pytest.raises(ContainerError, match=reason):
        OpusHead.parse(raw)


@pytest.mark.parametrize("raw", [b"OpusTags\x05\x00\x00\x00abc", b"OpusTags\x00\x00\x00\x00\xff\xff\xff\x0f",
                                 b"OpusTag", b"OpusTags\x00\x00\x00\x00\x01\x00\x00\x00\x09\x00\x00\x00x"])
def test_bad_opustags(raw):
    with pytest.raises(ContainerError, match="OpusTags"):
        OpusTags.parse(raw)


def test_bad_head_in_file_is_a_container_error():
    data = bytearray(_write([_toc_packet(1, 10)], serial=3))
    pages = list(ogg.iter_pages(io.BytesIO(bytes(data))))
    bad = ogg.OggPage(pages[0].flags, 0, 3, 0, (19,), b"OpusHead\x01\x00" + bytes(9))
    raw = bad.to_bytes() + b"".join(p.to_bytes() for p in pages[1:])
    with pytest.raises(ContainerError, match="channel count 0") as ei:
        read_ogg_opus(io.BytesIO(raw), file="bad.opus")
    assert ei.value.file == "bad.opus" and ei.value.offset == 28


@pytest.mark.parametrize("family,channels,n,m,mapping", [
    (1, 6, 4, 2, (0, 4, 1, 2, 3, 5)),
    (255, 3, 3, 0, (0, 1, 2)),
    (1, 2, 1, 1, (0, 1)),
])
def test_multistream_roundtrip(family, channels, n, m, mapping):
    import mlcodec.bitstream.packet as pk

    head = OpusHead(channels=channels, pre_skip=312, input_sample_rate=48000, mapping_family=family,
                    stream_count=n, coupled_count=m, mapping=mapping)
    assert OpusHead.parse(head.to_bytes()) == head
    rnd = random.Random(1)
    ogg_packets, parts = [], []
    for i in range(30):
        subs = [pk.build_packet(19, [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 60)))],
                                stereo=s < m, self_delimited=s < n - 1) for s in range(n)]
        parts.append(subs)
        ogg_packets.append(b"".join(subs))
    out = io.BytesIO()
    w = OggOpusWriter(out, head=head, serial=9)
    for p in ogg_packets:
        w.write_packet(p)
    w.close()
    r = read_ogg_opus(io.BytesIO(out.getvalue()))
    assert r.head == head
    got = list(r.packets())
    assert [g.data for g in got] == ogg_packets
    assert [g.granule for g in got] == [960 * (i + 1) for i in range(30)]
    for g, subs in zip(got, parts):
        split = pk.split_multistream(g.data, n)
        assert [tuple(s.frames) for s in split] == [tuple(pk.parse_packet(x, self_delimited=(k < n - 1)).frames)
                                                   for k, x in enumerate(subs)]


def test_interleaved_logical_streams():
    out = io.BytesIO()
    a = OggOpusWriter(out, serial=1, page_bytes=100)
    b = OggOpusWriter(out, serial=2, page_bytes=100, channels=2)
    for i in range(50):
        (a if i % 2 else b).write_packet(_toc_packet(1, 40, i))
    a.close()
    b.close()
    events = list(oggopus.iter_ogg_opus(io.BytesIO(out.getvalue())))
    infos = [e for e in events if isinstance(e, oggopus.OggOpusStreamInfo)]
    assert [i.serial for i in infos] == [1, 2] and infos[1].head.channels == 2
    pk = [e for e in events if isinstance(e, oggopus.OggOpusPacket)]
    assert len([p for p in pk if p.serial == 1]) == 25 and len([p for p in pk if p.serial == 2]) == 25


def test_streaming_yields_before_error():
    packets = [_toc_packet(1, 300, i) for i in range(60)]
    data = _write(packets, serial=4)
    cut = data[: len(data) * 2 // 3]
    got = []
    with pytest.raises(ContainerError, match="truncated"):
        for p in read_ogg_opus(io.BytesIO(cut)).packets():
            got.append(p.data)
    assert got and got == packets[: len(got)]


@pytest.mark.parametrize("seed", range(40))
def test_fuzz_mutated(seed):
    rnd = random.Random(seed)
    src = bytearray((OGG_FILES[seed % len(OGG_FILES)].read_bytes() if OGG_FILES
                     else _write([_toc_packet(1, 40, i) for i in range(20)]))[:5000])
    for _ in range(rnd.randint(1, 6)):
        src[rnd.randrange(len(src))] = rnd.randrange(256)
    f = io.BytesIO(bytes(src))
    try:
        for _ in oggopus.iter_ogg_opus(f):
            pass
    except MlcodecError:
        pass


@pytest.mark.skipif(not shutil.which("opusinfo"), reason="opusinfo (Debian opus-tools) not installed")
def test_opusinfo_and_ffprobe_accept_our_file(tmp_path):
    # Real-looking SILK NB 20 ms packets (TOC 0x08) — opusinfo only reads framing and TOCs.
    packets = [_toc_packet(1, 30, i) for i in range(100)]
    f = tmp_path / "t.opus"
    f.write_bytes(_write(packets, final=100 * 960 - 500, serial=123, tags={"TITLE": "x"}))
    out = subprocess.run(["opusinfo", str(f)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "WARNING" not in out.stdout + out.stderr and "ERROR" not in out.stdout + out.stderr
    assert "Playback length: 0m:01.983s" in out.stdout  # (96000 - 500 - 312) / 48000
    if shutil.which("ffprobe"):
        out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", str(f)], capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 0 and "codec_name=opus" in out.stdout, out.stderr


@pytest.mark.parametrize("path", OGG_FILES, ids=lambda p: p.name)
def test_vector_packets_match_description(path):
    from test_opusdemo import _KEYS, describe_packet

    desc = json.loads(path.with_suffix(".json").read_text())
    pk = list(read_ogg_opus(path).packets())
    for p, e in zip(pk, desc["packets"]):
        assert describe_packet(p.data) == {k: e[k] for k in _KEYS}, f"packet {p.index}"


def test_reader_yields_from_a_live_pipe_before_eof():
    import os
    import signal

    from mlcodec.containers.detect import open_input

    data = _write([_toc_packet(1, 30, i) for i in range(200)], serial=8, page_bytes=200)
    pages = list(ogg.iter_pages(io.BytesIO(data)))
    first = sum(p.size for p in pages[:4])  # headers + two audio pages
    r, w = os.pipe()
    os.write(w, data[:first])
    old = signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError("reader blocked")))
    signal.alarm(20)
    try:
        with os.fdopen(r, "rb") as f:
            inp = open_input(f)
            assert inp.format == "ogg"
            it = read_ogg_opus(inp.stream).packets()
            got = [next(it)]  # available before the writer has finished
            os.write(w, data[first:])
            os.close(w)
            got += list(it)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert len(got) == 200
