"""Opus packet framing vs libopus vectors (specs 01), round trips and fuzzing."""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import vector_set, vectors_dir
from mlcodec.bitstream.extensions import Extension
from mlcodec.bitstream.packet import (
    BANDWIDTH_CODES,
    MAX_FRAME_BYTES,
    add_extensions,
    build_multistream,
    build_packet,
    encode_frame_length,
    merge_packets,
    pad_packet,
    packet_extensions,
    packet_nb_frames,
    packet_nb_samples,
    parse_packet,
    parse_toc,
    samples_per_frame,
    split_multistream,
    to_self_delimited,
    unpad_packet,
)
from mlcodec.errors import ExtensionError, MlcodecError, PacketError


def _cases(fname: str):
    path = vectors_dir() / "packets" / fname
    if not path.is_file():
        return [pytest.param(None, id="vectors-absent")]
    with path.open() as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [pytest.param(r, id=r["name"]) for r in rows]


def _exts(rows) -> list[Extension]:
    return [Extension(f, i, bytes.fromhex(h)) for f, i, h in rows]


def _rows(exts) -> list[list]:
    return [[e.frame, e.id, e.data.hex()] for e in exts]


def _status(fn, *args, **kw):
    try:
        return "OPUS_OK", fn(*args, **kw)
    except (PacketError, ExtensionError) as exc:
        return exc.code, None


def _check_description(case, data: bytes, sd: bool) -> None:
    """Compare parser, extension reader and TOC helpers with libopus's description."""
    ps = case["parse"]
    code, pkt = _status(parse_packet, data, self_delimited=sd)
    assert code == ps["result"]
    if "opus_packet_parse" in case:
        assert code == case["opus_packet_parse"]
    if pkt is not None:
        got = {
            "toc": pkt.toc.byte, "config": pkt.toc.config, "stereo": int(pkt.toc.stereo),
            "code": pkt.toc.code, "frame_count": pkt.frame_count,
            "frame_sizes": list(pkt.frame_lengths), "frame_offsets": list(pkt.frame_offsets),
            "payload_offset": pkt.payload_offset, "packet_offset": pkt.size,
            "padding_offset": pkt.padding_offset, "padding_len": len(pkt.padding),
        }
        assert got == {k: ps[k] for k in got}
        if "code3" in ps:
            c3 = ps["code3"]
            assert (pkt.frame_count, pkt.vbr, pkt.padding_flag) == (c3["count"], c3["vbr"],
                                                                   c3["padding_flag"])
        for off, frame in zip(pkt.frame_offsets, pkt.frames):
            assert data[off:off + len(frame)] == frame
        assert pkt.padding == data[pkt.padding_offset:pkt.padding_offset + len(pkt.padding)]
        try:
            exts, ecode = packet_extensions(pkt), "OPUS_OK"
        except ExtensionError as exc:
            exts, ecode = exc.partial, exc.code
            assert exc.offset >= pkt.padding_offset
        assert ecode == ps["extensions"]["result"]
        assert _rows(exts) == ps["extensions"]["list"]
        assert pkt.samples_48k == pkt.frame_count * pkt.toc.samples_per_frame_48k
        assert pkt.duration_ms == pytest.approx(pkt.samples_48k / 48)
    if "samples_per_frame_48k" in case:
        toc = parse_toc(data[0])
        assert toc.samples_per_frame_48k == case["samples_per_frame_48k"]
        assert BANDWIDTH_CODES[toc.bandwidth] == case["bandwidth"]
        assert toc.channels == case["channels"]
    if sd:
        return
    code, n = _status(packet_nb_frames, data)
    assert code == case["get_nb_frames_status"]
    if n is not None:
        assert n == case["get_nb_frames"]
    code, n = _status(packet_nb_samples, data)
    assert code == case["get_nb_samples_status"]
    if n is not None:
        assert n == case["get_nb_samples_48k"]
    if "unpad" in case:
        code, u = _status(unpad_packet, data)
        assert code == case["unpad"]["result"]
        if u is not None:
            assert u.hex() == case["unpad"]["bytes"] and len(u) == case["unpad"]["len"]
    elif case["parse"]["result"] != "OPUS_OK":
        assert _status(unpad_packet, data)[0] != "OPUS_OK"
    # the repacketizer accepts exactly what the parser accepts (our merge also runs "out",
    # which libopus fails with OPUS_INTERNAL_ERROR on a malformed extension area)
    code, _ = _status(merge_packets, [data])
    if code == "OPUS_INTERNAL_ERROR":
        assert ps["extensions"]["result"] != "OPUS_OK"
        code = "OPUS_OK"
    assert code == case["repacketizer_cat"]


