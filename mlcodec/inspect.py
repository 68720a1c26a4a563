"""Per-packet extension reports for any supported input (docs/inspect-extensions.md).

:func:`inspect_input` turns an opened input (Ogg Opus, opus_demo ``.bit``, raw framing or a
single packet) into one report dict per Opus packet with the stable schema of
``docs/inspect-extensions.md``; :class:`Summary` accumulates counts. The CLI only formats.
A malformed packet gets an ``error`` string and the walk goes on; a broken container raises
ContainerError after every readable packet has been reported.
"""
from __future__ import annotations

from typing import BinaryIO, Callable, Iterable, Iterator

from mlcodec.bitstream.extensions import ID_DRED, ID_MLCODEC, extension_name, parse_extensions
from mlcodec.bitstream.packet import parse_packet, split_multistream
from mlcodec.containers.detect import Input, open_input
from mlcodec.errors import ContainerError, MlcodecError

#: Version of the JSON schema (bump on any incompatible change; additions keep it).
SCHEMA_VERSION = 1

# TOC configuration table (RFC 6716 §3.1, specs 01 §2.1) used to describe the first byte of a
# packet that fails to parse.
_MODES = ("SILK",) * 12 + ("Hybrid",) * 4 + ("CELT",) * 16
_BWS = ("NB",) * 4 + ("MB",) * 4 + ("WB",) * 4 + ("SWB", "SWB", "FB", "FB") + \
       ("NB",) * 4 + ("WB",) * 4 + ("SWB",) * 4 + ("FB",) * 4
_MS = (10, 20, 40, 60) * 3 + (10, 20) * 2 + (2.5, 5, 10, 20) * 4


_raw_toc_cache: dict = {}


def _toc_dict_from_byte(b: int) -> dict:
    """TOC fields straight from the first byte (for packets that fail to parse); cached."""
    d = _raw_toc_cache.get(b)
    if d is None:
        c = b >> 3
        d = _raw_toc_cache[b] = {"config": c, "mode": _MODES[c], "bandwidth": _BWS[c],
                                 "frame_ms": _MS[c], "stereo": bool(b & 4), "code": b & 3}
    return d


_toc_cache: dict = {}


def _toc_dict(toc, first_byte: int) -> dict:
    """JSON form of a Toc (cached per TOC byte: 256 possible values)."""
    d = _toc_cache.get(first_byte)
    if d is None:
        ms = toc.frame_ms
        if isinstance(ms, float) and ms.is_integer():
            ms = int(ms)
        d = {"config": toc.config, "mode": str(getattr(toc.mode, "name", toc.mode)),
             "bandwidth": str(getattr(toc.bandwidth, "name", toc.bandwidth)), "frame_ms": ms,
             "stereo": bool(toc.stereo), "code": toc.code}
        _toc_cache[first_byte] = d
    return d


#: Display names per extension ID, filled on first use (DRED, 126, is named per payload).
_name_cache: dict = {}
#: IDs whose display name includes a version byte from the payload (DRED, mlcodec).
_VERSIONED = (ID_DRED, ID_MLCODEC)


def _ext_name(ext_id: int, data: bytes) -> str:
    if ext_id in _VERSIONED:  # these names carry the version from the payload
        return extension_name(ext_id, data)
    n = _name_cache[ext_id] = extension_name(ext_id, b"")
    return n


def report_packet(data: bytes, *, packet: int, stream: int | None = None, offset: int | None = None,
                  granule: int | None = None, extra: dict | None = None, ids: frozenset | None = None,
                  max_data: int | None = None, self_delimited: bool = False) -> dict:
    """The report dict of one Opus packet (schema in docs/inspect-extensions.md)."""
    rep = _new_report(packet, stream, offset, granule)
    if extra:
        rep.update(extra)
    if not data:
        rep["error"] = "packet: empty (length 0: a lost packet)"
        return rep
    try:
        pkt = parse_packet(data, self_delimited=self_delimited)
    except MlcodecError as exc:
        if data:
            rep["toc"] = _toc_dict_from_byte(data[0])
        rep["error"] = _msg(exc, "packet")
        return rep
    return _fill(rep, pkt, data[0], ids, max_data)


