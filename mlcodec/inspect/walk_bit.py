"""The opus_demo ``.bit`` walker of the bulk scanner (numba): records -> packet rows.

Each record is a 4-byte big-endian length, the 4-byte encoder final range, then the packet
(containers/opusdemo.py); container errors carry the codes of :mod:`mlcodec.containers.reasons`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from mlcodec.containers.reasons import BIT_MAX_PACKET, C_BIT_TOOBIG, C_BIT_TRUNC, C_BIT_TRUNC_HDR, container_error

from .table import PacketTable, finish

#: opus_demo record header and largest accepted packet (same as containers/opusdemo.py).
_BIT_HEADER = 8
_BIT_MAX_PACKET = BIT_MAX_PACKET


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



def scan_bit(arr: np.ndarray, file) -> PacketTable:
    rows, nr, err, ea = _bit_walk(arr)
    cerr = container_error(err, *(int(x) for x in ea[1:]), file=file, offset=int(ea[0])) if err else None
    return finish("bit", arr, np.zeros(0, np.uint8), rows, nr, False, (), cerr, file)
