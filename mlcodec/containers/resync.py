"""A resynchronising Ogg page reader: damaged input yields its intact pages (RFC 3533 s6).

:func:`iter_pages_resync` yields every intact page in order. A page with a bad CRC, a broken
header or garbage between pages is skipped: the reader scans for the next ``OggS`` capture
pattern whose page is intact (what opusdec/libogg do) and records ``(offset, reason)`` of the
damage in the ``damage`` list. Sequence-number jumps (lost pages) are left to the caller,
which sees them in :attr:`OggPage.sequence`.
"""
from __future__ import annotations

from typing import BinaryIO, Iterator

from .ogg import _HEADER, CAPTURE, HEADER_SIZE, OggPage, _Chunks, crc32


def iter_pages_resync(fileobj: BinaryIO, damage: list, *, start_offset: int = 0) -> Iterator[OggPage]:
    """Yield the intact pages of an Ogg input; append ``(offset, reason)`` to ``damage`` for
    each damaged span (one entry per span, at its first byte)."""
    src = _Chunks(fileobj)
    unpack = _HEADER.unpack_from
    bad_since: int | None = None  # offset where the current damaged span began

    def note(at: int, why: str) -> None:
        nonlocal bad_since
        if bad_since is None:
            bad_since = at
            damage.append((at, why))

    while True:
        if not src.fill(HEADER_SIZE):
            left = len(src.buf) - src.pos
            if left:
                note(src.offset + start_offset, f"truncated Ogg page ({left} bytes at the end)")
            return
        buf, pos = src.buf, src.pos
        at = src.offset + start_offset
        why = None
        cap, version, flags, granule, serial, sequence, crc, nseg = unpack(buf, pos)
        if cap != CAPTURE:
            why = "not an Ogg page (no 'OggS' capture pattern)"
        elif version != 0 or flags & ~0x07:
            why = "broken Ogg page header"
        if why is None:
            if not src.fill(HEADER_SIZE + nseg):
                note(at, "truncated Ogg page (segment table cut short)")
                return
            buf, pos = src.buf, src.pos
            segments = tuple(buf[pos + HEADER_SIZE: pos + HEADER_SIZE + nseg])
            total = HEADER_SIZE + nseg + sum(segments)
            if not src.fill(total):
                # A cut last page; but a damaged length could also point past the end: look on.
                why = "truncated Ogg page (body cut short)"
            else:
                buf, pos = src.buf, src.pos
                raw = buf[pos: pos + total]
                got = crc32(raw[:22] + b"\0\0\0\0" + raw[26:])
                if got != crc:
                    why = f"bad Ogg page CRC (stored 0x{crc:08x}, computed 0x{got:08x})"
        if why is None:
            body = buf[pos + HEADER_SIZE + nseg: pos + total]
            src.pos = pos + total
            bad_since = None
            yield OggPage(flags, granule, serial, sequence, segments, body, crc, version, at)
            continue
        note(at, why)
        # resync: the next capture pattern after this position
        src.pos = pos + 1
        while True:
            k = src.buf.find(CAPTURE, src.pos)
            if k >= 0:
                src.pos = k
                break
            keep = max(len(src.buf) - 3, src.pos)
            src.pos = keep
            if not src.fill(len(src.buf) - src.pos + 4096):
                if src.buf.find(CAPTURE, src.pos) < 0:
                    return
