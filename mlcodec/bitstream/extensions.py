"""Opus extension area: parse and generate (draft-ietf-mlcodec-opus-extension-05, specs 02).

The extension area is the padding data of a code-3 Opus packet. Every element starts with a
header byte ``id << 1 | L``; IDs 0..2 are structural (padding, frame separator, Repeat These
Extensions), IDs 3..31 carry 0/1 payload bytes and IDs 32..127 carry a laced length (or run
to the end of the area). Parsing and generation mirror libopus (``src/extensions.c``) byte
for byte, including its Repeat-These-Extensions (RTE) choices, so vectors built by libopus
round-trip exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Iterable, Sequence

from ..errors import ExtensionError
from . import reasons as R

__all__ = [
    "Extension",
    "EXTENSION_REGISTRY",
    "MAX_FRAMES",
    "ID_QEXT",
    "ID_DRED",
    "parse_extensions",
    "parse_extensions_frame_order",
    "count_extensions",
    "generate_extensions",
    "validate_extension",
    "extension_name",
    "register_extension",
    "ID_FEATRED",
    "describe",
]

#: libopus caps the frame count of an extension area at 48 (120 ms of 2.5 ms frames).
MAX_FRAMES = 48
#: Experimental IDs used by libopus 1.6 (specs 02 s7).
ID_QEXT = 124
ID_DRED = 126
#: mlcodec's own codec payload (docs/format.md s2): an ID libopus does not use.
ID_MLCODEC = 122
#: mlcodec's feature redundancy (``encode --redundancy``, mlcodec.bitstream.featred).
ID_FEATRED = 123
#: Short extensions are IDs 3..31 (0 or 1 payload byte); long ones are 32..127 (specs 02 s2.1).
FIRST_SHORT_ID = 3
FIRST_LONG_ID = 32
LAST_ID = 127


@dataclass(frozen=True)
class Extension:
    """One extension: the 0-based Opus ``frame`` it belongs to, its ``id`` and its payload."""

    frame: int
    id: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return extension_name(self.id, self.data)


_new = object.__new__


def _ext(frame: int, eid: int, data: bytes) -> Extension:
    """Fast constructor for the parser's hot loop (skips the frozen-dataclass __setattr__)."""
    e = _new(Extension)
    e.__dict__.update(frame=frame, id=eid, data=data)
    return e


def _nbytes(n: int) -> str:
    """'1 byte' / 'N bytes' for error messages."""
    return f"{n} byte" if n == 1 else f"{n} bytes"


def _berr(reason: str, offset: int | None, code: str, partial=None) -> ExtensionError:
    """A caller error of the builders (not a parse error: no code in reasons.py)."""
    exc = ExtensionError(reason, offset=offset)
    exc.code = code
    exc.partial = list(partial) if partial is not None else []
    return exc


def _err(num: int, offset: int, code: str, partial=None, **params) -> ExtensionError:
    """An extension-area error with its code ``num`` and reason from the shared table
    (reasons.py) and ``.partial``, the extensions decoded before it."""
    exc = ExtensionError(R.reason(num, **params), offset=offset)
    exc.code = code
    exc.num = num
    exc.partial = list(partial) if partial is not None else []
    return exc


# ---------------------------------------------------------------------------------------------
# Parsing (specs 02 s3, s5, s9)
# ---------------------------------------------------------------------------------------------

def parse_extensions(area: bytes, nb_frames: int, *, base_offset: int = 0) -> list[Extension]:
    """Extensions of ``area`` in bitstream order (RTE copies follow the extensions they repeat).

    ``nb_frames`` is the frame count M of the owning packet. On a malformed area raises
    :class:`ExtensionError` with ``.code == 'OPUS_INVALID_PACKET'`` and ``.partial`` holding the
    extensions decoded before the error (what libopus returns). Error offsets are
    ``base_offset`` + the offset inside the area (pass the packet's padding offset to get
    offsets inside the packet).
    """
    out: list[Extension] = []
    _parse_into(area if type(area) is bytes else bytes(area), nb_frames, out, base_offset)
    return out


