"""Carrier packets: Opus packets whose frames decode to silence in every Opus decoder and whose
extension area carries a codec payload (format v2 groundwork, docs/format-v2-research.md).

A *carrier* is a code-3 packet (RFC 6716 s3.2.5, specs 01 s4) of M identical "silent frames"
plus padding that holds the extensions (specs 02 s1). Silent frames (measured in
``bench/silence_interop.py``):

* ``silk0``: 2 zero bytes in a SILK frame. A frame of 0 or 1 bytes is a *lost* frame (libopus
  ``opus_decode_frame``: "payloads of 1 (2 including ToC) or 0 trigger the PLC/DTX"), which
  decoders conceal as they please (ffmpeg's native decoder: loud buzz). Two zero bytes are a
  real SILK frame: range decoding zeros (RFC 6716 s4.1) yields symbol 0 everywhere: inactive,
  gain index 0, no pulses, so the output is a few LSB of shaped dither at most.
* ``celtlost``: a zero-length CELT frame (the v2 choice): formally a lost frame, but every
  decoder measured conceals a CELT loss with no history as exact digital zero, and it costs no
  frame bytes.
* ``celt``: ``FF FF`` in a CELT frame: the first symbol is the silence flag (RFC 6716 s4.3,
  logp 15) and it is 1 when the range decoder value is at the top of the range, i.e. for 0xFF
  bytes; the rest of the frame is then skipped and the output is exact zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import PacketError
from .extensions import Extension
from .packet import build_packet, packet_extensions, parse_packet

__all__ = ["SilentFrame", "SILENT_FRAMES", "carrier_config", "build_carrier", "build_silence",
           "dtx_packet",
           "carrier_payloads", "carrier_overhead"]


@dataclass(frozen=True)
class SilentFrame:
    """One silent-frame recipe: the Opus configurations by frame duration, and the frame bytes."""

    name: str
    configs: dict           # frame ms -> TOC config (RFC 6716 s3.1 table, specs 01 s2.1)
    data: bytes


#: SILK WB for 20/40/60 ms (configs 9/10/11); CELT WB for 20 ms (config 23; 10 ms = 22).
#: Wide-band states the codec's real audio bandwidth (8 kHz); CELT NB/WB/SWB/FB zero-length
#: frames measured the same (docs/format-v2-research.md s1).
SILENT_FRAMES = {
    "silk0": SilentFrame("silk0", {10: 8, 20: 9, 40: 10, 60: 11}, b"\x00\x00"),
    "celt": SilentFrame("celt", {10: 22, 20: 23}, b"\xff\xff"),
    # zero-length frames: lost frames (v1 of the format uses SILK ones); for comparison
    "lost": SilentFrame("lost", {10: 8, 20: 9, 40: 10, 60: 11}, b""),
    "celtlost": SilentFrame("celtlost", {10: 22, 20: 23}, b""),
}


def carrier_config(packet_ms: int, frame: str = "silk0") -> tuple[int, int]:
    """(TOC config, frame count) of a carrier lasting ``packet_ms``: the longest frame that
    divides the packet (fewest frames, so the fewest silent-frame bytes)."""
    sf = SILENT_FRAMES[frame]
    for fms in sorted(sf.configs, reverse=True):
        if packet_ms % fms == 0 and packet_ms // fms * fms <= 120:
            return sf.configs[fms], packet_ms // fms
    raise PacketError(f"no {frame} frame size divides a {packet_ms} ms packet (10..120 ms)")


def build_carrier(packet_ms: int, payloads: Sequence[bytes], ext_id: int, *,
                  frame: str = "silk0", placement: str = "frame0") -> bytes:
    """A code-3 carrier of ``packet_ms`` whose extension area holds ``payloads``.

    ``placement="frame0"``: every payload is an extension of frame 0, in order (the last one
    long with implicit length: no length bytes, specs 02 s2.1). ``"per-frame"``: payload i
    belongs to frame i (len(payloads) == frame count); the libopus generator then uses frame
    separators and Repeat These Extensions where they pay (specs 02 s5, s6).
    """
    config, m = carrier_config(packet_ms, frame)
    if placement == "frame0":
        exts = [Extension(0, ext_id, bytes(p)) for p in payloads]
    elif placement == "per-frame":
        if len(payloads) != m:
            raise PacketError(f"per-frame placement needs {m} payloads, got {len(payloads)}")
        exts = [Extension(i, ext_id, bytes(p)) for i, p in enumerate(payloads)]
    else:
        raise ValueError(f"placement {placement!r}: 'frame0' or 'per-frame'")
    return build_packet(config, [SILENT_FRAMES[frame].data] * m, extensions=exts, force_code3=True)


def build_silence(packet_ms: int, *, frame: str = "celtlost") -> bytes:
    """A carrier with no extension area: the DTX packet (2 bytes: TOC, count byte; frames of
    zero length; for 40 ms and a zero-length frame, a 1-byte code-1 packet would also do)."""
    config, m = carrier_config(packet_ms, frame)
    return build_packet(config, [SILENT_FRAMES[frame].data] * m, force_code3=True)


#: The smallest DTX packet per duration (docs/format-v2-research.md s2): code 0/1 packets of
#: zero-length frames are a single TOC byte; SILK WB 60 ms covers 60/120 ms in one byte.
_DTX = {20: b"\xb8", 40: b"\xb9", 60: b"\x58", 120: b"\x59"}


def dtx_packet(packet_ms: int) -> bytes:
    """The smallest packet of ``packet_ms`` without payload: 1 byte for 20/40/60/120 ms
    (CELT WB code 0/1, SILK WB 60 ms code 0/1), else the 2-byte CELT code-3 form."""
    return _DTX.get(packet_ms) or build_silence(packet_ms)


def carrier_payloads(data: bytes, ext_id: int) -> list[tuple[int, bytes]]:
    """(frame, payload) of every ``ext_id`` extension of a packet, in bitstream order."""
    pkt = parse_packet(data)
    return [(e.frame, e.data) for e in packet_extensions(pkt) if e.id == ext_id]


def carrier_overhead(packet_ms: int, payload_len: int, *, frame: str = "silk0",
                     n_payloads: int = 1, placement: str = "frame0") -> int:
    """Bytes a carrier adds to ``n_payloads`` payloads totalling ``payload_len`` bytes
    (TOC, count, padding length, silent frames, extension headers/lengths)."""
    sizes = [payload_len // n_payloads] * n_payloads
    sizes[-1] += payload_len - sum(sizes)
    pk = build_carrier(packet_ms, [bytes([0x55]) * s for s in sizes], 122, frame=frame,
                       placement=placement)
    return len(pk) - payload_len