def _msg(exc: MlcodecError, what: str) -> str:
    where = f" at byte {exc.offset}" if exc.offset is not None else ""
    return f"{what}: {exc.reason}{where}"


def _fill(rep: dict, pkt, first_byte: int, ids, max_data) -> dict:
    """Complete ``rep`` from a parsed packet: TOC, frames, padding, extensions."""
    toc = _toc_cache.get(first_byte)
    rep["toc"] = toc if toc is not None else _toc_dict(pkt.toc, first_byte)
    rep["frames"] = list(map(len, pkt.frames))
    pad = pkt.padding
    if pad:
        rep["padding"] = len(pad)
        try:
            exts = parse_extensions(pad, len(pkt.frames), base_offset=pkt.padding_offset)
        except MlcodecError as exc:
            exts = getattr(exc, "partial", None) or []
            rep["error"] = _msg(exc, "extensions")
        names = _name_cache
        out = []
        for e in exts:
            eid = e.id
            if ids is not None and eid not in ids:
                continue
            d = e.data
            name = names.get(eid)
            if name is None:
                name = _ext_name(eid, d)
            out.append({"frame": e.frame, "id": eid, "name": name, "length": len(d),
                        "data": (d if max_data is None else d[:max_data]).hex()})
        rep["extensions"] = out
    return rep


def _new_report(packet, stream, offset, granule) -> dict:
    """A report with the schema's keys in their documented order."""
    return {"packet": packet, "stream": stream, "offset": offset, "granule": granule, "toc": None,
            "frames": [], "padding": 0, "extensions": [], "error": None}


def _multistream_reports(data: bytes, nb_streams: int, packet: int, granule: int | None,
                         offset: int | None, serial: int, ids, max_data) -> list[dict]:
    """One report per stream of a multistream Ogg packet (RFC 7845 §3, specs 01 §7)."""
    try:
        packets = split_multistream(data, nb_streams)
    except MlcodecError as exc:
        rep = _new_report(packet, 0, offset, granule)
        if data:
            rep["toc"] = _toc_dict_from_byte(data[0])
        rep["error"] = _msg(exc, "multistream packet")
        rep["serial"] = serial
        return [rep]
    reps = []
    pos = 0
    for s, pkt in enumerate(packets):
        rep = _new_report(packet, s, None if offset is None else offset + pos, granule)
        rep["serial"] = serial
        reps.append(_fill(rep, pkt, data[pos], ids, max_data))
        pos += pkt.size
    return reps


def inspect_input(inp: Input, *, ids: Iterable[int] | None = None, max_data: int | None = None,
                  on_stream: Callable[[dict], None] | None = None) -> Iterator[dict]:
    """Yield one report per Opus packet of an opened input.

    ``ids`` keeps only those extension IDs in ``extensions``; ``max_data`` cuts each hex
    payload to that many bytes; ``on_stream`` receives a dict describing each Ogg Opus
    logical stream (serial, OpusHead, OpusTags) when its headers have been read.
    """
    idset = frozenset(ids) if ids else None
    fmt = inp.format
    name = inp.name
    if fmt == "ogg":
        yield from _inspect_ogg(inp.stream, name, idset, max_data, on_stream)
        return
    if fmt == "bit":
        from mlcodec.containers.opusdemo import iter_bit

        for rec in iter_bit(inp.stream, file=name):
            yield report_packet(rec.data, packet=rec.index, offset=rec.offset,
                                extra={"final_range": rec.final_range}, ids=idset, max_data=max_data)
        return
    if fmt == "raw":
        from mlcodec.containers.rawframe import iter_raw

        for rec in iter_raw(inp.stream, file=name):
            yield report_packet(rec.data, packet=rec.index, offset=rec.offset, ids=idset,
                                max_data=max_data)
        return
    if fmt == "packet":
        data = inp.stream.read()
        yield report_packet(data, packet=0, offset=0, ids=idset, max_data=max_data)
        return
    raise AssertionError(fmt)  # pragma: no cover - open_input validated it