def parse_extensions_frame_order(area: bytes, nb_frames: int, *,
                                 base_offset: int = 0) -> list[Extension]:
    """Extensions grouped by frame, bitstream order within a frame (libopus ``parse_ext``).

    On error ``.partial`` is the partial bitstream-order list grouped the same way.
    """
    out: list[Extension] = []
    try:
        _parse_into(area if type(area) is bytes else bytes(area), nb_frames, out, base_offset)
    except ExtensionError as exc:
        exc.partial = sorted(exc.partial, key=_by_frame)
        raise
    out.sort(key=_by_frame)
    return out


def count_extensions(area: bytes, nb_frames: int) -> tuple[int, list[int]]:
    """(total, per-frame counts) like libopus ``opus_packet_extensions_count[_ext]``.

    Counting stops at the first error: the counts cover the extensions decoded before it and
    no exception is raised (libopus returns the error; use :func:`parse_extensions` for it).
    """
    out: list[Extension] = []
    try:
        _parse_into(area if type(area) is bytes else bytes(area), nb_frames, out, 0)
    except ExtensionError:
        pass
    per = [0] * max(nb_frames, 0)
    for e in out:
        per[e.frame] += 1
    return len(out), per


_by_frame = attrgetter("frame")


def _parse_into(area: bytes, nb_frames: int, out: list, base: int) -> None:
    """The libopus extension iterator as one loop; appends to ``out`` (kept on error)."""
    if nb_frames < 1 or nb_frames > MAX_FRAMES:
        # libopus asserts 1 <= nb_frames <= 48; an impossible frame count is a caller error.
        raise _err(R.X_FRAMES, base, "OPUS_BAD_ARG", out, a=nb_frames)
    n = len(area)
    pos = 0
    frame = 0
    region = 0          # start of the bytes an RTE would repeat (specs 02 s5)
    last_long = -1      # end offset of the last long extension inside the region
    trailing = 0        # payload bytes of short L=1 extensions after that long extension
    append = out.append
    while pos < n:
        hdr = pos
        b = area[pos]
        pos += 1
        eid = b >> 1
        if eid >= FIRST_LONG_ID:
            if b & 1:
                size = 0
                while True:
                    if pos >= n:
                        raise _err(R.X_LONG_LEN, base + pos, "OPUS_INVALID_PACKET", out, a=base + hdr, b=eid)
                    lb = area[pos]
                    pos += 1
                    size += lb
                    if lb != 255:
                        break
                end = pos + size
                if end > n:
                    raise _err(R.X_LONG_PAYLOAD, base + pos, "OPUS_INVALID_PACKET", out, a=base + hdr, b=eid,
                               c=size, d=n - pos)
                append(_ext(frame, eid, area[pos:end]))
                pos = end
            else:
                append(_ext(frame, eid, area[pos:]))
                pos = n
            last_long = pos
            trailing = 0
        elif eid >= FIRST_SHORT_ID:
            if b & 1:
                if pos >= n:
                    raise _err(R.X_SHORT_MISSING, base + pos, "OPUS_INVALID_PACKET", out, a=base + hdr, b=eid)
                append(_ext(frame, eid, area[pos:pos + 1]))
                pos += 1
                trailing += 1
            else:
                append(_ext(frame, eid, b""))
        elif eid == 0:
            if not b & 1:
                return  # 0x00: the rest of the area is padding
        elif eid == 1:
            if b & 1:
                if pos >= n:
                    raise _err(R.X_SEP_MISSING, base + pos, "OPUS_INVALID_PACKET", out, a=base + hdr)
                inc = area[pos]
                pos += 1
                if not inc:
                    continue  # zero increment: pure padding, the repeat region is unchanged
            else:
                inc = 1
            frame += inc
            if frame >= nb_frames:
                raise _err(R.X_SEP_RANGE, base + hdr, "OPUS_INVALID_PACKET", out, a=base + hdr, b=frame,
                           c=nb_frames)
            region = pos
            last_long = -1
            trailing = 0
        else:  # ID 2: Repeat These Extensions (specs 02 s5)
            rte_l = b & 1
            if frame + 1 < nb_frames and region < hdr:
                entries = _region_entries(area, region, hdr, last_long)
                if entries:
                    last_frame = nb_frames - 1
                    for g in range(frame + 1, nb_frames):
                        for rb, is_last_long in entries:
                            rid = rb >> 1
                            if rid < FIRST_LONG_ID:
                                if rb & 1:
                                    if pos >= n:
                                        raise _err(R.X_RTE_SHORT, base + pos, "OPUS_INVALID_PACKET", out,
                                                   a=base + hdr, b=g, c=rid)
                                    append(_ext(g, rid, area[pos:pos + 1]))
                                    pos += 1
                                else:
                                    append(_ext(g, rid, b""))
                            elif rte_l == 0 and g == last_frame and is_last_long:
                                # implicit length: the rest minus the trailing short payload bytes
                                if n - pos < trailing:
                                    raise _err(R.X_RTE_TRAILING, base + pos, "OPUS_INVALID_PACKET", out,
                                               a=base + hdr, b=trailing)
                                end = n - trailing
                                append(_ext(g, rid, area[pos:end]))
                                pos = end
                            else:
                                size = 0
                                start = pos
                                while True:
                                    if pos >= n:
                                        raise _err(R.X_RTE_LEN, base + pos, "OPUS_INVALID_PACKET", out,
                                                   a=base + hdr, b=g, c=rid)
                                    lb = area[pos]
                                    pos += 1
                                    size += lb
                                    if lb != 255:
                                        break
                                end = pos + size
                                if end > n:
                                    raise _err(R.X_RTE_PAYLOAD, base + pos, "OPUS_INVALID_PACKET", out,
                                               a=base + hdr, b=g, c=rid, d=base + start, e=size, f=n - pos)
                                append(_ext(g, rid, area[pos:end]))
                                pos = end
            region = pos
            last_long = -1
            if rte_l == 0:
                frame += 1
                if frame >= nb_frames:
                    return  # an L=0 repeat in the last frame: remaining bytes are ignored


