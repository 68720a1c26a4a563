"""One exception hierarchy for the whole library.

Every error the library raises on bad input is an :class:`MlcodecError` carrying the
file (when known), the byte offset (when known) and a one-line reason, so that the CLI can
print exactly one clear line and exit non-zero.
"""
from __future__ import annotations


class MlcodecError(Exception):
    """Base class: ``file``/``offset`` locate the problem, ``reason`` says what it is."""

    def __init__(self, reason: str, *, file: str | None = None, offset: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.file = file
        self.offset = offset

    def with_file(self, file: str | None) -> "MlcodecError":
        """Attach a file name if none is set yet (used when errors bubble up from buffers)."""
        if self.file is None:
            self.file = file
        return self

    def __str__(self) -> str:
        """``FILE: offset N: reason``, each part only when known: the CLI's documented error
        line (docs/codec.md, "Errors and exit status") without its ``mlcodec: error:`` prefix."""
        parts = [] if self.file is None else [str(self.file)]
        if self.offset is not None:
            parts.append(f"offset {self.offset}")
        return ": ".join(parts + [self.reason])


class PacketError(MlcodecError):
    """An Opus packet breaks RFC 6716 section 3 framing (rules R1-R7)."""


class ExtensionError(MlcodecError):
    """A malformed extension area (draft-ietf-mlcodec-opus-extension)."""


class RangeCoderError(MlcodecError):
    """Range coder misuse or buffer exhaustion (RFC 6716 section 4.1 / 5.1)."""


class ContainerError(MlcodecError):
    """A broken container: Ogg page, OpusHead/OpusTags, opus_demo or raw framing."""


class WeightsError(MlcodecError):
    """A malformed weights blob, or a layer that does not bind to it."""


class AudioError(MlcodecError):
    """Unreadable, empty, too short or unsupported audio input."""


class OutputError(MlcodecError):
    """An output file cannot be created or written (directory missing, not writable, ...)."""


class CodecError(MlcodecError):
    """Codec stream problems: wrong model, unsupported version, truncated stream."""
