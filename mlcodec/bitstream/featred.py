"""The feature-redundancy payload (extension 123, docs/loss.md s5): quantizer indices of earlier
40 ms chunks, range coded (RFC 6716 s4.1, specs 03), one payload per packet, stateless.

A payload holds up to two *groups*; a group is the copy of the chunks an earlier packet owned
(a chunk belongs to the packet holding its second 20 ms latent): the fine group copies the
previous packet's chunks (age 1), the coarse group those of the packet ``far`` packets back. Each chunk is inactive (DTX: nothing
coded) or its level index, voicing, pitch index and vector-quantizer indices. Only indices live
here; their meaning (steps, codebooks) is :mod:`mlcodec.codec.feature_redundancy`'s.

Syntax (``ec_enc_*`` of specs 03; field table in docs/loss.md s5)::

    far - 1       uint(., MAX_AGE)        age of the coarse copy (1: there is none)
    has_fine      bit_logp(., 1)          a fine group of age 1 follows
    [has_coarse]  bit_logp(., 1)          only if far > 1: a coarse group of age far follows
    per group:    chunks       uint(n, MAX_CHUNKS + 1)
                  per chunk:   inactive   bit_logp(., 2)
                               c0         first active chunk: uint(., NC0); then laplace(delta)
                               voiced     bit_logp(., 1)
                               [pitch]    first voiced chunk: uint(., NPITCH); then laplace(delta)
                               vq         uint(., VQ_SIZES[coarse])
    ec_enc_done; cut to ceil(tell/8) bytes (zeros kept: the length bounds the chunks it can hold)
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import CodecError, MlcodecError
from .extensions import ID_FEATRED
from .rangecoder import RangeDecoder, RangeEncoder

__all__ = ["ID_FEATRED", "RedChunk", "RedGroup", "RedPayload", "write_featred", "parse_featred",
           "MAX_AGE", "MAX_CHUNKS", "MAX_GROUPS", "VQ_SIZES", "GRADES"]

# ID_FEATRED (123): beside the primary's 122 in the experimental top block, used by no
# implementation we know of (specs 02 s7).
MAX_GROUPS = 2
MAX_AGE = 64        # packets (1040 ms of 20 ms packets is 52)
MAX_CHUNKS = 3      # chunks a packet owns: a 120 ms packet owns 3
#: Vector-quantizer sizes (cepstral shape c1..c17): the fine grade's codebook, the coarse one's.
VQ_SIZES = (256, 64)


@dataclass(frozen=True)
class Grade:
    """What one grade codes: quantizer index ranges and delta models (Laplace fs, decay Q14)."""

    name: str
    nc0: int           # level indices
    npitch: int        # pitch indices
    vq: int            # codebook size
    c0_model: tuple[int, int]
    pitch_model: tuple[int, int]


#: fine (the next packet's copy) and coarse (the old copy); the steps are in feature_redundancy.
GRADES = {
    False: Grade("fine", 32, 31, VQ_SIZES[0], (9000, 10000), (15000, 9000)),
    True: Grade("coarse", 16, 19, VQ_SIZES[1], (15000, 6000), (19500, 7000)),
}


@dataclass(frozen=True)
class RedChunk:
    """One active chunk's indices: level, pitch (None: unvoiced) and cepstral-shape codeword."""

    c0: int
    pitch: int | None
    vq: int

    def to_json(self) -> dict:
        return {"c0": self.c0, "pitch": self.pitch, "vq": self.vq}


@dataclass(frozen=True)
class RedGroup:
    """The copy of the chunks owned by the packet ``age`` packets back (None = inactive)."""

    age: int
    coarse: bool
    chunks: tuple[RedChunk | None, ...]

    def to_json(self) -> dict:
        return {"age": self.age, "grade": GRADES[self.coarse].name,
                "chunks": [None if c is None else c.to_json() for c in self.chunks]}


@dataclass(frozen=True)
class RedPayload:
    groups: tuple[RedGroup, ...]

    @property
    def oldest_age(self) -> int:
        return max((g.age for g in self.groups), default=0)

    def to_json(self) -> dict:
        return {"groups": [g.to_json() for g in self.groups]}


def _check(cond: bool, why: str) -> None:
    if not cond:
        raise CodecError(f"invalid redundancy payload: {why}")


