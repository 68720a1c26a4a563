"""The Ogg walker of the bulk scanner (numba): pages -> packet rows (RFC 3533, RFC 7845).

* :func:`_ogg_walk` - Ogg pages (RFC 3533, specs 04 s1): capture, version, flags, CRC
  (table-driven, the spec's MSB-first CRC-32), lacing -> packet boundaries, packets continued
  across pages (copied into a side buffer), BOS/EOS/sequence/continued-flag checks.
* :func:`_ogg_audio` - the audio packets with their RFC 7845 s4 end granules (specs 04 s5).
* :func:`scan_ogg` - both, plus the OpusHead/OpusTags checks in Python with the container
  layer's own parsers. Container errors carry the codes of :mod:`mlcodec.containers.reasons`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from mlcodec.containers.oggopus import HEAD_MAGIC, OpusHead, OpusTags
from mlcodec.containers.reasons import (
    C_AFTER_EOS, C_CAPTURE, C_CONT, C_CRC, C_END_INSIDE, C_EOS_INSIDE, C_FLAGS, C_HEAD_ALONE,
    C_HEAD_GRANULE, C_NO_BOS, C_NO_OPUS, C_SECOND_BOS, C_SEQ, C_TAGS_SHARED, C_TOOBIG, C_TRUNC_BODY,
    C_TRUNC_HDR, C_TRUNC_SEG, C_VERSION, G_FIRST, G_PRESKIP, OGG_MAX_PACKET, container_error)
from mlcodec.errors import ContainerError

from .kernels import SPF48 as _SPF48, grow as _grow, grow1 as _grow1
from .report import StreamReport
from .table import PacketTable, finish

#: Ogg page fixed header (specs 04 s1) and reassembly limit (same as containers/ogg.py).
_OGG_HEADER = 27
_OGG_MAX_PACKET = OGG_MAX_PACKET

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

# Bits of the per-packet flags column of the Ogg walk.
_F_PAGE = 0x07          # the page's header flags (continued, BOS, EOS)
_F_LAST = 0x08          # last packet completed on its page
_F_FIRST = 0x10         # first packet completed on its page
_F_PENDING = 0x20       # the page ends inside a further packet of the same stream


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



def scan_ogg(arr: np.ndarray, file, check_crc: bool) -> PacketTable:
    """The PacketTable of a whole Ogg Opus input."""
    cp, nc, side, nside, slots, nslots, err, ea = _ogg_walk(arr, _CRC, check_crc)
    side = side[:nside]
    cp = cp[:nc]
    slots = slots[:nslots]
    cerr = container_error(err, *(int(x) for x in ea[1:]), file=file, offset=int(ea[0])) if err else None
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
                raise container_error(C_HEAD_ALONE, file=file, offset=off)
            if int(cp[first, 5]) != 0:
                raise container_error(C_HEAD_GRANULE, int(cp[first, 5]), file=file, offset=off)
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
                raise container_error(C_TAGS_SHARED, file=file, offset=off2)
        except ContainerError as exc:
            events.append((second, exc))
            continue
        audio_from[s] = second + 1
        pre_skip[s] = head.pre_skip
        nstreams[s] = head.stream_count
        infos[s] = (second, StreamReport(int(slots[s, 0]), s, int(cp[first, 2]), head.as_dict(),
                                         tags.as_dict()))
    if events:
        k, exc = min(events, key=lambda e: e[0])
        # the header packet is the first completed on its page: that page delivers nothing
        limit = k
        herr = exc
    nr, gerr, gcp, goff, ga, gb = _ogg_audio(arr, side, cp, slots, audio_from, pre_skip, nstreams, limit)
    if gerr:
        limit = gcp + 1
        herr = container_error(int(gerr), int(ga), int(gb), file=file, offset=int(goff))
    if herr is not None:
        cerr = herr
    seen = [info for s, (k, info) in sorted(infos.items()) if k < limit]
    if cerr is None and not seen:
        cerr = container_error(C_NO_OPUS, file=file, offset=0)
    return finish("ogg", arr, side, cp, nr, False, tuple(seen), cerr, file)
