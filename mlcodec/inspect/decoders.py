"""Extension decoders by ID: the display name of a payload and, optionally, a one-line
decoded description (docs/inspect-extensions.md, "Extension decoders").

The inspectors ask :func:`ext_name` for every extension. IDs without a registered decoder use
the bitstream registry's name (:func:`mlcodec.bitstream.extensions.extension_name`). A decoder
whose name depends on the payload (``versioned``) is called per extension; the others once per
ID. To plug in a decoder (e.g. DRED, ID 126)::

    from mlcodec.inspect.decoders import ExtensionDecoder, register_decoder
    register_decoder(ExtensionDecoder(126, name=dred_name, describe=dred_describe))

``describe(payload) -> str | None`` is shown after the payload in the table (never in JSON).
``key``/``decode`` add a decoded object to the extension's JSON object under ``key`` (an
addition to the schema: DRED's ``dred`` object). A decoder must not raise on malformed
payloads: it describes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mlcodec.bitstream.extensions import ID_DRED, ID_FEATRED, ID_MLCODEC, extension_name


@dataclass(frozen=True)
class ExtensionDecoder:
    """How the inspectors show one extension ID."""

    id: int
    name: Callable[[bytes], str]
    describe: Callable[[bytes], str | None] | None = None
    #: True when ``name`` depends on the payload (called per extension, not once per ID).
    versioned: bool = True
    #: A decoded object for the extension's JSON, under ``key``: ``decode(payload, frame_offset)``
    #: (``frame_offset``: the extension's frame x that frame's length, in 48 kHz samples) returns
    #: a JSON-ready dict; it must not raise (a malformed payload gives ``{"error": reason}``).
    key: str | None = None
    decode: Callable[[bytes, int], dict] | None = None


_DECODERS: dict[int, ExtensionDecoder] = {}
_names: dict[int, str] = {}  # cache: ID -> name, for IDs whose name ignores the payload


def register_decoder(dec: ExtensionDecoder) -> None:
    """Install (or replace) the decoder of ``dec.id``."""
    _DECODERS[dec.id] = dec
    _names.pop(dec.id, None)


def decoder(eid: int) -> ExtensionDecoder | None:
    return _DECODERS.get(eid)


def is_versioned(eid: int) -> bool:
    """Whether the display name of ``eid`` depends on the payload."""
    d = _DECODERS.get(eid)
    return d is not None and d.versioned


def ext_name(eid: int, data: bytes) -> str:
    """Display name of an extension (cached per ID unless the decoder is versioned)."""
    n = _names.get(eid)
    if n is not None:
        return n
    d = _DECODERS.get(eid)
    if d is None:
        n = _names[eid] = extension_name(eid, b"")
        return n
    if d.versioned:
        return d.name(data)
    n = _names[eid] = d.name(b"")
    return n


def has_json(eid: int) -> bool:
    """Whether extensions of ``eid`` carry a decoded object in JSON."""
    d = _DECODERS.get(eid)
    return d is not None and d.decode is not None


def decode_json(eid: int, data: bytes, frame_offset: int = 0) -> tuple[str, dict] | None:
    """``(key, object)`` of a payload for its JSON extension object, or None."""
    d = _DECODERS.get(eid)
    if d is None or d.decode is None:
        return None
    return d.key, d.decode(data, frame_offset)


def describe(eid: int, data: bytes) -> str | None:
    """The decoder's one-line description of a payload, or None."""
    d = _DECODERS.get(eid)
    if d is None or d.describe is None:
        return None
    return d.describe(data)


# Built-in: our codec (ID 122; its format version is in the stream's OpusTags, docs/format.md §3) and
# libopus's experimental DRED (ID 126: 'D' + version byte, specs 02 §7). Both names come from
# the bitstream registry; the DRED decoder (mlcodec/bitstream/dred.py) plugs in a describe.
register_decoder(ExtensionDecoder(ID_MLCODEC, name=lambda d: extension_name(ID_MLCODEC, d)))
def _dred_header(data: bytes, frame_offset: int) -> dict:
    from .dred import dred_object

    return dred_object(data, frame_offset, None)


# DRED's JSON object: the header only (no tables at this layer); mlcodec.inspect.dred.register_dred
# (the CLI calls it with libopus's tables when installed) adds latents and covers_ms.
register_decoder(ExtensionDecoder(ID_DRED, name=lambda d: extension_name(ID_DRED, d), key="dred",
                                  decode=_dred_header))


def featred_object(data: bytes, frame_offset: int = 0) -> dict:
    """The ``redundancy`` JSON object of an ID-123 payload (mlcodec's feature redundancy,
    docs/loss.md s5): its groups (age in packets, grade, chunks, active chunks), the audio it
    carries (40 ms per active chunk) and its oldest age; ``{"error": reason}`` when malformed."""
    from mlcodec.bitstream.featred import parse_featred
    from mlcodec.errors import MlcodecError

    try:
        p = parse_featred(data)
    except MlcodecError as exc:
        return {"error": exc.reason}
    groups = [{"age": g.age, "grade": "coarse" if g.coarse else "fine", "chunks": len(g.chunks),
               "active": sum(c is not None for c in g.chunks)} for g in p.groups]
    return {"groups": groups, "carried_ms": 40 * sum(g["active"] for g in groups), "oldest_age": p.oldest_age}


def _featred_describe(data: bytes) -> str:
    o = featred_object(data)
    if "error" in o:
        return f"bad: {o['error']}"
    parts = [f"{g['grade']} age {g['age']}: {g['active']}/{g['chunks']} chunks" for g in o["groups"]]
    return "; ".join(parts) + f" ({o['carried_ms']} ms carried, up to {o['oldest_age']} packets back)"


# ID 123: our feature redundancy (mlcodec.bitstream.featred).
register_decoder(ExtensionDecoder(ID_FEATRED, name=lambda d: extension_name(ID_FEATRED, d), versioned=False,
                                  describe=_featred_describe, key="redundancy", decode=featred_object))
