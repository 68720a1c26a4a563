"""Bulk packet scanner: Ogg Opus / opus_demo ``.bit`` -> one table of numpy arrays (numba).

The fast path of ``inspect-extensions --summary``. Its reference twin is the pure-Python
library path (``mlcodec.inspect``: containers + :func:`parse_packet` + :func:`parse_extensions`);
``tests/test_fastscan.py`` checks that both give the same packets, verdicts, error offsets and
extensions on every vector stream, packet and extension area, and on mutated inputs.

Four numba kernels do the work, each a flat loop over the whole input:

* :func:`_ogg_walk` - Ogg pages (RFC 3533, specs 04 s1): capture, version, flags, CRC
  (table-driven, the spec's MSB-first CRC-32), lacing -> packet boundaries, packets continued
  across pages (copied into a side buffer), BOS/EOS/sequence/continued-flag checks.
* :func:`_ogg_audio` - the audio packets with their RFC 7845 s4 end granules (specs 04 s5).
* :func:`_bit_walk` - opus_demo records (4-byte big-endian length, final range, payload).
* :func:`_parse_rows` / :func:`_parse_chunk` - RFC 6716 s3 framing (TOC, codes 0-3, CBR/VBR
  lengths, padding, R1-R7, Appendix B self-delimited framing for multistream packets, specs
  01 s4.2) and the extension area walk (specs 02 s3, s5, s9: IDs, separators, RTE, lacing lengths).

Hot loops hold no array reassignments and call only ``_nrt=False`` helpers: numba's reference
counting on array variables cost more than the parsing itself (tables grow between chunks).

Malformed packets get an error code per row (never an exception); a broken container stops
the scan and is returned as ``PacketTable.container_error`` (a :class:`ContainerError` with
the offset) together with every packet before it - the same packets the reference yields.
"""
from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import ContainerError, MlcodecError

__all__ = [
    "PacketTable",
    "scan",
    "scan_packets",
    "summary",
    "fast_summary",
    "error_message",
    "ERROR_REASONS",
]

# ---------------------------------------------------------------------------------------------
# Constants

#: Ogg page fixed header (specs 04 s1) and reassembly limit (same as containers/ogg.py).
_OGG_HEADER = 27
_OGG_MAX_PACKET = 16 * 1024 * 1024
#: opus_demo record header and largest accepted packet (same as containers/opusdemo.py).
_BIT_HEADER = 8
_BIT_MAX_PACKET = 1 << 20
#: RFC 6716 s3.2.1: largest frame (R2); 120 ms at 48 kHz (R5).
_MAX_FRAME = 1275
_MAX_SAMPLES = 5760


def _crc_table() -> np.ndarray:
    """specs 04 s1: T[i] = i << 24 shifted 8 times through polynomial 0x04C11DB7; rows 1..7
    extend it to "byte i followed by k zero bytes" for the slicing-by-8 update."""
    t = np.empty((8, 256), np.uint32)
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        t[0, i] = r & 0xFFFFFFFF
    for k in range(1, 8):
        for i in range(256):
            v = int(t[k - 1, i])
            t[k, i] = ((v << 8) & 0xFFFFFFFF) ^ int(t[0, v >> 24])
    return t


_CRC = _crc_table()
#: Samples per frame at 48 kHz per TOC configuration (RFC 6716 s3.1, specs 01 s2.1).
_SPF48 = np.array([480, 960, 1920, 2880] * 3 + [480, 960] * 2 + [120, 240, 480, 960] * 4, np.int64)

# Per-packet error codes (column ``error``). 1..31: packet framing (RFC 6716 s3, R1-R7,
# Appendix B); 32..47: extension area (specs 02 s3.1); 48..: container-level packet problems.
# MS_FLAG is or-ed onto a framing code met while splitting a multistream packet.
OK = 0
P_EMPTY, P_CODE0_R2, P_CODE1_ODD, P_CODE2_NOLEN, P_CODE2_LEN2, P_CODE2_OVER = 1, 2, 3, 4, 5, 6
P_CODE3_NOCOUNT, P_CODE3_ZERO, P_CODE3_120MS, P_PAD_RUN, P_PAD_EXCEED = 7, 8, 9, 10, 11
P_VBR_MISSING, P_VBR_LEN2, P_VBR_OVER, P_VBR_OVERRUN, P_CBR_SPLIT = 12, 13, 14, 15, 16
P_SD_MISSING, P_SD_LEN2, P_SD_OVER, P_SD_CBR_OVER, P_SD_LAST_OVER, P_LAST_R2 = 17, 18, 19, 20, 21, 22
X_LONG_LEN, X_LONG_PAYLOAD, X_SHORT_MISSING, X_SEP_MISSING, X_SEP_RANGE = 32, 33, 34, 35, 36
X_RTE_SHORT, X_RTE_TRAILING, X_RTE_LEN, X_RTE_PAYLOAD = 37, 38, 39, 40
MS_NO_BYTES, MS_DURATION, ZERO_BYTE = 48, 49, 50
MS_FLAG = 64

#: One-line reason per error code (the reference's messages carry more numbers).
ERROR_REASONS = {
    P_EMPTY: "empty packet: no TOC byte (R1)",
    P_CODE0_R2: "code 0 frame exceeds 1275 bytes (R2)",
    P_CODE1_ODD: "code 1 payload cannot split into two equal frames (R3)",
    P_CODE2_NOLEN: "code 2 packet has no first-frame length (R4)",
    P_CODE2_LEN2: "code 2 packet: first-frame length needs a second byte (R4)",
    P_CODE2_OVER: "code 2 first frame exceeds the bytes left (R4)",
    P_CODE3_NOCOUNT: "code 3 packet has no frame-count byte (R6)",
    P_CODE3_ZERO: "code 3 frame count is 0 (R5)",
    P_CODE3_120MS: "code 3 packet exceeds 120 ms (R5)",
    P_PAD_RUN: "padding length runs past the end of the packet",
    P_PAD_EXCEED: "padding bytes exceed the packet (R6/R7)",
    P_VBR_MISSING: "VBR frame length is missing (R7)",
    P_VBR_LEN2: "VBR frame length needs a second byte (R7)",
    P_VBR_OVER: "VBR frame exceeds the bytes left (R7)",
    P_VBR_OVERRUN: "VBR frames overrun the packet (R7)",
    P_CBR_SPLIT: "CBR code 3 payload does not split into equal frames (R6)",
    P_SD_MISSING: "self-delimited length is missing",
    P_SD_LEN2: "self-delimited length needs a second byte",
    P_SD_OVER: "self-delimited frame length exceeds the bytes left",
    P_SD_CBR_OVER: "self-delimited CBR frames exceed the bytes left",
    P_SD_LAST_OVER: "self-delimited last frame exceeds the bytes left",
    P_LAST_R2: "last frame exceeds 1275 bytes (R2)",
    X_LONG_LEN: "long extension length field runs past the end of the area",
    X_LONG_PAYLOAD: "long extension payload runs past the end of the area",
    X_SHORT_MISSING: "short extension is missing its payload byte",
    X_SEP_MISSING: "frame separator is missing its increment byte",
    X_SEP_RANGE: "frame separator moves past the last frame",
    X_RTE_SHORT: "repeated short extension is missing its payload byte",
    X_RTE_TRAILING: "repeat: no room for the trailing short payload bytes",
    X_RTE_LEN: "repeated long extension length field runs past the end",
    X_RTE_PAYLOAD: "repeated long extension payload runs past the end",
    MS_NO_BYTES: "no bytes left for a stream",
    MS_DURATION: "streams differ in duration",
    ZERO_BYTE: "zero-byte packet",
}


