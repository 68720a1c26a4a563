"""mlcodec raw packet framing (docs/containers.md): round trips and refusals."""
from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings, strategies as st

from mlcodec.containers import rawframe
from mlcodec.containers.rawframe import RawWriter, iter_raw
from mlcodec.errors import ContainerError, MlcodecError


@pytest.mark.parametrize("n,enc", [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"),
                                   (1 << 20, "808040")])
def test_leb128(n, enc):
    assert rawframe.encode_length(n).hex() == enc


@given(st.lists(st.binary(max_size=700), max_size=30))
@settings(max_examples=80)
def test_roundtrip(packets):
    f = io.BytesIO()
    w = RawWriter(f)
    for p in packets:
        w.write_packet(p)
    w.close()
    data = f.getvalue()
    assert data[:8] == b"OPKT\x01\x00\x00\x00"
    got = list(iter_raw(io.BytesIO(data)))
    assert [g.data for g in got] == packets
    for g in got:
        assert data[g.offset: g.offset + len(g.data)] == g.data


@pytest.mark.parametrize("head,reason", [
    (b"OPKT\x02\x00\x00\x00", "unsupported raw framing version 2"),
    (b"OPKT\x01\x01\x00\x00", "non-zero flags"),
    (b"OPKX\x01\x00\x00\x00", "no 'OPKT' magic"),
    (b"OPKT\x01", "truncated raw framing header"),
])
def test_refusals(head, reason):
    with pytest.raises(ContainerError, match=reason):
        list(iter_raw(io.BytesIO(head + b"\x01a")))


def test_truncated_and_overlong():
    data = rawframe.HEADER + b"\x03abc\x05ab"
    got = []
    with pytest.raises(ContainerError, match="truncated raw-framed packet") as ei:
        for p in iter_raw(io.BytesIO(data), file="p.raw"):
            got.append(p.data)
    assert got == [b"abc"] and ei.value.offset == 12 and ei.value.file == "p.raw"
    with pytest.raises(ContainerError, match="longer than 4 bytes"):
        list(iter_raw(io.BytesIO(rawframe.HEADER + b"\xff\xff\xff\xff\x01")))
    with pytest.raises(ContainerError, match="exceeds"):
        list(iter_raw(io.BytesIO(rawframe.HEADER + b"\xff\xff\xff\x7f")))
    with pytest.raises(ContainerError, match="truncated raw framing length"):
        list(iter_raw(io.BytesIO(rawframe.HEADER + b"\x80")))


@pytest.mark.parametrize("seed", range(30))
def test_fuzz(seed):
    rnd = random.Random(seed)
    data = bytearray(rawframe.HEADER + bytes(rnd.randrange(256) for _ in range(rnd.randrange(200))))
    if seed % 2:
        data[rnd.randrange(len(data))] = rnd.randrange(256)
    try:
        list(iter_raw(io.BytesIO(bytes(data))))
    except MlcodecError:
        pass