def _inspect_ogg(f: BinaryIO, name: str, ids, max_data, on_stream) -> Iterator[dict]:
    # The hot path of `inspect-extensions` on Ogg input: kept flat (no per-packet helper
    # calls in the common case) since it runs once per packet.
    from mlcodec.containers.oggopus import OggOpusPacket, iter_ogg_opus

    toc_cache = _toc_cache
    seen = False
    for ev in iter_ogg_opus(f, file=name):
        if type(ev) is not OggOpusPacket:  # a stream's headers were read
            seen = True
            if on_stream is not None:
                on_stream({"serial": ev.serial, "index": ev.index, "offset": ev.head_offset,
                           "head": ev.head.as_dict(), "tags": ev.tags.as_dict()})
            continue
        info, index, data, offset, _page, granule = ev[:6]
        n = info.head.stream_count
        if n != 1:
            yield from _multistream_reports(data, n, index, granule, offset, info.serial, ids, max_data)
            continue
        rep = {"packet": index, "stream": 0, "offset": offset, "granule": granule,
               "toc": None, "frames": [], "padding": 0, "extensions": [], "error": None,
               "serial": info.serial}
        if not data:
            rep["error"] = "packet: zero-byte audio packet (RFC 7845 §3)"
            yield rep
            continue
        try:
            pkt = parse_packet(data)
        except MlcodecError as exc:
            rep["toc"] = _toc_dict_from_byte(data[0])
            rep["error"] = _msg(exc, "packet")
            yield rep
            continue
        if pkt.padding:
            yield _fill(rep, pkt, data[0], ids, max_data)
            continue
        toc = toc_cache.get(data[0])
        rep["toc"] = toc if toc is not None else _toc_dict(pkt.toc, data[0])
        rep["frames"] = list(map(len, pkt.frames))
        yield rep
    if not seen:
        raise ContainerError("no Opus logical stream in this Ogg input (no OpusHead/OpusTags)",
                             file=name, offset=0)


def inspect_path(source, fmt: str = "auto", **kw) -> Iterator[dict]:
    """Convenience: open ``source`` (path, ``"-"`` or binary file) and inspect it."""
    with open_input(source, fmt) as inp:
        yield from inspect_input(inp, **kw)


class Summary:
    """Counts over reports: packets, errors, padding bytes, extensions per ID and per frame."""

    def __init__(self) -> None:
        self.packets = 0
        self.errors = 0
        self.padding_bytes = 0
        self.packets_with_extensions = 0
        self.by_id: dict[int, list] = {}  # id -> [name, count, bytes]
        self.by_frame: dict[int, int] = {}

    def add(self, rep: dict) -> None:
        self.packets += 1
        if rep["error"] is not None:
            self.errors += 1
        self.padding_bytes += rep["padding"]
        exts = rep["extensions"]
        if exts:
            self.packets_with_extensions += 1
            by_id, by_frame = self.by_id, self.by_frame
            for e in exts:
                s = by_id.get(e["id"])
                if s is None:
                    s = by_id[e["id"]] = [e["name"], 0, 0]
                s[1] += 1
                s[2] += e["length"]
                by_frame[e["frame"]] = by_frame.get(e["frame"], 0) + 1

    def as_dict(self) -> dict:
        return {"summary": {
            "schema": SCHEMA_VERSION,
            "packets": self.packets,
            "errors": self.errors,
            "padding_bytes": self.padding_bytes,
            "packets_with_extensions": self.packets_with_extensions,
            "by_id": [{"id": i, "name": v[0], "count": v[1], "bytes": v[2]}
                      for i, v in sorted(self.by_id.items())],
            "by_frame": [{"frame": f, "count": c} for f, c in sorted(self.by_frame.items())],
        }}