def error_kind(code: int) -> str:
    """Which layer an error code belongs to: 'packet', 'extensions' or 'multistream packet'."""
    if code & MS_FLAG or code in (MS_NO_BYTES, MS_DURATION):
        return "multistream packet"
    if 32 <= code < 48:
        return "extensions"
    return "packet"


# Container error codes of the kernels (messages built in Python, identical to the reference).
C_OK, C_TRUNC_HDR, C_CAPTURE, C_VERSION, C_FLAGS, C_TRUNC_SEG, C_TRUNC_BODY, C_CRC = 0, 1, 2, 3, 4, 5, 6, 7
C_NO_BOS, C_SECOND_BOS, C_AFTER_EOS, C_SEQ, C_CONT, C_TOOBIG, C_EOS_INSIDE, C_END_INSIDE = \
    8, 9, 10, 11, 12, 13, 14, 15
C_BIT_TRUNC_HDR, C_BIT_TOOBIG, C_BIT_TRUNC = 16, 17, 18
G_FIRST, G_PRESKIP = 19, 20

# Bits of the per-packet flags column of the Ogg walk.
_F_PAGE = 0x07          # the page's header flags (continued, BOS, EOS)
_F_LAST = 0x08          # last packet completed on its page
_F_FIRST = 0x10         # first packet completed on its page
_F_PENDING = 0x20       # the page ends inside a further packet of the same stream

# ---------------------------------------------------------------------------------------------
# Kernels


@njit(cache=True)
def _grow(a, need):
    """``a`` (2-D) with room for ``need`` rows (doubling)."""
    if need <= a.shape[0]:
        return a
    b = np.empty((max(need, 2 * a.shape[0]), a.shape[1]), a.dtype)
    b[:a.shape[0]] = a
    return b


@njit(cache=True)
def _grow1(a, need):
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    b[:a.shape[0]] = a
    return b


@njit(cache=True, _nrt=False)
def _u32le(b, p):
    return (np.int64(b[p]) | (np.int64(b[p + 1]) << 8) | (np.int64(b[p + 2]) << 16)
            | (np.int64(b[p + 3]) << 24))


@njit(cache=True, _nrt=False)
def _crc_update(c, buf, start, stop, t):
    """The Ogg CRC (MSB-first, specs 04 s1) of buf[start:stop] continued from ``c``: eight
    bytes per step with the slicing tables, then byte by byte."""
    i = start
    while i + 8 <= stop:
        x = c ^ ((np.int64(buf[i]) << 24) | (np.int64(buf[i + 1]) << 16) |
                 (np.int64(buf[i + 2]) << 8) | np.int64(buf[i + 3]))
        c = (np.int64(t[7, x >> 24]) ^ np.int64(t[6, (x >> 16) & 0xFF]) ^
             np.int64(t[5, (x >> 8) & 0xFF]) ^ np.int64(t[4, x & 0xFF]) ^
             np.int64(t[3, buf[i + 4]]) ^ np.int64(t[2, buf[i + 5]]) ^
             np.int64(t[1, buf[i + 6]]) ^ np.int64(t[0, buf[i + 7]]))
        i += 8
    while i < stop:
        c = ((c << 8) & 0xFFFFFFFF) ^ np.int64(t[0, ((c >> 24) & 0xFF) ^ buf[i]])
        i += 1
    return c


@njit(cache=True, _nrt=False)
def _ogg_count(buf):
    """Packets the pages would complete (lacing values < 255), following page lengths only
    until the structure breaks: sizes the packet table in one allocation."""
    n = buf.shape[0]
    pos = 0
    count = 0
    while pos + _OGG_HEADER <= n:
        nseg = np.int64(buf[pos + 26])
        if pos + _OGG_HEADER + nseg > n:
            break
        body = np.int64(0)
        for i in range(pos + _OGG_HEADER, pos + _OGG_HEADER + nseg):
            v = buf[i]
            body += v
            if v < 255:
                count += 1
        pos += _OGG_HEADER + nseg + body
    return count


@njit(cache=True, _nrt=False)
def _join(side, q, buf, pieces, k, tail, tail_len):
    """Copy a continued packet's pieces (linked list from ``k``) and its tail to side[q:]."""
    while k >= 0:
        p = pieces[k, 0]
        for j in range(pieces[k, 1]):
            side[q + j] = buf[p + j]
        q += pieces[k, 1]
        k = pieces[k, 2]
    for j in range(tail_len):
        side[q + j] = buf[tail + j]


