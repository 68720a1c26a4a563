"""libopus weights blobs: read (strict or libopus-lenient), write, checksum.

Format (specs 06 s1.1): a flat concatenation of records, each a 64-byte little-endian
header ``"DNNw", version, type, size, block_size, name[44]`` followed by ``block_size``
data bytes (``size`` payload bytes, then zeros up to a multiple of 64). There is no file
header, count or terminator. Arrays are returned as read-only NumPy views over the input
bytes, so a hostile ``size`` field can never make us allocate more than the input itself.

Strict mode (default) rejects everything libopus's ``parse_weights`` rejects (specs 06
s1.1 reader rules 1-6) plus what libopus lets through but no correct writer produces; every
rejection is one :class:`~mlcodec.errors.WeightsError` naming the file, the record index,
the byte offset of the offending field and the reason. ``strict=False`` applies exactly
libopus's acceptance rules (vectors ``nnet/blob_parse.jsonl``).
"""
from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mlcodec.errors import WeightsError
from mlcodec.io.atomic import atomic_write

# --- format constants (specs 06 s1.1) ---------------------------------------------------

#: Record magic, bytes 0..3 of every header.
WEIGHT_MAGIC = b"DNNw"
#: ``WEIGHT_BLOB_VERSION``: the only version libopus writes.
WEIGHT_BLOB_VERSION = 0
#: Header size and the payload alignment unit.
HEADER_SIZE = 64
BLOCK_ALIGN = 64
#: Bytes of the name field, including the mandatory terminating NUL.
NAME_FIELD = 44
MAX_NAME_LEN = NAME_FIELD - 1
#: ``<4s i i i i 44s``: the C struct {char head[4]; int version, type, size, block_size; char name[44];}
_HEADER = struct.Struct("<4siiii44s")
assert _HEADER.size == HEADER_SIZE

WEIGHT_FLOAT32 = 0
WEIGHT_INT32 = 1
WEIGHT_QWEIGHT = 2
WEIGHT_INT8 = 3


class WeightType(NamedTuple):
    """One record type: its libopus name, element size in bytes and NumPy dtype."""

    code: int
    name: str
    itemsize: int
    dtype: np.dtype


#: Record types (specs 06 s1.1 ``type``). ``qweight`` (legacy, unused by current
#: exporters) is libopus's ``qweight`` C type of dot-product builds, a signed byte, so it is
#: read as int8.
WEIGHT_TYPES: dict[int, WeightType] = {
    WEIGHT_FLOAT32: WeightType(WEIGHT_FLOAT32, "float", 4, np.dtype("<f4")),
    WEIGHT_INT32: WeightType(WEIGHT_INT32, "int", 4, np.dtype("<i4")),
    WEIGHT_QWEIGHT: WeightType(WEIGHT_QWEIGHT, "qweight", 1, np.dtype("i1")),
    WEIGHT_INT8: WeightType(WEIGHT_INT8, "int8", 1, np.dtype("i1")),
}
#: Dtype used for the data of an unknown type (lenient mode only): raw bytes.
_RAW = np.dtype("u1")


def type_name(code: int) -> str:
    """Human name of a record type code ("float", "int", "qweight", "int8" or "type N")."""
    t = WEIGHT_TYPES.get(code)
    return t.name if t else f"type {code}"


