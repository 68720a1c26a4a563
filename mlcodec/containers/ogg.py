"""Ogg pages (RFC 3533; specs 04 §1): CRC, lacing, streaming page reader, packet reassembly
across pages for interleaved logical streams, and a page writer.

Readers work on any binary file object (a non-seekable pipe included): they read in chunks,
yield pages/packets as soon as they are complete and keep at most one page plus the packets
still being assembled in memory. On broken input they raise :class:`ContainerError` with the
byte offset, after everything before it has been yielded.
"""
from __future__ import annotations

import binascii
import struct
from itertools import accumulate
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator, NamedTuple

from mlcodec.errors import ContainerError

from . import reasons as R

# ---------------------------------------------------------------------------------------------
# Page layout (specs 04 §1)

CAPTURE = b"OggS"
#: Fixed header bytes before the segment table.
HEADER_SIZE = 27
#: Header flags.
FLAG_CONTINUED = 0x01
FLAG_BOS = 0x02
FLAG_EOS = 0x04
#: Largest possible page: 27 + 255 + 255*255 bytes.
MAX_PAGE_SIZE = HEADER_SIZE + 255 + 255 * 255
#: Granule value meaning "no packet finishes on this page".
NO_GRANULE = -1
#: Largest packet a reader assembles (protects memory; far above any Opus use, specs 04 §6).
MAX_PACKET_SIZE = R.OGG_MAX_PACKET

_HEADER = struct.Struct("<4sBBqIII B")
_HEADER_NOCRC = struct.Struct("<4sBBqII")

# ---------------------------------------------------------------------------------------------
# CRC-32, polynomial 0x04C11DB7, init 0, not reflected, no final xor (specs 04 §1).

POLY = 0x04C11DB7


def _make_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ POLY) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return tuple(table)


CRC_TABLE = _make_table()


def crc32_reference(data: bytes, crc: int = 0) -> int:
    """Byte-at-a-time table CRC exactly as specs 04 §1 describes (the test twin)."""
    t = CRC_TABLE
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ t[((crc >> 24) & 0xFF) ^ b]
    return crc


# The Ogg CRC is the bit-mirror image of the reflected (zlib) CRC-32 with the same
# polynomial: mirroring every input byte and the result turns one into the other. zlib's
# init/final inversions are undone with the 0xFFFFFFFF start value and a final xor, so the
# whole page is checksummed at C speed.
_BITREV8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _bitrev32(x: int) -> int:
    return (
        _BITREV8[x & 0xFF] << 24
        | _BITREV8[(x >> 8) & 0xFF] << 16
        | _BITREV8[(x >> 16) & 0xFF] << 8
        | _BITREV8[x >> 24]
    )


def crc32(data: bytes) -> int:
    """Ogg page CRC of ``data`` (fast path, equal to :func:`crc32_reference`)."""
    return _bitrev32(binascii.crc32(data.translate(_BITREV8), 0xFFFFFFFF) ^ 0xFFFFFFFF)


# ---------------------------------------------------------------------------------------------
# Lacing