@pytest.mark.parametrize("case", _cases("valid.jsonl"))
def test_valid_vectors(case):
    vector_set("packets")
    b = case["build"]
    api = b["api"]
    frames = [bytes.fromhex(f) for f in b["frames"]]
    exts = _exts(b["extensions"])
    stereo = bool(b["stereo"])
    pad_to = b["maxlen"] if b["pad"] else None
    if api == "opus_repacketizer_out":
        got = build_packet(b["config"], frames, stereo=stereo)
    elif api == "opus_repacketizer_out_range":
        lo, hi = b["range"]
        got = build_packet(b["config"], frames[lo:hi], stereo=stereo)
        single = [build_packet(b["config"], [f], stereo=stereo) for f in frames]
        assert merge_packets(single, begin=lo, end=hi) == got
    elif api == "opus_packet_pad":
        plain = build_packet(b["config"], frames, stereo=stereo)
        assert len(plain) == b["unpadded_len"]
        got = pad_packet(plain, b["new_len"])
        assert unpad_packet(got) == plain
    elif api == "opus_repacketizer_out_range_impl":
        got = build_packet(b["config"], frames, stereo=stereo, extensions=exts, pad_to=pad_to)
    elif api == "opus_packet_pad_impl":
        plain = build_packet(b["config"], frames, stereo=stereo)
        assert len(plain) == b["unpadded_len"]
        got = add_extensions(plain, exts, pad_to=b["new_len"] if b["pad"] else None)
    elif api.startswith("opus_repacketizer_cat"):
        got = merge_packets([bytes.fromhex(x) for x in b["inputs"]])
    elif api.endswith("(self_delimited)"):
        got = build_packet(b["config"], frames, stereo=stereo, extensions=exts, pad_to=pad_to,
                           self_delimited=True)
    else:  # pragma: no cover - a new api in a regenerated vector set
        pytest.fail(f"unknown build api {api}")
    assert got.hex() == case["packet"]
    assert len(got) == case["result_len"]
    _check_description(case, got, case["self_delimited"])


@pytest.mark.parametrize("case", _cases("malformed.jsonl"))
def test_malformed_vectors(case):
    vector_set("packets")
    data = bytes.fromhex(case["packet"])
    _check_description(case, data, False)
    if case["parse"]["result"] != "OPUS_OK":
        with pytest.raises(PacketError) as ei:
            parse_packet(data)
        assert ei.value.offset is not None and "offset" in str(ei.value)


# ---------------------------------------------------------------------------------------------
# TOC and worked examples (specs 01 s2, s3, s5)
# ---------------------------------------------------------------------------------------------

SPEC_TABLE = (
    [("SILK", bw, ms) for bw in ("NB", "MB", "WB") for ms in (10, 20, 40, 60)]
    + [("Hybrid", bw, ms) for bw in ("SWB", "FB") for ms in (10, 20)]
    + [("CELT", bw, ms) for bw in ("NB", "WB", "SWB", "FB") for ms in (2.5, 5, 10, 20)]
)


@pytest.mark.parametrize("byte", range(256))
def test_toc_table(byte):
    toc = parse_toc(byte)
    mode, bw, ms = SPEC_TABLE[byte >> 3]
    assert (toc.config, toc.mode, toc.bandwidth, toc.frame_ms) == (byte >> 3, mode, bw, ms)
    assert (toc.stereo, toc.code, toc.byte) == (bool(byte & 4), byte & 3, byte)
    assert toc.samples_per_frame_48k == samples_per_frame(byte) == int(ms * 48)
    assert samples_per_frame(byte, 8000) * 6 == toc.samples_per_frame_48k
    assert toc.max_frames * toc.samples_per_frame_48k == 5760