def _region_entries(area: bytes, start: int, stop: int, last_long: int) -> list[tuple[int, bool]]:
    """Header bytes of the repeatable extensions in ``area[start:stop]``.

    Each entry is (header byte, is-the-last-long-extension). Padding and zero-increment
    separators are skipped; the region was already parsed, so it is well formed.
    """
    entries = []
    q = start
    while q < stop:
        rb = area[q]
        q += 1
        rid = rb >> 1
        if rid >= FIRST_LONG_ID:
            if rb & 1:
                size = 0
                while True:
                    lb = area[q]
                    q += 1
                    size += lb
                    if lb != 255:
                        break
                q += size
            else:
                q = stop
            entries.append((rb, q == last_long))
        elif rid >= FIRST_SHORT_ID:
            q += rb & 1
            entries.append((rb, False))
        elif rid == 1:
            q += rb & 1
        # rid 0 with L=1: one padding byte; (0x00 and RTEs cannot occur inside a region)
    return entries


# ---------------------------------------------------------------------------------------------
# Generation (specs 02 s6): libopus opus_packet_extensions_generate, byte for byte
# ---------------------------------------------------------------------------------------------

def validate_extension(frame: int, eid: int, length: int, nb_frames: int) -> None:
    """libopus's argument checks for one extension; raises ExtensionError code OPUS_BAD_ARG.

    ``length`` is the payload length as a C caller would declare it (may be negative).
    """
    if nb_frames > MAX_FRAMES or nb_frames < 0:
        raise _berr(f"frame count {nb_frames} outside 0..{MAX_FRAMES}", None, "OPUS_BAD_ARG")
    if frame < 0 or frame >= nb_frames:
        raise _berr(f"extension frame {frame} outside 0..{nb_frames - 1}", None, "OPUS_BAD_ARG")
    if eid < FIRST_SHORT_ID or eid > LAST_ID:
        raise _berr(f"extension ID {eid} outside {FIRST_SHORT_ID}..{LAST_ID} (0..2 are structural)",
                   None, "OPUS_BAD_ARG")
    if length < 0:
        raise _berr(f"extension ID {eid}: negative payload length {length}", None, "OPUS_BAD_ARG")
    if eid < FIRST_LONG_ID and length > 1:
        raise _berr(f"short extension ID {eid} takes 0 or 1 payload bytes, not {length}", None,
                   "OPUS_BAD_ARG")


