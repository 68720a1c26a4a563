"""The codec payload of one packet: range-coded latents (format 2: level flag, DTX flags;
format 1: a format-version byte first).

Format 2 (docs/format.md s2.3, research s6 step 3), one range-coder stream per packet::

    level_flag  bit_logp(f, 3)        [level  uint(level, nb_levels)  if f]
    per latent: dtx bit_logp(d, 3)    [dim values, laplace_p0, if not d]

Format 3 (docs/format.md s3.2): the same, each value coded with its context's tables (the
previous coded latent's value of its dimension in the same packet, zeros for a packet's
first; contexts.py).

Layout (docs/format.md §4): byte 0 is :data:`~mlcodec.codec.format.FORMAT_VERSION`; the rest
is one Opus range-coder stream (RFC 6716 §4.1/§5.1, specs 03) holding the packet's latent
vectors in time order, each value coded with the DRED Laplace coder with explicit P(0)
(``laplace_p0``, specs 03 §5.2, used as in specs 05 §4). A dimension whose decay is 0 or
whose P(0) is certain is never coded (value 0), as DRED does. The quantizer level is fixed
per stream (OpusTags, format.py), so the payload carries no header beyond the version byte.
The buffer is cut to ``ceil(tell/8)`` bytes (specs 05 §7 step 6) and trailing zero bytes
are dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlcodec.bitstream.rangecoder import (
    RangeDecoder, RangeEncoder, laplace_p0_mag_icdf, laplace_p0_sign_icdf,
)
from mlcodec.codec.format import FORMAT_V1 as FORMAT_VERSION
from mlcodec.errors import CodecError, RangeCoderError

#: Largest magnitude a coded value may have. Each escape symbol of the magnitude code adds 7
#: (specs 03 §5.2), so this bounds a value's cost; trained latents stay far below it.
MAX_MAGNITUDE = 4095
#: P(0) at or above this (Q15) means "always zero": nothing is coded (DRED: p0_q8 = 255).
P0_ALWAYS_ZERO = 255 << 7
#: Use the table-caching hot loop (False: call laplace_p0 per value, the reference twin).
FAST = True


@dataclass(frozen=True)
class CodingTables:
    """The per-dimension Laplace parameters of one quantizer level, in laplace_p0 units (Q15)."""

    p0: tuple[int, ...]
    decay: tuple[int, ...]

    def __post_init__(self):
        # (index, p0, decay) of the coded dimensions, computed once (hot loop input).
        object.__setattr__(self, "dims", tuple((i, p, d) for i, (p, d) in enumerate(zip(self.p0, self.decay))
                                               if d > 0 and p < P0_ALWAYS_ZERO))
        # The same with the Laplace-p0 coder's two iCDF tables (specs 03 §5.2) built once.
        object.__setattr__(self, "icdfs", tuple((i, laplace_p0_sign_icdf(p), laplace_p0_mag_icdf(d))
                                                for i, p, d in self.dims))

    @property
    def dim(self) -> int:
        return len(self.p0)

    @property
    def coded(self) -> tuple[bool, ...]:
        """Which dimensions are present in the bitstream."""
        return tuple(d > 0 and p < P0_ALWAYS_ZERO for p, d in zip(self.p0, self.decay))

    @classmethod
    def from_quant_tables(cls, tables) -> "CodingTables":
        """Take ``p0`` and ``decay`` (or ``r``) from the model's QuantTables."""
        if isinstance(tables, CodingTables):
            return tables
        p0 = getattr(tables, "p0", None)
        decay = getattr(tables, "decay", None)
        if decay is None:
            decay = getattr(tables, "r", None)
        if p0 is None or decay is None:
            raise CodecError("quantizer tables lack p0/decay")
        p0 = tuple(int(v) for v in np.asarray(p0).ravel())
        decay = tuple(int(v) for v in np.asarray(decay).ravel())
        if len(p0) != len(decay):
            raise CodecError("quantizer tables: p0 and decay differ in length")
        for v in p0 + decay:
            if not 0 <= v <= 32767:
                raise CodecError(f"quantizer table value {v} outside Q15 [0, 32767]")
        return cls(p0, decay)


