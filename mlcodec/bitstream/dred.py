"""DRED (Deep REDundancy, extension 126) payloads: header, quantisers, state and latents.

What libopus 1.6's ``dred_find_payload`` / ``dred_ec_decode`` (``src/opus_decoder.c``,
``dnn/dred_decoder.c``) read from a packet, as plain data (specs 05 s2, s4). The header
(version, q0, dQ, qmax, offset) needs nothing else; the state and the latents need the
quantiser statistics of the model (:class:`DredTables`, imported from libopus's
``dred_rdovae_stats_data.c`` by :mod:`mlcodec.libopus.store`). Turning latents into
features is the RDOVAE decoder's job (:mod:`mlcodec.libopus.rdovae`), not this module's.

Every problem is one :class:`DredError` (file, byte offset, reason); no input makes the
parser raise anything else or loop without bound.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from mlcodec.errors import MlcodecError, RangeCoderError

from .packet import packet_extensions, parse_packet
from .rangecoder import RangeDecoder, laplace_p0_mag_icdf, laplace_p0_sign_icdf

# --- constants (specs 05 s2, s3, s8; libopus dnn/dred_config.h) --------------------------
DRED_EXTENSION_ID = 126
DRED_MAGIC = 0x44  # 'D', first experimental byte
#: Experimental version of libopus 1.6 / 1.6.1 (10 was libopus 1.5; same header syntax).
DRED_VERSION = 12
HEADER_VERSIONS = (10, 12)
DRED_EXPERIMENTAL_BYTES = 2
DRED_MAX_LATENTS = 26
#: Quantiser slope per dQ (``compute_quantizer`` in dnn/dred_coding.c).
DQ_TABLE = (0, 2, 3, 4, 6, 8, 12, 16)
OFFSET_UNIT_MS = 2.5  #: dred_offset unit
LATENT_MS = 40  #: audio one transmitted latent decodes to (4 feature frames of 10 ms)
_FTB = 15  # Laplace-p0 iCDF resolution
#: Escape symbols (each "+7") allowed in one value before it counts as corrupt: a real
#: value is a few hundred at most; past the end of the data the coder could go on for ever.
MAX_ESCAPES = 4096


class DredError(MlcodecError):
    """A DRED payload that cannot be read (too short, not libopus's, corrupt, wrong tables)."""


def compute_quantizer(q0: int, dq: int, qmax: int, k: int) -> int:
    """Quantiser level of latent k (0 = newest): ``min(qmax, q0 + (DQ_TABLE[dq]*k + 8)//16)``."""
    return min(qmax, q0 + (DQ_TABLE[dq] * k + 8) // 16)


@dataclass(frozen=True)
class DredTables:
    """Per-level quantiser statistics of one DRED model (specs 05 s5): uint8 arrays of shape
    (levels, dim); ``*_scale`` dequantises, ``*_r``/``*_p0`` drive the Laplace-p0 coder,
    ``*_dead_zone`` is for encoders only."""

    version: int
    latent_scale: np.ndarray = field(repr=False)
    latent_dead_zone: np.ndarray = field(repr=False)
    latent_r: np.ndarray = field(repr=False)
    latent_p0: np.ndarray = field(repr=False)
    state_scale: np.ndarray = field(repr=False)
    state_dead_zone: np.ndarray = field(repr=False)
    state_r: np.ndarray = field(repr=False)
    state_p0: np.ndarray = field(repr=False)
    constants: Mapping = field(default_factory=dict, repr=False, compare=False)
    _coders: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def levels(self) -> int:
        return int(self.latent_scale.shape[0])

    @property
    def latent_dim(self) -> int:
        return int(self.latent_scale.shape[1])

    @property
    def state_dim(self) -> int:
        return int(self.state_scale.shape[1])

    @classmethod
    def from_records(cls, ws: Mapping, *, file: str | None = None) -> "DredTables":
        """From a weight set holding ``dred_{latent,state}_{quant_scales,dead_zone,r,p0}_q8`` and
        the ``DRED_*`` constants (as :func:`mlcodec.libopus.sources.import_models` writes them)."""

        def rec(name):
            r = ws.get(name)
            if r is None:
                raise DredError(f"DRED tables: no record {name!r}", file=file)
            return np.asarray(getattr(r, "data", r)).astype(np.int64)

        consts = {k: int(rec(k)[0]) for k in ws if k.startswith("DRED_")}
        levels = consts.get("DRED_NUM_QUANTIZATION_LEVELS", 16)
        dims = {"latent": consts.get("DRED_LATENT_DIM"), "state": consts.get("DRED_STATE_DIM")}
        arrays = {}
        for kind in ("latent", "state"):
            for part, key in (("quant_scales", "scale"), ("dead_zone", "dead_zone"), ("r", "r"), ("p0", "p0")):
                a = rec(f"dred_{kind}_{part}_q8")
                dim = dims[kind] or a.size // levels
                if a.size != levels * dim or a.min(initial=0) < 0 or a.max(initial=0) > 255:
                    raise DredError(f"DRED tables: dred_{kind}_{part}_q8 is not {levels}x{dim} uint8 values",
                                    file=file)
                arrays[f"{kind}_{key}"] = np.ascontiguousarray(a.reshape(levels, dim), dtype=np.uint8)
        version = consts.get("DRED_EXPERIMENTAL_VERSION", DRED_VERSION)
        return cls(version=version, constants=consts, **arrays)

    def _coder(self, kind: str, level: int):
        """(scale float32[dim], per-dim (sign_icdf, mag_icdf) or None when not coded) for a level."""
        key = (kind, level)
        got = self._coders.get(key)
        if got is None:
            scale = getattr(self, f"{kind}_scale")[level].astype(np.float32)
            scale[scale == 0] = 1
            r = getattr(self, f"{kind}_r")[level]
            p0 = getattr(self, f"{kind}_p0")[level]
            tabs = tuple(None if r[i] == 0 or p0[i] == 255 else
                         (laplace_p0_sign_icdf(int(p0[i]) << 7), laplace_p0_mag_icdf(int(r[i]) << 7))
                         for i in range(r.size))
            got = self._coders[key] = (scale, tabs)
        return got


@dataclass(frozen=True)
class DredPayload:
    """One DRED extension as libopus's ``opus_dred_parse`` reads it.

    ``offset`` is libopus's ``dred_offset`` in 2.5 ms units (frame position included): the
    newest DRED feature frame ends ``offset_ms`` after the start of the packet (negative:
    before it, when the encoder skipped silence). Without tables only the header is read
    and ``latents`` is None. ``state``/``latent_values`` are dequantised float32 exactly as
    libopus stores them; ``state_q``/``latent_q`` the integers coded.
    """

    version: int
    q0: int
    dq: int
    qmax: int
    offset_field: int  #: the coded 5-bit field (ec_dec_uint(32))
    extra_offset: int  #: 32 x the optional 8-bit field
    frame_offset: int  #: position of the frame the extension belongs to (2.5 ms units)
    offset: int
    size: int  #: range-coded bytes (the extension minus its 2 experimental bytes)
    latents: int | None = None
    bits: int | None = None  #: ec_tell() after the last value read
    q_levels: tuple | None = None
    state_q: np.ndarray | None = field(default=None, repr=False, compare=False)
    state: np.ndarray | None = field(default=None, repr=False, compare=False)
    latent_q: np.ndarray | None = field(default=None, repr=False, compare=False)
    latent_values: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def offset_ms(self) -> float:
        return self.offset * OFFSET_UNIT_MS

    @property
    def covers_ms(self) -> int | None:
        """Audio the latents describe: 40 ms each."""
        return None if self.latents is None else self.latents * LATENT_MS

    @property
    def available_ms(self) -> float | None:
        """Audio before the packet start it can restore: libopus's ``opus_dred_parse`` return."""
        return None if self.latents is None else max(0.0, self.covers_ms - self.offset_ms)

    @property
    def end_ms(self) -> float:
        """Audio right before the packet that it does not cover (libopus's ``dred_end``)."""
        return max(0.0, -self.offset_ms)

    def decoder_input(self) -> np.ndarray:
        """(latents, dim+1) float32: each latent plus libopus's quantiser feature ``q*0.125-1``."""
        if self.latent_values is None:
            raise DredError("DRED latents were not decoded (no tables given)")
        q = np.asarray(self.q_levels, np.float64).reshape(-1, 1) * 0.125 - 1
        return np.hstack([self.latent_values, q.astype(np.float32)])

    def to_json(self, *, arrays: bool = False) -> dict:
        """The documented ``dred`` object (docs/libopus.md); ``arrays`` adds the decoded values."""
        d = {"version": self.version, "q0": self.q0, "dq": self.dq, "qmax": self.qmax,
             "offset": self.offset, "offset_ms": self.offset_ms, "latents": self.latents,
             "covers_ms": self.covers_ms, "available_ms": self.available_ms, "bytes": self.size}
        if arrays and self.latents is not None:
            d["q_levels"] = list(self.q_levels)
            d["state"] = [float(x) for x in self.state]
            d["latent_values"] = [[float(x) for x in row] for row in self.latent_values]
        return d


def _values(dec: RangeDecoder, tables: DredTables, kind: str, level: int, limit: int | None) -> list[int]:
    """``dred_decode_latents``' integers for one vector (ec_laplace_decode_p0 per coded dim)."""
    _, tabs = tables._coder(kind, level)
    icdf = dec._icdf
    out = []
    for t in tabs:
        if t is None:
            out.append(0)
            continue
        sign = icdf(t[0], _FTB)
        if sign == 0:
            out.append(0)
            continue
        mag, escapes = 1, 0
        while True:
            v = icdf(t[1], _FTB)
            mag += v
            if v != 7:
                break
            escapes += 1
            if limit is not None and dec.tell() > limit:
                raise _Runaway(f"a {kind} value runs past the end of the payload")
            if escapes > MAX_ESCAPES:
                raise _Runaway(f"a {kind} value's escape codes run on past {MAX_ESCAPES} (corrupt payload)")
        out.append(-mag if sign == 2 else mag)
    return out


class _Runaway(Exception):
    pass


def parse_dred(data: bytes, tables: DredTables | None = None, *, frame_offset: int = 0,
               max_latents: int = DRED_MAX_LATENTS, strict: bool = True,
               file: str | None = None, offset: int | None = None) -> DredPayload:
    """Parse the payload of one ID-126 extension (its 2 experimental bytes included).

    ``frame_offset`` = frame index x frame samples at 48 kHz / 120 (``dred_find_payload``).
    ``strict`` (default) rejects what no libopus encoder writes: a header, state or latent
    running past the end of the data; ``strict=False`` decodes it as libopus would (zeros
    past the end). ``offset`` is where ``data`` starts in ``file``, for error positions.
    """
    data = bytes(data)
    base = offset

    def fail(reason: str, at: int) -> DredError:
        return DredError(f"DRED: {reason}", file=file, offset=None if base is None else base + at)

    if len(data) < DRED_EXPERIMENTAL_BYTES:
        raise fail(f"extension of {len(data)} byte(s) is too short for the 2 experimental bytes", 0)
    if data[0] != DRED_MAGIC:
        raise fail(f"not a libopus DRED payload: first byte is 0x{data[0]:02x}, not 'D'", 0)
    version = data[1]
    if version not in HEADER_VERSIONS:
        raise fail(f"unsupported experimental version {version} (this parser reads "
                   f"{', '.join(map(str, HEADER_VERSIONS))})", 1)
    body = data[DRED_EXPERIMENTAL_BYTES:]
    n = len(body)
    if n == 0:
        raise fail("no range-coded data after the experimental bytes (libopus ignores it)", 2)
    limit = 8 * n if strict else None
    dec = RangeDecoder(body)

    def past_end(what: str) -> DredError:
        return fail(f"{what} runs past the end of the {n}-byte payload "
                    f"({dec.tell()} bits read, {8 * n} available)", 2 + n)

    q0 = dec.uint(16)
    dq = dec.uint(8)
    extra = 32 * dec.uint(256) if dec.uint(2) else 0
    field_ = dec.uint(32)
    qmax = 15
    if q0 < 14 and dq > 0:  # combined "qmax < 15?" + value symbol (specs 05 s4)
        nvals = 15 - (q0 + 1)
        ft = 2 * nvals
        s = dec.decode(ft)
        if s >= nvals:
            qmax = q0 + (s - nvals) + 1
            dec.update(s, s + 1, ft)
        else:
            dec.update(0, nvals, ft)
    if strict and dec.tell() > 8 * n:
        raise past_end("header")
    hdr = dict(version=version, q0=q0, dq=dq, qmax=qmax, offset_field=field_, extra_offset=extra,
               frame_offset=frame_offset, offset=16 - field_ - extra + frame_offset, size=n)
    if tables is None:
        return DredPayload(**hdr, bits=dec.tell())
    if tables.version != version:
        raise fail(f"payload is experimental version {version}, the tables are for version {tables.version}", 1)
    if q0 >= tables.levels or qmax >= tables.levels:
        raise fail(f"quantiser level {max(q0, qmax)} has no table row ({tables.levels} levels)", 2)
    try:
        state_q = _values(dec, tables, "state", q0, limit)
        if strict and dec.tell() > 8 * n:
            raise past_end("initial state")
        lat_q, levels = [], []
        for k in range(max(0, min(max_latents, DRED_MAX_LATENTS))):
            if 8 * n - dec.tell() <= 7:  # libopus's stop rule: fewer than 8 bits left
                break
            q = compute_quantizer(q0, dq, qmax, k)
            lat_q.append(_values(dec, tables, "latent", q, limit))
            levels.append(q)
            if strict and dec.tell() > 8 * n:
                raise past_end(f"latent {k}")
    except _Runaway as exc:
        raise fail(str(exc), 2 + min(n, dec.tell() // 8)) from None
    except RangeCoderError as exc:  # a zero-probability symbol of a table with p0 = 0
        raise fail(f"range coder: {exc.reason}", 2 + min(n, dec.tell() // 8)) from None
    sq = np.array(state_q, np.int32)
    sscale, _ = tables._coder("state", q0)
    state = (sq.astype(np.float32) * np.float32(256.0)) / sscale
    lq = np.array(lat_q, np.int32).reshape(len(lat_q), tables.latent_dim)
    if lat_q:
        scales = np.stack([tables._coder("latent", q)[0] for q in levels])
        lv = (lq.astype(np.float32) * np.float32(256.0)) / scales
    else:
        lv = np.zeros((0, tables.latent_dim), np.float32)
    return DredPayload(**hdr, latents=len(lat_q), bits=dec.tell(), q_levels=tuple(levels), state_q=sq,
                       state=state.astype(np.float32), latent_q=lq, latent_values=lv.astype(np.float32))


def dred_frame_offset(frame: int, frame_samples_48k: int) -> int:
    """Position of Opus frame ``frame`` of a packet in 2.5 ms units (``dred_find_payload``):
    the ``frame_offset`` to pass to :func:`parse_dred` for an extension of that frame."""
    return frame * frame_samples_48k // 120


def find_dred(extensions, frame_samples_48k: int, *, version: int = DRED_VERSION):
    """libopus's ``dred_find_payload``: the first ID-126 extension longer than 2 bytes that
    starts with 'D' and ``version``, with its frame offset; ``(None, 0)`` when there is none."""
    for e in extensions:
        if e.id == DRED_EXTENSION_ID and len(e.data) > DRED_EXPERIMENTAL_BYTES and \
                e.data[0] == DRED_MAGIC and e.data[1] == version:
            return e, dred_frame_offset(e.frame, frame_samples_48k)
    return None, 0


def packet_dred(packet: bytes, tables: DredTables | None = None, *, file: str | None = None,
                offset: int | None = None, **kw) -> DredPayload | None:
    """The DRED of one Opus packet (as ``opus_dred_parse`` finds it), or None.

    Packet and extension errors propagate as their own MlcodecErrors; ``offset`` is where the
    packet starts in ``file``.
    """
    pkt = parse_packet(packet)
    exts = packet_extensions(pkt)
    ext, frame_offset = find_dred(exts, pkt.toc.samples_per_frame_48k,
                                  version=tables.version if tables is not None else DRED_VERSION)
    if ext is None:
        return None
    return parse_dred(ext.data, tables, frame_offset=frame_offset, file=file, offset=None, **kw) \
        if offset is None else _with_offset(pkt, ext, tables, frame_offset, file, offset, kw)


def _with_offset(pkt, ext, tables, frame_offset, file, offset, kw):
    # Locate the extension's payload in the packet for error positions (first occurrence).
    at = bytes(pkt.padding).find(ext.data)
    where = None if at < 0 else offset + pkt.padding_offset + at
    return parse_dred(ext.data, tables, frame_offset=frame_offset, file=file, offset=where, **kw)


# --- where the features lie in time (specs 05 s6; no neural model needed) -----------------


def feature_frame_times(d: DredPayload) -> list[tuple[float, float]]:
    """(start_ms, end_ms) of each decoded feature frame f = 0 .. 4*latents-1 (newest first),
    relative to the start of the packet: frame f ends ``offset_ms - 10 f``."""
    if d.latents is None:
        raise DredError("DRED latents were not decoded (no tables given)")
    return [(d.offset_ms - 10.0 * (f + 1), d.offset_ms - 10.0 * f) for f in range(4 * d.latents)]


def concealment_schedule(d: DredPayload, dred_offset_samples: int, frame_size: int, fs: int,
                         *, init_frames: int = 2) -> list[int | None]:
    """Feature frames libopus's ``opus_decode_native`` feeds the PLC to conceal ``frame_size``
    samples ending ``dred_offset_samples`` before the packet (``opus_decoder_dred_decode``).

    One entry per 10 ms PLC frame (``init_frames`` = 2 after a normally decoded frame, 0 when
    the PLC is already running): an index into the decoded features, or None when libopus
    lets the PLC predict that frame. Frames libopus skips (negative index) are left out.
    """
    if d.latents is None:
        raise DredError("DRED latents were not decoded (no tables given)")
    f10 = fs // 100
    nb = init_frames + max(1, frame_size // f10)
    q = abs(d.offset * f10) // 4 * (1 if d.offset * f10 >= 0 else -1)  # C int division truncates
    base = int(np.floor((np.float32(dred_offset_samples) + np.float32(q)) / np.float32(f10)))
    out: list[int | None] = []
    for i in range(nb):
        fo = init_frames - i - 2 + base
        if 0 <= fo <= 4 * d.latents - 1:
            out.append(fo)
        elif fo >= 0:
            out.append(None)
    return out


# --- coverage over a stream ----------------------------------------------------------------


@dataclass(frozen=True)
class DredCoverage:
    """How much DRED a stream carries: for the ``inspect-extensions --summary`` line."""

    packets: int
    with_dred: int  #: packets in which libopus finds a DRED payload
    errors: int  #: packets whose DRED (or packet framing) could not be read
    latents: tuple = ()  #: (latent count, packets) pairs, most common first (None: no tables)
    covers_ms: tuple = ()  #: (covers_ms, packets) pairs, most common first
    typical_ms: int | None = None  #: the most common covers_ms among packets with DRED
    max_ms: int | None = None
    offsets: tuple = ()  #: (offset in 2.5 ms units, packets), most common first
    with_redundancy: int | None = None  #: packets whose DRED restores audio before them (needs tables)

    def line(self) -> str:
        """``DRED in 263/264 packets, 160 ms typical`` (or ``no DRED in 264 packets``)."""
        if not self.with_dred:
            text = f"no DRED in {self.packets} packets"
        else:
            text = f"DRED in {self.with_dred}/{self.packets} packets"
            if self.typical_ms is not None:
                text += f", {self.typical_ms} ms typical"
                if self.max_ms != self.typical_ms:
                    text += f" (max {self.max_ms} ms)"
        if self.errors:
            text += f", {self.errors} unreadable"
        return text

    def to_json(self) -> dict:
        return {"packets": self.packets, "with_dred": self.with_dred, "with_redundancy": self.with_redundancy,
                "errors": self.errors,
                "typical_ms": self.typical_ms, "max_ms": self.max_ms,
                "latents": [list(x) for x in self.latents], "covers_ms": [list(x) for x in self.covers_ms],
                "offsets": [list(x) for x in self.offsets], "line": self.line()}


def dred_coverage(packets: Iterable[bytes], tables: DredTables | None = None) -> DredCoverage:
    """Summarise the DRED of a stream's packets (bytes each). With tables the latents are
    counted (``covers_ms``); without, only presence and offsets. Never raises on bad packets:
    they are counted in ``errors``."""
    total = found = errors = useful = 0
    lat, cov, off = Counter(), Counter(), Counter()
    for data in packets:
        total += 1
        try:
            d = packet_dred(data, tables)
        except MlcodecError:
            errors += 1
            continue
        if d is None:
            continue
        found += 1
        off[d.offset] += 1
        if d.latents is not None:
            lat[d.latents] += 1
            cov[d.covers_ms] += 1
            useful += d.available_ms > 0
    typical = max(cov.items(), key=lambda kv: (kv[1], kv[0]))[0] if cov else None
    return DredCoverage(total, found, errors, tuple(lat.most_common()), tuple(cov.most_common()),
                        typical, max(cov) if cov else None, tuple(off.most_common()),
                        useful if tables is not None else None)


__all__ = ["DRED_EXTENSION_ID", "DRED_VERSION", "DRED_MAX_LATENTS", "DQ_TABLE", "DredError", "DredTables",
           "DredPayload", "DredCoverage", "compute_quantizer", "parse_dred", "find_dred", "dred_frame_offset",
           "packet_dred", "feature_frame_times", "concealment_schedule", "dred_coverage"]
