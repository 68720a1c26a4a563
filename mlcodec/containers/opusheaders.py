"""OpusHead and OpusTags, the two header packets of an Ogg Opus stream (RFC 7845 §5; specs
04 §3-§4): parsing with one clear error per defect, and writing."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterable, Mapping

from mlcodec.errors import ContainerError

HEAD_MAGIC = b"OpusHead"
TAGS_MAGIC = b"OpusTags"
#: Size of a family-0 OpusHead (specs 04 §3).
HEAD_SIZE = 19
#: Largest comment header we read (RFC 7845 §5.2 lets readers reject > 120 MB).
MAX_TAGS_SIZE = 125_829_120
#: Pre-skip of libopus (OPUS_GET_LOOKAHEAD at 48 kHz: 2.5 ms + 4 ms; specs 04 §5.1).
DEFAULT_PRE_SKIP = 312
#: Default vendor string written into OpusTags.
VENDOR = "mlcodec"


@dataclass(frozen=True, slots=True)
class OpusHead:
    """Identification header (RFC 7845 §5.1). For family 0 the stream/coupled/mapping
    fields are implied (1 stream, channels-1 coupled, identity mapping)."""

    channels: int = 1
    pre_skip: int = DEFAULT_PRE_SKIP
    input_sample_rate: int = 0
    output_gain: int = 0
    mapping_family: int = 0
    stream_count: int = 1
    coupled_count: int = 0
    mapping: tuple[int, ...] = (0,)
    version: int = 1
    extra: bytes = b""

    @staticmethod
    def family0(channels: int = 1, **kw) -> "OpusHead":
        return OpusHead(channels=channels, stream_count=1, coupled_count=channels - 1,
                        mapping=tuple(range(channels)), **kw)

    @classmethod
    def parse(cls, data: bytes, *, file: str | None = None, offset: int | None = None) -> "OpusHead":
        """Parse and validate (RFC 7845 §5.1); ContainerError on any violation."""
        def bad(why: str):
            return ContainerError(f"bad OpusHead: {why}", file=file, offset=offset)

        if data[:8] != HEAD_MAGIC:
            raise bad("missing 'OpusHead' magic")
        if len(data) < HEAD_SIZE:
            raise bad(f"{len(data)} bytes, at least {HEAD_SIZE} needed")
        version, channels, pre_skip, rate, gain, family = struct.unpack_from("<BBHIhB", data, 8)
        if version >> 4:
            raise bad(f"incompatible version {version}")
        if channels == 0:
            raise bad("channel count 0")
        if family == 0:
            if channels > 2:
                raise bad(f"mapping family 0 allows 1 or 2 channels, not {channels}")
            return cls(channels, pre_skip, rate, gain, 0, 1, channels - 1, tuple(range(channels)),
                       version, bytes(data[HEAD_SIZE:]))
        if len(data) < HEAD_SIZE + 2 + channels:
            raise bad(f"channel mapping table cut short ({len(data)} bytes)")
        n, m = data[19], data[20]
        if n == 0:
            raise bad("stream count 0")
        if m > n:
            raise bad(f"coupled stream count {m} exceeds stream count {n}")
        if n + m > 255:
            raise bad(f"{n + m} decoded channels (at most 255)")
        if family == 1 and not 1 <= channels <= 8:
            raise bad(f"mapping family 1 allows 1..8 channels, not {channels}")
        mapping = tuple(data[21: 21 + channels])
        for i, v in enumerate(mapping):
            if v != 255 and v >= n + m:
                raise bad(f"channel {i} maps to {v}, beyond {n + m} decoded channels")
        return cls(channels, pre_skip, rate, gain, family, n, m, mapping, version,
                   bytes(data[21 + channels:]))

    def to_bytes(self) -> bytes:
        out = HEAD_MAGIC + struct.pack("<BBHIhB", self.version, self.channels, self.pre_skip,
                                       self.input_sample_rate, self.output_gain, self.mapping_family)
        if self.mapping_family != 0:
            out += bytes([self.stream_count, self.coupled_count]) + bytes(self.mapping)
        return out + self.extra

    def as_dict(self) -> dict:
        return {"version": self.version, "channels": self.channels, "pre_skip": self.pre_skip,
                "input_sample_rate": self.input_sample_rate, "output_gain": self.output_gain,
                "mapping_family": self.mapping_family, "stream_count": self.stream_count,
                "coupled_count": self.coupled_count, "mapping": list(self.mapping)}


@dataclass(frozen=True, slots=True)
class OpusTags:
    """Comment header (RFC 7845 §5.2): vendor, ``NAME=value`` comments, trailing data."""

    vendor: str = VENDOR
    comments: tuple[str, ...] = ()
    extra: bytes = b""

    @classmethod
    def from_tags(cls, tags: Mapping[str, str] | Iterable | None, vendor: str = VENDOR) -> "OpusTags":
        """Build from a dict, a list of ``"K=V"`` strings or of ``(K, V)`` pairs."""
        items: list[str] = []
        if tags:
            seq = tags.items() if isinstance(tags, Mapping) else tags
            for t in seq:
                if isinstance(t, str):
                    if "=" not in t:
                        raise ContainerError(f"comment {t!r} lacks NAME=value form")
                    items.append(t)
                else:
                    k, v = t
                    items.append(f"{k}={v}")
        return cls(vendor, tuple(items))

    @classmethod
    def parse(cls, data: bytes, *, file: str | None = None, offset: int | None = None) -> "OpusTags":
        def bad(why: str):
            return ContainerError(f"bad OpusTags: {why}", file=file, offset=offset)

        if data[:8] != TAGS_MAGIC:
            raise bad("missing 'OpusTags' magic")
        size = len(data)
        pos = 8

        def u32() -> int:
            nonlocal pos
            if pos + 4 > size:
                raise bad("header cut short")
            (v,) = struct.unpack_from("<I", data, pos)
            pos += 4
            return v

        def text(n: int) -> str:
            nonlocal pos
            if n > size - pos:
                raise bad(f"string of {n} bytes overruns the header")
            s = bytes(data[pos: pos + n]).decode("utf-8", errors="replace")
            pos += n
            return s

        vendor = text(u32())
        count = u32()
        if count > (size - pos) // 4:
            raise bad(f"{count} comments cannot fit in {size - pos} bytes")
        comments = tuple(text(u32()) for _ in range(count))
        return cls(vendor, comments, bytes(data[pos:]))

    def to_bytes(self) -> bytes:
        v = self.vendor.encode("utf-8")
        parts = [TAGS_MAGIC, struct.pack("<I", len(v)), v, struct.pack("<I", len(self.comments))]
        for c in self.comments:
            b = c.encode("utf-8")
            parts += [struct.pack("<I", len(b)), b]
        parts.append(self.extra)
        return b"".join(parts)

    def as_dict(self) -> dict:
        return {"vendor": self.vendor, "comments": list(self.comments)}


# ---------------------------------------------------------------------------------------------
# Reading
