"""numba kernels of the bulk scanner: RFC 6716 s3 framing and the extension walk per row.

:func:`parse_rows` turns the packet rows a walker found (:mod:`.walkers`) into the columns of
a :class:`~.table.PacketTable`: TOC, codes 0-3, CBR/VBR lengths, padding, rules R1-R7,
Appendix B self-delimited framing for multistream packets (specs 01 s4.2), and the extension
area walk (:mod:`.extwalk`). Error codes are those of
:mod:`mlcodec.bitstream.reasons`, the table the reference parsers raise with.

Hot loops hold no array reassignments and call only ``_nrt=False`` helpers: numba's reference
counting on array variables cost more than the parsing itself (tables grow between chunks).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from mlcodec.bitstream.reasons import (
    MS_DURATION, MS_FLAG, MS_NO_BYTES, OK, P_CBR_SPLIT, P_CODE0_R2, P_CODE1_ODD, P_CODE2_LEN2,
    P_CODE2_NOLEN, P_CODE2_OVER, P_CODE3_120MS, P_CODE3_NOCOUNT, P_CODE3_ZERO, P_EMPTY, P_LAST_R2,
    P_PAD_EXCEED, P_PAD_RUN, P_SD_CBR_OVER, P_SD_LAST_OVER, P_SD_LEN2, P_SD_MISSING, P_SD_OVER,
    P_VBR_LEN2, P_VBR_MISSING, P_VBR_OVER, P_VBR_OVERRUN, ZERO_BYTE)

from .extwalk import _ext_walk

#: RFC 6716 s3.2.1: largest frame (R2); 120 ms at 48 kHz (R5).
_MAX_FRAME = 1275
_MAX_SAMPLES = 5760
#: Samples per frame at 48 kHz per TOC configuration (RFC 6716 s3.1, specs 01 s2.1).
SPF48 = np.array([480, 960, 1920, 2880] * 3 + [480, 960] * 2 + [120, 240, 480, 960] * 4, np.int64)
_SPF48 = SPF48


@njit(cache=True)
def grow(a, need):
    """``a`` (2-D) with room for ``need`` rows (doubling)."""
    if need <= a.shape[0]:
        return a
    b = np.empty((max(need, 2 * a.shape[0]), a.shape[1]), a.dtype)
    b[:a.shape[0]] = a
    return b


@njit(cache=True)
def grow1(a, need):
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    b[:a.shape[0]] = a
    return b



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


@njit(cache=True)
def parse_rows(data, rows, nin, sd_all):
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
            frames = grow1(frames, nf + 64 * rows[i, 7])
        elif need == 2:
            cap = 2 * xs[0].shape[0]
            xs = (grow1(xs[0], cap), grow1(xs[1], cap), grow1(xs[2], cap), grow1(xs[3], cap),
                  grow1(xs[4], cap))
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
def summarize(xrow, xframe, xid, xlen, keep_ids):
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