def padded_size(size: int) -> int:
    """``size`` rounded up to a multiple of 64: the block_size a correct writer stores."""
    return -(-size // BLOCK_ALIGN) * BLOCK_ALIGN


# --- parsed structures ------------------------------------------------------------------


@dataclass(frozen=True)
class WeightRecord:
    """One record of a blob; ``data`` is a read-only view (float32 / int32 / int8)."""

    name: str
    type: int
    size: int  #: payload bytes
    block_size: int  #: payload bytes plus padding
    offset: int  #: byte offset of the record's header in the blob
    index: int  #: position of the record in the blob (0-based)
    data: np.ndarray = field(repr=False, compare=False)

    @property
    def data_offset(self) -> int:
        return self.offset + HEADER_SIZE

    @property
    def type_name(self) -> str:
        return type_name(self.type)

    @property
    def count(self) -> int:
        """Number of elements of the payload."""
        return int(self.data.size)


class WeightSet(Mapping):
    """The records of one blob, looked up by name; the first record of a name wins (as in libopus).

    Iteration and ``len`` cover distinct names in blob order; ``records`` keeps every record
    (duplicates included, possible only in lenient mode). ``blob`` is the source bytes;
    ``warnings`` lists non-fatal oddities (non-zero padding, bytes after a name's NUL).
    """

    def __init__(
        self, records: list[WeightRecord], *, file: str | None = None, blob: bytes = b"", warnings=()
    ):
        self.records: list[WeightRecord] = list(records)
        #: Oddities libopus ignores and a correct writer never produces (garbage padding).
        self.warnings: list[str] = list(warnings)
        self.file = file
        self.blob = blob
        self._by_name: dict[str, WeightRecord] = {}
        for r in self.records:
            self._by_name.setdefault(r.name, r)

    def __getitem__(self, name: str) -> WeightRecord:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def array(self, name: str) -> np.ndarray:
        """The data of record ``name``; a WeightsError (not KeyError) when it is absent."""
        try:
            return self._by_name[name].data
        except KeyError:
            raise WeightsError(f"no record named {name!r}", file=self.file) from None

    @property
    def checksum(self) -> str:
        return weights_checksum(self.blob)

    def __repr__(self) -> str:
        return f"WeightSet({len(self.records)} records, file={self.file!r})"


class LibopusArray(NamedTuple):
    """What libopus's ``parse_weights`` reports for one record (vectors ``blob_parse.jsonl``)."""

    name: str
    type: int
    size: int
    data_offset: int


# --- reading ----------------------------------------------------------------------------


def _as_buffer(source) -> tuple[bytes | memoryview, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return (bytes(source) if not isinstance(source, bytes) else source), None
    path = os.fspath(source)
    try:
        with open(path, "rb") as f:
            return f.read(), str(path)
    except OSError as exc:
        raise WeightsError(f"cannot read weights file: {exc.strerror or exc}", file=str(path)) from None


def _decode_name(raw: bytes) -> str:
    """Name up to the first NUL, as libopus's ``strcmp`` would see it (latin-1 keeps bytes)."""
    return raw.split(b"\0", 1)[0].decode("latin-1")


def _iter_records(
    buf: bytes, file: str | None, strict: bool, warnings: list[str] | None = None
) -> Iterator[WeightRecord]:
    """Walk the blob, validating each header before touching its data (specs 06 s1.1)."""
    total = len(buf)
    pos = 0
    index = 0
    seen: dict[str, int] = {}
    while pos < total:
        remaining = total - pos

        def fail(reason: str, at: int = 0, _index=index, _pos=pos) -> WeightsError:
            err = WeightsError(f"record {_index} (header at {_pos}): {reason}", file=file, offset=_pos + at)
            err.record_index = _index
            return err

        # Reader rule 1: a whole header must fit; shorter leftovers are trailing garbage.
        if remaining < HEADER_SIZE:
            raise fail(
                f"truncated header or trailing garbage: {remaining} byte(s) after the last record, "
                "a record header needs 64"
                if index
                else f"truncated header: {remaining} byte(s), a record header needs 64"
            )
        head, version, wtype, size, block_size, raw_name = _HEADER.unpack_from(buf, pos)
        name_is_terminated = raw_name[-1] == 0
        name = _decode_name(raw_name)
        if strict:
            if head != WEIGHT_MAGIC:
                raise fail(f"bad magic {head!r}, expected b'DNNw' (not a libopus weights blob?)")
            if version != WEIGHT_BLOB_VERSION:
                raise fail(f"unknown blob version {version}, only version 0 exists", 4)
            if wtype not in WEIGHT_TYPES:
                raise fail(f"unknown record type {wtype} (known: 0 float, 1 int, 2 qweight, 3 int8)", 8)
        # Reader rule 2 (libopus rejects these too).
        if not name_is_terminated:
            raise fail("name is not NUL-terminated within its 44 bytes", 20)
        if size < 0:
            raise fail(f"negative size {size}", 12)
        if size == 0:  # rule 4: libopus fails the whole blob on an empty record
            raise fail("zero size: libopus rejects empty records", 12)
        if block_size < size:
            raise fail(f"block_size {block_size} is smaller than size {size}", 16)
        if block_size > remaining - HEADER_SIZE:
            raise fail(
                f"truncated payload: block_size {block_size} runs past the end of the blob "
                f"({remaining - HEADER_SIZE} byte(s) left after the header)",
                16,
            )
        wt = WEIGHT_TYPES.get(wtype)
        if strict:
            if block_size != padded_size(size):
                raise fail(f"block_size {block_size} is not size {size} rounded up to 64 ({padded_size(size)})", 16)
            if size % wt.itemsize:
                raise fail(f"size {size} is not a multiple of the {wt.name} element size {wt.itemsize}", 12)
            if not name:
                raise fail("empty name", 20)
            if any(b < 0x21 or b > 0x7E for b in raw_name[: len(name)]):
                raise fail(f"name {name!r} is not printable ASCII without spaces", 20)
            if name in seen:
                raise fail(f"duplicate name {name!r} (first at record {seen[name]}); libopus would silently use the first", 20)
            seen[name] = index
        if warnings is not None:
            # Not errors (libopus ignores these bytes), but a correct writer leaves them zero.
            if raw_name[len(name):].strip(b"\0"):
                warnings.append(f"record {index} {name!r} (header at {pos}): bytes after the name's terminating NUL")
            data_start = pos + HEADER_SIZE
            if buf[data_start + size : data_start + block_size].strip(b"\0"):
                warnings.append(f"record {index} {name!r} (header at {pos}): non-zero padding after the payload")
        dtype = wt.dtype if wt else _RAW
        count = size // dtype.itemsize
        data = np.frombuffer(buf, dtype=dtype, count=count, offset=pos + HEADER_SIZE)
        data.flags.writeable = False
        yield WeightRecord(name, wtype, size, block_size, pos, index, data)
        pos += HEADER_SIZE + block_size
        index += 1


def read_weights(source, *, file: str | None = None, strict: bool = True) -> WeightSet:
    """Parse a blob from a path or bytes into a :class:`WeightSet`.

    ``file`` names the source in error messages (defaults to the path). ``strict=False``
    accepts exactly what libopus accepts (unknown magic/version/type, odd block sizes,
    duplicates); strict mode also rejects those and an empty blob.
    """
    buf, path = _as_buffer(source)
    file = file if file is not None else path
    warnings: list[str] = []
    records = list(_iter_records(buf, file, strict, warnings))
    if strict and not records:
        raise WeightsError("empty blob: no records", file=file, offset=0)
    return WeightSet(records, file=file, blob=buf, warnings=warnings)


def parse_blob_libopus(data: bytes) -> list[LibopusArray] | None:
    """libopus's verdict on a blob: its arrays (name, type, size, data offset), or None for -1."""
    try:
        recs = list(_iter_records(bytes(data), None, strict=False))
    except WeightsError:
        return None
    return [LibopusArray(r.name, r.type, r.size, r.data_offset) for r in recs]


# --- writing ----------------------------------------------------------------------------

_DTYPE_TO_TYPE = {"f": WEIGHT_FLOAT32, "i": WEIGHT_INT32, "u": WEIGHT_INT32}


def _infer_type(arr: np.ndarray) -> int:
    if arr.dtype == np.int8:
        return WEIGHT_INT8
    if arr.dtype == np.bool_:
        return WEIGHT_INT32
    kind = arr.dtype.kind
    if kind in _DTYPE_TO_TYPE:
        return _DTYPE_TO_TYPE[kind]
    raise WeightsError(f"cannot store dtype {arr.dtype} in a weights blob")


def _normalise(records) -> Iterator[tuple[str, int, np.ndarray]]:
    if isinstance(records, Mapping):
        for name, value in records.items():
            if isinstance(value, WeightRecord):
                yield name, value.type, value.data
            else:
                arr = np.asarray(value)
                yield name, _infer_type(arr), arr
        return
    for item in records:
        if isinstance(item, WeightRecord):
            yield item.name, item.type, item.data
        else:
            name, wtype, arr = item
            yield name, wtype, np.asarray(arr)


def _payload(name: str, wtype: int, arr: np.ndarray, index: int) -> bytes:
    def fail(reason: str) -> WeightsError:
        err = WeightsError(f"record {index} {name!r}: {reason}")
        err.record_index = index
        return err

    wt = WEIGHT_TYPES.get(wtype)
    if wt is None:
        raise fail(f"unknown record type {wtype!r} (known: 0 float, 1 int, 2 qweight, 3 int8)")
    if arr.size == 0:
        raise fail("empty array: libopus rejects zero-size records")
    if wt.dtype.kind == "f":
        if arr.dtype.kind not in "fiub":
            raise fail(f"dtype {arr.dtype} cannot be stored as float")
        out = np.ascontiguousarray(arr, dtype=wt.dtype)
    else:
        if arr.dtype.kind not in "iub":
            raise fail(f"dtype {arr.dtype} cannot be stored as {wt.name} without rounding")
        info = np.iinfo(wt.dtype)
        if arr.size and (int(arr.min()) < info.min or int(arr.max()) > info.max):
            raise fail(f"values outside the {wt.name} range [{info.min}, {info.max}]")
        out = np.ascontiguousarray(arr, dtype=wt.dtype)
    return out.tobytes()


def weights_to_bytes(records) -> bytes:
    """Serialise records to a blob (specs 06 s1.1 writer rules, but never truncating a name).

    ``records`` is a mapping ``name -> array`` (type from dtype: int8 -> int8, other
    integers -> int32, floats -> float32; a WeightRecord value keeps its type), or an
    iterable of ``(name, type, array)`` tuples or WeightRecords.
    """
    out = bytearray()
    seen: set[str] = set()
    for index, (name, wtype, arr) in enumerate(_normalise(records)):
        if not isinstance(name, str):
            raise WeightsError(f"record {index}: name {name!r} is not a string")
        try:
            raw_name = name.encode("ascii")
        except UnicodeEncodeError:
            raise WeightsError(f"record {index} {name!r}: name is not ASCII") from None
        if not raw_name or len(raw_name) > MAX_NAME_LEN:
            raise WeightsError(f"record {index} {name!r}: name must have 1..{MAX_NAME_LEN} characters")
        if any(b < 0x21 or b > 0x7E for b in raw_name):
            raise WeightsError(f"record {index} {name!r}: name is not printable ASCII without spaces")
        if name in seen:
            raise WeightsError(f"record {index} {name!r}: duplicate name")
        seen.add(name)
        payload = _payload(name, wtype, arr, index)
        size = len(payload)
        if size > 0x7FFFFFFF - BLOCK_ALIGN:
            raise WeightsError(f"record {index} {name!r}: {size} bytes do not fit an int32 size field")
        block = padded_size(size)
        out += _HEADER.pack(WEIGHT_MAGIC, WEIGHT_BLOB_VERSION, wtype, size, block, raw_name.ljust(NAME_FIELD, b"\0"))
        out += payload
        out += bytes(block - size)
    return bytes(out)


def write_weights(path, records) -> None:
    """Write a blob atomically: a temp file in the target's directory, then rename."""
    blob = weights_to_bytes(records)
    path = Path(os.fspath(path))
    with atomic_write(path) as f:
        f.write(blob)


def weights_checksum(ws_or_bytes) -> str:
    """SHA-256 hex digest of the blob bytes: binds streams and configs to one exact model."""
    if isinstance(ws_or_bytes, WeightSet):
        data = ws_or_bytes.blob
    elif isinstance(ws_or_bytes, (bytes, bytearray, memoryview)):
        data = ws_or_bytes
    else:
        data, _ = _as_buffer(ws_or_bytes)
    return hashlib.sha256(data).hexdigest()


# --- inspection: statistics, diff, export (used by ``mlcodec dump-weights``) ---------------

#: int8 weights come in 8x4 blocks of 32 values (specs 06 s3.2); sparse layers store only
#: the blocks their index lists (specs 06 s3.3).
BLOCK_VALUES = 32


@dataclass(frozen=True)
class SparseIndex:
    """Summary of a ``*_weights_idx`` array (specs 06 s3.3)."""

    block_rows: int  #: groups of 8 outputs (nb_out = 8 * block_rows)
    blocks: int  #: stored 8x4 blocks (total_blocks)
    input_span: int  #: largest first-input index + 4: a lower bound on nb_in

    @property
    def density(self) -> float:
        """Stored blocks over the block grid, taking nb_in = input_span (an upper bound)."""
        grid = self.block_rows * (self.input_span // 4)
        return self.blocks / grid if grid else 0.0


def parse_sparse_index(idx: np.ndarray) -> SparseIndex | None:
    """Walk an 8x4 block index; None when it is malformed (a group overruns, p not a multiple of 4)."""
    idx = np.asarray(idx)
    n_total = int(idx.size)
    pos = rows = blocks = 0
    span = 0
    while pos < n_total:
        n = int(idx[pos])
        if n < 0 or pos + 1 + n > n_total:
            return None
        ps = idx[pos + 1 : pos + 1 + n]
        if n and (int(ps.min()) < 0 or np.any(ps % 4)):
            return None
        if n:
            span = max(span, int(ps.max()) + 4)
        blocks += n
        rows += 1
        pos += 1 + n
    return SparseIndex(rows, blocks, span)


def sparse_index_for(ws: Mapping, name: str) -> SparseIndex | None:
    """The parsed index of the sparse layer ``name`` belongs to (``X_weights_*`` -> ``X_weights_idx``)."""
    if name.endswith("_weights_idx"):
        rec = ws.get(name)
    elif name.endswith(("_weights_int8", "_weights_float")):
        rec = ws.get(name.rsplit("_", 1)[0] + "_idx")
    else:
        return None
    if rec is None or rec.type != WEIGHT_INT32:
        return None
    return parse_sparse_index(rec.data)


@dataclass(frozen=True)
class RecordStats:
    """Per-array statistics. Floats are None where undefined (no finite value, not blocked)."""

    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    zero_fraction: float
    nonfinite: int  #: NaN/inf count (float records)
    block_sparsity: float | None  #: fraction of the 8x4 block grid that is all zero
    zero_blocks: int | None  #: all-zero blocks among the stored ones
    saturated: int | None  #: int8 values equal to -128, -127 or 127
    crc32: str  #: of the payload bytes, 8 hex digits
    index: SparseIndex | None = None  #: the sparse index that governs this record

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "min", "max", "mean", "std", "zero_fraction", "nonfinite", "block_sparsity",
            "zero_blocks", "saturated", "crc32")}
        d["index"] = None if self.index is None else {
            "block_rows": self.index.block_rows, "blocks": self.index.blocks,
            "input_span": self.index.input_span, "density": self.index.density}
        return d


def record_stats(rec: WeightRecord, ws: Mapping | None = None) -> RecordStats:
    """Statistics of one record; ``ws`` (its weight set) lets sparse weights find their index."""
    import zlib

    data = rec.data
    values = data.astype(np.float64)
    finite = values[np.isfinite(values)]
    nonfinite = int(values.size - finite.size)
    if finite.size:
        mn, mx = float(finite.min()), float(finite.max())
        mean, std = float(finite.mean()), float(finite.std())
    else:
        mn = mx = mean = std = None
    zero_fraction = float(np.count_nonzero(values == 0) / values.size) if values.size else 0.0
    index = sparse_index_for(ws, rec.name) if ws is not None else None
    is_int8 = rec.type in (WEIGHT_INT8, WEIGHT_QWEIGHT)
    saturated = int(np.count_nonzero((data == 127) | (data == -127) | (data == -128))) if is_int8 else None
    zero_blocks = block_sparsity = None
    blocked = is_int8 or (index is not None and rec.name.endswith("_weights_float"))
    if blocked and data.size and data.size % BLOCK_VALUES == 0 and not rec.name.endswith("_idx"):
        stored = data.size // BLOCK_VALUES
        zero_blocks = int(np.count_nonzero(~np.any(data.reshape(stored, BLOCK_VALUES) != 0, axis=1)))
        grid = stored
        if index is not None and index.blocks == stored and index.input_span:
            grid = index.block_rows * (index.input_span // 4)
        block_sparsity = 1.0 - (stored - zero_blocks) / grid if grid else None
    crc = zlib.crc32(memoryview(data).cast("B")) if data.size else 0
    return RecordStats(mn, mx, mean, std, zero_fraction, nonfinite, block_sparsity, zero_blocks,
                       saturated, f"{crc:08x}", index)


@dataclass(frozen=True)
class RecordDiff:
    """How one name differs between two weight sets."""

    name: str
    status: str  #: "same", "changed", "type-changed", "size-changed", "added" or "missing"
    max_abs_diff: float | None  #: over elements, when both exist with the same count
    old_type: int | None
    new_type: int | None
    old_count: int | None
    new_count: int | None


def diff_weights(old: Mapping, new: Mapping) -> list[RecordDiff]:
    """Compare two weight sets by name: names of ``old`` in order, then names only in ``new``."""
    out: list[RecordDiff] = []
    for name, a in old.items():
        b = new.get(name)
        if b is None:
            out.append(RecordDiff(name, "missing", None, a.type, None, a.count, None))
            continue
        if a.count != b.count:
            status, mad = "size-changed", None
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                d = np.abs(a.data.astype(np.float64) - b.data.astype(np.float64))
            mad = float(np.nanmax(d)) if d.size and not np.all(np.isnan(d)) else (0.0 if not d.size else float("nan"))
            if a.type != b.type:
                status = "type-changed"
            else:
                status = "same" if bytes(a.data.data) == bytes(b.data.data) else "changed"
        out.append(RecordDiff(name, status, mad, a.type, b.type, a.count, b.count))
    for name, b in new.items():
        if name not in old:
            out.append(RecordDiff(name, "added", None, None, b.type, None, b.count))
    return out


def export_npz(ws: Mapping, path) -> None:
    """Save every array (first record of each name, stored dtype, 1-D) to ``path`` atomically."""
    path = Path(os.fspath(path))
    arrays = {name: np.array(rec.data) for name, rec in ws.items()}
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def shipped_weights() -> list[Path]:
    """The weight blobs shipped in the package (``mlcodec/models/*.bin``), sorted by name."""
    from importlib import resources

    try:
        models = resources.files("mlcodec") / "models"
        return sorted((Path(str(p)) for p in models.iterdir() if p.name.endswith(".bin") and p.is_file()),
                      key=lambda p: p.name)
    except (OSError, TypeError, ModuleNotFoundError):
        return []


__all__ = [
    "WEIGHT_FLOAT32", "WEIGHT_INT32", "WEIGHT_QWEIGHT", "WEIGHT_INT8", "WEIGHT_TYPES", "WeightType",
    "WEIGHT_MAGIC", "WEIGHT_BLOB_VERSION", "HEADER_SIZE", "BLOCK_ALIGN", "MAX_NAME_LEN",
    "WeightRecord", "WeightSet", "LibopusArray", "read_weights", "parse_blob_libopus",
    "weights_to_bytes", "write_weights", "weights_checksum", "padded_size", "type_name",
    "SparseIndex", "parse_sparse_index", "sparse_index_for", "RecordStats", "record_stats",
    "RecordDiff", "diff_weights", "export_npz", "shipped_weights",
]
