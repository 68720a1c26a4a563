"""Error codes and one-line reasons of the container readers (one table).

:mod:`.ogg` (RFC 3533, specs 04 s1), :mod:`.oggopus` (RFC 7845) and :mod:`.opusdemo` raise
:class:`~mlcodec.errors.ContainerError` through :func:`container_error`; the numba walkers of
:mod:`mlcodec.inspect.walkers` return the same codes with their parameters ``a``, ``b``, ``c``.
"""
from __future__ import annotations

from mlcodec.errors import ContainerError

#: Largest packet an Ogg reader assembles and largest opus_demo record (protect memory).
OGG_MAX_PACKET = 16 * 1024 * 1024
BIT_MAX_PACKET = 1 << 20

C_OK, C_TRUNC_HDR, C_CAPTURE, C_VERSION, C_FLAGS, C_TRUNC_SEG, C_TRUNC_BODY, C_CRC = 0, 1, 2, 3, 4, 5, 6, 7
C_NO_BOS, C_SECOND_BOS, C_AFTER_EOS, C_SEQ, C_CONT, C_TOOBIG, C_EOS_INSIDE, C_END_INSIDE = \
    8, 9, 10, 11, 12, 13, 14, 15
C_BIT_TRUNC_HDR, C_BIT_TOOBIG, C_BIT_TRUNC = 16, 17, 18
G_FIRST, G_PRESKIP = 19, 20
C_HEAD_ALONE, C_HEAD_GRANULE, C_TAGS_SHARED, C_NO_OPUS = 21, 22, 23, 24

#: Reason template per code; ``{a}``, ``{b}``, ``{c}`` are integers, ``{x}``/``{y}`` the same in hex.
REASONS: dict[int, str] = {
    C_TRUNC_HDR: "truncated Ogg page header ({a} of at least 27 bytes)",
    C_CAPTURE: "not an Ogg page (no 'OggS' capture pattern)",
    C_VERSION: "unsupported Ogg stream structure version {a}",
    C_FLAGS: "undefined Ogg page flags 0x{a:02x}",
    C_TRUNC_SEG: "truncated Ogg page (segment table cut short)",
    C_TRUNC_BODY: "truncated Ogg page (body needs {a} bytes, {b} present)",
    C_CRC: "bad Ogg page CRC (stored 0x{a:08x}, computed 0x{b:08x})",
    C_NO_BOS: "page of unknown logical stream {a} without BOS flag",
    C_SECOND_BOS: "second BOS page for logical stream {a}",
    C_AFTER_EOS: "page after the end of logical stream {a}",
    C_SEQ: "page sequence jumps from {b} to {c} in logical stream {a} (lost pages)",
    C_CONT: "{why} (logical stream {a})",
    C_TOOBIG: f"Ogg packet larger than {OGG_MAX_PACKET} bytes",
    C_EOS_INSIDE: "logical stream {a} ends inside a packet",
    C_END_INSIDE: "input ends inside a packet of logical stream {a} (truncated stream)",
    C_BIT_TRUNC_HDR: "truncated opus_demo record header ({a} of 8 bytes)",
    C_BIT_TOOBIG: "opus_demo record claims a {a}-byte packet (at most " + str(BIT_MAX_PACKET) + ")",
    C_BIT_TRUNC: "truncated opus_demo packet ({a} of {b} bytes)",
    G_FIRST: "first audio page granule {a} is smaller than the {b} samples completed on it "
             "(RFC 7845 §4)",
    G_PRESKIP: "first (and last) audio page granule {a} is below the pre-skip {b}",
    C_HEAD_ALONE: "OpusHead must be alone on the first page of its stream",
    C_HEAD_GRANULE: "OpusHead page granule {a}, must be 0",
    C_TAGS_SHARED: "audio data shares the page on which OpusTags ends (RFC 7845 §3 needs a page break)",
    C_NO_OPUS: "no Opus logical stream in this Ogg input (no OpusHead/OpusTags)",
}


def container_reason(code: int, a: int = 0, b: int = 0, c: int = 0) -> str:
    """The one-line reason of ``code`` with its parameters filled in."""
    if code == C_CONT:  # b: 0 = flag set with nothing pending, 1 = a packet pends
        why = ("continued-packet flag set but no packet is pending" if b == 0 else
               "a packet continues but the page lacks the continued flag")
        return REASONS[code].format(why=why, a=a)
    return REASONS[code].format(a=a, b=b, c=c)


def container_error(code: int, a: int = 0, b: int = 0, c: int = 0, *, file=None, offset=None
                    ) -> ContainerError:
    """The ContainerError of ``code`` (``.num`` = the code)."""
    exc = ContainerError(container_reason(code, a, b, c), file=file, offset=offset)
    exc.num = code
    return exc