@njit(cache=True)
def _ogg_walk(buf, table, check_crc):
    """Pages -> completed packets (RFC 3533; the checks of containers/ogg.py, in its order).

    Returns (cp, nc, side, nside, slots, nslots, err, eargs). ``cp`` rows: virtual position
    (>= len(buf): in ``side``), length, input offset, stream slot, page index, page granule,
    flags (_F_*). ``slots`` rows: serial, first packet, second packet. ``err``: C_* code with
    ``eargs`` = (offset, a, b, c) for the message.
    """
    n = buf.shape[0]
    cp = np.empty((_ogg_count(buf) + 1, 8), np.int64)  # 8th column: room for _ogg_audio
    nc = 0
    side = np.empty(0, np.uint8)
    nside = 0
    # per stream slot: serial, first cp, second cp, sequence, eos, pending start offset,
    # pending length, first piece, last piece, pieces
    slots = np.empty((4, 10), np.int64)
    nslots = 0
    pieces = np.empty((64, 3), np.int64)  # pos, len, next
    npieces = 0
    eargs = np.zeros(4, np.int64)
    err = 0
    pos = 0
    page = -1
    last_slot = -1
    while True:
        left = n - pos
        if left == 0:
            break
        eargs[0] = pos
        if left < _OGG_HEADER:
            err = C_TRUNC_HDR
            eargs[1] = left
            break
        if buf[pos] != 79 or buf[pos + 1] != 103 or buf[pos + 2] != 103 or buf[pos + 3] != 83:
            err = C_CAPTURE
            break
        if buf[pos + 4] != 0:
            err = C_VERSION
            eargs[1] = buf[pos + 4]
            break
        flags = np.int64(buf[pos + 5])
        if flags & ~7:
            err = C_FLAGS
            eargs[1] = flags
            break
        granule = _u32le(buf, pos + 6) | (_u32le(buf, pos + 10) << 32)  # wraps to signed int64
        serial = _u32le(buf, pos + 14)
        seq = _u32le(buf, pos + 18)
        crc = _u32le(buf, pos + 22)
        nseg = np.int64(buf[pos + 26])
        if left < _OGG_HEADER + nseg:
            err = C_TRUNC_SEG
            break
        body_len = np.int64(0)
        for i in range(pos + _OGG_HEADER, pos + _OGG_HEADER + nseg):
            body_len += buf[i]
        total = _OGG_HEADER + nseg + body_len
        if left < total:
            err = C_TRUNC_BODY
            eargs[1] = body_len
            eargs[2] = left - _OGG_HEADER - nseg
            break
        if check_crc:
            c = _crc_update(np.int64(0), buf, pos, pos + 22, table)
            for i in range(4):  # the CRC field itself counts as zeros
                c = ((c << 8) & 0xFFFFFFFF) ^ np.int64(table[0, (c >> 24) & 0xFF])
            c = _crc_update(c, buf, pos + 26, pos + total, table)
            if c != crc:
                err = C_CRC
                eargs[1] = crc
                eargs[2] = c
                break
        page += 1
        # -- logical stream checks (containers/ogg.py iter_page_packets)
        s = -1
        if last_slot >= 0 and slots[last_slot, 0] == serial:
            s = last_slot
        else:
            for k in range(nslots):
                if slots[k, 0] == serial:
                    s = k
                    break
        eargs[1] = serial
        if s < 0:
            if not flags & 2:
                err = C_NO_BOS
                break
            if nslots + 1 > slots.shape[0]:
                slots = _grow(slots, nslots + 1)
            s = nslots
            nslots += 1
            slots[s, 0] = serial
            slots[s, 1] = -1
            slots[s, 2] = -1
            slots[s, 3] = -1
            slots[s, 4] = 0
            slots[s, 5] = -1
            slots[s, 6] = 0
            slots[s, 7] = -1
            slots[s, 8] = -1
            slots[s, 9] = 0
        else:
            if flags & 2:
                err = C_SECOND_BOS
                break
            if slots[s, 4]:
                err = C_AFTER_EOS
                break
            if seq != ((slots[s, 3] + 1) & 0xFFFFFFFF):
                err = C_SEQ
                eargs[2] = slots[s, 3]
                eargs[3] = seq
                break
        last_slot = s
        slots[s, 3] = seq
        pending = slots[s, 9] > 0
        if (flags & 1 != 0) != pending:
            err = C_CONT
            eargs[2] = 1 if pending else 0
            break
        # -- lacing -> packet boundaries
        base = pos + _OGG_HEADER + nseg
        nc0 = nc
        a = np.int64(0)
        acc = np.int64(0)
        if nc + nseg > cp.shape[0]:  # grown here, not per packet: keeps the loop refcount-free
            cp = _grow(cp, nc + nseg)
        for i in range(nseg):
            v = np.int64(buf[pos + _OGG_HEADER + i])
            acc += v
            if v < 255:
                if slots[s, 9] > 0:
                    # a packet continued from earlier pages: join its pieces in the side buffer
                    plen = slots[s, 6] + (acc - a)
                    if nside + plen > side.shape[0]:
                        side = _grow1(side, nside + plen)
                    _join(side, nside, buf, pieces, slots[s, 7], base + a, acc - a)
                    cp[nc, 0] = n + nside
                    cp[nc, 1] = plen
                    cp[nc, 2] = slots[s, 5]
                    nside += plen
                    slots[s, 6] = 0
                    slots[s, 7] = -1
                    slots[s, 8] = -1
                    slots[s, 9] = 0
                    npieces = 0 if nslots == 1 else npieces
                else:
                    cp[nc, 0] = base + a
                    cp[nc, 1] = acc - a
                    cp[nc, 2] = base + a
                cp[nc, 3] = s
                cp[nc, 4] = page
                cp[nc, 5] = granule
                cp[nc, 6] = flags
                if slots[s, 1] < 0:
                    slots[s, 1] = nc
                elif slots[s, 2] < 0:
                    slots[s, 2] = nc
                nc += 1
                a = acc
        pend_flag = 0
        if nseg > 0 and buf[pos + _OGG_HEADER + nseg - 1] == 255:
            if slots[s, 9] == 0:
                slots[s, 5] = base + a
            if npieces + 1 > pieces.shape[0]:
                pieces = _grow(pieces, npieces + 1)
            pieces[npieces, 0] = base + a
            pieces[npieces, 1] = body_len - a
            pieces[npieces, 2] = -1
            if slots[s, 8] >= 0:
                pieces[slots[s, 8], 2] = npieces
            else:
                slots[s, 7] = npieces
            slots[s, 8] = npieces
            npieces += 1
            slots[s, 9] += 1
            slots[s, 6] += body_len - a
            pend_flag = _F_PENDING
            if slots[s, 6] > _OGG_MAX_PACKET:
                err = C_TOOBIG
                eargs[0] = slots[s, 5]
                nc = nc0  # the page's packets are not delivered
                for k in range(nslots):
                    if slots[k, 1] >= nc:
                        slots[k, 1] = -1
                    if slots[k, 2] >= nc:
                        slots[k, 2] = -1
                break
        if nc > nc0:
            cp[nc0, 6] |= _F_FIRST
            cp[nc - 1, 6] |= _F_LAST
            for k in range(nc0, nc):
                cp[k, 6] |= pend_flag
        pos += total
        if flags & 4:
            slots[s, 4] = 1
            if slots[s, 9] > 0:
                err = C_EOS_INSIDE
                eargs[0] = slots[s, 5]
                break
    if err == 0:
        for k in range(nslots):
            if slots[k, 9] > 0:
                err = C_END_INSIDE
                eargs[0] = slots[k, 5]
                eargs[1] = slots[k, 0]
                break
    return cp, nc, side, nside, slots, nslots, err, eargs


@njit(cache=True, _nrt=False)
def _byte_at(buf, side, nbuf, vpos):
    if vpos < nbuf:
        return buf[vpos]
    return side[vpos - nbuf]


@njit(cache=True)
def _ogg_audio(buf, side, cp, slots, audio_from, pre_skip, nstreams, limit):
    """The audio packets among the first ``limit`` Ogg packets, with their RFC 7845 s4 end
    granules (containers/oggopus.py ``_page_packets``, page by page).

    The rows are compacted in place into ``cp`` (its first n rows on return), with columns:
    virtual position, length, input offset, packet index in its stream, serial, end granule,
    final range (0), stream count. Returns (n, err, err_cp, err_offset, a, b): ``err``
    (G_*) is raised after the packets of its page, whose last packet is ``err_cp``.
    """
    nbuf = buf.shape[0]
    nslots = audio_from.shape[0]
    dur = np.empty(256, np.int64)  # a page completes at most 255 packets
    prev = np.zeros(nslots, np.int64)
    has_prev = np.zeros(nslots, np.bool_)
    count = np.zeros(nslots, np.int64)
    nr = 0
    i = 0
    while i < limit:
        s = cp[i, 3]
        j = i
        while j + 1 < limit and cp[j + 1, 4] == cp[i, 4]:
            j += 1
        if audio_from[s] < 0 or i < audio_from[s]:
            i = j + 1
            continue
        total = np.int64(0)
        for k in range(i, j + 1):
            ln = cp[k, 1]
            d = np.int64(0)
            if ln > 0:
                toc = np.int64(_byte_at(buf, side, nbuf, cp[k, 0]))
                c = toc & 3
                d = _SPF48[toc >> 3]
                if c == 1 or c == 2:
                    d *= 2
                elif c == 3:
                    if ln < 2:
                        d = 0
                    else:
                        d *= np.int64(_byte_at(buf, side, nbuf, cp[k, 0] + 1)) & 0x3F
            dur[k - i] = d
            total += d
        g = cp[i, 5]
        eos = (cp[i, 6] & 4) != 0
        err = 0
        ea = np.int64(0)
        eb = np.int64(0)
        pre = pre_skip[s]
        if (eos and has_prev[s] and g < prev[s] + total) or (not has_prev[s] and g < total):
            if not has_prev[s]:
                if not eos:
                    err = G_FIRST
                    ea = g
                    eb = total
                elif g < pre:
                    err = G_PRESKIP
                    ea = g
                    eb = pre
            acc = prev[s] if has_prev[s] else np.int64(0)
        else:
            acc = g - total
        eoff = cp[j, 2]
        for k in range(i, j + 1):
            acc += dur[k - i]
            p0 = cp[k, 0]
            p1 = cp[k, 1]
            p2 = cp[k, 2]
            cp[nr, 0] = p0  # nr <= k: compaction never overwrites a row not yet read
            cp[nr, 1] = p1
            cp[nr, 2] = p2
            cp[nr, 3] = count[s] + (k - i)
            cp[nr, 4] = slots[s, 0]
            cp[nr, 5] = acc
            cp[nr, 6] = 0
            cp[nr, 7] = nstreams[s]
            nr += 1
        count[s] += j + 1 - i
        prev[s] = g
        has_prev[s] = True
        if err:
            return nr, err, j, eoff, ea, eb
        i = j + 1
    return nr, 0, -1, np.int64(-1), np.int64(0), np.int64(0)


