"""DRED (extension 126) in the inspectors: the ``dred`` JSON object of each ID-126 extension
and the stream's coverage line (docs/inspect-extensions.md, "DRED").

The payload parser is :mod:`mlcodec.bitstream.dred` (libopus's ``opus_dred_parse``). Without
libopus's DRED tables only the header is read (``latents``/``covers_ms`` null); the CLI
installs the tables it finds with :func:`register_dred`. Nothing here raises on a bad payload.
"""
from __future__ import annotations

from collections import Counter

from mlcodec.bitstream.extensions import ID_DRED, extension_name

from .decoders import ExtensionDecoder, register_decoder

_FRAME_UNIT = 120  #: 48 kHz samples per 2.5 ms (DRED offset unit)


def dred_object(data: bytes, frame_offset: int, tables) -> dict:
    """``DredPayload.to_json()`` of one ID-126 payload; ``{"version", "error"}`` when it cannot
    be read (``version``: the experimental version byte, or None without the 'D')."""
    from mlcodec.bitstream.dred import DRED_MAGIC
    from mlcodec.bitstream.dred import parse_dred
    from mlcodec.errors import MlcodecError

    try:
        return parse_dred(data, tables, frame_offset=frame_offset // _FRAME_UNIT).to_json()
    except MlcodecError as exc:
        v = data[1] if len(data) >= 2 and data[0] == DRED_MAGIC else None
        return {"version": v, "error": exc.reason}


def register_dred(tables=None) -> None:
    """Decode ID 126 with ``tables`` (:class:`mlcodec.bitstream.dred.DredTables`, or None for
    the header only) in every inspector of this process."""
    register_decoder(ExtensionDecoder(ID_DRED, name=lambda d: extension_name(ID_DRED, d), key="dred",
                                      decode=lambda d, off: dred_object(d, off, tables)))


class DredTally:
    """Counts packets' DRED objects into a :class:`mlcodec.bitstream.dred.DredCoverage`.

    Per packet, libopus's rule (``dred_find_payload``): the first ID-126 extension of the
    current experimental version counts; one that fails to parse counts as an error."""

    def __init__(self) -> None:
        self.found = self.errors = self.useful = 0
        self.lat: Counter = Counter()
        self.cov: Counter = Counter()
        self.off: Counter = Counter()
        self.tables = False

    def add(self, objs: list) -> None:
        from mlcodec.bitstream.dred import DRED_VERSION

        o = next((o for o in objs if o.get("version") == DRED_VERSION), None)
        if o is None:
            return
        if "error" in o:
            self.errors += 1
            return
        self.found += 1
        self.off[o["offset"]] += 1
        if o["latents"] is not None:
            self.tables = True
            self.lat[o["latents"]] += 1
            self.cov[o["covers_ms"]] += 1
            self.useful += o["available_ms"] > 0

    def coverage(self, packets: int):
        from mlcodec.bitstream.dred import DredCoverage

        cov = self.cov
        typical = max(cov.items(), key=lambda kv: (kv[1], kv[0]))[0] if cov else None
        return DredCoverage(packets, self.found, self.errors, tuple(self.lat.most_common()),
                            tuple(cov.most_common()), typical, max(cov) if cov else None,
                            tuple(self.off.most_common()), self.useful if self.tables else None)
