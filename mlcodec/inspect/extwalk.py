"""numba kernel of the bulk scanner: the extension area walk of one packet (specs 02 s3, s5, s9:
IDs, frame separators, Repeat These Extensions, lacing lengths), allocation-free.

Error codes are those of :mod:`mlcodec.bitstream.reasons` (the reference parser's table).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from mlcodec.bitstream.reasons import (
    OK, X_LONG_LEN, X_LONG_PAYLOAD, X_RTE_LEN, X_RTE_PAYLOAD, X_RTE_SHORT, X_RTE_TRAILING,
    X_SEP_MISSING, X_SEP_RANGE, X_SHORT_MISSING)


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
