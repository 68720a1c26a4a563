"""The inspect reports: frozen records with one ``to_json`` each (docs/inspect-extensions.md).

:class:`PacketReport` is one Opus packet (one stream of a multistream packet);
:class:`SummaryReport` the counts over a whole input; :class:`StreamReport` an Ogg Opus
logical stream's headers. ``to_json()`` writes the stable schema (version
:data:`SCHEMA_VERSION`) as compact JSON, the same text as ``json.dumps(r.to_dict(),
separators=(",", ":"))``, which the tests check.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

#: Version of the JSON schema (bump on any incompatible change; additions keep it).
SCHEMA_VERSION = 1

_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_new = object.__new__

# TOC configuration table (RFC 6716 §3.1, specs 01 §2.1).
_MODES = ("SILK",) * 12 + ("Hybrid",) * 4 + ("CELT",) * 16
_BWS = ("NB",) * 4 + ("MB",) * 4 + ("WB",) * 4 + ("SWB", "SWB", "FB", "FB") + \
       ("NB",) * 4 + ("WB",) * 4 + ("SWB",) * 4 + ("FB",) * 4
_MS = (10, 20, 40, 60) * 3 + (10, 20) * 2 + (2.5, 5, 10, 20) * 4


@dataclass(frozen=True)
class TocReport:
    """The TOC byte's fields (RFC 6716 §3.1); one shared instance per byte value."""

    config: int
    mode: str
    bandwidth: str
    frame_ms: int | float
    stereo: bool
    code: int

    def to_dict(self) -> dict:
        return {"config": self.config, "mode": self.mode, "bandwidth": self.bandwidth,
                "frame_ms": self.frame_ms, "stereo": self.stereo, "code": self.code}

    def to_json(self) -> str:
        return toc_json(self.config << 3 | self.stereo << 2 | self.code)


def _toc(b: int) -> TocReport:
    t = _new(TocReport)
    t.__dict__.update(config=b >> 3, mode=_MODES[b >> 3], bandwidth=_BWS[b >> 3], frame_ms=_MS[b >> 3],
                      stereo=bool(b & 4), code=b & 3)
    return t


#: The TocReport of each TOC byte (shared instances).
TOCS: tuple[TocReport, ...] = tuple(map(_toc, range(256)))
_TOC_JSON: list = [None] * 256


def toc_json(byte: int) -> str:
    """JSON text of the TOC object for a first byte (cached: the hot path uses it per packet)."""
    js = _TOC_JSON[byte]
    if js is None:
        js = _TOC_JSON[byte] = _dumps(TOCS[byte].to_dict())
    return js


@dataclass(frozen=True)
class ExtensionReport:
    """One extension: frame (0-based), ID, display name, full length, payload as hex (cut by
    ``max_data``)."""

    frame: int
    id: int
    name: str
    length: int
    data: str
    #: ``(key, object)`` from the ID's registered decoder (DRED: ``("dred", {...})``), or None
    decoded: tuple | None = None

    def to_dict(self) -> dict:
        d = {"frame": self.frame, "id": self.id, "name": self.name, "length": self.length,
             "data": self.data}
        if self.decoded is not None:
            d[self.decoded[0]] = self.decoded[1]
        return d

    def to_json(self) -> str:
        return (f'{{"frame":{self.frame},"id":{self.id},"name":{name_json(self.name)},'
                f'"length":{self.length},"data":"{self.data}"{decoded_json(self.decoded)}}}')


def decoded_json(decoded) -> str:
    """``,"key":{...}`` for an extension's decoded object ("" for None)."""
    return "" if decoded is None else f',{_dumps(decoded[0])}:{_dumps(decoded[1])}'


_name_json: dict[str, str] = {}


def name_json(name: str) -> str:
    """JSON text of an extension name (cached: a stream has few distinct names)."""
    js = _name_json.get(name)
    if js is None:
        js = _name_json[name] = _dumps(name)
    return js


def ext_report(frame: int, eid: int, name: str, length: int, data: str, decoded=None) -> ExtensionReport:
    """Fast constructor for the per-packet loops (skips the frozen-dataclass __setattr__)."""
    e = _new(ExtensionReport)
    e.__dict__.update(frame=frame, id=eid, name=name, length=length, data=data, decoded=decoded)
    return e


@dataclass(frozen=True)
class PacketReport:
    """One Opus packet (schema in docs/inspect-extensions.md). ``serial`` is set for Ogg,
    ``final_range`` for opus_demo ``.bit``; either appears in JSON only when set."""

    packet: int
    stream: int | None = None
    offset: int | None = None
    granule: int | None = None
    toc: TocReport | None = None
    frames: tuple[int, ...] = ()
    padding: int = 0
    extensions: tuple[ExtensionReport, ...] = ()
    error: str | None = None
    serial: int | None = None
    final_range: int | None = None

    def to_dict(self) -> dict:
        d = {"packet": self.packet, "stream": self.stream, "offset": self.offset,
             "granule": self.granule, "toc": None if self.toc is None else self.toc.to_dict(),
             "frames": list(self.frames), "padding": self.padding,
             "extensions": [e.to_dict() for e in self.extensions], "error": self.error}
        if self.serial is not None:
            d["serial"] = self.serial
        if self.final_range is not None:
            d["final_range"] = self.final_range
        return d

    def to_json(self) -> str:
        """The compact JSON object of the schema (no newline)."""
        t = self.toc
        s, o, g, err = self.stream, self.offset, self.granule, self.error
        out = (f'{{"packet":{self.packet},"stream":{"null" if s is None else s},'
               f'"offset":{"null" if o is None else o},"granule":{"null" if g is None else g},'
               f'"toc":{"null" if t is None else toc_json(t.config << 3 | t.stereo << 2 | t.code)},'
               f'"frames":[{",".join(map(str, self.frames))}],"padding":{self.padding},'
               f'"extensions":[{",".join([e.to_json() for e in self.extensions]) if self.extensions else ""}],'
               f'"error":{"null" if err is None else _dumps(err)}')
        if self.serial is not None:
            out += f',"serial":{self.serial}'
        if self.final_range is not None:
            out += f',"final_range":{self.final_range}'
        return out + "}"