def test_spec_toc_examples():
    assert (parse_toc(0x4B).config, parse_toc(0x4B).mode, parse_toc(0x4B).code) == (9, "SILK", 3)
    t = parse_toc(0xFC)
    assert (t.config, t.mode, t.bandwidth, t.frame_ms) == (31, "CELT", "FB", 20)
    assert (t.stereo, t.code) == (True, 0)
    assert parse_toc(0x78).mode == "Hybrid" and parse_toc(0x78).bandwidth == "FB"
    assert build_packet(29, [b"ab", b"cd"])[0] == 0xE9


@pytest.mark.parametrize("n,want", [(0, "00"), (251, "fb"), (252, "fc00"), (253, "fd00"),
                                    (256, "fc01"), (300, "fc0c"), (1275, "ffff")])
def test_frame_length_coding(n, want):
    assert encode_frame_length(n).hex() == want


def test_spec_5_2_vbr_padding():
    data = bytes.fromhex("FBC30A0302AAAAAABBBBCCCCCCCC0B110522 33FC440C6650".replace(" ", ""))
    pkt = parse_packet(data)
    assert pkt.frame_lengths == (3, 2, 4) and pkt.vbr and pkt.padding_flag
    assert pkt.padding_offset == 14 and len(pkt.padding) == 10
    assert pkt.samples_48k == 2880 and pkt.duration_ms == 60
    assert _rows(packet_extensions(pkt)) == [[0, 5, "11"], [1, 5, "22"], [2, 5, "33"],
                                            [0, 126, "440c6650"]]
    assert unpad_packet(data).hex() == "fb830302aaaaaabbbbcccccccc"


def test_spec_5_3_and_5_4_padding_and_extensions():
    plain = bytes.fromhex("48112233")
    assert pad_packet(plain, 8).hex() == "4b410211223300" "00"
    assert pad_packet(plain, 4) == plain
    dred = Extension(0, 126, bytes.fromhex("440C6650"))
    assert add_extensions(plain, [dred]).hex() == "4b410511223" "3fc440c6650"
    assert add_extensions(plain, [dred], pad_to=16).hex() == "4b410a112233010101010" "1fc440c6650"
    assert build_packet(9, [bytes.fromhex("112233")], extensions=[dred]) == add_extensions(plain, [dred])
    with pytest.raises(PacketError) as ei:
        pad_packet(plain, 3)
    assert ei.value.code == "OPUS_BAD_ARG"


def test_build_choices_and_errors():
    assert build_packet(1, [b"x"])[0] & 3 == 0
    assert build_packet(1, [b"x", b"y"])[0] & 3 == 1
    assert build_packet(1, [b"x", b"yz"])[0] & 3 == 2
    p = build_packet(1, [b"x", b"y", b"z"])
    assert p[0] & 3 == 3 and p[1] == 3  # CBR
    assert build_packet(1, [b"x", b"y", b"zz"])[1] == 0x83  # VBR
    assert build_packet(1, [b"x"], force_code3=True).hex() == "0b0178"
    assert build_packet(1, [b"x"], stereo=True)[0] == 0x0C
    for args, code in [((32, [b""]), "OPUS_BAD_ARG"), ((1, []), "OPUS_BAD_ARG"),
                       ((1, [b""] * 7), "OPUS_INVALID_PACKET"),
                       ((16, [b""] * 49), "OPUS_INVALID_PACKET"),
                       ((1, [bytes(MAX_FRAME_BYTES + 1)]), "OPUS_BAD_ARG")]:
        with pytest.raises(PacketError) as ei:
            build_packet(*args)
        assert ei.value.code == code
    with pytest.raises(PacketError) as ei:
        build_packet(1, [bytes(10)], pad_to=5)
    assert ei.value.code == "OPUS_BUFFER_TOO_SMALL"
    with pytest.raises(PacketError) as ei:
        build_packet(1, [b"x"], extensions=[Extension(1, 3)])
    assert ei.value.code == "OPUS_BAD_ARG"
    # exactly full with pad_to: stays code 0 (libopus only re-frames when there is room)
    assert build_packet(1, [b"ab"], pad_to=3) == b"\x08ab"


