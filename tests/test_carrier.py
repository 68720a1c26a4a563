"""Carrier packets (mlcodec/bitstream/carrier.py): round trips through our parser, and
libopus 1.6.1's own parser, extension parser and decoder agree (tests/c/carrier_check.c)."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from mlcodec.bitstream.carrier import (SILENT_FRAMES, build_carrier, carrier_config,
                                       carrier_overhead, carrier_payloads)
from mlcodec.bitstream.packet import parse_packet
from mlcodec.errors import PacketError

from conftest import libopus_prefix

LIBOPUS = libopus_prefix()
HARNESS = Path(__file__).parent / "c" / "carrier_check.c"
ID = 122


def _cases():
    rnd = random.Random(7)
    out = []
    for frame in ("celtlost", "celt", "silk0"):
        for ms in (20, 40, 60, 80, 100, 120):
            try:
                _, m = carrier_config(ms, frame)
            except PacketError:
                continue
            for size in (0, 1, 40, 253, 254, 300, 700):
                out.append((frame, ms, "frame0", [rnd.randbytes(size)]))
            out.append((frame, ms, "frame0", [rnd.randbytes(30), rnd.randbytes(5)]))
            out.append((frame, ms, "per-frame", [rnd.randbytes(rnd.randrange(1, 60)) for _ in range(m)]))
            out.append((frame, ms, "per-frame", [bytes(12)] * m))
    return out


CASES = _cases()


@pytest.mark.parametrize("frame,ms,placement,payloads", CASES[::7])
def test_round_trip(frame, ms, placement, payloads):
    pk = build_carrier(ms, payloads, ID, frame=frame, placement=placement)
    p = parse_packet(pk)
    assert p.code == 3 and p.duration_ms == ms
    assert all(f == SILENT_FRAMES[frame].data for f in p.frames)
    got = carrier_payloads(pk, ID)
    want = [(0 if placement == "frame0" else i, bytes(x)) for i, x in enumerate(payloads)]
    assert sorted(got) == sorted(want)


def test_config_choice():
    assert carrier_config(120, "celtlost") == (23, 6)      # CELT WB 20 ms x 6
    assert carrier_config(120, "silk0") == (11, 2)         # SILK WB 60 ms x 2
    assert carrier_config(100, "silk0") == (9, 5)          # 100 ms: 5 x 20 ms
    with pytest.raises(PacketError):
        carrier_config(25, "celtlost")
    with pytest.raises(PacketError):
        carrier_config(140, "silk0")


def test_overhead_bytes():
    # TOC + count + 1 padding-length byte + 1 extension header, zero-length frames
    assert carrier_overhead(120, 40, frame="celtlost") == 4
    # a 255-byte area needs a second padding-length byte (RFC 6716 s3.2.5: 255 = 254 + more)
    assert carrier_overhead(120, 253, frame="celtlost") == 4
    assert carrier_overhead(120, 254, frame="celtlost") == 5
    # 2-byte silent frames: 2 bytes each
    assert carrier_overhead(120, 40, frame="celt") == 4 + 12
    # per-frame placement with Repeat These Extensions costs one length byte per extra frame
    rte = carrier_overhead(120, 60, frame="celtlost", n_payloads=6, placement="per-frame")
    assert 4 + 5 <= rte <= 4 + 5 + 2


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    lib = LIBOPUS / "lib" / "libopus.a"
    inc = LIBOPUS / "include" / "opus"
    cc = shutil.which("cc")
    if not (lib.exists() and inc.exists()):
        pytest.skip(f"libopus static build not found at {LIBOPUS} (set MLCODEC_LIBOPUS_PREFIX)")
    if not cc:
        pytest.skip("no C compiler (cc) to build tests/c/carrier_check.c")
    exe = tmp_path_factory.mktemp("carrier") / "carrier_check"
    subprocess.run([cc, "-O1", f"-I{inc}", "-o", str(exe), str(HARNESS), str(lib), "-lm"], check=True)
    return exe


def test_libopus_agrees(harness, tmp_path):
    packets = [build_carrier(ms, pl, ID, frame=fr, placement=pc) for fr, ms, pc, pl in CASES]
    rec = tmp_path / "p.rec"
    rec.write_bytes(b"".join(len(p).to_bytes(4, "big") + p for p in packets))
    out = subprocess.run([str(harness), str(rec)], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert len(lines) == len(packets)
    for (fr, ms, pc, pl), pk, line in zip(CASES, packets, lines):
        head, dec, exts = line.split("|")
        nb, *sizes = head.split()
        mine = parse_packet(pk)
        assert int(nb) == mine.frame_count, line
        assert [int(s) for s in sizes[0].split(",")] == list(mine.frame_lengths), line
        n, peak = map(int, dec.split())
        assert n == ms * 48, line                          # the decoder agrees on the duration
        if fr in ("celt", "celtlost"):
            assert peak == 0, line                          # exact digital silence
        else:
            assert peak <= 33, line                         # <= -60 dBFS
        theirs = sorted((int(f), int(i), bytes.fromhex(h)) for f, i, h in
                        (t.split(":") for t in exts.split()))
        assert theirs == sorted((f, ID, d) for f, d in carrier_payloads(pk, ID)), line


def test_ogg_framing_price_matches_the_model():
    """docs/format-v2-research.md s3: an Ogg file of 120 ms carriers costs headers + (4 B carrier
    + 1 lacing) per packet + a 27-byte header per page, nothing else."""
    import io

    from mlcodec.containers.oggopus import OggOpusWriter
    rnd = random.Random(3)
    sizes = [rnd.randrange(10, 200) for _ in range(100)]          # 12 s of 120 ms packets
    buf = io.BytesIO()
    w = OggOpusWriter(buf, serial=1, output_gain=-32768, max_page_samples=2400 * 48,
                      page_bytes=1 << 20, tags={"MLCODEC_FORMAT": "2"})
    heads = buf.tell()
    for s in sizes:
        w.write_packet(build_carrier(120, [rnd.randbytes(s)], ID, frame="celtlost"))
    w.close()
    pages = -(-100 // 20)
    assert buf.tell() - heads == sum(sizes) + 100 * (4 + 1) + pages * 27
