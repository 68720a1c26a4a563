"""Batched packet parsing with numpy: the common Opus packet shapes, many at once.

:func:`parse_batch` reads a batch of packets in lock-step (RFC 6716 s3 framing; specs 02 s3
extension walk) and marks as ``ok`` only the packets it fully understood: codes 0, 1, 3 with a
single VBR frame or CBR frames, padding lengths of at most four bytes, and extension areas
of at most 16 plain short/long extensions on frame 0 (no separators, no repeats, no long
length of 255 or more). Every other packet, malformed ones included, is left to the reference
parser by the caller, so a packet's report is always the reference's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Samples per frame at 48 kHz per TOC configuration (RFC 6716 s3.1, specs 01 s2.1).
_SPF48 = np.array([480, 960, 1920, 2880] * 3 + [480, 960] * 2 + [120, 240, 480, 960] * 4, np.int64)
_MAX_FRAME = 1275        # R2
_MAX_SAMPLES = 5760      # R5: 120 ms at 48 kHz
_PAD_BYTES = 4           # padding-length bytes handled here (more: the reference)
_EXT_STEPS = 16          # extensions per packet handled here (more: the reference)


@dataclass
class Batch:
    """Columns of a parsed batch. Rows with ``ok`` False must go to the reference parser.
    Extensions (all on frame 0) are sorted by row, in bitstream order within a row; their
    ``xpos`` index ``joined``."""

    joined: bytes
    ok: np.ndarray
    toc: np.ndarray
    count: np.ndarray
    flen: np.ndarray
    pad: np.ndarray
    xrow: np.ndarray
    xid: np.ndarray
    xpos: np.ndarray
    xlen: np.ndarray


def parse_batch(datas: list[bytes]) -> Batch:
    n = len(datas)
    joined = b"".join(datas)
    lens = np.fromiter(map(len, datas), np.int64, n)
    ends = np.cumsum(lens)
    starts = ends - lens
    buf = np.frombuffer(joined + bytes(8), np.uint8)  # 8 spare bytes: reads past the end are harmless
    ok = lens > 0
    toc = buf[starts].astype(np.int64)
    code = toc & 3
    rem = lens - 1
    count = np.ones(n, np.int64)
    flen = rem.copy()
    pad = np.zeros(n, np.int64)
    c1 = code == 1  # two equal frames (R3)
    ok &= ~(c1 & ((rem & 1) == 1))
    count[c1] = 2
    flen[c1] = rem[c1] >> 1
    ok &= code != 2  # two VBR frames: the reference
    c3 = np.flatnonzero((code == 3) & ok)
    if c3.size:
        r = rem[c3] - 1  # after the frame-count byte (R6)
        good = r >= 0
        ch = buf[starts[c3] + 1].astype(np.int64)
        cnt = ch & 0x3F
        good &= (cnt > 0) & (_SPF48[toc[c3] >> 3] * cnt <= _MAX_SAMPLES)  # R5
        p = starts[c3] + 2
        pd = np.zeros(c3.size, np.int64)
        act = good & ((ch & 0x40) != 0)
        for _ in range(_PAD_BYTES):  # padding length bytes: 255 means 254 and one more (R6/R7)
            if not act.any():
                break
            good &= ~(act & (r <= 0))
            act &= good
            b = buf[p].astype(np.int64)
            t = np.where(b == 255, 254, b)
            p = np.where(act, p + 1, p)
            r = np.where(act, r - 1 - t, r)
            pd = np.where(act, pd + t, pd)
            act &= b == 255
        good &= ~act & (r >= 0)
        vbr = (ch & 0x80) != 0
        good &= ~(vbr & (cnt > 1))  # VBR lengths: the reference
        fl = np.where(vbr, r, r // np.maximum(cnt, 1))
        good &= vbr | (fl * cnt == r)  # CBR frames split evenly (R6)
        ok[c3] = good
        count[c3] = cnt
        flen[c3] = fl
        pad[c3] = pd
    ok &= flen <= _MAX_FRAME  # R2 on the (last) frame
    xs = _extensions(buf, ok, ends, pad)
    return Batch(joined, ok, toc, count, flen, pad, *xs)


def _extensions(buf, ok, ends, pad):
    """Walk the padding areas of the ok rows in lock-step (specs 02 s3); clears ``ok`` of
    rows this walk does not handle."""
    xr = np.flatnonzero(ok & (pad > 0))
    pos = ends[xr] - pad[xr]
    end = ends[xr]
    alive = np.arange(xr.size)
    parts = []
    for _ in range(_EXT_STEPS):
        if alive.size == 0:
            break
        ps = pos[alive]
        en = end[alive]
        fin = ps >= en
        b = buf[ps].astype(np.int64)
        eid = b >> 1
        lbit = b & 1
        is_long = eid >= 32
        is_short = (eid >= 3) & ~is_long
        is_zero = eid == 0
        bad = (eid == 1) | (eid == 2)  # separators and repeats: the reference
        coded = is_long & (lbit == 1)
        lb = buf[ps + 1].astype(np.int64)
        bad |= coded & ((ps + 1 >= en) | (lb == 255))
        size = np.where(coded, lb, np.where(is_long, en - ps - 1, lbit))
        payload = np.where(coded, ps + 2, ps + 1)
        data = is_long | is_short
        bad |= data & (payload + size > en)
        bad &= ~fin
        rec = data & ~bad & ~fin
        if rec.any():
            parts.append((xr[alive[rec]], eid[rec], payload[rec], size[rec]))
        pos[alive] = np.where(is_zero, ps + 1, payload + size)
        ok[xr[alive[bad]]] = False
        alive = alive[~(fin | bad | (is_zero & (lbit == 0)))]
    ok[xr[alive]] = False  # more extensions than handled here
    if not parts:
        e = np.zeros(0, np.int64)
        return e, e, e, e
    xrow, xid, xpos, xlen = (np.concatenate(c) for c in zip(*parts))
    order = np.argsort(xrow, kind="stable")
    xrow, xid, xpos, xlen = xrow[order], xid[order], xpos[order], xlen[order]
    keep = ok[xrow]
    return xrow[keep], xid[keep], xpos[keep], xlen[keep]