def test_merge_rules():
    a = build_packet(1, [b"aa"])
    with pytest.raises(PacketError):
        merge_packets([a, build_packet(2, [b"aa"])])          # config differs
    with pytest.raises(PacketError):
        merge_packets([a, build_packet(1, [b"aa"], stereo=True)])
    with pytest.raises(PacketError):
        merge_packets([a] * 7)                                 # 140 ms
    assert merge_packets([a] * 6) == build_packet(1, [b"aa"] * 6)
    # code 0..2 TOC low bits do not matter for the match
    assert merge_packets([a, build_packet(1, [b"b", b"cc"])]) == build_packet(1, [b"aa", b"b", b"cc"])
    bad_ext = bytes.fromhex("fb4105112201010101f9")          # valid packet, bad extension area
    with pytest.raises(PacketError) as ei:
        merge_packets([bad_ext])
    assert ei.value.code == "OPUS_INTERNAL_ERROR"


# ---------------------------------------------------------------------------------------------
# Self-delimited framing and multistream packets (RFC 6716 App. B, RFC 7845 s3)
# ---------------------------------------------------------------------------------------------

def test_multistream_split_and_join():
    s0 = build_packet(31, [b"abc"], extensions=[Extension(0, 126, b"D\x0cxyz")])
    s1 = build_packet(31, [bytes(300)])
    s2 = build_packet(31, [b"q"])
    ms = build_multistream([s0, s1, s2])
    pkts = split_multistream(ms, 3)
    assert [p.frames for p in pkts] == [(b"abc",), (bytes(300),), (b"q",)]
    assert [p.self_delimited for p in pkts] == [True, True, False]
    assert sum(p.size for p in pkts) == len(ms)
    assert _rows(packet_extensions(pkts[0])) == [[0, 126, "440c78797a"]]
    assert parse_packet(to_self_delimited(s1), self_delimited=True).frames == (bytes(300),)
    assert split_multistream(s2, 1)[0].frames == (b"q",)
    with pytest.raises(PacketError) as ei:
        split_multistream(ms[:-2], 3)             # third stream cut away
    assert "stream 2" in str(ei.value) and ei.value.offset is not None
    with pytest.raises(PacketError):
        split_multistream(build_multistream([s0, build_packet(31, [b"a", b"b"])]), 2)  # 20 vs 40 ms
    assert len(split_multistream(build_multistream([s0, build_packet(31, [b"a", b"b"])]), 2,
                                 check_durations=False)) == 2
    with pytest.raises(PacketError):
        split_multistream(ms, 0)


@pytest.mark.parametrize("case", [c for c in _cases("valid.jsonl")
                                  if c.values[0] is None or c.values[0]["self_delimited"]])
def test_selfdelimited_vectors_in_multistream(case):
    """A libopus self-delimited packet followed by a normal one splits back into both."""
    vector_set("packets")
    sd = bytes.fromhex(case["packet"])
    first = parse_packet(sd, self_delimited=True)
    tail = build_packet(first.toc.config, [b"\x01"] * first.frame_count)
    pkts = split_multistream(sd + tail, 2)
    assert pkts[0].frames == first.frames and pkts[0].size == len(sd)
    assert pkts[1].frames == (b"\x01",) * first.frame_count


# ---------------------------------------------------------------------------------------------
# Round trips (hypothesis)
# ---------------------------------------------------------------------------------------------

@st.composite
def packet_specs(draw):
    config = draw(st.integers(0, 31))
    max_frames = 5760 // parse_toc(config << 3).samples_per_frame_48k
    n = draw(st.integers(1, min(max_frames, 8)))
    if draw(st.booleans()):
        size = draw(st.sampled_from([0, 1, 5, 251, 252, 300]))
        frames = [draw(st.binary(min_size=size, max_size=size))] * n
    else:
        frames = [draw(st.binary(max_size=draw(st.sampled_from([3, 40, 400])))) for _ in range(n)]
    exts = []
    for _ in range(draw(st.integers(0, 4))):
        eid = draw(st.integers(3, 127))
        data = draw(st.binary(max_size=1 if eid < 32 else 30))
        exts.append(Extension(draw(st.integers(0, n - 1)), eid, data))
    return config, frames, exts


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packet_specs(), st.booleans(), st.one_of(st.none(), st.integers(0, 600)), st.booleans(),
       st.booleans())
