"""Per-packet reports, the reference path: containers + :func:`parse_packet` +
:func:`parse_extensions`, one :class:`PacketReport` per Opus packet.

This is the twin the fast paths (:mod:`.batch`, :mod:`.table`) are tested against. A malformed
packet gets an ``error`` string and the walk goes on; a broken container raises ContainerError
after every readable packet has been reported.
"""
from __future__ import annotations

from typing import BinaryIO, Callable, Iterable, Iterator

from mlcodec.bitstream.packet import parse_packet, split_multistream
from mlcodec.bitstream.extensions import parse_extensions
from mlcodec.containers.detect import Input
from mlcodec.containers.reasons import C_NO_OPUS, container_error
from mlcodec.errors import MlcodecError

from .decoders import decode_json, ext_name, has_json
from .report import TOCS, PacketReport, StreamReport, ext_report, packet_report

#: Error strings of the two kinds of empty packet (RFC 7845 §3 forbids them in Ogg).
EMPTY_LOST = "packet: empty (length 0: a lost packet)"
EMPTY_OGG = "packet: zero-byte audio packet (RFC 7845 §3)"


def error_text(exc: MlcodecError, what: str) -> str:
    """``"packet: reason at byte N"`` (the schema's ``error`` string)."""
    where = f" at byte {exc.offset}" if exc.offset is not None else ""
    return f"{what}: {exc.reason}{where}"


def _exts(pkt, ids, max_data) -> tuple[tuple, str | None]:
    """Extension reports of a parsed packet's padding (and the extension error, if any)."""
    err = None
    try:
        exts = parse_extensions(pkt.padding, len(pkt.frames), base_offset=pkt.padding_offset)
    except MlcodecError as exc:
        exts = getattr(exc, "partial", None) or []
        err = error_text(exc, "extensions")
    out = []
    for e in exts:
        eid = e.id
        if ids is not None and eid not in ids:
            continue
        d = e.data
        dec = decode_json(eid, d, e.frame * pkt.toc.samples_per_frame_48k) if has_json(eid) else None
        out.append(ext_report(e.frame, eid, ext_name(eid, d), len(d),
                              (d if max_data is None else d[:max_data]).hex(), dec))
    return tuple(out), err


def _from_packet(pkt, first: int, ids, max_data, packet, stream, offset, granule, serial=None,
                 final_range=None) -> PacketReport:
    exts, err = ((), None) if not pkt.padding else _exts(pkt, ids, max_data)
    return packet_report(packet, stream, offset, granule, TOCS[first], tuple(map(len, pkt.frames)),
                         len(pkt.padding), exts, err, serial, final_range)


def report_packet(data: bytes, *, packet: int, stream: int | None = None, offset: int | None = None,
                  granule: int | None = None, serial: int | None = None, final_range: int | None = None,
                  ids: frozenset | None = None, max_data: int | None = None,
                  self_delimited: bool = False, empty: str = EMPTY_LOST) -> PacketReport:
    """The report of one Opus packet (schema in docs/inspect-extensions.md)."""
    if not data:
        return packet_report(packet, stream, offset, granule, None, (), 0, (), empty, serial, final_range)
    try:
        pkt = parse_packet(data, self_delimited=self_delimited)
    except MlcodecError as exc:
        return packet_report(packet, stream, offset, granule, TOCS[data[0]], (), 0, (),
                             error_text(exc, "packet"), serial, final_range)
    return _from_packet(pkt, data[0], ids, max_data, packet, stream, offset, granule, serial, final_range)


def multistream_reports(data: bytes, nb_streams: int, packet: int, granule: int | None,
                        offset: int | None, serial: int, ids, max_data) -> list[PacketReport]:
    """One report per stream of a multistream Ogg packet (RFC 7845 §3, specs 01 §7)."""
    try:
        packets = split_multistream(data, nb_streams)
    except MlcodecError as exc:
        return [packet_report(packet, 0, offset, granule, TOCS[data[0]] if data else None, (), 0, (),
                              error_text(exc, "multistream packet"), serial)]
    reps = []
    pos = 0
    for s, pkt in enumerate(packets):
        reps.append(_from_packet(pkt, data[pos], ids, max_data, packet, s,
                                 None if offset is None else offset + pos, granule, serial))
        pos += pkt.size
    return reps


def ogg_reports(ev, ids, max_data) -> list[PacketReport]:
    """The report(s) of one OggOpusPacket event."""
    info, index, data, offset, _page, granule = ev[:6]
    n = info.head.stream_count
    if n != 1:
        return multistream_reports(data, n, index, granule, offset, info.serial, ids, max_data)
    return [report_packet(data, packet=index, stream=0, offset=offset, granule=granule,
                          serial=info.serial, ids=ids, max_data=max_data, empty=EMPTY_OGG)]


def stream_report(ev) -> StreamReport:
    """The StreamReport of an OggOpusStreamInfo event (a stream's headers were read)."""
    return StreamReport(ev.serial, ev.index, ev.head_offset, ev.head.as_dict(), ev.tags.as_dict())


def iter_ogg_events(f: BinaryIO, name: str):
    """OggOpusStreamInfo / OggOpusPacket events; ContainerError when no Opus stream is found."""
    from mlcodec.containers.oggopus import OggOpusPacket, iter_ogg_opus

    seen = False
    for ev in iter_ogg_opus(f, file=name):
        if type(ev) is not OggOpusPacket:
            seen = True
        yield ev
    if not seen:
        raise container_error(C_NO_OPUS, file=name, offset=0)


def records(inp: Input):
    """(index, offset, data, final_range or None) per record of a .bit / raw / packet input."""
    if inp.format == "bit":
        from mlcodec.containers.opusdemo import iter_bit

        for rec in iter_bit(inp.stream, file=inp.name):
            yield rec.index, rec.offset, rec.data, rec.final_range
    elif inp.format == "raw":
        from mlcodec.containers.rawframe import iter_raw

        for rec in iter_raw(inp.stream, file=inp.name):
            yield rec.index, rec.offset, rec.data, None
    elif inp.format == "packet":
        yield 0, 0, inp.stream.read(), None
    else:  # pragma: no cover - open_input validated it
        raise AssertionError(inp.format)


def inspect_input(inp: Input, *, ids: Iterable[int] | None = None, max_data: int | None = None,
                  on_stream: Callable[[StreamReport], None] | None = None) -> Iterator[PacketReport]:
    """Yield one PacketReport per Opus packet of an opened input (reference path).

    ``ids`` keeps only those extension IDs in ``extensions``; ``max_data`` cuts each hex
    payload to that many bytes; ``on_stream`` receives a StreamReport for each Ogg Opus
    logical stream when its headers have been read.
    """
    idset = frozenset(ids) if ids else None
    if inp.format == "ogg":
        from mlcodec.containers.oggopus import OggOpusPacket

        for ev in iter_ogg_events(inp.stream, inp.name):
            if type(ev) is OggOpusPacket:
                yield from ogg_reports(ev, idset, max_data)
            elif on_stream is not None:
                on_stream(stream_report(ev))
        return
    for index, offset, data, frange in records(inp):
        yield report_packet(data, packet=index, offset=offset, final_range=frange, ids=idset,
                            max_data=max_data)


def inspect_path(source, fmt: str = "auto", **kw) -> Iterator[PacketReport]:
    """Convenience: open ``source`` (a path or a binary file object) and inspect it."""
    from mlcodec.containers.detect import open_input

    with open_input(source, fmt) as inp:
        yield from inspect_input(inp, **kw)