def _as_extension(e) -> Extension:
    if isinstance(e, Extension):
        return e
    frame, eid, data = e
    return Extension(int(frame), int(eid), bytes(data))


def generate_extensions(exts: Iterable[Extension], nb_frames: int, *, pad_to: int | None = None,
                        capacity: int | None = None) -> bytes:
    """Encode ``exts`` into an extension area exactly as libopus does.

    Extensions may come in any order; they are written frame by frame, keeping the input
    order within a frame, using frame separators, Repeat-These-Extensions and an implicit
    length for the final long extension (specs 02 s6). ``pad_to``: fill the area to exactly
    this many bytes by prepending 0x01 (one-byte padding) elements, like libopus's ``pad``
    flag. ``capacity``: the buffer size (defaults to ``pad_to``; unlimited otherwise).
    Raises :class:`ExtensionError` with ``.code`` 'OPUS_BAD_ARG' (invalid extension) or
    'OPUS_BUFFER_TOO_SMALL' (does not fit), in the order libopus detects them.
    (Also accepts (frame, id, data) tuples.)
    """
    exts = [_as_extension(e) for e in exts]
    if capacity is None:
        capacity = pad_to
    cap = capacity if capacity is not None else 1 << 62
    if nb_frames > MAX_FRAMES or nb_frames < 0:
        raise _berr(f"frame count {nb_frames} outside 0..{MAX_FRAMES}", None, "OPUS_BAD_ARG")
    nb = len(exts)
    fmin = [nb] * nb_frames      # first input index of each frame's extensions
    fmax = [0] * nb_frames       # one past the last input index of each frame's extensions
    for i, e in enumerate(exts):
        f = e.frame
        if f < 0 or f >= nb_frames:
            raise _berr(f"extension {i}: frame {f} outside 0..{nb_frames - 1}", None, "OPUS_BAD_ARG")
        if e.id < FIRST_SHORT_ID or e.id > LAST_ID:
            raise _berr(f"extension {i}: ID {e.id} outside {FIRST_SHORT_ID}..{LAST_ID} "
                       f"(0..2 are structural)", None, "OPUS_BAD_ARG")
        if i < fmin[f]:
            fmin[f] = i
        fmax[f] = i + 1
    frames = [e.frame for e in exts]
    ids = [e.id for e in exts]
    rep = list(fmin)             # per frame: next extension not yet consumed by a repeat
    out = bytearray()
    written = 0
    cur = 0
    last_frame = nb_frames - 1

    def short_check(e: Extension) -> None:
        if len(e.data) > 1:
            raise _berr(f"short extension ID {e.id} takes 0 or 1 payload bytes, not {len(e.data)}",
                       None, "OPUS_BAD_ARG")

    def write_payload(e: Extension, last: bool) -> None:
        data = e.data
        if e.id < FIRST_LONG_ID:
            short_check(e)
            if data:
                if cap - len(out) < 1:
                    raise _too_small(cap)
                out.append(data[0])
        else:
            ln = len(data)
            lacing = 0 if last else 1 + ln // 255
            if cap - len(out) < lacing + ln:
                raise _too_small(cap)
            if not last:
                out.extend(b"\xff" * (ln // 255))
                out.append(ln % 255)
            out.extend(data)

    for f in range(nb_frames):
        repeat_count = 0
        last_long_idx = -1
        if f < last_frame:
            for i in range(fmin[f], fmax[f]):
                if frames[i] != f:
                    continue
                eid = ids[i]
                ok = True
                for g in range(f + 1, nb_frames):
                    j = rep[g]
                    if j >= fmax[g] or ids[j] != eid or (
                            eid < FIRST_LONG_ID and len(exts[j].data) != len(exts[i].data)):
                        ok = False
                        break
                if not ok:
                    break
                if eid >= FIRST_LONG_ID:
                    last_long_idx = rep[last_frame]
                for g in range(f + 1, nb_frames):
                    j = rep[g] + 1
                    while j < fmax[g] and frames[j] != g:
                        j += 1
                    rep[g] = j
                repeat_count += 1
                rep[f] = i
        for i in range(fmin[f], fmax[f]):
            if frames[i] != f:
                continue
            if f != cur:
                diff = f - cur
                if cap - len(out) < 2:
                    raise _too_small(cap)
                if diff == 1:
                    out.append(0x02)
                else:
                    out.append(0x03)
                    out.append(diff)
                cur = f
            e = exts[i]
            last = written == nb - 1
            if cap - len(out) < 1:
                raise _too_small(cap)
            if e.id < FIRST_LONG_ID:
                short_check(e)
                out.append((e.id << 1) | len(e.data))
            else:
                out.append((e.id << 1) | (0 if last else 1))
            write_payload(e, last)
            written += 1
            if repeat_count and rep[f] == i:
                nb_repeated = repeat_count * (nb_frames - (f + 1))
                rte_last = (written + nb_repeated == nb) or (last_long_idx < 0 and i + 1 >= fmax[f])
                if cap - len(out) < 1:
                    raise _too_small(cap)
                out.append(0x04 if rte_last else 0x05)
                for g in range(f + 1, nb_frames):
                    for j in range(fmin[g], rep[g]):
                        if frames[j] == g:
                            write_payload(exts[j], rte_last and j == last_long_idx)
                            written += 1
                    fmin[g] = rep[g]
                if rte_last:
                    cur += 1
    if pad_to is not None and len(out) < cap:
        out[0:0] = b"\x01" * (cap - len(out))
    return bytes(out)


def _too_small(cap: int) -> ExtensionError:
    return _berr(f"extensions do not fit in {_nbytes(cap)}", None, "OPUS_BUFFER_TOO_SMALL")


# ---------------------------------------------------------------------------------------------
# Names for display (specs 02 s7)
# ---------------------------------------------------------------------------------------------

#: Known extension IDs -> display name. 124/126 are libopus's experimental IDs.
EXTENSION_REGISTRY: dict[int, str] = {
    0: "padding",
    1: "frame separator",
    2: "repeat these extensions",
    ID_QEXT: "QEXT",
    ID_DRED: "DRED",
    ID_MLCODEC: "mlcodec",
    ID_FEATRED: "mlcodec redundancy",
}


def register_extension(id: int, name: str) -> None:  # noqa: A002 - mirrors the field name
    """Register a display name for extension ``id`` (3..127), e.g. our own codec's ID."""
    if not isinstance(id, int) or id < FIRST_SHORT_ID or id > LAST_ID:
        raise ValueError(f"extension ID must be {FIRST_SHORT_ID}..{LAST_ID}, got {id!r}")
    EXTENSION_REGISTRY[id] = str(name)


def extension_name(id: int, data: bytes = b"") -> str:  # noqa: A002
    """Display name: registry name or ``"ID n"``; DRED shows its experimental version.

    libopus's experimental DRED payload starts with 'D' and a version byte (specs 02 s7,
    05-dred): shown as ``"DRED (v12)"``; a payload without that prefix is shown as
    ``"DRED (unversioned)"`` since decoders ignore it.
    """
    name = EXTENSION_REGISTRY.get(id)
    if name is None:
        kind = "short" if id < FIRST_LONG_ID else "long"
        return f"ID {id} ({kind})"
    if id == ID_DRED and name == "DRED":
        if len(data) >= 2 and data[0] == 0x44:
            return f"DRED (v{data[1]})"
        return "DRED (unversioned)"
    return name


def describe(exts: Sequence[Extension]) -> list[str]:
    """One line per extension, ``frame N: NAME, K bytes`` (for inspectors and logs)."""
    return [f"frame {e.frame}: {extension_name(e.id, e.data)}, {_nbytes(len(e.data))}" for e in exts]