def test_build_parse_round_trip(spec, stereo, extra, sd, force3):
    config, frames, exts = spec
    minimal = build_packet(config, frames, stereo=stereo, extensions=exts, self_delimited=sd,
                           force_code3=force3)
    pad_to = None if extra is None else len(minimal) + extra
    data = build_packet(config, frames, stereo=stereo, extensions=exts, pad_to=pad_to,
                        self_delimited=sd, force_code3=force3)
    if pad_to is not None:
        assert len(data) == pad_to
    pkt = parse_packet(data, self_delimited=sd)
    assert pkt.size == len(data)
    assert list(pkt.frames) == frames
    assert (pkt.toc.config, pkt.toc.stereo) == (config, stereo)
    got = packet_extensions(pkt)
    assert sorted(got, key=lambda e: e.frame) == sorted(exts, key=lambda e: e.frame)
    if not sd:
        assert unpad_packet(data) == build_packet(config, frames, stereo=stereo)
        # merging split packets equals building at once (extensions shifted by frame position)
        k = len(frames) // 2
        if k:
            a = build_packet(config, frames[:k], stereo=stereo,
                             extensions=[e for e in exts if e.frame < k])
            b = build_packet(config, frames[k:], stereo=stereo,
                             extensions=[Extension(e.frame - k, e.id, e.data) for e in exts
                                         if e.frame >= k])
            want = build_packet(config, frames, stereo=stereo,
                                extensions=sorted(exts, key=lambda e: e.frame))
            assert merge_packets([a, b]) == want
        if pad_to is not None and pad_to > len(data) - 1:
            padded = pad_packet(data, len(data) + 7)
            assert parse_packet(padded).frames == pkt.frames
            assert packet_extensions(parse_packet(padded)) == got


# ---------------------------------------------------------------------------------------------
# Fuzz smoke tests: only MlcodecError may escape
# ---------------------------------------------------------------------------------------------

def _fuzz_one(data: bytes) -> None:
    for sd in (False, True):
        try:
            pkt = parse_packet(data, self_delimited=sd)
        except PacketError as exc:
            assert exc.offset is not None and exc.code == "OPUS_INVALID_PACKET"
            continue
        assert pkt.size <= len(data) and (sd or pkt.size == len(data))
        assert 1 <= pkt.frame_count <= 48 and pkt.samples_48k <= 5760
        try:
            packet_extensions(pkt)
        except MlcodecError:
            pass
    for n in (1, 2, 3):
        try:
            split_multistream(data, n)
        except MlcodecError:
            pass
    for fn in (unpad_packet, packet_nb_frames, packet_nb_samples):
        try:
            fn(data)
        except MlcodecError:
            pass


def test_fuzz_random_packets():
    rng = random.Random(7)
    for _ in range(3000):
        _fuzz_one(bytes(rng.getrandbits(8) for _ in range(rng.choice((1, 2, 3, 5, 12, 40)))))
    _fuzz_one(b"")


def test_fuzz_mutated_packets():
    path = vectors_dir() / "packets" / "valid.jsonl"
    if not path.is_file():
        pytest.skip(f"libopus vector set {path.parent} is absent")
    rng = random.Random(11)
    with path.open() as fh:
        rows = [json.loads(line) for line in fh]
    for r in rows:
        base = bytes.fromhex(r["packet"])
        for _ in range(8):
            m = bytearray(base)
            op = rng.randrange(4)
            if op == 0:
                m[rng.randrange(min(len(m), 12))] ^= 1 << rng.randrange(8)
            elif op == 1:
                del m[rng.randrange(len(m)):]
            elif op == 2:
                m[rng.randrange(min(len(m), 4))] = rng.getrandbits(8)
            else:
                m += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4)))
            _fuzz_one(bytes(m))


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=48))
def test_fuzz_hypothesis(data):
    _fuzz_one(data)
