"""Binary file wrappers that count the bytes passing through (whole-file bit rates)."""
from __future__ import annotations

import io
from typing import BinaryIO


class CountingWriter(io.RawIOBase):
    """Passes writes (and seeks, for WAV size patching) to ``f``; ``n`` counts bytes written."""

    def __init__(self, f: BinaryIO):
        self.f, self.n = f, 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.f.write(b)
        self.n += len(b)
        return len(b)

    def flush(self) -> None:
        self.f.flush()

    def seekable(self) -> bool:
        try:
            return self.f.seekable()
        except (AttributeError, ValueError, OSError):
            return False

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.f.seek(pos, whence)

    def tell(self) -> int:
        return self.f.tell()


class CountingReader(io.RawIOBase):
    """Passes reads to ``f``; ``n`` counts bytes read."""

    def __init__(self, f: BinaryIO):
        self.f, self.n = f, 0
        self._read1 = getattr(f, "read1", None) or f.read

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        self.n += len(b)
        return b

    def read1(self, n: int = -1) -> bytes:
        b = self._read1(n)
        self.n += len(b)
        return b
