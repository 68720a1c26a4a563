"""mlcodec raw packet framing, for pipes (docs/containers.md): a plain length-prefixed
sequence of Opus packets with no timing.

Layout: an 8-byte header ``b"OPKT"``, version byte (1), flags byte (0), two reserved zero
bytes; then per packet a LEB128 length (1-4 bytes, at most :data:`MAX_PACKET`) and the
packet bytes, until end of input. A length of 0 records a lost packet. Any other magic,
version, flags or reserved value is refused with a clear error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterator

from mlcodec.containers.ogg import _Chunks
from mlcodec.errors import ContainerError

MAGIC = b"OPKT"
VERSION = 1
HEADER = MAGIC + bytes([VERSION, 0, 0, 0])
HEADER_SIZE = len(HEADER)
#: Largest packet (the 4-byte LEB128 limit is 2^28-1; keep memory bounded well below).
MAX_PACKET = 1 << 20


@dataclass(frozen=True, slots=True)
class RawPacket:
    """One packet; ``offset`` is where its bytes start in the input."""

    index: int
    offset: int
    data: bytes


def encode_length(n: int) -> bytes:
    """LEB128: 7 bits per byte, least significant first, high bit = more bytes follow."""
    if not 0 <= n <= MAX_PACKET:
        raise ContainerError(f"packet length {n} outside 0..{MAX_PACKET}")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def check_header(head: bytes, *, file: str | None = None) -> None:
    """Refuse anything but an exact version-1 header."""
    if len(head) < HEADER_SIZE:
        raise ContainerError(f"truncated raw framing header ({len(head)} of {HEADER_SIZE} bytes)",
                             file=file, offset=0)
    if head[:4] != MAGIC:
        raise ContainerError("not mlcodec raw packet framing (no 'OPKT' magic)", file=file, offset=0)
    if head[4] != VERSION:
        raise ContainerError(f"unsupported raw framing version {head[4]} (this mlcodec reads version {VERSION})",
                             file=file, offset=4)
    if head[5:8] != b"\0\0\0":
        raise ContainerError("raw framing header has non-zero flags/reserved bytes", file=file, offset=5)


def iter_raw(fileobj: BinaryIO, *, file: str | None = None, start_offset: int = 0) -> Iterator[RawPacket]:
    """Yield every packet of a raw-framed input (header included in the input)."""
    src = _Chunks(fileobj)
    src.fill(HEADER_SIZE)
    check_header(src.buf[:HEADER_SIZE], file=file)
    src.pos = HEADER_SIZE
    index = 0
    while True:
        if not src.fill(1):
            return
        at = src.offset + start_offset
        buf, pos = src.buf, src.pos
        # LEB128 length, at most 4 bytes.
        n = 0
        shift = 0
        k = 0
        while True:
            if pos + k >= len(buf):
                if not src.fill(k + 1):
                    raise ContainerError("truncated raw framing length", file=file, offset=at)
                buf, pos = src.buf, src.pos
            b = buf[pos + k]
            n |= (b & 0x7F) << shift
            k += 1
            if not b & 0x80:
                break
            shift += 7
            if k == 4:
                raise ContainerError("raw framing length longer than 4 bytes", file=file, offset=at)
        if n > MAX_PACKET:
            raise ContainerError(f"raw framing length {n} exceeds {MAX_PACKET}", file=file, offset=at)
        if not src.fill(k + n):
            raise ContainerError(f"truncated raw-framed packet ({len(src.buf) - src.pos - k} of {n} bytes)",
                                 file=file, offset=at)
        p = src.pos + k
        data = src.buf[p: p + n]
        src.pos = p + n
        yield RawPacket(index, at + k, data)
        index += 1


class RawWriter:
    """Write raw framing: header at construction, then ``write_packet(data)``."""

    def __init__(self, fileobj: BinaryIO):
        self.f = fileobj
        self.f.write(HEADER)
        self.packets = 0

    def write_packet(self, data: bytes) -> None:
        self.f.write(encode_length(len(data)) + bytes(data))
        self.packets += 1

    def close(self) -> None:
        flush = getattr(self.f, "flush", None)
        if flush:
            flush()
