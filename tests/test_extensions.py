"""Extension area parse/generate vs libopus vectors (specs 02), round trips and fuzzing."""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import vector_set, vectors_dir
from mlcodec.bitstream.extensions import (
    EXTENSION_REGISTRY,
    Extension,
    count_extensions,
    describe,
    extension_name,
    generate_extensions,
    parse_extensions,
    parse_extensions_frame_order,
    register_extension,
    validate_extension,
)
from mlcodec.errors import ExtensionError, MlcodecError


def _cases(fname: str):
    path = vectors_dir() / "extensions" / fname
    if not path.is_file():
        return [pytest.param(None, id="vectors-absent")]
    with path.open() as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [pytest.param(r, id=r["name"]) for r in rows]


def _exts(rows) -> list[Extension]:
    return [Extension(f, i, bytes.fromhex(h)) for f, i, h in rows]


def _rows(exts) -> list[list]:
    return [[e.frame, e.id, e.data.hex()] for e in exts]


def _parse_verdict(fn, area: bytes, nb_frames: int):
    try:
        return "OPUS_OK", fn(area, nb_frames)
    except ExtensionError as exc:
        return exc.code, exc.partial


# ---------------------------------------------------------------------------------------------
# libopus vectors
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", _cases("valid.jsonl"))
def test_valid_vectors(case):
    vector_set("extensions")
    nf = case["nb_frames"]
    exts = _exts(case["extensions"])
    enc = generate_extensions(exts, nf)
    assert enc.hex() == case["encoded"]
    padded = case["padded"]
    got = generate_extensions(exts, nf, pad_to=padded["target_len"])
    assert len(got) == padded["result_len"]
    assert got.hex() == padded["encoded"]
    if "one_byte_short_result" in case:
        with pytest.raises(ExtensionError) as ei:
            generate_extensions(exts, nf, capacity=len(enc) - 1)
        assert ei.value.code == case["one_byte_short_result"]
    ps = case["parse"]
    assert ps["result"] == "OPUS_OK"
    assert _rows(parse_extensions(enc, nf)) == ps["extensions"]
    assert _rows(parse_extensions_frame_order(enc, nf)) == ps["frame_order"]["extensions"]
    assert count_extensions(enc, nf) == (ps["count"], ps["frame_counts"])
    if case["parse_padded_equal"]:
        assert _rows(parse_extensions(got, nf)) == ps["extensions"]
    if case["frame_order_matches_input"]:
        assert parse_extensions_frame_order(enc, nf) == sorted(exts, key=lambda e: e.frame)


@pytest.mark.parametrize("case", _cases("invalid.jsonl"))
def test_invalid_vectors(case):
    vector_set("extensions")
    area = bytes.fromhex(case["bytes"])
    nf = case["nb_frames"]
    code, got = _parse_verdict(parse_extensions, area, nf)
    assert code == case["result"]
    assert _rows(got) == case["extensions"]
    code, got = _parse_verdict(parse_extensions_frame_order, area, nf)
    assert code == case["frame_order"]["result"]
    assert _rows(got) == case["frame_order"]["extensions"]
    assert count_extensions(area, nf) == (case["count"], case["frame_counts"])
    if code != "OPUS_OK":
        with pytest.raises(ExtensionError) as ei:
            parse_extensions(area, nf, base_offset=100)
        msg = str(ei.value)
        assert "offset" in msg and ei.value.offset is not None and ei.value.offset >= 100


@pytest.mark.parametrize("case", _cases("generate_errors.jsonl"))
def test_generate_error_vectors(case):
    """Writer argument checks. A declared length that differs from the payload (negative) is
    not expressible with bytes, so it goes through validate_extension, the same check."""
    vector_set("extensions")
    exts = _exts(case["extensions"])
    try:
        for e in exts:
            validate_extension(e.frame, e.id, case["declared_len"], case["nb_frames"])
        enc = generate_extensions(exts, case["nb_frames"], capacity=case["capacity"],
                                  pad_to=case["capacity"] if case["pad"] else None)
        code = "OPUS_OK"
    except ExtensionError as exc:
        code = exc.code
    assert code == case["result"]
    if code == "OPUS_OK":
        assert enc.hex() == case["encoded"]
        assert len(enc) == case["result_len"]


# ---------------------------------------------------------------------------------------------
# Worked examples of specs 02 s8
# ---------------------------------------------------------------------------------------------

def test_spec_8_1_unit_test_example():
    exts = [Extension(0, 3, b"a"), Extension(10, 32, b"DRED"), Extension(1, 33, b"NOT DRED"),
            Extension(4, 4, b"")]
    want = bytes.fromhex("01010101076102430" "84e4f54204452454403030803064044524544")
    assert generate_extensions(exts, 11, pad_to=27) == want
    assert len(generate_extensions(exts, 11)) == 23
    assert parse_extensions(want, 11) == sorted(exts, key=lambda e: e.frame)