@njit(cache=True, _nrt=False)
def _bit_count(buf):
    """Whole opus_demo records before the first bad one (sizes the table in one allocation)."""
    n = buf.shape[0]
    pos = 0
    count = 0
    while pos + _BIT_HEADER <= n:
        ln = (np.int64(buf[pos]) << 24) | (np.int64(buf[pos + 1]) << 16) | \
            (np.int64(buf[pos + 2]) << 8) | np.int64(buf[pos + 3])
        if ln > _BIT_MAX_PACKET or pos + _BIT_HEADER + ln > n:
            break
        count += 1
        pos += _BIT_HEADER + ln
    return count


@njit(cache=True)
def _bit_walk(buf):
    """opus_demo records -> (rows, n, err, eargs); rows as in :func:`_ogg_audio`."""
    n = buf.shape[0]
    rows = np.empty((_bit_count(buf) + 1, 8), np.int64)
    nr = 0
    pos = 0
    err = 0
    eargs = np.zeros(4, np.int64)
    while True:
        left = n - pos
        if left == 0:
            break
        eargs[0] = pos
        if left < _BIT_HEADER:
            err = C_BIT_TRUNC_HDR
            eargs[1] = left
            break
        ln = (np.int64(buf[pos]) << 24) | (np.int64(buf[pos + 1]) << 16) | \
            (np.int64(buf[pos + 2]) << 8) | np.int64(buf[pos + 3])
        rng = (np.int64(buf[pos + 4]) << 24) | (np.int64(buf[pos + 5]) << 16) | \
            (np.int64(buf[pos + 6]) << 8) | np.int64(buf[pos + 7])
        if ln > _BIT_MAX_PACKET:
            err = C_BIT_TOOBIG
            eargs[1] = ln
            break
        if left - _BIT_HEADER < ln:
            err = C_BIT_TRUNC
            eargs[1] = left - _BIT_HEADER
            eargs[2] = ln
            break
        rows[nr, 0] = pos + _BIT_HEADER
        rows[nr, 1] = ln
        rows[nr, 2] = pos + _BIT_HEADER
        rows[nr, 3] = nr
        rows[nr, 4] = -1
        rows[nr, 5] = 0
        rows[nr, 6] = rng
        rows[nr, 7] = 1
        nr += 1
        pos += _BIT_HEADER + ln
    return rows, nr, err, eargs


@njit(cache=True, _nrt=False)
def _frame_length(src, p, rem):
    """One frame length at src[p] (RFC 6716 s3.2.1): (length, bytes used); 0 bytes used when
    the second byte it needs is missing (``rem`` >= 1 bytes remain)."""
    b0 = np.int64(src[p])
    if b0 < 252:
        return b0, 1
    if rem < 2:
        return 0, 0
    return b0 + 4 * np.int64(src[p + 1]), 2


@njit(cache=True, _nrt=False)
def _parse_one(src, start, end, sd, sizes):
    """RFC 6716 s3 framing of src[start:end] (libopus order of checks, specs 01 s4.2).

    Frame lengths go to ``sizes``. Returns (err, err_at, count, pad, pad_at, used) with
    absolute positions; ``used`` = bytes of the packet including padding.
    """
    n = end - start
    if n <= 0:
        return P_EMPTY, start, 0, 0, 0, 0
    tb = np.int64(src[start])
    code = tb & 3
    p = start + 1
    rem = n - 1
    pad = np.int64(0)
    cbr = False
    count = 1
    nsz = 0
    last = np.int64(0)
    if code == 0:
        if not sd:
            if rem > _MAX_FRAME:
                return P_CODE0_R2, p, 0, 0, 0, 0
            sizes[0] = rem
            return OK, 0, 1, 0, end, n
        last = rem
    elif code == 1:
        count = 2
        cbr = True
        if not sd:
            if rem & 1:
                return P_CODE1_ODD, start, 0, 0, 0, 0
            last = rem >> 1
            sizes[0] = last
            nsz = 1
        else:
            last = rem
    elif code == 2:
        count = 2
        if rem < 1:
            return P_CODE2_NOLEN, p, 0, 0, 0, 0
        sz, nb = _frame_length(src, p, rem)
        if nb == 0:
            return P_CODE2_LEN2, p, 0, 0, 0, 0
        rem -= nb
        if sz > rem:
            return P_CODE2_OVER, p, 0, 0, 0, 0
        p += nb
        sizes[0] = sz
        nsz = 1
        last = rem - sz
    else:
        if rem < 1:
            return P_CODE3_NOCOUNT, p, 0, 0, 0, 0
        ch = np.int64(src[p])
        cpos = p
        p += 1
        rem -= 1
        count = ch & 0x3F
        if count == 0:
            return P_CODE3_ZERO, cpos, 0, 0, 0, 0
        if _SPF48[tb >> 3] * count > _MAX_SAMPLES:
            return P_CODE3_120MS, cpos, 0, 0, 0, 0
        if ch & 0x40:
            while True:
                if rem <= 0:
                    return P_PAD_RUN, p, 0, 0, 0, 0
                b = np.int64(src[p])
                p += 1
                rem -= 1
                t = 254 if b == 255 else b
                rem -= t
                pad += t
                if b != 255:
                    break
        if rem < 0:
            return P_PAD_EXCEED, p, 0, 0, 0, 0
        if ch & 0x80:
            last = rem
            for i in range(count - 1):
                if rem < 1:
                    return P_VBR_MISSING, p, 0, 0, 0, 0
                sz, nb = _frame_length(src, p, rem)
                if nb == 0:
                    return P_VBR_LEN2, p, 0, 0, 0, 0
                rem -= nb
                if sz > rem:
                    return P_VBR_OVER, p, 0, 0, 0, 0
                p += nb
                last -= nb + sz
                sizes[i] = sz
            nsz = count - 1
            if last < 0:
                return P_VBR_OVERRUN, p, 0, 0, 0, 0
        else:
            cbr = True
            if not sd:
                last = rem // count
                if last * count != rem:
                    return P_CBR_SPLIT, p, 0, 0, 0, 0
                for i in range(count - 1):
                    sizes[i] = last
                nsz = count - 1
            else:
                last = rem
    if sd:
        # RFC 6716 Appendix B: one more length just before the first frame's data
        if rem < 1:
            return P_SD_MISSING, p, 0, 0, 0, 0
        sz, nb = _frame_length(src, p, rem)
        if nb == 0:
            return P_SD_LEN2, p, 0, 0, 0, 0
        rem -= nb
        if sz > rem:
            return P_SD_OVER, p, 0, 0, 0, 0
        if cbr:
            if sz * count > rem:
                return P_SD_CBR_OVER, p, 0, 0, 0, 0
            for i in range(count - 1):
                sizes[i] = sz
            nsz = count - 1
        elif nb + sz > last:
            return P_SD_LAST_OVER, p, 0, 0, 0, 0
        p += nb
        last = sz
    elif last > _MAX_FRAME:
        return P_LAST_R2, p, 0, 0, 0, 0
    q = p
    for i in range(nsz):
        q += sizes[i]
    sizes[nsz] = last
    q += last
    return OK, 0, count, pad, q, q - start + pad