def packet_report(packet, stream, offset, granule, toc, frames, padding, extensions, error,
                  serial=None, final_range=None) -> PacketReport:
    """Fast positional constructor for the per-packet loops."""
    r = _new(PacketReport)
    r.__dict__.update(packet=packet, stream=stream, offset=offset, granule=granule, toc=toc,
                      frames=frames, padding=padding, extensions=extensions, error=error,
                      serial=serial, final_range=final_range)
    return r


@dataclass(frozen=True)
class StreamReport:
    """An Ogg Opus logical stream whose headers were read (RFC 7845 §5): OpusHead and
    OpusTags as dicts (``OpusHead.as_dict()``, ``OpusTags.as_dict()``)."""

    serial: int
    index: int
    offset: int | None
    head: dict
    tags: dict

    def to_dict(self) -> dict:
        return {"serial": self.serial, "index": self.index, "offset": self.offset,
                "head": self.head, "tags": self.tags}

    def to_json(self) -> str:
        return _dumps(self.to_dict())


@dataclass(frozen=True)
class IdCount:
    """Extensions of one ID: display name (of its first occurrence), count, payload bytes."""

    id: int
    name: str
    count: int
    bytes: int


@dataclass(frozen=True)
class SummaryReport:
    """Counts over every packet report of an input (``--summary``)."""

    packets: int = 0
    errors: int = 0
    padding_bytes: int = 0
    packets_with_extensions: int = 0
    by_id: tuple[IdCount, ...] = ()
    by_frame: tuple[tuple[int, int], ...] = ()  # (frame, count), frames ascending
    schema: int = SCHEMA_VERSION
    #: DRED coverage (``DredCoverage.to_json()``: packets, with_dred, typical_ms, line, ...)
    #: when any packet carried an ID-126 extension; None otherwise (and absent from JSON)
    dred: dict | None = None

    def to_dict(self) -> dict:
        return {"summary": {
            "schema": self.schema,
            "packets": self.packets,
            "errors": self.errors,
            "padding_bytes": self.padding_bytes,
            "packets_with_extensions": self.packets_with_extensions,
            "by_id": [{"id": c.id, "name": c.name, "count": c.count, "bytes": c.bytes} for c in self.by_id],
            "by_frame": [{"frame": f, "count": c} for f, c in self.by_frame],
            **({} if self.dred is None else {"dred": self.dred}),
        }}

    def to_json(self) -> str:
        return _dumps(self.to_dict())


class Summary:
    """Accumulates a :class:`SummaryReport`: packets, errors, padding bytes, extensions per ID
    and per frame. ``add`` takes one PacketReport; ``add_counts`` bulk counts (batch path)."""

    def __init__(self) -> None:
        self.packets = 0
        self.errors = 0
        self.padding_bytes = 0
        self.packets_with_extensions = 0
        self.by_id: dict[int, list] = {}  # id -> [name, count, bytes]
        self.by_frame: dict[int, int] = {}
        self.dred = None  # a .dred.DredTally once a packet carried an ID-126 extension

    def add_dred(self, objs: list) -> None:
        """Count one packet's DRED: the ``dred`` objects of its ID-126 extensions, in order."""
        if self.dred is None:
            from .dred import DredTally

            self.dred = DredTally()
        self.dred.add(objs)

    def add(self, rep: PacketReport) -> None:
        self.packets += 1
        if rep.error is not None:
            self.errors += 1
        self.padding_bytes += rep.padding
        exts = rep.extensions
        if exts:
            self.packets_with_extensions += 1
            by_id, by_frame = self.by_id, self.by_frame
            dred = []
            for e in exts:
                s = by_id.get(e.id)
                if s is None:
                    s = by_id[e.id] = [e.name, 0, 0]
                s[1] += 1
                s[2] += e.length
                by_frame[e.frame] = by_frame.get(e.frame, 0) + 1
                if e.id == 126 and e.decoded is not None:
                    dred.append(e.decoded[1])
            if dred:
                self.add_dred(dred)

    def name(self, eid: int, name: str) -> None:
        """Record the display name of ``eid`` if it is the first occurrence."""
        if eid not in self.by_id:
            self.by_id[eid] = [name, 0, 0]

    def add_counts(self, packets: int, padding_bytes: int, packets_with_extensions: int,
                   by_id: dict[int, tuple[int, int]], by_frame: dict[int, int]) -> None:
        """Bulk counts of error-free packets; every ID must have been named first."""
        self.packets += packets
        self.padding_bytes += padding_bytes
        self.packets_with_extensions += packets_with_extensions
        for eid, (n, b) in by_id.items():
            s = self.by_id[eid]
            s[1] += n
            s[2] += b
        for f, n in by_frame.items():
            self.by_frame[f] = self.by_frame.get(f, 0) + n

    def report(self) -> SummaryReport:
        return SummaryReport(
            self.packets, self.errors, self.padding_bytes, self.packets_with_extensions,
            tuple(IdCount(i, v[0], v[1], v[2]) for i, v in sorted(self.by_id.items()) if v[1]),
            tuple(sorted(self.by_frame.items())), SCHEMA_VERSION,
            None if self.dred is None else self.dred.coverage(self.packets).to_json())