RTE_SERIES = [
    (3, 0, b"a"), (3, 1, b"b"), (3, 2, b"c"), (4, 0, b"d"), (4, 1, b""), (4, 2, b""),
    (32, 2, b"DRED2"), (32, 1, b"DRED"), (5, 1, b""), (5, 2, b""), (6, 2, b"f"), (6, 1, b"e"),
    (32, 2, b"DREDthree"),
]
RTE_LENGTHS = [0, 2, 5, 5, 7, 9, 10, 16, 21, 23, 22, 26, 25, 37]


@pytest.mark.parametrize("n", range(len(RTE_SERIES) + 1))
def test_spec_8_2_rte_series(n):
    exts = [Extension(f, i, d) for i, f, d in RTE_SERIES[:n]]
    enc = generate_extensions(exts, 3)
    assert len(enc) == RTE_LENGTHS[n]
    assert parse_extensions_frame_order(enc, 3) == sorted(exts, key=lambda e: e.frame)


def test_spec_8_2_rte_bytes():
    exts = [Extension(f, i, d) for i, f, d in RTE_SERIES[:8]]
    assert generate_extensions(exts, 3) == bytes.fromhex("076105626309640208410444524544" "04"
                                                         "4452454432")
    exts = [Extension(f, i, d) for i, f, d in RTE_SERIES[:3]]
    assert generate_extensions(exts, 3).hex() == "0761046263"


def test_spec_8_3_area():
    area = bytes.fromhex("0B1105223 3FC440C6650".replace(" ", ""))
    got = parse_extensions(area, 3)
    assert _rows(got) == [[0, 5, "11"], [1, 5, "22"], [2, 5, "33"], [0, 126, "440c6650"]]
    src = [Extension(0, 5, b"\x11"), Extension(0, 126, bytes.fromhex("440C6650")),
           Extension(1, 5, b"\x22"), Extension(2, 5, b"\x33")]
    assert generate_extensions(src, 3) == area
    assert generate_extensions(src, 3, pad_to=12) == b"\x01\x01" + area
    assert extension_name(126, got[3].data) == "DRED (v12)"


def test_spec_8_4_long_repeats():
    src = [Extension(0, 33, b"AB"), Extension(1, 33, b"CDE"), Extension(2, 33, b"F"),
           Extension(2, 3, b"")]
    assert generate_extensions(src, 3).hex() == "430241420503434445014603020" "6"
    assert generate_extensions(src[:3], 3).hex() == "43024142040343444546"


def test_spec_8_5_and_8_6():
    assert generate_extensions([Extension(f, 7) for f in range(4)], 4) == b"\x0e\x04"
    enc = generate_extensions([Extension(0, 40, bytes(300)), Extension(0, 3)], 1)
    assert enc[:3] == b"\x51\xff\x2d" and len(enc) == 3 + 300 + 1


def test_structural_edge_cases():
    # 0x00 ends parsing; 0x01 skips one byte; 03 00 is a no-op; trailing junk after an L=0
    # RTE in the last frame is ignored; a separator past the last frame is an error.
    assert parse_extensions(b"\x07\xaa\x00\xff\xff", 1) == [Extension(0, 3, b"\xaa")]
    assert parse_extensions(b"\x01\x01\x07\xaa", 1) == [Extension(0, 3, b"\xaa")]
    assert _rows(parse_extensions(bytes.fromhex("07aa0300 04bbcc".replace(" ", "")), 3)) == [
        [0, 3, "aa"], [1, 3, "bb"], [2, 3, "cc"]]
    assert parse_extensions(bytes.fromhex("0204ffffff"), 2) == []
    with pytest.raises(ExtensionError) as ei:
        parse_extensions(b"\x07\xaa\x02", 1)
    assert ei.value.code == "OPUS_INVALID_PACKET"
    assert ei.value.partial == [Extension(0, 3, b"\xaa")]
    assert ei.value.offset == 2 and "frame" in ei.value.reason


def test_huge_lacing_run_fails():
    area = b"\x41" + b"\xff" * 200_000 + b"\x00"
    with pytest.raises(ExtensionError):
        parse_extensions(area, 1)


def test_generate_rejects_bad_input():
    for exts, nf in [([Extension(0, 2, b"")], 1), ([Extension(1, 3)], 1), ([Extension(0, 3, b"ab")], 1),
                     ([Extension(0, 128)], 1), ([], 49), ([Extension(-1, 40)], 2)]:
        with pytest.raises(ExtensionError) as ei:
            generate_extensions(exts, nf)
        assert ei.value.code == "OPUS_BAD_ARG"
    with pytest.raises(ExtensionError) as ei:
        generate_extensions([Extension(0, 40, b"x" * 10)], 1, pad_to=5)
    assert ei.value.code == "OPUS_BUFFER_TOO_SMALL"
    assert generate_extensions([(0, 3, b"a")], 1) == b"\x07a"  # tuples accepted
    assert generate_extensions([], 3, pad_to=4) == b"\x01" * 4


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