@njit(cache=True, _nrt=False, inline="always")
def _ext_len(src, pos, end):
    """Lacing length of a long extension at src[pos] (specs 02 s3: bytes summed while 255).

    Returns (size, new_pos, status): status 0 = fits, 1 = the length runs past ``end``
    (new_pos = where the missing byte would be), 2 = the payload runs past ``end``
    (new_pos = first payload byte).
    """
    size = np.int64(0)
    while True:
        if pos >= end:
            return size, pos, 1
        lb = np.int64(src[pos])
        pos += 1
        size += lb
        if lb != 255:
            break
    if pos + size > end:
        return size, pos, 2
    return size, pos, 0


@njit(cache=True, _nrt=False, inline="always")
def _ext_put(xs, ne, row, frame, eid, vpos, ln):
    """Append one extension (row, frame, id, virtual position, length) at index ``ne`` of
    ``xs``; returns the new count, or -1 (nothing written) when ``xs`` is full."""
    xrow, xframe, xid, xpos, xlen = xs
    if ne >= xrow.shape[0]:
        return -1
    xrow[ne] = row
    xframe[ne] = frame
    xid[ne] = eid
    xpos[ne] = vpos
    xlen[ne] = ln
    return ne + 1


@njit(cache=True, _nrt=False)
def _region_entries(src, start, stop, last_long, ent):
    """Header bytes (and is-last-long flags) of the extensions an RTE repeats (specs 02 s5)."""
    ne = 0
    q = start
    while q < stop:
        rb = np.int64(src[q])
        q += 1
        rid = rb >> 1
        if rid >= 32:
            if rb & 1:
                size, q, _ = _ext_len(src, q, stop)  # walked before: always fits
                q += size
            else:
                q = stop
            ent[ne, 0] = rb
            ent[ne, 1] = 1 if q == last_long else 0
            ne += 1
        elif rid >= 3:
            q += rb & 1
            ent[ne, 0] = rb
            ent[ne, 1] = 0
            ne += 1
        elif rid == 1:
            q += rb & 1
    return ne


@njit(cache=True, _nrt=False)
def _ext_walk(src, a0, n, nb_frames, vbase, row, xs, ne, ent):
    """Extension area src[a0:a0+n] of a packet with ``nb_frames`` frames (specs 02 s9).

    Writes (row, frame, id, virtual payload position, length) to the arrays ``xs`` from
    index ``ne``.
    Returns (ne, err, err_at, need) with ``err_at`` relative to the area (like the reference).
    Allocation-free (no refcounting on the hot path): ``need`` = 1 when ``xs`` is full, 2
    when ``ent`` is too small; the caller grows it and calls again.
    """
    end = a0 + n
    pos = a0
    frame = 0
    region = a0
    last_long = -1
    trailing = 0
    while pos < end:
        hdr = pos
        b = np.int64(src[pos])
        pos += 1
        eid = b >> 1
        if eid >= 32:
            if b & 1:
                ln, pos, st = _ext_len(src, pos, end)
                if st:
                    return ne, X_LONG_LEN if st == 1 else X_LONG_PAYLOAD, pos - a0, 0
            else:
                ln = end - pos
            nxt = _ext_put(xs, ne, row, frame, eid, vbase + pos, ln)
            if nxt < 0:
                return ne, OK, 0, 1
            ne = nxt
            pos += ln
            last_long = pos
            trailing = 0
        elif eid >= 3:
            ln = b & 1
            if ln and pos >= end:
                return ne, X_SHORT_MISSING, pos - a0, 0
            nxt = _ext_put(xs, ne, row, frame, eid, vbase + pos, ln)
            if nxt < 0:
                return ne, OK, 0, 1
            ne = nxt
            pos += ln
            trailing += ln
        elif eid == 0:
            if not b & 1:
                return ne, OK, 0, 0
        elif eid == 1:
            if b & 1:
                if pos >= end:
                    return ne, X_SEP_MISSING, pos - a0, 0
                inc = np.int64(src[pos])
                pos += 1
                if inc == 0:
                    continue
            else:
                inc = 1
            frame += inc
            if frame >= nb_frames:
                return ne, X_SEP_RANGE, hdr - a0, 0
            region = pos
            last_long = -1
            trailing = 0
        else:  # ID 2: Repeat These Extensions (specs 02 s5)
            rte_l = b & 1
            if frame + 1 < nb_frames and region < hdr:
                if hdr - region > ent.shape[0]:
                    return ne, OK, 0, 2
                nent = _region_entries(src, region, hdr, last_long, ent)
                last_frame = nb_frames - 1
                for g in range(frame + 1, nb_frames):
                    for e in range(nent):
                        rb = ent[e, 0]
                        rid = rb >> 1
                        if rid < 32:
                            ln = rb & 1
                            if ln and pos >= end:
                                return ne, X_RTE_SHORT, pos - a0, 0
                        elif rte_l == 0 and g == last_frame and ent[e, 1]:
                            if end - pos < trailing:
                                return ne, X_RTE_TRAILING, pos - a0, 0
                            ln = end - trailing - pos
                        else:
                            ln, pos, st = _ext_len(src, pos, end)
                            if st:
                                return ne, X_RTE_LEN if st == 1 else X_RTE_PAYLOAD, pos - a0, 0
                        nxt = _ext_put(xs, ne, row, g, rid, vbase + pos, ln)
                        if nxt < 0:
                            return ne, OK, 0, 1
                        ne = nxt
                        pos += ln
            region = pos
            last_long = -1
            if rte_l == 0:
                frame += 1
                if frame >= nb_frames:
                    return ne, OK, 0, 0
    return ne, OK, 0, 0


@njit(cache=True)
def _parse_rows(data, rows, nin, sd_all):
    """Packets (and multistream sub-packets, RFC 7845 s3) -> per-row framing + extensions.

    ``data`` is the input followed by the side buffer (virtual positions index it). Input
    row i (columns as in :func:`_ogg_audio`) holds ``rows[i, 7]`` stream packets.
    Returns the table columns, the flattened frame lengths and the extension columns.
    A multistream packet that fails to split gives one error row (stream 0), like
    mlcodec.inspect. The work is done by :func:`_parse_chunk`, which stops when ``frames``
    or ``ext`` is full; growing them here keeps its loop free of reference counting.
    """
    nout = 0
    for i in range(nin):
        nout += rows[i, 7]
    # one output row per input row: the per-packet columns are the input's own (not copied)
    direct = nout == nin and not sd_all
    nd = 0 if direct else nout
    cols = (np.empty(nd, np.int64), np.empty(nout, np.int32), np.empty(nd, np.int64),
            np.empty(nd, np.int64), np.empty(nd, np.int64), np.empty(nd, np.int64),
            np.empty(nd, np.int64), np.empty(nd, np.int64), np.empty(nout, np.int16),
            np.empty(nout, np.int8), np.empty(nout, np.int32), np.empty(nout, np.int32),
            np.empty(nout, np.int32), np.empty(nout, np.int64), np.zeros(nout, np.int16),
            np.zeros(nout, np.int32), np.empty(nout, np.int64), np.zeros(nout, np.int32))
    frames = np.empty(max(64, 2 * nout), np.int32)
    cap = max(16, 2 * nout)
    xs = (np.empty(cap, np.int32), np.empty(cap, np.uint8), np.empty(cap, np.uint8),
          np.empty(cap, np.int64), np.empty(cap, np.int32))
    ent = np.empty((256, 2), np.int64)
    sizes = np.empty(64, np.int64)
    i = 0
    r = 0
    nf = 0
    ne = 0
    while True:
        i, r, nf, ne, need, extra = _parse_chunk(data, rows, i, nin, sd_all, direct, cols, frames, nf,
                                                 xs, ne, ent, sizes, r)
        if need == 0:
            break
        if need == 1:
            frames = _grow1(frames, nf + 64 * rows[i, 7])
        elif need == 2:
            cap = 2 * xs[0].shape[0]
            xs = (_grow1(xs[0], cap), _grow1(xs[1], cap), _grow1(xs[2], cap), _grow1(xs[3], cap),
                  _grow1(xs[4], cap))
        else:
            ent = np.empty((extra, 2), np.int64)
    (packet, stream, serial, offset, vpos, length, granule, frange, toc_c, code_c, fcount, fstart,
     padlen, padpos, error, erroff, xstart, xcount) = cols
    if direct:  # views of the input rows: the same values the kernel would have copied
        packet = rows[:r, 3]
        serial = rows[:r, 4]
        offset = rows[:r, 2]
        vpos = rows[:r, 0]
        length = rows[:r, 1]
        granule = rows[:r, 5]
        frange = rows[:r, 6]
    return ((packet[:r], stream[:r], serial[:r], offset[:r], vpos[:r], length[:r], granule[:r],
             frange[:r], toc_c[:r], code_c[:r], fcount[:r], fstart[:r], padlen[:r], padpos[:r],
             error[:r], erroff[:r], xstart[:r], xcount[:r]), frames[:nf],
            (xs[0][:ne], xs[1][:ne], xs[2][:ne], xs[3][:ne], xs[4][:ne]))


