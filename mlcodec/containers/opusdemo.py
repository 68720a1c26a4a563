"""libopus ``opus_demo`` bitstream files (``.bit``; vectors/streams README): per packet a
4-byte big-endian length, the 4-byte big-endian encoder final range, then the packet bytes.

A length of 0 records a lost packet. Reading is streaming and memory-bounded.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from mlcodec.containers.ogg import _Chunks
from mlcodec.errors import ContainerError

from . import reasons as R

#: Bytes before each packet: length and final range.
RECORD_HEADER = 8
#: Largest packet length accepted (opus_demo itself never writes more than a few KiB; this
#: bound keeps a corrupt length from claiming gigabytes).
MAX_PACKET = R.BIT_MAX_PACKET

_REC = struct.Struct(">II")


@dataclass(frozen=True, slots=True)
class BitPacket:
    """One record: ``offset`` is where the packet bytes start in the file."""

    index: int
    offset: int
    data: bytes
    final_range: int


def iter_bit(fileobj: BinaryIO, *, file: str | None = None, start_offset: int = 0) -> Iterator[BitPacket]:
    """Yield every record; ContainerError at a truncated record or an implausible length."""
    src = _Chunks(fileobj)
    unpack = _REC.unpack_from
    index = 0
    while True:
        if not src.fill(RECORD_HEADER):
            left = len(src.buf) - src.pos
            if left:
                raise R.container_error(R.C_BIT_TRUNC_HDR, left, file=file, offset=src.offset + start_offset)
            return
        at = src.offset + start_offset
        n, rng = unpack(src.buf, src.pos)
        if n > MAX_PACKET:
            raise R.container_error(R.C_BIT_TOOBIG, n, file=file, offset=at)
        if not src.fill(RECORD_HEADER + n):
            raise R.container_error(R.C_BIT_TRUNC, len(src.buf) - src.pos - 8, n, file=file, offset=at)
        p = src.pos + RECORD_HEADER
        data = src.buf[p: p + n]
        src.pos = p + n
        yield BitPacket(index, at + RECORD_HEADER, data, rng)
        index += 1


def encode_record(data: bytes, final_range: int = 0) -> bytes:
    """Bytes of one record."""
    return _REC.pack(len(data), final_range & 0xFFFFFFFF) + bytes(data)


class BitWriter:
    """Write ``.bit`` records: ``write_packet(data, final_range=0)``."""

    def __init__(self, fileobj: BinaryIO):
        self.f = fileobj
        self.packets = 0

    def write_packet(self, data: bytes, final_range: int = 0) -> None:
        if len(data) > MAX_PACKET:
            raise ContainerError(f"packet of {len(data)} bytes is too large for a .bit record")
        self.f.write(encode_record(data, final_range))
        self.packets += 1

    def close(self) -> None:
        """Nothing to finish (the format has no trailer); flushes the file object."""
        flush = getattr(self.f, "flush", None)
        if flush:
            flush()
