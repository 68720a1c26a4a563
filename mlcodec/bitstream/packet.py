"""Opus packet framing (RFC 6716 s3 and Appendix B; specs 01), bit-exact with libopus.

Parsing follows libopus ``opus_packet_parse_impl`` check for check (rules R1-R7), so every
packet gets libopus's verdict. Building follows the libopus repacketizer
(``opus_repacketizer_out_range_impl``): the frame-count code it picks, where padding and the
extension area go, and the 0x01 fill it uses when padding to a fixed size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..errors import ExtensionError, PacketError
from .extensions import Extension, generate_extensions, parse_extensions
from . import reasons as R

__all__ = [
    "Toc",
    "Packet",
    "parse_toc",
    "parse_packet",
    "split_multistream",
    "build_packet",
    "build_multistream",
    "merge_packets",
    "pad_packet",
    "unpad_packet",
    "add_extensions",
    "to_self_delimited",
    "packet_extensions",
    "packet_nb_frames",
    "packet_nb_samples",
    "samples_per_frame",
    "encode_frame_length",
    "MAX_FRAME_BYTES",
    "MAX_FRAMES",
    "MAX_PACKET_SAMPLES_48K",
    "BANDWIDTH_CODES",
]

#: RFC 6716 s3.2.1: the largest frame a 1-2 byte length can describe (R2).
MAX_FRAME_BYTES = 1275
#: 120 ms at 48 kHz: no packet may be longer (R5), hence at most 48 frames of 2.5 ms.
MAX_PACKET_SAMPLES_48K = 5760
MAX_FRAMES = 48
#: libopus OPUS_BANDWIDTH_* codes (opus_packet_get_bandwidth).
BANDWIDTH_CODES = {"NB": 1101, "MB": 1102, "WB": 1103, "SWB": 1104, "FB": 1105}

MODE_SILK = "SILK"
MODE_HYBRID = "Hybrid"
MODE_CELT = "CELT"

INVALID = "OPUS_INVALID_PACKET"
BAD_ARG = "OPUS_BAD_ARG"
TOO_SMALL = "OPUS_BUFFER_TOO_SMALL"


def _nbytes(n: int) -> str:
    """'1 byte' / 'N bytes' for error messages."""
    return f"{n} byte" if n == 1 else f"{n} bytes"


def _perr(reason: str, offset: int | None, code: str = INVALID) -> PacketError:
    exc = PacketError(reason, offset=offset)
    exc.code = code
    return exc


def _pe(num: int, offset: int | None, **params) -> PacketError:
    """A framing error with its code ``num`` and reason from the shared table (reasons.py)."""
    exc = PacketError(R.reason(num, **params), offset=offset)
    exc.code = INVALID
    exc.num = num
    return exc


def _read_frame_length(data: bytes, p: int, rem: int, num: int, **params) -> tuple[int, int]:
    """One frame length at ``data[p]`` (RFC 6716 s3.2.1: 1 byte < 252, else ``b0 + 4*b1``):
    (length, bytes used). ``rem`` >= 1 bytes remain; raises ``num`` when the second byte is
    missing."""
    b0 = data[p]
    if b0 < 252:
        return b0, 1
    if rem < 2:
        raise _pe(num, p, **params)
    return b0 + 4 * data[p + 1], 2


# ---------------------------------------------------------------------------------------------
# TOC byte (RFC 6716 s3.1, specs 01 s2)
# ---------------------------------------------------------------------------------------------

def _config_row(config: int) -> tuple[str, str, float, int]:
    """(mode, bandwidth, frame ms, samples per frame at 48 kHz) of a configuration (s2.1)."""
    if config < 12:
        k = config & 3
        return MODE_SILK, ("NB", "MB", "WB")[config >> 2], (10.0, 20.0, 40.0, 60.0)[k], \
            (480, 960, 1920, 2880)[k]
    if config < 16:
        k = config & 1
        return MODE_HYBRID, ("SWB", "FB")[(config - 12) >> 1], (10.0, 20.0)[k], (480, 960)[k]
    k = config & 3
    return MODE_CELT, ("NB", "WB", "SWB", "FB")[(config - 16) >> 2], (2.5, 5.0, 10.0, 20.0)[k], \
        (120, 240, 480, 960)[k]


@dataclass(frozen=True)
class Toc:
    """A decoded TOC byte: configuration (mode/bandwidth/frame size), stereo flag, code."""

    config: int
    mode: str
    bandwidth: str
    frame_ms: float
    stereo: bool
    code: int

    @property
    def samples_per_frame_48k(self) -> int:
        return _SPF48[self.config]

    @property
    def byte(self) -> int:
        """The TOC byte itself."""
        return (self.config << 3) | (self.stereo << 2) | self.code

    @property
    def channels(self) -> int:
        return 2 if self.stereo else 1

    @property
    def max_frames(self) -> int:
        """Most frames a packet of this configuration may hold (120 ms, R5)."""
        return MAX_PACKET_SAMPLES_48K // _SPF48[self.config]


_SPF48 = tuple(_config_row(c)[3] for c in range(32))
_TOCS = tuple(
    Toc(b >> 3, *_config_row(b >> 3)[:3], bool(b & 4), b & 3) for b in range(256)
)


def parse_toc(byte: int) -> Toc:
    """Decode one TOC byte (0..255)."""
    return _TOCS[byte]


def samples_per_frame(toc: int, fs: int = 48000) -> int:
    """Samples per frame at rate ``fs`` (libopus opus_packet_get_samples_per_frame)."""
    if toc & 0x80:
        return (fs << ((toc >> 3) & 3)) // 400
    if (toc & 0x60) == 0x60:
        return fs // 50 if toc & 0x08 else fs // 100
    k = (toc >> 3) & 3
    return fs * 60 // 1000 if k == 3 else (fs << k) // 100


# ---------------------------------------------------------------------------------------------
# Parsing (RFC 6716 s3.2, Appendix B; libopus opus_packet_parse_impl)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Packet:
    """A parsed Opus packet.

    ``frame_offsets``/``padding_offset``/``payload_offset`` are byte offsets inside the packet.
    ``padding`` is the padding data of a code-3 packet, i.e. the extension area; it starts at
    ``padding_offset`` (libopus reports that offset, just after the last frame, for every
    packet, so it is never None). ``size`` is the bytes the packet used (== len(data) unless
    self-delimited). ``vbr`` is true for code 2 and for code-3 VBR packets.
    """

    toc: Toc
    frames: tuple
    frame_offsets: tuple
    vbr: bool
    padding: bytes
    padding_offset: int | None
    size: int
    payload_offset: int = 0
    padding_flag: bool = False
    self_delimited: bool = False

    @property
    def frame_count(self) -> int:
        return len(self.frames)

    @property
    def frame_lengths(self) -> tuple:
        return tuple(map(len, self.frames))

    @property
    def duration_ms(self) -> float:
        return self.toc.frame_ms * len(self.frames)

    @property
    def samples_48k(self) -> int:
        return _SPF48[self.toc.config] * len(self.frames)

    @property
    def code(self) -> int:
        return self.toc.code

    def extensions(self) -> list[Extension]:
        """The extension area parsed in bitstream order (see :func:`packet_extensions`)."""
        return packet_extensions(self)


_new = object.__new__


def parse_packet(data: bytes, *, self_delimited: bool = False) -> Packet:
    """Parse one Opus packet; raise :class:`PacketError` (``.code`` = libopus error name).

    Mirrors libopus's packet parser exactly (order of checks and verdicts); with
    ``self_delimited`` the RFC 6716 Appendix B framing is read and ``size`` says where
    the packet ends.
    """
    if type(data) is not bytes:
        data = bytes(data)
    return _parse(data, 0, len(data), self_delimited)


def _parse(data: bytes, start: int, end: int, sd: bool) -> Packet:
    """Parse ``data[start:end]``; error offsets are absolute in ``data``, fields relative."""
    n = end - start
    if n <= 0:
        raise _pe(R.P_EMPTY, start)
    tb = data[start]
    toc = _TOCS[tb]
    code = tb & 3
    p = start + 1
    rem = n - 1                 # bytes not yet accounted for (libopus "len")
    pad = 0
    padding_flag = False
    vbr = False
    cbr = False
    if code == 0:
        if not sd:
            # fast path: the common single-frame packet
            if rem > MAX_FRAME_BYTES:
                raise _pe(R.P_CODE0_R2, p, a=rem)
            pkt = _new(Packet)
            pkt.__dict__.update(toc=toc, frames=(data[p:end],), frame_offsets=(1,), vbr=False,
                                padding=b"", padding_offset=n, size=n, payload_offset=1,
                                padding_flag=False, self_delimited=False)
            return pkt
        count = 1
        sizes = ()
        last = rem
    elif code == 1:
        count = 2
        cbr = True
        if not sd:
            if rem & 1:
                raise _pe(R.P_CODE1_ODD, start, a=rem)
            last = rem >> 1
            sizes = (last,)
        else:
            last = rem
    elif code == 2:
        count = 2
        vbr = True
        if rem < 1:
            raise _pe(R.P_CODE2_NOLEN, p)
        sz, nb = _read_frame_length(data, p, rem, R.P_CODE2_LEN2)
        rem -= nb
        if sz > rem:
            raise _pe(R.P_CODE2_OVER, p, a=sz, b=rem)
        p += nb
        sizes = (sz,)
        last = rem - sz
    else:
        if rem < 1:
            raise _pe(R.P_CODE3_NOCOUNT, p)
        ch = data[p]
        cpos = p
        p += 1
        rem -= 1
        count = ch & 0x3F
        if count == 0:
            raise _pe(R.P_CODE3_ZERO, cpos)
        if _SPF48[toc.config] * count > MAX_PACKET_SAMPLES_48K:
            raise _pe(R.P_CODE3_120MS, cpos, a=count, ms=toc.frame_ms)
        if ch & 0x40:
            padding_flag = True
            while True:
                if rem <= 0:
                    raise _pe(R.P_PAD_RUN, p, a=pad)
                b = data[p]
                p += 1
                rem -= 1
                t = 254 if b == 255 else b
                rem -= t
                pad += t
                if b != 255:
                    break
        if rem < 0:
            raise _pe(R.P_PAD_EXCEED, p, a=pad)
        if ch & 0x80:
            vbr = True
            last = rem
            sl = []
            for i in range(count - 1):
                if rem < 1:
                    raise _pe(R.P_VBR_MISSING, p, a=i)
                sz, nb = _read_frame_length(data, p, rem, R.P_VBR_LEN2, a=i)
                rem -= nb
                if sz > rem:
                    raise _pe(R.P_VBR_OVER, p, a=i, b=sz, c=rem)
                p += nb
                last -= nb + sz
                sl.append(sz)
            if last < 0:
                raise _pe(R.P_VBR_OVERRUN, p, a=-last)
            sizes = sl
        else:
            cbr = True
            if not sd:
                last = rem // count
                if last * count != rem:
                    raise _pe(R.P_CBR_SPLIT, p, a=rem, b=count)
                sizes = (last,) * (count - 1)
            else:
                last = rem
    if sd:
        # RFC 6716 Appendix B: one more length, just before the first frame's data
        if rem < 1:
            raise _pe(R.P_SD_MISSING, p)
        sz, nb = _read_frame_length(data, p, rem, R.P_SD_LEN2)
        rem -= nb
        if sz > rem:
            raise _pe(R.P_SD_OVER, p, a=sz, b=rem)
        if cbr:
            if sz * count > rem:
                raise _pe(R.P_SD_CBR_OVER, p, a=count, b=sz, c=rem)
            sizes = (sz,) * (count - 1)
        elif nb + sz > last:
            raise _pe(R.P_SD_LAST_OVER, p, a=sz, b=last - nb)
        p += nb
        last = sz
    elif last > MAX_FRAME_BYTES:
        raise _pe(R.P_LAST_R2, p, a=last)
    payload = p - start
    offs = []
    frames = []
    for sz in sizes:
        offs.append(p - start)
        frames.append(data[p:p + sz])
        p += sz
    offs.append(p - start)
    frames.append(data[p:p + last])
    p += last
    poff = p - start
    pkt = _new(Packet)
    pkt.__dict__.update(toc=toc, frames=tuple(frames), frame_offsets=tuple(offs), vbr=vbr,
                        padding=data[p:p + pad] if pad else b"", padding_offset=poff,
                        size=poff + pad, payload_offset=payload, padding_flag=padding_flag,
                        self_delimited=sd)
    return pkt


def packet_extensions(pkt: Packet) -> list[Extension]:
    """The packet's padding parsed as an extension area, ``nb_frames`` = its frame count.

    Raises :class:`ExtensionError` (offsets inside the packet; ``.partial`` as usual).
    """
    if not pkt.padding:
        return []
    return parse_extensions(pkt.padding, len(pkt.frames), base_offset=pkt.padding_offset)


def packet_nb_frames(data: bytes) -> int:
    """Frame count from the TOC (and count byte) only (libopus opus_packet_get_nb_frames)."""
    if len(data) < 1:
        raise _perr("empty packet", 0, BAD_ARG)
    code = data[0] & 3
    if code == 0:
        return 1
    if code != 3:
        return 2
    if len(data) < 2:
        raise _perr("code 3 packet has no frame-count byte", 1)
    return data[1] & 0x3F


def packet_nb_samples(data: bytes, fs: int = 48000) -> int:
    """Samples per channel at ``fs`` (libopus opus_packet_get_nb_samples; > 120 ms invalid)."""
    count = packet_nb_frames(data)
    samples = count * samples_per_frame(data[0], fs)
    if samples * 25 > fs * 3:
        raise _perr(f"{count} frames make more than 120 ms", 1)
    return samples


def split_multistream(data: bytes, nb_streams: int, *, check_durations: bool = True) -> list[Packet]:
    """Split a multistream packet (RFC 7845 s3, RFC 6716 App. B) into its stream packets.

    The first ``nb_streams - 1`` packets are self-delimited, the last uses the rest. Each
    Packet's offsets are relative to its own start (use ``.size`` to locate it); error
    offsets are absolute. Like libopus, all streams must have the same duration.
    """
    if type(data) is not bytes:
        data = bytes(data)
    if nb_streams < 1 or nb_streams > 255:
        raise _perr(f"stream count {nb_streams} outside 1..255", None, BAD_ARG)
    out = []
    pos = 0
    n = len(data)
    for s in range(nb_streams):
        if pos >= n:
            raise _pe(R.MS_NO_BYTES, pos, a=s, b=nb_streams)
        try:
            pkt = _parse(data, pos, n, s != nb_streams - 1)
        except PacketError as exc:
            exc.reason = f"stream {s}: {exc.reason}"
            exc.args = (exc.reason,)
            exc.num = getattr(exc, "num", 0) | R.MS_FLAG
            exc.stream = s
            raise
        if check_durations and out and pkt.samples_48k != out[0].samples_48k:
            raise _pe(R.MS_DURATION, pos, a=s, ms=pkt.duration_ms, ms0=out[0].duration_ms)
        out.append(pkt)
        pos += pkt.size
    return out


# ---------------------------------------------------------------------------------------------
# Building (libopus repacketizer, specs 01 s6)
# ---------------------------------------------------------------------------------------------

def encode_frame_length(n: int) -> bytes:
    """RFC 6716 s3.2.1 frame length: 1 byte below 252, else ``252 + n%4, (n - that)/4``."""
    if n < 252:
        return bytes((n,))
    b0 = 252 + (n & 3)
    return bytes((b0, (n - b0) >> 2))


def _out(toc: int, frames: Sequence[bytes], exts: list, maxlen: int | None, pad: bool, sd: bool,
         force3: bool) -> bytes:
    """libopus opus_repacketizer_out_range_impl on already-validated frames."""
    count = len(frames)
    lens = [len(f) for f in frames]
    cap = maxlen if maxlen is not None else 1 << 62
    sd_bytes = (1 + (lens[-1] >= 252)) if sd else 0
    head = bytearray()
    tot = sd_bytes
    if count == 1:
        tot += lens[0] + 1
        if tot > cap:
            raise _too_small(tot, cap)
        head.append(toc)
    elif count == 2:
        if lens[0] == lens[1]:
            tot += 2 * lens[0] + 1
            if tot > cap:
                raise _too_small(tot, cap)
            head.append(toc | 1)
        else:
            tot += lens[0] + lens[1] + 2 + (lens[0] >= 252)
            if tot > cap:
                raise _too_small(tot, cap)
            head.append(toc | 2)
            head += encode_frame_length(lens[0])
    tail = b""
    if count > 2 or (pad and tot < cap) or exts or force3:
        tot = sd_bytes
        vbr = any(n != lens[0] for n in lens)
        if vbr:
            tot += 2 + sum(1 + (n >= 252) + n for n in lens[:-1]) + lens[-1]
        else:
            tot += count * lens[0] + 2
        if tot > cap:
            raise _too_small(tot, cap)
        head = bytearray((toc | 3, count | (0x80 if vbr else 0)))
        pad_amount = cap - tot if pad else 0
        ext_bytes = b""
        if exts:
            try:
                ext_bytes = generate_extensions(exts, count, capacity=cap - tot if maxlen is not None
                                                else None)
            except ExtensionError as exc:
                raise _perr(f"extensions: {exc.reason}", None, getattr(exc, "code", BAD_ARG)) from exc
            if not pad:
                el = len(ext_bytes)
                pad_amount = el + ((el + 253) // 254 if el else 1)
        if pad_amount:
            head[1] |= 0x40
            nb255 = (pad_amount - 1) // 255
            if tot + len(ext_bytes) + nb255 + 1 > cap:
                raise _too_small(tot + len(ext_bytes) + nb255 + 1, cap)
            head += b"\xff" * nb255
            head.append(pad_amount - 255 * nb255 - 1)
            fill = pad_amount - nb255 - 1 - len(ext_bytes)
            tail = (b"\x01" * fill + ext_bytes) if exts else bytes(fill)
            tot += pad_amount
        if vbr:
            for n in lens[:-1]:
                head += encode_frame_length(n)
    if sd:
        head += encode_frame_length(lens[-1])
    return b"".join((bytes(head), *frames, tail))


def _too_small(need: int, cap: int) -> PacketError:
    return _perr(f"packet needs {_nbytes(need)} but only {cap} are allowed", None, TOO_SMALL)


def _check_frames(config: int, frames: Sequence[bytes]) -> list[bytes]:
    if not isinstance(config, int) or not 0 <= config <= 31:
        raise _perr(f"configuration {config!r} outside 0..31", None, BAD_ARG)
    frames = [bytes(f) for f in frames]
    if not frames:
        raise _perr("a packet needs at least one frame", None, BAD_ARG)
    spf = _SPF48[config]
    if len(frames) * spf > MAX_PACKET_SAMPLES_48K:
        raise _perr(f"{len(frames)} frames of {spf / 48:g} ms exceed 120 ms (R5)", None, INVALID)
    for i, f in enumerate(frames):
        if len(f) > MAX_FRAME_BYTES:
            raise _perr(f"frame {i} is {_nbytes(len(f))}; at most {MAX_FRAME_BYTES} (R2)", None, BAD_ARG)
    return frames


def _ext_list(exts: Iterable) -> list[Extension]:
    return [e if isinstance(e, Extension) else Extension(int(e[0]), int(e[1]), bytes(e[2]))
            for e in exts]


def build_packet(config: int, frames: Sequence[bytes], *, stereo: bool = False,
                 extensions: Sequence[Extension] = (), pad_to: int | None = None,
                 self_delimited: bool = False, force_code3: bool = False) -> bytes:
    """Build a packet like libopus's repacketizer.

    1 frame -> code 0; 2 equal -> code 1; 2 unequal -> code 2; more frames, extensions,
    padding or ``force_code3`` -> code 3 (VBR iff lengths differ). ``extensions`` become the
    extension area (shortest padding that holds them). ``pad_to``: the packet is exactly this
    long, the gap filled with zero padding (no extensions) or 0x01 bytes before the extension
    data. Raises PacketError with ``.code`` OPUS_BAD_ARG / OPUS_INVALID_PACKET /
    OPUS_BUFFER_TOO_SMALL.
    """
    frames = _check_frames(config, frames)
    toc = (config << 3) | (4 if stereo else 0)
    if pad_to is not None and pad_to < 1:
        raise _perr(f"pad_to {pad_to} is not a packet length", None, BAD_ARG)
    return _out(toc, frames, _ext_list(extensions), pad_to, pad_to is not None, self_delimited,
                force_code3)


def merge_packets(packets: Sequence[bytes], *, begin: int = 0, end: int | None = None,
                  extensions: Sequence[Extension] = (), pad_to: int | None = None,
                  self_delimited: bool = False, force_code3: bool = False) -> bytes:
    """Concatenate packets' frames into one packet (libopus repacketizer cat + out_range).

    All packets must share config and stereo flag and total at most 120 ms. Their extension
    areas are re-parsed, their frame indices shifted by the packet's first frame position,
    and re-generated (after ``extensions``); non-extension padding is dropped. ``begin``/``end``
    select a frame range like opus_repacketizer_out_range.
    """
    toc0 = None
    frames: list[bytes] = []
    first_of: list[tuple[int, Packet]] = []
    spf8k = 0
    for k, data in enumerate(packets):
        data = bytes(data)
        if len(data) < 1:
            raise _perr(f"packet {k} is empty", 0)
        if toc0 is None:
            toc0 = data[0]
            spf8k = samples_per_frame(toc0, 8000)
        elif (toc0 & 0xFC) != (data[0] & 0xFC):
            raise _perr(f"packet {k}: TOC 0x{data[0]:02X} does not match 0x{toc0:02X} "
                        "(config and stereo must agree)", 0)
        nf = packet_nb_frames(data)
        if nf < 1:
            raise _perr(f"packet {k}: frame count 0", 1)
        if (nf + len(frames)) * spf8k > 960:
            raise _perr(f"packet {k}: total duration would exceed 120 ms", 0)
        pkt = _parse(data, 0, len(data), False)
        first_of.append((len(frames), pkt))
        frames.extend(pkt.frames)
    if toc0 is None:
        raise _perr("no packets to merge", None, BAD_ARG)
    if end is None:
        end = len(frames)
    if begin < 0 or begin >= end or end > len(frames):
        raise _perr(f"frame range [{begin}, {end}) outside 0..{len(frames)}", None, BAD_ARG)
    exts = _ext_list(extensions)
    for first, pkt in first_of:
        if begin <= first < end and pkt.padding:
            try:
                got = parse_extensions(pkt.padding, len(pkt.frames))
            except ExtensionError as exc:
                raise _perr(f"packet starting at frame {first}: bad extension area: {exc.reason}",
                            None, "OPUS_INTERNAL_ERROR") from exc
            shift = first - begin
            exts.extend(Extension(e.frame + shift, e.id, e.data) for e in got)
    if pad_to is not None and pad_to < 1:
        raise _perr(f"pad_to {pad_to} is not a packet length", None, BAD_ARG)
    return _out(toc0 & 0xFC, frames[begin:end], exts, pad_to, pad_to is not None, self_delimited,
                force_code3)


def pad_packet(data: bytes, new_len: int) -> bytes:
    """Grow a packet to ``new_len`` bytes with zero padding (libopus opus_packet_pad).

    The packet is re-framed as code 3 with the padding flag; existing extensions are kept
    (then the filler is 0x01 bytes in front of them). ``new_len == len(data)`` returns it as is.
    """
    data = bytes(data)
    if len(data) < 1:
        raise _perr("empty packet", 0, BAD_ARG)
    if len(data) == new_len:
        return data
    if len(data) > new_len:
        raise _perr(f"cannot pad a {len(data)}-byte packet down to {_nbytes(new_len)}", None, BAD_ARG)
    return merge_packets([data], pad_to=new_len)


def unpad_packet(data: bytes) -> bytes:
    """Drop all padding and extensions, re-framing minimally (libopus opus_packet_unpad)."""
    data = bytes(data)
    if len(data) < 1:
        raise _perr("empty packet", 0, BAD_ARG)
    pkt = parse_packet(data)
    return _out(data[0] & 0xFC, pkt.frames, [], len(data), False, False, False)


def add_extensions(data: bytes, extensions: Sequence[Extension], *, pad_to: int | None = None) -> bytes:
    """Attach extensions to a packet (libopus opus_packet_pad_impl, how DRED is attached).

    The new extensions come first within each frame, then the packet's own. Without ``pad_to``
    the result is the shortest packet; with it, exactly ``pad_to`` bytes (0x01 filler).
    Unlike libopus, ``pad_to == len(data)`` still adds the extensions (or fails) instead of
    silently returning the packet unchanged.
    """
    data = bytes(data)
    if len(data) < 1:
        raise _perr("empty packet", 0, BAD_ARG)
    if pad_to is not None and pad_to < len(data):
        raise _perr(f"cannot pad a {len(data)}-byte packet down to {_nbytes(pad_to)}", None, BAD_ARG)
    return merge_packets([data], extensions=extensions, pad_to=pad_to)


def to_self_delimited(data: bytes) -> bytes:
    """Re-frame a packet with self-delimited framing (RFC 6716 App. B), keeping extensions."""
    return merge_packets([data], self_delimited=True)


def build_multistream(packets: Sequence[bytes]) -> bytes:
    """Join stream packets into one multistream packet (RFC 7845 s3) like libopus's encoder.

    Every packet is repacketized; all but the last are self-delimited.
    """
    if not packets:
        raise _perr("a multistream packet needs at least one stream", None, BAD_ARG)
    last = len(packets) - 1
    return b"".join(merge_packets([p], self_delimited=(i != last)) for i, p in enumerate(packets))