@njit(cache=True, _nrt=False)
def _parse_chunk(data, rows, i0, nin, sd_all, direct, cols, frames, nf, xs, ne, ent, sizes, r):
    """Rows i0.. of :func:`_parse_rows` until done or out of room; allocation-free.

    Returns (next input row, rows out, frames used, extensions used, need, extra): need 0 =
    done, 1 = ``frames`` full, 2 = ``xs`` full, 3 = ``ent`` needs ``extra`` entries; the
    input row that ran out is redone from scratch on the next call. With ``direct`` the
    columns equal to the input's (packet, serial, offset, position, length, granule, final
    range) are left unwritten.
    """
    (packet, stream, serial, offset, vpos, length, granule, frange, toc_c, code_c, fcount, fstart,
     padlen, padpos, error, erroff, xstart, xcount) = cols
    for i in range(i0, nin):
        vp = rows[i, 0]
        ln = rows[i, 1]
        start = vp
        end = start + ln
        ns = rows[i, 7]
        r0 = r
        nf0 = nf
        ne0 = ne
        pos = start
        err = 0
        err_at = 0
        samples0 = 0
        if ln == 0:
            err = ZERO_BYTE if ns == 1 else MS_NO_BYTES
        for s in range(ns):
            if err:
                break
            if pos >= end and ns > 1:
                err = MS_NO_BYTES
                err_at = pos - start
                break
            e, at, count, pad, pad_at, used = _parse_one(data, pos, end, (ns > 1 and s != ns - 1) or sd_all,
                                                         sizes)
            if e:
                err = e | (MS_FLAG if ns > 1 else 0)
                err_at = at - start
                break
            toc = np.int64(data[pos])
            smp = _SPF48[toc >> 3] * count
            if s == 0:
                samples0 = smp
            elif smp != samples0:
                err = MS_DURATION
                err_at = pos - start
                break
            if nf + count > frames.shape[0]:
                return i, r0, nf0, ne0, 1, 0
            for k in range(count):
                frames[nf + k] = sizes[k]
            stream[r] = s
            if not direct:
                vpos[r] = vp + (pos - start)
                offset[r] = rows[i, 2] + (pos - start)
                length[r] = used
            toc_c[r] = toc
            code_c[r] = toc & 3
            fcount[r] = count
            fstart[r] = nf
            padlen[r] = pad
            padpos[r] = vp + (pad_at - start)
            error[r] = 0
            erroff[r] = 0
            xcount[r] = 0
            nf += count
            r += 1
            pos += used
        if err:
            r = r0
            nf = nf0
            stream[r] = 0
            if not direct:
                vpos[r] = vp
                offset[r] = rows[i, 2]
                length[r] = ln
            toc_c[r] = np.int64(data[start]) if ln > 0 else -1
            code_c[r] = (np.int64(data[start]) & 3) if ln > 0 else -1
            fcount[r] = 0
            fstart[r] = nf
            padlen[r] = 0
            padpos[r] = vp
            error[r] = err
            erroff[r] = err_at
            xcount[r] = 0
            r += 1
        for rr in range(r0, r):
            if not direct:
                packet[rr] = rows[i, 3]
                serial[rr] = rows[i, 4]
                granule[rr] = rows[i, 5]
                frange[rr] = rows[i, 6]
            xstart[rr] = ne
            if padlen[rr] > 0:
                a0 = padpos[rr] - vp + start
                ne1, xe, xat, need = _ext_walk(data, a0, padlen[rr], fcount[rr], 0, rr, xs, ne, ent)
                if need == 1:
                    return i, r0, nf0, ne0, 2, 0
                if need == 2:
                    return i, r0, nf0, ne0, 3, 2 * padlen[rr]
                xcount[rr] = ne1 - ne
                ne = ne1
                if xe:
                    error[rr] = xe
                    erroff[rr] = xat
    return nin, r, nf, ne, 0, 0


@njit(cache=True)
def _summarize(xrow, xframe, xid, xlen, keep_ids):
    """Per-ID count/bytes/first index, per-frame counts and the number of rows with at least
    one extension, over the extensions whose ID has ``keep_ids[id]`` set."""
    cnt = np.zeros(128, np.int64)
    nbytes = np.zeros(128, np.int64)
    first = np.full(128, -1, np.int64)
    per_frame = np.zeros(64, np.int64)
    rows_with = 0
    last_row = -1
    for k in range(xrow.shape[0]):
        eid = xid[k]
        if not keep_ids[eid]:
            continue
        cnt[eid] += 1
        nbytes[eid] += xlen[k]
        if first[eid] < 0:
            first[eid] = k
        per_frame[xframe[k]] += 1
        if xrow[k] != last_row:
            rows_with += 1
            last_row = xrow[k]
    return cnt, nbytes, first, per_frame, rows_with


# ---------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class PacketTable:
    """All packets of an input, one row per Opus (stream) packet, as numpy arrays.

    ``pos`` is a virtual position: below ``len(buf)`` in the input, else in ``side`` (Ogg
    packets continued across pages, joined); ``offset`` is the input offset of the first byte.
    ``packet`` is the packet index of the logical stream / record, ``stream`` the stream
    inside a multistream packet. ``granule`` (Ogg: end granule, RFC 7845 s4) and
    ``final_range`` (.bit) are 0 where not applicable. ``toc``/``code`` are -1 for an empty
    packet. ``frame_count``, ``padding_len``, ``frames`` are 0/empty on a framing error.
    ``error`` (0 = fine, codes in :data:`ERROR_REASONS`) with ``error_offset`` counted from the
    packet's first byte (framing and extension errors alike). Extensions of row i are
    ``ext_*[ext_start[i]:ext_start[i] + ext_count[i]]`` (bitstream order; partial on error).
    ``container_error``: the broken-container error that ended the scan, or None.
    """

    fmt: str
    buf: np.ndarray
    side: np.ndarray
    packet: np.ndarray
    stream: np.ndarray
    serial: np.ndarray
    offset: np.ndarray
    pos: np.ndarray
    length: np.ndarray
    granule: np.ndarray
    final_range: np.ndarray
    toc: np.ndarray
    code: np.ndarray
    frame_count: np.ndarray
    frame_start: np.ndarray
    frames: np.ndarray
    padding_len: np.ndarray
    padding_pos: np.ndarray
    error: np.ndarray
    error_offset: np.ndarray
    ext_start: np.ndarray
    ext_count: np.ndarray
    ext_packet: np.ndarray
    ext_frame: np.ndarray
    ext_id: np.ndarray
    ext_offset: np.ndarray
    ext_length: np.ndarray
    streams: tuple = ()
    container_error: MlcodecError | None = None
    name: str | None = field(default=None)

    def __len__(self) -> int:
        return int(self.packet.shape[0])

    def _bytes(self, vpos: int, n: int) -> bytes:
        nb = self.buf.shape[0]
        if vpos < nb:
            return self.buf[vpos:vpos + n].tobytes()
        return self.side[vpos - nb:vpos - nb + n].tobytes()

    def packet_bytes(self, i: int) -> bytes:
        """The bytes of row ``i`` (for a multistream stream: that stream's packet)."""
        return self._bytes(int(self.pos[i]), int(self.length[i]))

    def frame_lengths(self, i: int) -> list[int]:
        a = int(self.frame_start[i])
        return self.frames[a:a + int(self.frame_count[i])].tolist()

    def ext_payload(self, k: int) -> bytes:
        """Payload bytes of flattened extension ``k``."""
        return self._bytes(int(self.ext_offset[k]), int(self.ext_length[k]))

    def extensions(self, i: int) -> list[tuple[int, int, bytes]]:
        """(frame, id, payload) of row ``i`` in bitstream order."""
        a = int(self.ext_start[i])
        return [(int(self.ext_frame[k]), int(self.ext_id[k]), self.ext_payload(k))
                for k in range(a, a + int(self.ext_count[i]))]