def test_registry_names():
    assert extension_name(124) == "QEXT"
    assert extension_name(126, b"D\x0c\x01\x02") == "DRED (v12)"
    assert extension_name(126, b"D\x0a") == "DRED (v10)"
    assert extension_name(126, b"X") == "DRED (unversioned)"
    assert extension_name(50) == "ID 50 (long)"
    assert extension_name(7) == "ID 7 (short)"
    assert Extension(0, 124, b"").name == "QEXT"
    assert describe([Extension(2, 126, b"D\x0cab")]) == ["frame 2: DRED (v12), 4 bytes"]
    saved = dict(EXTENSION_REGISTRY)
    try:
        register_extension(100, "mlcodec")
        assert extension_name(100, b"\x01") == "mlcodec"
        with pytest.raises(ValueError):
            register_extension(2, "nope")
        with pytest.raises(ValueError):
            register_extension(128, "nope")
    finally:
        EXTENSION_REGISTRY.clear()
        EXTENSION_REGISTRY.update(saved)


# ---------------------------------------------------------------------------------------------
# Round trips (hypothesis)
# ---------------------------------------------------------------------------------------------

_IDS = st.one_of(st.sampled_from([3, 4, 5, 31, 32, 33, 124, 126]), st.integers(3, 127))


@st.composite
def ext_lists(draw):
    nb_frames = draw(st.one_of(st.integers(1, 6), st.integers(1, 48)))
    n = draw(st.integers(0, 14))
    exts = []
    for _ in range(n):
        eid = draw(_IDS)
        frame = draw(st.integers(0, nb_frames - 1))
        if eid < 32:
            data = draw(st.binary(min_size=0, max_size=1))
        else:
            data = draw(st.one_of(st.binary(max_size=12), st.binary(min_size=250, max_size=520)))
        exts.append(Extension(frame, eid, data))
    if draw(st.booleans()) and nb_frames > 1:
        # the same extension in every frame: exercises Repeat These Extensions
        eid = draw(_IDS)
        size = draw(st.integers(0, 1 if eid < 32 else 300))
        for f in range(nb_frames):
            exts.append(Extension(f, eid, bytes([f & 0xFF]) * size if eid < 32 else
                                  draw(st.binary(min_size=0, max_size=size))))
    draw(st.randoms()).shuffle(exts)
    return exts, nb_frames


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ext_lists(), st.integers(0, 40))
def test_generate_parse_round_trip(case, extra):
    exts, nf = case
    enc = generate_extensions(exts, nf)
    want = sorted(exts, key=lambda e: e.frame)
    assert parse_extensions_frame_order(enc, nf) == want
    bit = parse_extensions(enc, nf)
    assert sorted(bit, key=lambda e: e.frame) == want
    assert count_extensions(enc, nf)[0] == len(exts)
    padded = generate_extensions(exts, nf, pad_to=len(enc) + extra)
    assert len(padded) == len(enc) + extra and padded.endswith(enc)
    assert parse_extensions(padded, nf) == bit
    if enc:
        with pytest.raises(ExtensionError):
            generate_extensions(exts, nf, capacity=len(enc) - 1)


# ---------------------------------------------------------------------------------------------
# Fuzz smoke tests: only MlcodecError may escape
# ---------------------------------------------------------------------------------------------

def _fuzz_one(area: bytes, nf: int):
    try:
        got = parse_extensions(area, nf)
    except ExtensionError as exc:
        assert exc.offset is not None and exc.code == "OPUS_INVALID_PACKET"
        got = exc.partial
    except MlcodecError:
        return
    for e in got:
        assert 0 <= e.frame < nf and 3 <= e.id <= 127


def test_fuzz_random_areas():
    rng = random.Random(1234)
    for _ in range(4000):
        area = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
        _fuzz_one(area, rng.randint(1, 48))
    for nf in (0, 49, -1):
        with pytest.raises(ExtensionError):
            parse_extensions(b"\x07a", nf)


def test_fuzz_mutated_valid_areas():
    path = vectors_dir() / "extensions" / "valid.jsonl"
    if not path.is_file():
        pytest.skip(f"libopus vector set {path.parent} is absent")
    rng = random.Random(99)
    with path.open() as fh:
        rows = [json.loads(line) for line in fh]
    for r in rows:
        base = bytearray.fromhex(r["encoded"])
        if not base:
            continue
        for _ in range(15):
            m = bytearray(base)
            op = rng.randrange(3)
            if op == 0:
                i = rng.randrange(len(m))
                m[i] ^= 1 << rng.randrange(8)
            elif op == 1:
                del m[rng.randrange(len(m)):]
            else:
                m.insert(rng.randrange(len(m) + 1), rng.getrandbits(8))
            _fuzz_one(bytes(m), r["nb_frames"])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(1, 48))
def test_fuzz_hypothesis(area, nf):
    _fuzz_one(area, nf)