def _storage_bound(q: np.ndarray) -> int:
    # Every symbol costs at most 15 bits (probabilities >= 1/32768): one sign symbol per value
    # and one magnitude symbol per 7 of magnitude (plus one), 2 bytes each, plus finish slack.
    mags = np.abs(q)
    return 8 + 2 * int(q.size) + 2 * int((mags // 7 + (mags > 0)).sum())


def _encode_rows(enc, rows, t: CodingTables) -> None:
    sym = getattr(enc, "_icdf", None) if FAST else None
    if sym is None:  # reference: one laplace_p0() call per value
        for row in rows:
            for i, p0, decay in t.dims:
                enc.laplace_p0(row[i], p0, decay)
        return
    # Hot loop: laplace_p0 with its tables built once per stream instead of per value
    # (bit-identical to the reference, tests/test_codec_payload.py checks it).
    for row in rows:
        for i, sign, mag in t.icdfs:
            _put_value(sym, row[i], sign, mag)


def _put_value(sym, v: int, sign, mag) -> None:
    """One value as laplace_p0 codes it (specs 03 s5.2) with prebuilt iCDFs: the sign symbol
    (0 = zero, 1 = +, 2 = -), then |v| - 1 in escapes of 7."""
    if v == 0:
        sym(0, sign, 15)
        return
    sym(1 if v > 0 else 2, sign, 15)
    m = (v if v > 0 else -v) - 1
    while m >= 7:
        sym(7, mag, 15)
        m -= 7
    sym(m, mag, 15)


def _decode_row(dec, t: CodingTables, offset) -> list:
    row = [0] * t.dim
    sym = getattr(dec, "_icdf", None) if FAST else None
    if sym is None:  # reference
        for i, p0, decay in t.dims:
            row[i] = dec.laplace_p0(p0, decay)
    else:  # same symbols, tables built once (see write_payload)
        for i, sign, mag in t.icdfs:
            s = sym(sign, 15)
            if s:
                v = 1
                while True:
                    d = sym(mag, 15)
                    v += d
                    if d != 7 or v > MAX_MAGNITUDE:
                        break
                row[i] = v if s == 1 else -v
    for v in row:
        if v > MAX_MAGNITUDE or v < -MAX_MAGNITUDE:
            raise CodecError(f"latent value {v} out of range (corrupt payload)", offset=offset)
    return row


#: logp of the level flag and of each latent's DTX flag (P(1) = 1/8; research s6 step 3).
FLAG_LOGP = 3


def _encode_rows_ctx(enc, rows, lc, prev) -> list:
    """Format 3: each value with its context's (sign, magnitude) iCDFs (contexts.py); ``prev``
    is the previous coded latent of the packet (zeros for its first). Returns the last row."""
    sym = enc._icdf  # ec_enc_icdf16 with tables checked when they were built (contexts.py)
    for row in rows:
        for i, tabs in lc.dims:
            p = prev[i]
            sign, mag = tabs[(p if -2 <= p <= 2 else (2 if p > 0 else -2)) + 2]
            _put_value(sym, row[i], sign, mag)
        prev = row
    return prev


def _decode_row_ctx(dec, lc, prev, offset) -> list:
    row = [0] * lc.dim
    sym = dec._icdf
    for i, tabs in lc.dims:
        p = prev[i]
        sign, mag = tabs[(p if -2 <= p <= 2 else (2 if p > 0 else -2)) + 2]
        s = sym(sign, 15)
        if s:
            v = 1
            while True:
                d = sym(mag, 15)
                v += d
                if d != 7 or v > MAX_MAGNITUDE:
                    break
            if v > MAX_MAGNITUDE:
                raise CodecError(f"latent value {v} out of range (corrupt payload)", offset=offset)
            row[i] = v if s == 1 else -v
    return row


def write_payload_v2(rows, tables, *, level: int | None, nb_levels: int, ctx=None) -> bytes:
    """Format-2 payload of one packet. ``rows``: one entry per latent in time order, a
    quantized latent (dim,) or None for a DTX latent; ``level``: the quantizer level to signal
    (None: unchanged since the previous packet, no level symbol); ``tables``: that level's.
    Format 3: ``ctx`` is the level's :class:`~mlcodec.codec.contexts.LevelContexts`; the
    context restarts from zeros in every packet, so a packet decodes without its predecessors
    (a lost packet costs only itself)."""
    t = CodingTables.from_quant_tables(tables)
    coded = [np.clip(np.rint(np.asarray(r)), -MAX_MAGNITUDE, MAX_MAGNITUDE).astype(np.int64)
             for r in rows if r is not None]
    for r in coded:
        if r.shape != (t.dim,):
            raise CodecError(f"latent of shape {r.shape} does not match the {t.dim}-dimensional tables")
    bound = 16 + len(rows) + (_storage_bound(np.stack(coded)) if coded else 0)
    enc = RangeEncoder(bound)
    enc.bit_logp(0 if level is None else 1, FLAG_LOGP)
    if level is not None:
        if not 0 <= int(level) < nb_levels:
            raise CodecError(f"level {level} outside 0..{nb_levels - 1}")
        enc.uint(int(level), int(nb_levels))
    k = 0
    if ctx is not None:
        prev = [0] * t.dim
    for r in rows:
        enc.bit_logp(1 if r is None else 0, FLAG_LOGP)
        if r is not None:
            if ctx is not None:
                prev = _encode_rows_ctx(enc, [coded[k].tolist()], ctx, prev)
            else:
                _encode_rows(enc, [coded[k].tolist()], t)
            k += 1
    nbytes = (enc.tell() + 7) // 8
    enc.shrink(max(nbytes, enc.range_bytes))
    data = enc.finish()
    if enc.error:  # pragma: no cover - the storage bound makes this unreachable
        raise CodecError("payload does not fit its buffer")
    return data.rstrip(b"\0")


def read_payload_v2(payload: bytes, n_latents: int, tables_of, *, level: int | None, nb_levels: int,
                    offset: int | None = None, ctx_of=None) -> tuple[int, list]:
    """(level, rows) of a format-2 payload: rows[k] is an int64 (dim,) latent or None (DTX).
    ``level`` is the level in force (None: unknown, e.g. after a resync); ``tables_of(level)``
    gives that level's CodingTables. Format 3: ``ctx_of(level)`` gives the level's
    LevelContexts (contexts start from zeros in every packet).
    CodecError when no level is known or a value is absurd."""
    dec = RangeDecoder(bytes(payload))
    try:
        flag = dec.bit_logp(FLAG_LOGP)
        if flag:
            level = dec.uint(int(nb_levels))
        elif level is None:
            raise CodecError("packet continues a quantizer level that was lost (no level symbol)",
                             offset=offset)
        t = CodingTables.from_quant_tables(tables_of(level))
        lc = ctx_of(level) if ctx_of is not None else None
        if lc is not None:
            prev = [0] * t.dim
        rows = []
        for _ in range(int(n_latents)):
            if dec.bit_logp(FLAG_LOGP):
                rows.append(None)
            elif lc is not None:
                prev = _decode_row_ctx(dec, lc, prev, offset)
                rows.append(np.array(prev, dtype=np.int64))
            else:
                rows.append(np.array(_decode_row(dec, t, offset), dtype=np.int64))
    except RangeCoderError as exc:  # pragma: no cover - decoder only raises on misuse
        raise CodecError(f"corrupt codec payload: {exc.reason}", offset=offset) from None
    return int(level), rows


def write_payload(q, tables) -> bytes:
    """Extension payload for the quantized latents ``q`` of one packet, shape (n, dim).

    Values beyond :data:`MAX_MAGNITUDE` are clipped; dimensions that are not coded must be 0
    (the decoder would read 0) and are skipped.
    """
    t = CodingTables.from_quant_tables(tables)
    q = np.asarray(q)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != t.dim:
        raise CodecError(f"latents of shape {q.shape} do not match the {t.dim}-dimensional tables")
    q = np.clip(np.rint(q), -MAX_MAGNITUDE, MAX_MAGNITUDE).astype(np.int64)
    enc = RangeEncoder(_storage_bound(q))
    _encode_rows(enc, q.tolist(), t)
    nbytes = (enc.tell() + 7) // 8
    enc.shrink(max(nbytes, enc.range_bytes))
    data = enc.finish()
    if enc.error:  # pragma: no cover - the storage bound makes this unreachable
        raise CodecError("payload does not fit its buffer")
    # The decoder reads zeros past the end of its data (RFC 6716 §4.1.2), so trailing zero
    # bytes carry nothing and are dropped (as the Opus encoders do).
    return bytes([FORMAT_VERSION]) + data.rstrip(b"\0")


def read_payload(payload: bytes, n_latents: int, tables, *, offset: int | None = None) -> np.ndarray:
    """Decode ``n_latents`` latent vectors (int64, shape (n, dim)) from an extension payload.

    Raises CodecError for an empty payload, an unknown version byte or an out-of-range value.
    Running past the end of the data is not an error: the writer drops trailing zero bytes and
    the range decoder reads zeros there (the Ogg page CRCs already guard against damage).
    """
    t = CodingTables.from_quant_tables(tables)
    if not payload:
        raise CodecError("empty codec payload (no format-version byte)", offset=offset)
    if payload[0] != FORMAT_VERSION:
        raise CodecError(f"unsupported payload version {payload[0]} (this build reads {FORMAT_VERSION})",
                         offset=offset)
    data = bytes(payload[1:])
    dec = RangeDecoder(data)
    n = int(n_latents)
    try:
        out = [_decode_row(dec, t, offset) for _ in range(n)]
    except RangeCoderError as exc:  # pragma: no cover - decoder only raises on misuse
        raise CodecError(f"corrupt codec payload: {exc.reason}", offset=offset) from None
    return np.array(out, dtype=np.int64).reshape(n, t.dim)


def payload_bits(payload: bytes) -> int:
    """Bits a payload occupies, version byte included (what bit-rate presets count)."""
    return 8 * len(payload)