def _as_array(buf) -> np.ndarray:
    if isinstance(buf, np.ndarray):
        if buf.dtype != np.uint8 or buf.ndim != 1:
            raise ContainerError("scan() needs a 1-D uint8 array or bytes")
        return np.ascontiguousarray(buf)
    if isinstance(buf, (bytes, bytearray, memoryview)):
        return np.frombuffer(buf, np.uint8)
    raise ContainerError(f"scan() needs bytes or a uint8 array, not {type(buf).__name__}")


def _detect(arr: np.ndarray) -> str:
    """Format by content, with the same rules as ``open_input`` (containers/detect.py)."""
    from mlcodec.containers.detect import open_input

    with open_input(io.BytesIO(arr[:1 << 17].tobytes()) if arr.shape[0] > (1 << 17)
                    else io.BytesIO(arr.tobytes())) as inp:
        return inp.format


def scan(buf, fmt: str = "auto", *, file: str | None = None, check_crc: bool = True) -> PacketTable:
    """Scan a whole Ogg Opus (``"ogg"``) or opus_demo (``"bit"``) input into a PacketTable.

    ``fmt="auto"`` detects by content (like ``open_input``). Never raises on bad packets;
    a broken container ends the scan with ``container_error`` set. Raises ContainerError
    only for an unknown/unsupported format or unrecognisable input.
    """
    arr = _as_array(buf)
    if fmt == "auto":
        fmt = _detect(arr)
    if fmt == "ogg":
        return _scan_ogg(arr, file, check_crc)
    if fmt == "bit":
        return _scan_bit(arr, file)
    raise ContainerError(f"fast scan supports the ogg and bit formats, not {fmt!r}", file=file)


def scan_packets(packets, *, self_delimited: bool = False) -> PacketTable:
    """Scan a list of bare packets (one row each; ``offset`` = position in their concatenation)."""
    datas = [bytes(p) for p in packets]
    arr = np.frombuffer(b"".join(datas), np.uint8) if datas else np.zeros(0, np.uint8)
    n = len(datas)
    rows = np.zeros((n, 8), np.int64)
    lens = np.array([len(d) for d in datas], np.int64)
    if n > 1:
        rows[1:, 0] = np.cumsum(lens)[:-1]
    rows[:, 1] = lens
    rows[:, 2] = rows[:, 0]
    rows[:, 3] = np.arange(n)
    rows[:, 4] = -1
    rows[:, 7] = 1
    return _finish("packets", arr, np.zeros(0, np.uint8), rows, n, self_delimited, (), None, None)


def _finish(fmt, arr, side, rows, nin, sd, streams, cerr, name) -> PacketTable:
    data = arr if side.shape[0] == 0 else np.concatenate((arr, side))
    cols, frames, ext = _parse_rows(data, rows, nin, sd)
    (packet, stream, serial, offset, pos, length, granule, frange, toc, code, fcount, fstart,
     padlen, padpos, error, erroff, xstart, xcount) = cols
    # Extension errors are found inside the area; report them from the packet's first byte, as
    # mlcodec.inspect does (parse_extensions with base_offset = the padding offset).
    ext_err = (error >= 32) & (error < 48)
    if ext_err.any():
        erroff = erroff.copy()
        erroff[ext_err] += (padpos[ext_err] - pos[ext_err]).astype(erroff.dtype)
    return PacketTable(
        fmt=fmt, buf=arr, side=side, packet=packet, stream=stream, serial=serial, offset=offset,
        pos=pos, length=length, granule=granule, final_range=frange, toc=toc, code=code,
        frame_count=fcount, frame_start=fstart, frames=frames, padding_len=padlen,
        padding_pos=padpos, error=error, error_offset=erroff, ext_start=xstart, ext_count=xcount,
        ext_packet=ext[0], ext_frame=ext[1], ext_id=ext[2], ext_offset=ext[3], ext_length=ext[4],
        streams=streams, container_error=cerr, name=name)


def _scan_bit(arr: np.ndarray, file) -> PacketTable:
    rows, nr, err, ea = _bit_walk(arr)
    cerr = _container_error(err, ea, file) if err else None
    return _finish("bit", arr, np.zeros(0, np.uint8), rows, nr, False, (), cerr, file)


def _container_error(err: int, ea, file) -> ContainerError:
    """The reference's message for a container error code (containers/ogg.py, opusdemo.py)."""
    at, a, b, c = (int(x) for x in ea)
    msgs = {
        C_TRUNC_HDR: lambda: f"truncated Ogg page header ({a} of at least {_OGG_HEADER} bytes)",
        C_CAPTURE: lambda: "not an Ogg page (no 'OggS' capture pattern)",
        C_VERSION: lambda: f"unsupported Ogg stream structure version {a}",
        C_FLAGS: lambda: f"undefined Ogg page flags 0x{a:02x}",
        C_TRUNC_SEG: lambda: "truncated Ogg page (segment table cut short)",
        C_TRUNC_BODY: lambda: f"truncated Ogg page (body needs {a} bytes, {b} present)",
        C_CRC: lambda: f"bad Ogg page CRC (stored 0x{a:08x}, computed 0x{b:08x})",
        C_NO_BOS: lambda: f"page of unknown logical stream {a} without BOS flag",
        C_SECOND_BOS: lambda: f"second BOS page for logical stream {a}",
        C_AFTER_EOS: lambda: f"page after the end of logical stream {a}",
        C_SEQ: lambda: f"page sequence jumps from {b} to {c} in logical stream {a} (lost pages)",
        C_CONT: lambda: (("continued-packet flag set but no packet is pending" if b == 0 else
                          "a packet continues but the page lacks the continued flag")
                         + f" (logical stream {a})"),
        C_TOOBIG: lambda: f"Ogg packet larger than {_OGG_MAX_PACKET} bytes",
        C_EOS_INSIDE: lambda: f"logical stream {a} ends inside a packet",
        C_END_INSIDE: lambda: f"input ends inside a packet of logical stream {a} (truncated stream)",
        C_BIT_TRUNC_HDR: lambda: f"truncated opus_demo record header ({a} of 8 bytes)",
        C_BIT_TOOBIG: lambda: f"opus_demo record claims a {a}-byte packet (at most {_BIT_MAX_PACKET})",
        C_BIT_TRUNC: lambda: f"truncated opus_demo packet ({a} of {b} bytes)",
    }
    return ContainerError(msgs[err](), file=file, offset=at)


