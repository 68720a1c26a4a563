"""Container detection by content, never by file name (docs/containers.md).

``open_input`` peeks at the first bytes (then hands them back, so pipes work) and picks:
``ogg`` ("OggS" capture pattern), ``raw`` (mlcodec raw framing, "OPKT" magic), ``bit``
(opus_demo records whose lengths chain plausibly), or ``packet`` (a small whole input that
parses as one code-3 Opus packet with a valid extension area; other single packets need an
explicit format).
"""
from __future__ import annotations

import io
import os
import struct
import sys
from dataclasses import dataclass
from typing import BinaryIO

from mlcodec.containers import rawframe
from mlcodec.errors import ContainerError, MlcodecError

FORMATS = ("ogg", "bit", "raw", "packet")
#: Bytes peeked for detection.
PEEK = 1 << 16
#: .bit heuristic: no opus_demo packet is longer than this (QEXT packets stay well below).
_BIT_MAX_LEN = 1 << 15
#: Largest input treated as one bare Opus packet.
MAX_SINGLE_PACKET = 1 << 16


class PrefixedReader(io.RawIOBase):
    """A read-only stream that first returns ``prefix`` then the rest of ``fileobj``."""

    def __init__(self, prefix: bytes, fileobj: BinaryIO):
        self._prefix = prefix
        self._f = fileobj
        self._read1 = getattr(fileobj, "read1", None) or fileobj.read

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        if self._prefix:
            if n is None or n < 0 or n >= len(self._prefix):
                out, self._prefix = self._prefix, b""
            else:
                out, self._prefix = self._prefix[:n], self._prefix[n:]
            return out
        return self._read1(n if n and n > 0 else PEEK)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            rest = self._f.read()
            out, self._prefix = self._prefix + rest, b""
            return out
        out = bytearray()
        while len(out) < n:
            b = self.read1(n - len(out))
            if not b:
                break
            out += b
        return bytes(out)

    def readinto(self, b) -> int:  # pragma: no cover - io plumbing
        data = self.read1(len(b))
        b[: len(data)] = data
        return len(data)


def _peek(fileobj: BinaryIO, n: int) -> tuple[bytes, bool]:
    """Read just enough to decide (never blocking a live pipe longer than needed).

    Returns (bytes read, at_eof). Reads at least 8 bytes (magic numbers); beyond that only
    while the .bit heuristic still needs more (three whole records), up to ``n`` bytes or end
    of input (a single packet is only recognised at end of input).
    """
    read1 = getattr(fileobj, "read1", None) or fileobj.read
    out = bytearray()
    while True:
        if len(out) >= 8:
            head = bytes(out)
            if head.startswith((b"OggS", rawframe.MAGIC)) or _bit_records(head) >= 3 or len(out) >= n:
                return head, False
        b = read1(n - len(out))
        if not b:
            return bytes(out), True
        out += b


def _bit_records(head: bytes) -> int:
    """Complete plausible .bit records at the start of ``head`` (-1: an implausible length)."""
    pos = 0
    records = 0
    while pos + 8 <= len(head):
        (k,) = struct.unpack_from(">I", head, pos)
        if k > _BIT_MAX_LEN:
            return -1
        if pos + 8 + k > len(head):
            break
        pos += 8 + k
        records += 1
    return records


def _looks_like_bit(head: bytes, at_eof: bool) -> bool:
    """Walk the records visible in ``head``: every length plausible, ending exactly at EOF
    or running past the peeked bytes after at least one whole record."""
    pos = 0
    records = 0
    while pos + 8 <= len(head):
        (n,) = struct.unpack_from(">I", head, pos)
        if n > _BIT_MAX_LEN:
            return False
        pos += 8 + n
        records += 1
    if pos == len(head):
        return records > 0 and (at_eof or records >= 2)
    if pos > len(head):  # the last record runs past what we peeked
        return not at_eof and (records >= 2 or len(head) >= 8)
    return not at_eof and records >= 1  # a partial header left over: more to read


def _parses_as_packet(data: bytes) -> bool:
    """A whole input that is one code-3 packet with a valid extension area.

    Short code 0-2 packets accept almost any bytes (text included), so they are only read
    with an explicit ``--format packet``.
    """
    if data[0] & 3 != 3:
        return False
    try:
        from mlcodec.bitstream.packet import packet_extensions, parse_packet
        pkt = parse_packet(data)
        if not pkt.padding:
            return False
        packet_extensions(pkt)
    except MlcodecError:
        return False
    return True


def detect(head: bytes, at_eof: bool) -> str | None:
    """Format name for an input starting with ``head`` (``at_eof``: that is all of it)."""
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(rawframe.MAGIC):
        return "raw"
    if len(head) >= 8 and _looks_like_bit(head, at_eof):
        return "bit"
    if at_eof and 0 < len(head) <= MAX_SINGLE_PACKET and _parses_as_packet(head):
        return "packet"
    return None


@dataclass
class Input:
    """An opened input: its format, a stream positioned at its first byte, a display name."""

    format: str
    stream: BinaryIO
    name: str
    _owned: BinaryIO | None = None

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> "Input":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_input(source: str | os.PathLike | BinaryIO, fmt: str = "auto", *, name: str | None = None) -> Input:
    """Open a path, ``"-"`` (stdin) or a binary file object and determine its format.

    Raises ContainerError when the format cannot be recognised or ``fmt`` is unknown.
    """
    owned = None
    if isinstance(source, (str, os.PathLike)):
        if str(source) == "-":
            f = sys.stdin.buffer
            name = name or "<stdin>"
        else:
            f = owned = open(source, "rb")
            name = name or str(source)
    else:
        f = source
        name = name or getattr(source, "name", None) or "<input>"
        if not isinstance(name, str):
            name = "<input>"
    if fmt not in ("auto",) + FORMATS:
        raise ContainerError(f"unknown format {fmt!r} (choose auto, {', '.join(FORMATS)})", file=name)
    head, at_eof = _peek(f, PEEK)
    if fmt == "auto":
        found = detect(head, at_eof)
        if found is None:
            if owned:
                owned.close()
            what = "empty input" if not head else (
                "unrecognised container (not Ogg, opus_demo .bit, mlcodec raw framing, "
                "or a single Opus packet)")
            raise ContainerError(what, file=name, offset=0)
        fmt = found
    return Input(fmt, PrefixedReader(head, f), name, owned)
