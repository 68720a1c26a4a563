"""The redundancy payload (issue 13 item 1): past latents, newest first, coarser with age.

A pure bitstream module, DRED's design (specs 05 s4) on our latent coder. Layout of one
payload (docs/loss.md "Redundancy payload"):

* byte 0: :data:`REDUNDANCY_VERSION`;
* then one range-coder stream (specs 03), fields in order:

  1. ``q0``: ``uint(16)``, level of the initial state and of the newest latent;
  2. ``dQ``: ``uint(8)``, index into :data:`DQ_TABLE` (the slope of the schedule);
  3. offset: flag ``uint(2)``; if 1, ``hi = uint(256)``; then ``lo = uint(32)``;
     ``offset = 32*hi + lo`` latents (20 ms each) between the start of the packet and the
     end of the newest history latent (silence the encoder skipped; 0 = the history ends
     where the packet starts);
  4. ``qmax``: DRED's combined symbol (only when ``q0 < 14 and dQ > 0``, else 15),
     ``ft = 2*(14 - q0)``: ``s < 14 - q0`` means 15, else ``qmax = q0 + 1 + s - (14 - q0)``;
  5. ``count``: ``uint(MAX_LATENTS + 1)``, the number of history latents (explicit, unlike
     DRED's "fewer than 8 bits left" stop rule: a damaged payload cannot change it silently);
  6. the initial state: ``state_dim`` values, Laplace-p0 coded at level ``q0``;
  7. ``count`` latents, newest first, latent k at level
     ``q(k) = min(qmax, q0 + (DQ_TABLE[dQ]*k + 8) // 16)`` (specs 05 s4 ``compute_quantizer``).

* cut to ``ceil(tell/8)`` bytes, trailing zero bytes dropped (the decoder reads zeros there).

Values are coded as the primary payload codes them (``laplace_p0``, dims with decay 0 or
P(0) certain are absent). The tables are the caller's: ``latent_tables(level)`` and
``state_tables(level)`` return :class:`~mlcodec.codec.payload.CodingTables` (or QuantTables).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mlcodec.bitstream.rangecoder import RangeDecoder, RangeEncoder
from mlcodec.codec.payload import MAX_MAGNITUDE, CodingTables
from mlcodec.errors import CodecError, RangeCoderError

#: First byte of every redundancy payload.
REDUNDANCY_VERSION = 1
#: Slope table of the quantizer schedule, in 1/16 level per latent (specs 05 s4).
DQ_TABLE = (0, 2, 3, 4, 6, 8, 12, 16)
#: Most history latents: 52 x 20 ms = 1040 ms (issue 13).
MAX_LATENTS = 52
#: Largest codable offset in latents (32*255 + 31).
MAX_OFFSET = 32 * 255 + 31
NB_LEVELS = 16

Tables = Callable[[int], object]


def level_schedule(q0: int, dq: int, qmax: int, n: int) -> list[int]:
    """Quantizer level of history latents k = 0..n-1 (specs 05 s4 ``compute_quantizer``)."""
    return [min(qmax, q0 + (DQ_TABLE[dq] * k + 8) // 16) for k in range(n)]


@dataclass(frozen=True)
class Redundancy:
    """One parsed redundancy payload. ``latents`` (count, dim) int, newest first; ``state``
    (state_dim,) int; ``offset`` in 20 ms latents."""

    q0: int
    dq: int
    qmax: int
    offset: int
    state: np.ndarray
    latents: np.ndarray

    @property
    def levels(self) -> list[int]:
        return level_schedule(self.q0, self.dq, self.qmax, len(self.latents))

    @property
    def covered_ms(self) -> int:
        """History covered, in ms (20 ms per latent)."""
        return 20 * len(self.latents)

    def to_json(self) -> dict:
        return {"q0": self.q0, "dQ": self.dq, "qmax": self.qmax, "offset_ms": 20 * self.offset,
                "latents": int(len(self.latents)), "covered_ms": self.covered_ms,
                "state_dim": int(self.state.size)}


def _check_header(q0, dq, qmax, offset, count) -> None:
    if not 0 <= q0 < NB_LEVELS:
        raise CodecError(f"redundancy q0 {q0} outside 0..15")
    if not 0 <= dq < len(DQ_TABLE):
        raise CodecError(f"redundancy dQ {dq} outside 0..7")
    if not q0 <= qmax < NB_LEVELS:
        raise CodecError(f"redundancy qmax {qmax} outside q0..15")
    if qmax < 15 and not (q0 < 14 and dq > 0 and qmax > q0):
        raise CodecError(f"redundancy qmax {qmax} < 15 needs q0 < 14, dQ > 0 and qmax > q0")
    if not 0 <= offset <= MAX_OFFSET:
        raise CodecError(f"redundancy offset {offset} outside 0..{MAX_OFFSET}")
    if not 0 <= count <= MAX_LATENTS:
        raise CodecError(f"{count} history latents (at most {MAX_LATENTS})")


def _rows(a, dim: int, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.size == 0:
        return np.zeros((0, dim), np.int64)
    a = a.reshape(-1, a.shape[-1])
    if a.shape[1] != dim:
        raise CodecError(f"{what} have {a.shape[1]} values, the tables {dim}")
    return np.clip(np.rint(a), -MAX_MAGNITUDE, MAX_MAGNITUDE).astype(np.int64)


def _put_values(enc: RangeEncoder, row, t: CodingTables) -> None:
    for i, p0, decay in t.dims:
        enc.laplace_p0(int(row[i]), p0, decay)


def _get_values(dec: RangeDecoder, t: CodingTables, offset) -> list[int]:
    row = [0] * t.dim
    for i, p0, decay in t.dims:
        v = dec.laplace_p0(p0, decay)
        if not -MAX_MAGNITUDE <= v <= MAX_MAGNITUDE:
            raise CodecError(f"redundancy value {v} out of range (corrupt payload)", offset=offset)
        row[i] = v
    return row


def write_redundancy(r: Redundancy, latent_tables: Tables, state_tables: Tables | None = None) -> bytes:
    """The payload bytes of ``r`` (see the module docstring for the layout)."""
    q0, dq, qmax, offset = int(r.q0), int(r.dq), int(r.qmax), int(r.offset)
    n = np.asarray(r.latents).shape[0] if np.asarray(r.latents).size else 0
    _check_header(q0, dq, qmax, offset, n)
    lat_t = {lv: CodingTables.from_quant_tables(latent_tables(lv))
             for lv in set(level_schedule(q0, dq, qmax, MAX_LATENTS)) | {q0}}
    dim = lat_t[q0].dim
    lat = _rows(r.latents, dim, "history latents")
    st_t = CodingTables.from_quant_tables(state_tables(q0)) if state_tables is not None else None
    st = _rows(r.state, st_t.dim if st_t else 0, "state values") if np.asarray(r.state).size else None
    if st is not None and st_t is None:
        raise CodecError("a state was given but no state tables")
    nvals = (lat.size + (st.size if st is not None else 0))
    bound = 16 + 2 * nvals + 2 * int((np.abs(lat) // 7).sum()) + (2 * int((np.abs(st) // 7).sum()) if st is not None else 0)
    enc = RangeEncoder(bound)
    enc.uint(q0, 16)
    enc.uint(dq, 8)
    if offset > 31:
        enc.uint(1, 2)
        enc.uint(offset >> 5, 256)
    else:
        enc.uint(0, 2)
    enc.uint(offset & 31, 32)
    if q0 < 14 and dq > 0:
        nv = 14 - q0
        if qmax == 15:
            enc.encode(0, nv, 2 * nv)
        else:
            s = nv + qmax - (q0 + 1)
            enc.encode(s, s + 1, 2 * nv)
    elif qmax != 15:
        raise CodecError("qmax < 15 cannot be coded with q0 >= 14 or dQ = 0")
    enc.uint(len(lat), MAX_LATENTS + 1)
    if st_t is not None:
        _put_values(enc, st[0] if st is not None else np.zeros(st_t.dim, np.int64), st_t)
    for k, lv in enumerate(level_schedule(q0, dq, qmax, len(lat))):
        _put_values(enc, lat[k], lat_t[lv])
    enc.shrink(max((enc.tell() + 7) // 8, enc.range_bytes))
    data = enc.finish()
    if enc.error:  # pragma: no cover - the bound above makes this unreachable
        raise CodecError("redundancy payload does not fit its buffer")
    return bytes([REDUNDANCY_VERSION]) + data.rstrip(b"\0")


def parse_redundancy(payload: bytes, latent_tables: Tables, state_tables: Tables | None = None, *,
                     offset: int | None = None) -> Redundancy:
    """Parse a payload written by :func:`write_redundancy` with the same tables. CodecError
    (with ``offset``, the payload's position in its file when known) on anything invalid."""
    payload = bytes(payload)
    if not payload:
        raise CodecError("empty redundancy payload (no version byte)", offset=offset)
    if payload[0] != REDUNDANCY_VERSION:
        raise CodecError(f"unsupported redundancy version {payload[0]} (this build reads {REDUNDANCY_VERSION})",
                         offset=offset)
    dec = RangeDecoder(payload[1:])
    try:
        q0 = dec.uint(16)
        dq = dec.uint(8)
        off = 0
        if dec.uint(2):
            off = dec.uint(256) << 5
        off += dec.uint(32)
        qmax = 15
        if q0 < 14 and dq > 0:
            nv = 14 - q0
            s = dec.decode(2 * nv)
            if s < nv:
                dec.update(0, nv, 2 * nv)
            else:
                qmax = q0 + (s - nv) + 1
                dec.update(s, s + 1, 2 * nv)
        count = dec.uint(MAX_LATENTS + 1)
        _check_header(q0, dq, qmax, off, count)
        st_t = CodingTables.from_quant_tables(state_tables(q0)) if state_tables is not None else None
        state = np.array(_get_values(dec, st_t, offset) if st_t is not None else [], np.int64)
        rows = []
        cache: dict[int, CodingTables] = {}
        for lv in level_schedule(q0, dq, qmax, count):
            if lv not in cache:
                cache[lv] = CodingTables.from_quant_tables(latent_tables(lv))
            rows.append(_get_values(dec, cache[lv], offset))
    except RangeCoderError as exc:
        raise CodecError(f"corrupt redundancy payload: {exc.reason}", offset=offset) from None
    except CodecError as exc:
        if exc.offset is None:
            exc.offset = offset
        raise
    if dec.tell() > 8 * len(payload) + 8 * 64:
        # The writer only drops trailing zero bytes; reading far past the data means the
        # count or the values are not what was written.
        raise CodecError("redundancy payload ends before its history (truncated or corrupt)", offset=offset)
    dim = next(iter(cache.values())).dim if cache else CodingTables.from_quant_tables(latent_tables(q0)).dim
    lat = np.array(rows, np.int64).reshape(count, dim)
    return Redundancy(q0, dq, qmax, off, state, lat)


__all__ = ["Redundancy", "write_redundancy", "parse_redundancy", "level_schedule", "DQ_TABLE", "MAX_LATENTS",
           "MAX_OFFSET", "REDUNDANCY_VERSION"]