def lacing(size: int) -> list[int]:
    """Lacing values of one whole packet of ``size`` bytes (600 -> [255, 255, 90], 0 -> [0])."""
    return [255] * (size // 255) + [size % 255]


# ---------------------------------------------------------------------------------------------
# Pages


@dataclass(frozen=True, slots=True)
class OggPage:
    """One parsed page; ``offset`` is where it starts in the input (None when built)."""

    flags: int
    granule: int
    serial: int
    sequence: int
    segments: tuple[int, ...]
    body: bytes
    crc: int = 0
    version: int = 0
    offset: int | None = None

    @property
    def continued(self) -> bool:
        return bool(self.flags & FLAG_CONTINUED)

    @property
    def bos(self) -> bool:
        return bool(self.flags & FLAG_BOS)

    @property
    def eos(self) -> bool:
        return bool(self.flags & FLAG_EOS)

    @property
    def size(self) -> int:
        return HEADER_SIZE + len(self.segments) + len(self.body)

    @property
    def packets_completed(self) -> int:
        """Packets that end on this page (lacing values below 255)."""
        return sum(1 for v in self.segments if v < 255)

    def to_bytes(self) -> bytes:
        """Serialise with a freshly computed CRC (re-serialising a read page gives its bytes)."""
        return build_page(
            self.body, self.segments, flags=self.flags, granule=self.granule,
            serial=self.serial, sequence=self.sequence, version=self.version,
        )


def build_page(body: bytes, segments: Iterable[int], *, flags: int, granule: int, serial: int,
               sequence: int, version: int = 0) -> bytes:
    """Bytes of one page: header, segment table, body, CRC filled in (specs 04 §1)."""
    segs = bytes(segments)
    if len(segs) > 255:
        raise ContainerError(f"an Ogg page holds at most 255 segments, not {len(segs)}")
    if sum(segs) != len(body):
        raise ContainerError("Ogg page body length does not match its lacing values")
    head = _HEADER_NOCRC.pack(CAPTURE, version, flags, granule, serial & 0xFFFFFFFF,
                              sequence & 0xFFFFFFFF)
    page = bytearray(head)
    page += b"\0\0\0\0"
    page.append(len(segs))
    page += segs
    page += body
    struct.pack_into("<I", page, 22, crc32(bytes(page)))
    return bytes(page)


class _Chunks:
    """Pulls bytes from a file object in chunks, tracking the absolute offset of ``buf``."""

    __slots__ = ("f", "buf", "pos", "base", "eof", "_read", "chunk")

    def __init__(self, fileobj: BinaryIO, chunk: int = 1 << 16):
        self.f = fileobj
        self.buf = b""
        self.pos = 0  # read position inside buf
        self.base = 0  # absolute offset of buf[0]
        self.eof = False
        self._read = getattr(fileobj, "read1", None) or fileobj.read
        self.chunk = chunk

    def fill(self, need: int) -> bool:
        """Make ``need`` bytes available after ``pos``; False at end of input."""
        while len(self.buf) - self.pos < need:
            if self.eof:
                return False
            data = self._read(max(self.chunk, need))
            if not data:
                self.eof = True
                return False
            if self.pos:
                self.base += self.pos
                self.buf = self.buf[self.pos:] + data
                self.pos = 0
            else:
                self.buf += data
        return True

    @property
    def offset(self) -> int:
        return self.base + self.pos


def iter_pages(fileobj: BinaryIO, *, file: str | None = None, check_crc: bool = True,
               start_offset: int = 0) -> Iterator[OggPage]:
    """Yield every page of an Ogg input in order; raise ContainerError at the first broken one.

    ``start_offset`` is added to reported offsets (for inputs whose first bytes were consumed).
    """
    src = _Chunks(fileobj)
    unpack = _HEADER.unpack_from
    while True:
        if not src.fill(HEADER_SIZE):
            left = len(src.buf) - src.pos
            if left:
                raise R.container_error(R.C_TRUNC_HDR, left, file=file, offset=src.offset + start_offset)
            return
        buf, pos = src.buf, src.pos
        (cap, version, flags, granule, serial, sequence, crc, nseg) = unpack(buf, pos)
        at = src.offset + start_offset
        if cap != CAPTURE:
            raise R.container_error(R.C_CAPTURE, file=file, offset=at)
        if version != 0:
            raise R.container_error(R.C_VERSION, version, file=file, offset=at)
        if flags & ~0x07:
            raise R.container_error(R.C_FLAGS, flags, file=file, offset=at)
        if not src.fill(HEADER_SIZE + nseg):
            raise R.container_error(R.C_TRUNC_SEG, file=file, offset=at)
        buf, pos = src.buf, src.pos
        segments = tuple(buf[pos + HEADER_SIZE: pos + HEADER_SIZE + nseg])
        body_len = sum(segments)
        total = HEADER_SIZE + nseg + body_len
        if not src.fill(total):
            raise R.container_error(R.C_TRUNC_BODY, body_len, len(src.buf) - src.pos - HEADER_SIZE - nseg,
                                    file=file, offset=at)
        buf, pos = src.buf, src.pos
        if check_crc:
            raw = buf[pos: pos + total]
            got = crc32(raw[:22] + b"\0\0\0\0" + raw[26:])
            if got != crc:
                raise R.container_error(R.C_CRC, crc, got, file=file, offset=at)
        body = buf[pos + HEADER_SIZE + nseg: pos + total]
        src.pos = pos + total
        yield OggPage(flags, granule, serial, sequence, segments, body, crc, version, at)


# ---------------------------------------------------------------------------------------------
# Packet reassembly


class OggPacket(NamedTuple):
    """One packet of one logical stream (a NamedTuple: cheap on the per-packet hot path).

    ``offset``: input offset of its first byte; ``page``: index (in the whole input) of the
    page on which it ends; ``granule``: that page's granule if this is the last packet
    completed on the page, else None; ``packetno``: index within its logical stream.
    """

    serial: int
    packetno: int
    data: bytes
    offset: int | None
    page: int
    granule: int | None
    bos: bool
    eos: bool
    last_on_page: bool


class StreamState:
    """Reassembly state of one logical stream (see :func:`iter_page_packets`)."""

    __slots__ = ("serial", "sequence", "parts", "start", "packetno", "eos", "index", "user")

    def __init__(self, serial: int, index: int):
        self.serial = serial
        self.sequence = -1
        self.parts: list[bytes] = []  # pieces of a packet continued on the next page
        self.start: int | None = None  # input offset of that packet's first byte
        self.packetno = 0  # packets completed so far
        self.eos = False
        self.index = index  # order of its BOS page in the input
        self.user = None  # free slot for layered readers (Ogg Opus)


def iter_page_packets(pages: Iterable[OggPage], *, file: str | None = None
                      ) -> Iterator[tuple[OggPage, int, StreamState, list, list]]:
    """Core reassembly: per page yield ``(page, page_index, stream_state, datas, offsets)``
    with the packets completed on that page (``stream_state.packetno`` is the number of the
    first of them).

    Checks (RFC 3533, RFC 7845 §3): BOS first, no pages after EOS, sequence continuity and
    the continued-packet flag; raises ContainerError, after the earlier pages were yielded.
    """
    streams: dict[int, StreamState] = {}
    page_index = -1
    for page in pages:
        page_index += 1
        serial = page.serial
        st = streams.get(serial)
        at = page.offset
        flags = page.flags
        if st is None:
            if not flags & FLAG_BOS:
                raise R.container_error(R.C_NO_BOS, serial, file=file, offset=at)
            st = streams[serial] = StreamState(serial, len(streams))
        else:
            if flags & FLAG_BOS:
                raise R.container_error(R.C_SECOND_BOS, serial, file=file, offset=at)
            if st.eos:
                raise R.container_error(R.C_AFTER_EOS, serial, file=file, offset=at)
            if page.sequence != ((st.sequence + 1) & 0xFFFFFFFF):
                raise R.container_error(R.C_SEQ, serial, st.sequence, page.sequence, file=file, offset=at)
        st.sequence = page.sequence
        parts = st.parts
        if bool(flags & FLAG_CONTINUED) != bool(parts):
            raise R.container_error(R.C_CONT, serial, 0 if parts == [] else 1, file=file, offset=at)
        segs = page.segments
        body = page.body
        base = (at + HEADER_SIZE + len(segs)) if at is not None else None
        if not parts and 255 not in segs:
            # Fast path (every packet ends on this page, none continues): each lacing value is
            # one whole packet.
            ends = list(accumulate(segs))
            starts = [0] + ends[:-1]
            datas = list(map(body.__getitem__, map(slice, starts, ends)))
            offsets = [None] * len(ends) if base is None else list(map(base.__add__, starts))
            a = ends[-1] if ends else 0
            yield page, page_index, st, datas, offsets
            st.packetno += len(datas)
            if flags & FLAG_EOS:
                st.eos = True
            continue
        # Packet boundaries: a lacing value below 255 ends a packet.
        ends = []
        pos = 0
        for v in segs:
            pos += v
            if v < 255:
                ends.append(pos)
        datas = []
        offsets = []
        a = 0
        for b in ends:
            if parts:
                parts.append(body[a:b])
                datas.append(b"".join(parts))
                offsets.append(st.start)
                parts = st.parts = []
            else:
                datas.append(body[a:b])
                offsets.append(None if base is None else base + a)
            a = b
        if a < len(body) or (segs and segs[-1] == 255):
            if not parts:
                st.start = None if base is None else base + a
            parts.append(body[a:])
            if sum(map(len, parts)) > MAX_PACKET_SIZE:
                raise R.container_error(R.C_TOOBIG, file=file, offset=st.start)
        yield page, page_index, st, datas, offsets
        st.packetno += len(datas)
        if flags & FLAG_EOS:
            st.eos = True
            if parts:
                raise R.container_error(R.C_EOS_INSIDE, serial, file=file, offset=st.start)
    for st in streams.values():
        if st.parts:
            raise R.container_error(R.C_END_INSIDE, st.serial, file=file, offset=st.start)


def iter_packets(pages: Iterable[OggPage], *, file: str | None = None) -> Iterator[OggPacket]:
    """Reassemble packets from pages of any number of interleaved logical streams."""
    for page, index, st, datas, offsets in iter_page_packets(pages, file=file):
        n = len(datas)
        if not n:
            continue
        no = st.packetno
        bos = bool(page.flags & FLAG_BOS)
        eos = bool(page.flags & FLAG_EOS)
        serial = page.serial
        last = n - 1
        for i in range(n):
            yield OggPacket(serial, no + i, datas[i], offsets[i], index,
                            page.granule if i == last else None, bos and no + i == 0,
                            eos and i == last, i == last)


def read_packets(fileobj: BinaryIO, *, file: str | None = None) -> Iterator[OggPacket]:
    """All packets of an Ogg input (pages read, CRC-checked and reassembled as they come)."""
    return iter_packets(iter_pages(fileobj, file=file), file=file)


# ---------------------------------------------------------------------------------------------
# Writing


class OggStreamWriter:
    """Writes one logical stream's packets into pages (libogg-like policy, specs 04 §1).

    ``write_packet(data, granule)`` queues a packet; a page is emitted once it holds more
    than ``page_bytes`` body bytes or 255 segments, or on :meth:`flush`. The page's granule
    is that of the last packet completed on it (-1 if none). :meth:`close` writes the
    last page with the EOS flag. Several writers may share one file object (interleaving).
    """

    def __init__(self, fileobj: BinaryIO, serial: int, *, page_bytes: int = 4096):
        self.f = fileobj
        self.serial = serial & 0xFFFFFFFF
        self.page_bytes = page_bytes
        self.sequence = 0
        self._segs: list[int] = []
        self._body: list[bytes] = []
        self._body_len = 0
        self._granule = NO_GRANULE
        self._continued = False
        self._started = False
        self.closed = False
        self.bytes_written = 0

    def write_packet(self, data: bytes, granule: int, *, flush: bool = False, eos: bool = False) -> None:
        if self.closed:
            raise ContainerError("write to a closed Ogg stream")
        laces = lacing(len(data))
        pos = 0
        for v in laces:
            if len(self._segs) == 255:
                self._emit(eos=False)
            self._segs.append(v)
            if v:
                self._body.append(data[pos: pos + v])
                pos += v
            self._body_len += v
        self._granule = granule
        if eos:
            self._emit(eos=True)
            self.closed = True
        elif flush or self._body_len > self.page_bytes or len(self._segs) == 255:
            self._emit(eos=False)

    def _emit(self, *, eos: bool) -> None:
        if not self._segs and not eos:
            return
        flags = (0 if self._started else FLAG_BOS) | (FLAG_CONTINUED if self._continued else 0)
        if eos:
            flags |= FLAG_EOS
        complete = any(v < 255 for v in self._segs)
        granule = self._granule if (complete or not self._segs) else NO_GRANULE
        page = build_page(b"".join(self._body), self._segs, flags=flags, granule=granule,
                          serial=self.serial, sequence=self.sequence)
        self.f.write(page)
        self.bytes_written += len(page)
        self.sequence += 1
        self._started = True
        self._continued = bool(self._segs) and self._segs[-1] == 255
        self._segs = []
        self._body = []
        self._body_len = 0

    def flush(self) -> None:
        """Emit the pending packets as a page now (a page break)."""
        self._emit(eos=False)

    def close(self) -> None:
        """Emit the last page with the EOS flag (an empty EOS page if nothing is pending)."""
        if self.closed:
            return
        self._emit(eos=True)
        self.closed = True


def write_pages(fileobj: BinaryIO, pages: Iterable[OggPage]) -> int:
    """Serialise pages as they are (CRC recomputed); returns bytes written."""
    n = 0
    for p in pages:
        b = p.to_bytes()
        fileobj.write(b)
        n += len(b)
    return n