def write_featred(p: RedPayload) -> bytes:
    """The payload bytes of ``p`` (CodecError when an index is out of range)."""
    fine = [g for g in p.groups if not g.coarse]
    far = [g for g in p.groups if g.coarse]
    _check(len(fine) <= 1 and len(far) <= 1 and all(g.age == 1 for g in fine)
           and all(2 <= g.age <= MAX_AGE for g in far) and all(len(g.chunks) <= MAX_CHUNKS for g in p.groups),
           "groups must be at most one fine of age 1 and one coarse of age 2..64, 3 chunks each")
    bound = 8 + 16 * sum(len(g.chunks) for g in p.groups)
    enc = RangeEncoder(bound)
    enc.uint(far[0].age - 1 if far else 0, MAX_AGE)
    enc.bit_logp(int(bool(fine)), 1)
    if far:
        enc.bit_logp(1, 1)
    for g in fine + far:
        gr = GRADES[bool(g.coarse)]
        enc.uint(len(g.chunks), MAX_CHUNKS + 1)
        c0 = pitch = None
        for c in g.chunks:
            enc.bit_logp(int(c is None), 2)
            if c is None:
                continue
            _check(0 <= c.c0 < gr.nc0 and (c.pitch is None or 0 <= c.pitch < gr.npitch)
                   and 0 <= c.vq < gr.vq,
                   "index out of range")
            if c0 is None:
                enc.uint(c.c0, gr.nc0)
            else:
                _check(enc.laplace(c.c0 - c0, *gr.c0_model) == c.c0 - c0, "level step too large")
            c0 = c.c0
            enc.bit_logp(int(c.pitch is not None), 1)
            if c.pitch is not None:
                if pitch is None:
                    enc.uint(c.pitch, gr.npitch)
                else:
                    _check(enc.laplace(c.pitch - pitch, *gr.pitch_model) == c.pitch - pitch, "pitch step too large")
                pitch = c.pitch
            enc.uint(c.vq, gr.vq)
    nbytes = (enc.tell() + 7) // 8
    enc.shrink(max(nbytes, 1))
    data = enc.finish()
    if enc.error:  # pragma: no cover - the storage bound makes this unreachable
        raise CodecError("internal error: redundancy payload overflow")
    return data


def parse_featred(data: bytes, *, offset: int | None = None) -> RedPayload:
    """The :class:`RedPayload` of ``data``; CodecError (one line, with ``offset``) for any
    invalid field, an index out of range, or a payload that ends before its chunks."""
    try:
        return _parse(bytes(data))
    except CodecError as exc:
        raise CodecError(exc.reason, offset=offset) from None
    except MlcodecError as exc:
        raise CodecError(f"invalid redundancy payload: {exc.reason}", offset=offset) from None


def _parse(data: bytes) -> RedPayload:
    dec = RangeDecoder(data)
    far = dec.uint(MAX_AGE) + 1
    ages = [1] if dec.bit_logp(1) else []
    if far > 1 and dec.bit_logp(1):
        ages.append(far)
    groups = []
    for age in ages:
        coarse = age > 1
        gr = GRADES[coarse]
        n = dec.uint(MAX_CHUNKS + 1)
        chunks: list[RedChunk | None] = []
        c0 = pitch = None
        for _ in range(n):
            if dec.bit_logp(2):
                chunks.append(None)
                continue
            c0 = dec.uint(gr.nc0) if c0 is None else c0 + dec.laplace(*gr.c0_model)
            _check(0 <= c0 < gr.nc0, f"level index {c0} out of range")
            p = None
            if dec.bit_logp(1):
                p = pitch = dec.uint(gr.npitch) if pitch is None else pitch + dec.laplace(*gr.pitch_model)
                _check(0 <= p < gr.npitch, f"pitch index {p} out of range")
            chunks.append(RedChunk(c0, p, dec.uint(gr.vq)))
        groups.append(RedGroup(age, coarse, tuple(chunks)))
    # the decoder reads zeros past the end (RFC 6716 s4.1.2): more than a byte of them means
    # the payload was cut
    _check(dec.tell() <= 8 * len(data) + 8, f"payload ends before its chunks ({len(data)} bytes)")
    return RedPayload(tuple(groups))