def _scan_ogg(arr: np.ndarray, file, check_crc: bool) -> PacketTable:
    from mlcodec.containers.oggopus import HEAD_MAGIC, OpusHead, OpusTags

    cp, nc, side, nside, slots, nslots, err, ea = _ogg_walk(arr, _CRC, check_crc)
    side = side[:nside]
    cp = cp[:nc]
    slots = slots[:nslots]
    cerr = _container_error(err, ea, file) if err else None
    nbuf = arr.shape[0]

    def data_of(k: int) -> bytes:
        p, n = int(cp[k, 0]), int(cp[k, 1])
        return arr[p:p + n].tobytes() if p < nbuf else side[p - nbuf:p - nbuf + n].tobytes()

    # -- Opus headers per logical stream (RFC 7845 s3, s5; containers/oggopus.py): few packets,
    #    checked in Python with the library's own OpusHead/OpusTags parsers.
    limit = nc
    herr = None
    audio_from = np.full(max(nslots, 1), -1, np.int64)
    pre_skip = np.zeros(max(nslots, 1), np.int64)
    nstreams = np.ones(max(nslots, 1), np.int64)
    infos = {}
    events = []
    for s in range(nslots):
        first, second = int(slots[s, 1]), int(slots[s, 2])
        if first < 0:
            continue
        d = data_of(first)
        if not d.startswith(HEAD_MAGIC):
            continue
        f = int(cp[first, 6])
        off = int(cp[first, 2])
        try:
            if not (f & 2) or not (f & _F_FIRST and f & _F_LAST) or f & _F_PENDING:
                raise ContainerError("OpusHead must be alone on the first page of its stream",
                                     file=file, offset=off)
            if int(cp[first, 5]) != 0:
                raise ContainerError(f"OpusHead page granule {int(cp[first, 5])}, must be 0",
                                     file=file, offset=off)
            head = OpusHead.parse(d, file=file, offset=off)
        except ContainerError as exc:
            events.append((first, exc))
            continue
        if second < 0:
            continue
        f2 = int(cp[second, 6])
        off2 = int(cp[second, 2])
        try:
            tags = OpusTags.parse(data_of(second), file=file, offset=off2)
            if not (f2 & _F_LAST) or f2 & _F_PENDING:
                raise ContainerError("audio data shares the page on which OpusTags ends "
                                     "(RFC 7845 §3 needs a page break)", file=file, offset=off2)
        except ContainerError as exc:
            events.append((second, exc))
            continue
        audio_from[s] = second + 1
        pre_skip[s] = head.pre_skip
        nstreams[s] = head.stream_count
        infos[s] = (second, {"serial": int(slots[s, 0]), "index": s, "offset": int(cp[first, 2]),
                             "head": head.as_dict(), "tags": tags.as_dict()})
    if events:
        k, exc = min(events, key=lambda e: e[0])
        # the header packet is the first completed on its page: that page delivers nothing
        limit = k
        herr = exc
    nr, gerr, gcp, goff, ga, gb = _ogg_audio(arr, side, cp, slots, audio_from, pre_skip, nstreams, limit)
    if gerr:
        limit = gcp + 1
        msg = (f"first audio page granule {ga} is smaller than the {gb} samples completed on it "
               f"(RFC 7845 §4)" if gerr == G_FIRST else
               f"first (and last) audio page granule {ga} is below the pre-skip {gb}")
        herr = ContainerError(msg, file=file, offset=int(goff))
    if herr is not None:
        cerr = herr
    seen = [info for s, (k, info) in sorted(infos.items()) if k < limit]
    if cerr is None and not seen:
        cerr = ContainerError("no Opus logical stream in this Ogg input (no OpusHead/OpusTags)",
                              file=file, offset=0)
    return _finish("ogg", arr, side, cp, nr, False, tuple(seen), cerr, file)


# ---------------------------------------------------------------------------------------------
# Messages, summary, CLI entry


def error_message(t: PacketTable, i: int) -> str | None:
    """A one-line error for row ``i`` ("packet: ... at byte N"), or None."""
    e = int(t.error[i])
    if not e:
        return None
    if e == ZERO_BYTE:
        return ("packet: empty (length 0: a lost packet)" if t.fmt == "bit" else
                "packet: zero-byte audio packet (RFC 7845 §3)")
    reason = ERROR_REASONS.get(e & ~MS_FLAG, "malformed")
    return f"{error_kind(e)}: {reason} at byte {int(t.error_offset[i])}"


def summary(t: PacketTable, ids=None) -> dict:
    """Counts per extension ID and per frame, as ``mlcodec.inspect.Summary.as_dict()``."""
    from mlcodec.bitstream.extensions import ID_DRED, ID_MLCODEC, extension_name
    from mlcodec.inspect import SCHEMA_VERSION

    keep = np.ones(128, np.bool_)
    if ids:
        keep[:] = False
        for i in ids:
            if 0 <= int(i) < 128:
                keep[int(i)] = True
    cnt, nbytes, first, per_frame, rows_with = _summarize(
        t.ext_packet, t.ext_frame, t.ext_id, t.ext_length, keep)
    by_id = []
    for u in np.flatnonzero(cnt).tolist():
        k = int(first[u])
        by_id.append({"id": u, "name": extension_name(u, t.ext_payload(k) if u in (ID_DRED, ID_MLCODEC) else b""),
                      "count": int(cnt[u]), "bytes": int(nbytes[u])})
    by_frame = [{"frame": f, "count": int(c)} for f, c in enumerate(per_frame.tolist()) if c]
    return {"summary": {
        "schema": SCHEMA_VERSION,
        "packets": len(t),
        "errors": int(np.count_nonzero(t.error)),
        "padding_bytes": int(t.padding_len.sum()),
        "packets_with_extensions": int(rows_with),
        "by_id": by_id,
        "by_frame": by_frame,
    }}


def fast_summary(source, *, fmt: str = "auto", ids=None, name: str | None = None
                 ) -> tuple[dict, MlcodecError | None]:
    """``inspect-extensions --summary`` without per-packet reports.

    ``source``: a path, ``"-"`` (stdin), bytes or a binary file object. Returns the
    summary dict (same as ``Summary.as_dict()`` over every report) and the container error
    that ended the input (print it after the summary, exit non-zero), or None. Raw framing
    and single packets go through the pure-Python path. Raises ContainerError for an
    unrecognisable input (as ``open_input`` does).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = name or "<input>"
    elif isinstance(source, (str, os.PathLike)):
        if str(source) == "-":
            data = sys.stdin.buffer.read()
            name = name or "<stdin>"
        else:
            try:
                with open(source, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise ContainerError(f"cannot read: {exc.strerror or exc}", file=str(source)) from None
            name = name or str(source)
    else:
        data = source.read()
        name = name or getattr(source, "name", None) or "<input>"
        if not isinstance(name, str):
            name = "<input>"
    from mlcodec.containers.detect import open_input

    with open_input(io.BytesIO(data), fmt, name=name) as inp:
        found = inp.format
        if found not in ("ogg", "bit"):
            from mlcodec.inspect import Summary, inspect_input

            summ = Summary()
            try:
                for rep in inspect_input(inp, ids=ids or None):
                    summ.add(rep)
            except MlcodecError as exc:
                return summ.as_dict(), exc
            return summ.as_dict(), None
    t = scan(np.frombuffer(data, np.uint8), found, file=name)
    return summary(t, ids), t.container_error
