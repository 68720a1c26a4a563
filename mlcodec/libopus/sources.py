"""Import libopus's trained models from its C sources into DNNw weight blobs.

libopus ships its models as generated C (``dnn/*_data.c``): one ``static const`` array per
weight, a ``WeightArray`` table per model listing them in order, and an ``init_<model>``
function binding them to layers. Upstream's ``write_lpcnet_weights.c`` turns those tables
into blobs; :func:`import_models` does the same in Python, byte for byte (specs 06 s1.1,
``../shared/libopus/README.md`` "Blob order"), reading a source directory or a release
tarball (``opus-X.tar.gz``, Debian's ``opus_X.orig.tar.xz``, the model bundle
``opus_data-<sha256>.tar.gz``) without extracting it.

Only the preprocessor subset the generated files use is evaluated: ``#ifdef/#ifndef/#if 0/
#else/#endif`` and ``#define``. As in every default build, ``DISABLE_DEBUG_FLOAT`` is
defined (BBWENet's float copies of int8 layers are left out) and ``USE_WEIGHTS_FILE`` is not.
"""
from __future__ import annotations

import ast
import os
import re
import tarfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath

import numpy as np

from mlcodec.errors import WeightsError
from mlcodec.nn import weights as W

#: Macros a default libopus build defines when it compiles the data files (config.h).
BUILD_DEFINES = frozenset({"DISABLE_DEBUG_FLOAT", "HAVE_CONFIG_H"})

#: Tables in upstream ``write_lpcnet_weights.c`` order (ENABLE_OSCE, LACE and NoLACE on):
#: ``weights_blob.bin`` is their blobs concatenated.
COMBINED_TABLES = ("pitchdnn_arrays", "fargan_arrays", "plcmodel_arrays", "rdovaeenc_arrays",
                   "rdovaedec_arrays", "lacelayers_arrays", "nolacelayers_arrays")
COMBINED_NAME = "weights_blob"
#: The DRED quantiser statistics (not a WeightArray table; specs 05 s5).
STATS_FILE = "dred_rdovae_stats_data.c"
#: Headers whose integer ``#define``s we keep beside the DRED tables.
DRED_HEADERS = ("dred_rdovae_constants.h", "dred_config.h")
DRED_TABLES_NAME = "dred_tables"

#: C element types of the generated arrays -> (numpy dtype, DNNw record type or None).
_CTYPES = {
    "float": (np.dtype("<f4"), W.WEIGHT_FLOAT32),
    "opus_int8": (np.dtype("i1"), W.WEIGHT_INT8),
    "int": (np.dtype("<i4"), W.WEIGHT_INT32),
    "opus_int32": (np.dtype("<i4"), W.WEIGHT_INT32),
    "opus_uint8": (np.dtype("u1"), None),
    "opus_int16": (np.dtype("<i2"), None),
}
#: ``WEIGHT_TYPE_*`` macros of nnet.h.
_WEIGHT_TYPE_MACROS = {"WEIGHT_TYPE_float": W.WEIGHT_FLOAT32, "WEIGHT_TYPE_int": W.WEIGHT_INT32,
                       "WEIGHT_TYPE_qweight": W.WEIGHT_QWEIGHT, "WEIGHT_TYPE_int8": W.WEIGHT_INT8}

_ARRAY_RE = re.compile(
    r"(?:static\s+)?const\s+(\w+)\s+(\w+)\s*\[\s*(\w*)\s*\]\s*=\s*\{([^{}]*)\}\s*;", re.S)
_TABLE_RE = re.compile(r"const\s+WeightArray\s+(\w+)\s*\[\s*\]\s*=\s*\{(.*?)\n\s*\}\s*;", re.S)
_ENTRY_RE = re.compile(r'\{\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*sizeof\s*\(\s*(\w+)\s*\)\s*,\s*(\w+)\s*\}')
_INIT_FN_RE = re.compile(
    r"int\s+init_(\w+)\s*\(\s*\w+\s*\*\s*model\s*,\s*const\s+WeightArray\s*\*\s*arrays\s*\)\s*\{(.*?)\n\}", re.S)
_INIT_CALL_RE = re.compile(
    r"(linear_init|conv2d_init)\s*\(\s*&model->(\w+)\s*,\s*arrays\s*,([^;]*?)\)\s*\)\s*return", re.S)


@dataclass(frozen=True)
class CArray:
    """One ``const`` array of a data file: C type, DNNw type (None: not a weight type), values."""

    name: str
    ctype: str
    wtype: int | None
    data: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class DataFile:
    """What a ``*_data.c`` file defines once preprocessed as a default build compiles it."""

    file: str
    arrays: dict  #: name -> CArray, in file order
    tables: dict  #: WeightArray table -> [array names present in the build], in table order
    skipped_tables: dict  #: table -> [entries compiled out (DISABLE_DEBUG_FLOAT)]
    layers: dict  #: init_<model> name -> [layer dicts in linear_init/conv2d_init order]

    def records(self, table: str) -> list[tuple[str, int, np.ndarray]]:
        """``(name, type, data)`` of every entry of ``table``, ready for weights_to_bytes."""
        out = []
        for name in self.tables[table]:
            arr = self.arrays[name]
            out.append((name, arr.wtype, arr.data))
        return out

    def blob(self, table: str) -> bytes:
        """The DNNw blob upstream's ``write_weights()`` writes for ``table``."""
        return W.weights_to_bytes(self.records(table))


def _fail(reason: str, file: str | None, text: str | None = None, pos: int | None = None) -> WeightsError:
    if text is not None and pos is not None:
        reason = f"line {text.count(chr(10), 0, pos) + 1}: {reason}"
    return WeightsError(reason, file=file, offset=pos)


def preprocess(text: str, *, defines=BUILD_DEFINES, file: str | None = None) -> tuple[str, dict[str, str]]:
    """The lines a compiler sees (directives dropped, inactive blocks blanked) and the macros
    defined (name -> replacement text).

    Line count is kept (inactive and directive lines become empty) so positions map back.
    """
    defined = dict.fromkeys(defines, "")
    stack: list[tuple[bool, bool]] = []  # (this branch active, parent active)
    active = True
    out = []
    pos = 0
    for line in text.split("\n"):
        here = pos
        pos += len(line) + 1
        s = line.strip()
        if not s.startswith("#"):
            out.append(line if active else "")
            continue
        parts = s[1:].split(None, 2)
        d = parts[0] if parts else ""
        arg = parts[1] if len(parts) > 1 else ""
        if d in ("ifdef", "ifndef"):
            cond = (arg in defined) == (d == "ifdef")
            stack.append((cond, active))
            active = active and cond
        elif d == "if":
            expr = s[3:].split("/*")[0].strip()
            if expr not in ("0", "1"):
                raise _fail(f"unsupported preprocessor condition '#if {expr}'", file, text, here)
            stack.append((expr == "1", active))
            active = active and expr == "1"
        elif d == "else":
            if not stack:
                raise _fail("#else without #if", file, text, here)
            cond, parent = stack[-1]
            stack[-1] = (not cond, parent)
            active = parent and not cond
        elif d == "endif":
            if not stack:
                raise _fail("#endif without #if", file, text, here)
            _, active = stack.pop()
        elif d == "define" and active and arg:
            defined[arg] = parts[2].split("/*")[0].strip() if len(parts) > 2 else ""
        out.append("")
    if stack:
        raise _fail(f"{len(stack)} unterminated #if block(s) at the end of the file", file)
    return "\n".join(out), defined


def _c_float32(tokens: list[str]) -> np.ndarray:
    """Decimal literals to the float32 a C compiler stores in a ``float`` array.

    An unsuffixed literal is a ``double`` constant converted to float: rounded twice
    (decimal -> double -> float, nearest-even each time), exactly what float64 parsing then
    ``astype(float32)`` does. An ``f``-suffixed literal is rounded once; the two differ only
    when the double lands exactly on a float32 midpoint, settled with exact rationals.
    """
    clean = [t.rstrip("fF") for t in tokens]
    d = np.array(clean, dtype=np.float64)
    f = d.astype(np.float32)
    suffixed = [i for i, t in enumerate(tokens) if t[-1:] in ("f", "F")]
    for i in suffixed:
        exact = Fraction(clean[i])
        if float(f[i]) == exact:
            continue
        toward = np.float32(np.inf) if exact > Fraction(float(f[i])) else np.float32(-np.inf)
        other = np.nextafter(f[i], toward)
        lo, hi = sorted((f[i], other), key=float)
        m = (Fraction(float(lo)) + Fraction(float(hi))) / 2
        if exact != m:
            f[i] = hi if exact > m else lo
    return f


def _values(body: str, ctype: str, name: str, count: int | None, file, text, pos) -> np.ndarray:
    tokens = body.replace(",", " ").split()
    dtype = _CTYPES[ctype][0]
    try:
        if dtype.kind == "f":
            data = _c_float32(tokens)
        else:
            wide = np.array([int(t, 0) for t in tokens], dtype=np.int64) if tokens else np.zeros(0, np.int64)
            info = np.iinfo(dtype)
            if wide.size and (wide.min() < info.min or wide.max() > info.max):
                raise _fail(f"array {name}: a value is outside the {ctype} range", file, text, pos)
            data = wide.astype(dtype)
    except ValueError as exc:
        raise _fail(f"array {name}: not a {ctype} literal ({exc})", file, text, pos) from None
    if count is not None:
        if data.size > count:
            raise _fail(f"array {name}: {data.size} initialisers for {count} elements", file, text, pos)
        if data.size < count:  # C zero-fills the rest
            data = np.concatenate([data, np.zeros(count - data.size, dtype)])
    return data.astype(dtype.newbyteorder("<"), copy=False)


def parse_data_c(text: str, *, file: str | None = None) -> DataFile:
    """Parse one generated ``*_data.c`` (its arrays, WeightArray tables and init functions)."""
    src, defined = preprocess(text, file=file)
    arrays: dict[str, CArray] = {}
    type_macros = {k[8:-5]: v for k, v in defined.items() if k.startswith("WEIGHTS_") and k.endswith("_TYPE")}
    for m in _ARRAY_RE.finditer(src):
        ctype, name, count_text, body = m.groups()
        if ctype not in _CTYPES:
            raise _fail(f"array {name}: unsupported element type {ctype}", file, src, m.start())
        try:
            count = int(count_text, 0) if count_text else None
        except ValueError:
            raise _fail(f"array {name}: size {count_text!r} is not a number", file, src, m.start()) from None
        wtype = _CTYPES[ctype][1]
        if type_macros.get(name) in _WEIGHT_TYPE_MACROS:
            wtype = _WEIGHT_TYPE_MACROS[type_macros[name]]
        arrays[name] = CArray(name, ctype, wtype, _values(body, ctype, name, count, file, src, m.start()))
    tables: dict[str, list[str]] = {}
    skipped: dict[str, list[str]] = {}
    raw_tables = {tm.group(1): [e[0] for e in _ENTRY_RE.findall(tm.group(2))] for tm in _TABLE_RE.finditer(text)}
    for tm in _TABLE_RE.finditer(src):
        tname, tbody = tm.groups()
        names = []
        for em in _ENTRY_RE.finditer(tbody):
            ename, tmac, sz, ptr = em.groups()
            if not (ename == sz == ptr):
                raise _fail(f"table {tname}: entry {ename!r} names other arrays ({sz}, {ptr})", file, src, tm.start())
            if ename not in arrays:
                raise _fail(f"table {tname}: entry {ename!r} has no array", file, src, tm.start())
            if arrays[ename].wtype is None:
                raise _fail(f"table {tname}: entry {ename!r} has type {arrays[ename].ctype}, "
                            "which a weights blob cannot hold", file, src, tm.start())
            names.append(ename)
        present = set(names)
        # Entries whose array exists in the file but is compiled out (DISABLE_DEBUG_FLOAT).
        left_out = [e for e in raw_tables.get(tname, []) if e not in present and f"{e}[" in text]
        if not names:
            raise _fail(f"table {tname} is empty", file, src, tm.start())
        tables[tname] = names
        skipped[tname] = left_out
    layers: dict[str, list[dict]] = {}
    for fm in _INIT_FN_RE.finditer(src):
        layers[fm.group(1)] = [_layer(call, file) for call in _INIT_CALL_RE.finditer(fm.group(2))]
    return DataFile(file or "<data.c>", arrays, tables, skipped, layers)


def _layer(call: re.Match, file) -> dict:
    """A linear_init / conv2d_init call as plain data (record names, sizes; nnet.h order)."""
    kind, name, args = call.group(1), call.group(2), [a.strip() for a in call.group(3).split(",")]

    def rec(a: str):
        return None if a == "NULL" else a.strip('"')

    try:
        if kind == "linear_init" and len(args) == 9:
            keys = ("bias", "subias", "weights_int8", "weights_float", "weights_idx", "diag", "scale")
            d = {"name": name, "kind": "linear", **{k: rec(a) for k, a in zip(keys, args)},
                 "nb_inputs": int(args[7]), "nb_outputs": int(args[8])}
        elif kind == "conv2d_init" and len(args) == 6:
            d = {"name": name, "kind": "conv2d", "bias": rec(args[0]), "weights_float": rec(args[1]),
                 "in_channels": int(args[2]), "out_channels": int(args[3]),
                 "ktime": int(args[4]), "kheight": int(args[5])}
        else:
            raise ValueError(f"{len(args)} arguments")
    except ValueError as exc:
        raise WeightsError(f"cannot read {kind} call for {name}: {exc}", file=file) from None
    return d


def parse_defines(text: str, *, file: str | None = None) -> dict[str, int]:
    """Integer ``#define NAME expr`` of a header (literals, + - * / ( ) and earlier names)."""
    out: dict[str, int] = {}
    for m in re.finditer(r"^\s*#\s*define\s+(\w+)\s+(.+?)\s*(?:/\*.*)?$", text, re.M):
        name, expr = m.groups()
        expr = expr.split("//")[0].strip()
        value = _eval_int(expr, out)
        if value is not None:
            out[name] = value
    return out


def _eval_int(expr: str, names: dict) -> int | None:
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return None

    def ev(n):
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            return n.value
        if isinstance(n, ast.Name) and n.id in names:
            return names[n.id]
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -ev(n.operand)
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            a, b = ev(n.left), ev(n.right)
            if isinstance(n.op, ast.Add):
                return a + b
            if isinstance(n.op, ast.Sub):
                return a - b
            if isinstance(n.op, ast.Mult):
                return a * b
            return int(a / b)  # C truncates toward zero
        raise ValueError
    try:
        return ev(node)
    except (ValueError, ZeroDivisionError):
        return None


# --- sources: a directory or an archive -------------------------------------------------

_VERSION_RE = re.compile(r"opus[-_](\d+\.\d+(?:\.\d+)?(?:[-~.]\w+)?)")


class LibopusSource:
    """libopus's ``dnn/`` files from a directory (the tree, or ``dnn/`` itself) or an archive."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._members: dict[str, object] = {}
        self.version: str | None = None
        p = Path(self.path)
        if p.is_dir():
            dnn = p / "dnn" if (p / "dnn").is_dir() else p
            self._dir = dnn
            self._members = {q.name: q for q in dnn.iterdir() if q.is_file()}
            for top in (dnn.parent / "COPYING", dnn.parent / "package_version"):
                if top.is_file():
                    self._members.setdefault(top.name, top)
            self.version = _dir_version(p)
        elif p.is_file():
            self._dir = None
            self._load_archive(p)
        else:
            raise WeightsError("no such file or directory", file=self.path)

    def _load_archive(self, p: Path) -> None:
        """Read the files we need in one pass (seeking back in an .xz stream re-decompresses it)."""
        try:
            rank: dict[str, tuple] = {}
            with tarfile.open(self.path, "r:*") as tf:
                for m in tf:
                    pp = PurePosixPath(m.name)
                    if not m.isfile() or not _wanted(pp.name):
                        continue
                    # prefer .../dnn/NAME, then the shallowest (not dnn/torch/.../NAME)
                    r = (pp.parent.name != "dnn", len(pp.parts))
                    if pp.name in rank and rank[pp.name] <= r:
                        continue
                    f = tf.extractfile(m)
                    rank[pp.name] = r
                    self._members[pp.name] = f.read() if f is not None else b""
            if "package_version" in self._members:
                self.version = _package_version(self._members["package_version"].decode("latin-1"))
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise WeightsError(f"not a readable tar archive: {exc}", file=self.path) from None
        if self.version is None:
            mv = _VERSION_RE.search(p.name)
            self.version = mv.group(1) if mv else None

    def close(self) -> None:
        self._members = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def names(self) -> list[str]:
        return sorted(self._members)

    def has(self, name: str) -> bool:
        return name in self._members

    def _read(self, m) -> bytes:
        return m.read_bytes() if isinstance(m, Path) else m

    def read(self, name: str) -> bytes:
        """The bytes of ``dnn/NAME`` (or of the top-level ``COPYING``/``package_version``)."""
        m = self._members.get(name)
        if m is None:
            raise WeightsError(f"{name} not found (is this a libopus 1.5+ source with its models?)", file=self.path)
        try:
            return self._read(m)
        except OSError as exc:
            raise WeightsError(f"cannot read {name}: {exc.strerror or exc}", file=self.path) from None

    def data_files(self) -> list[str]:
        """``*_data.c`` files that hold a WeightArray table, by name."""
        out = []
        for name in self.names():
            if name.endswith("_data.c") and name != STATS_FILE:
                if b"WeightArray" in self.read(name):
                    out.append(name)
        return out


def _wanted(name: str) -> bool:
    return name.endswith(("_data.c", ".h")) or name in ("package_version", "COPYING")


def _package_version(text: str) -> str | None:
    m = re.search(r'PACKAGE_VERSION\s*=\s*"?([^"\s]+)', text)
    return m.group(1) if m else None


def _dir_version(p: Path) -> str | None:
    for cand in (p / "package_version", p.parent / "package_version"):
        if cand.is_file():
            return _package_version(cand.read_text(errors="replace"))
    m = _VERSION_RE.search(p.resolve().name) or _VERSION_RE.search(p.resolve().parent.name)
    return m.group(1) if m else None


# --- the import -------------------------------------------------------------------------


@dataclass
class ImportResult:
    """Everything imported from one source: blobs by name (``<table>``, ``weights_blob``,
    ``dred_tables``), the layers of each model's init function, the source's version."""

    blobs: dict = field(default_factory=dict)  #: name -> DNNw bytes, in import order
    layers: dict = field(default_factory=dict)  #: model (init_<model>) -> [layer dicts]
    tables: dict = field(default_factory=dict)  #: table -> data file it came from
    skipped: dict = field(default_factory=dict)  #: table -> entries compiled out
    dred_constants: dict = field(default_factory=dict)
    version: str | None = None
    source: str = ""


def dred_table_records(stats: DataFile, constants: dict[str, int]) -> list[tuple[str, int, np.ndarray]]:
    """The DRED statistics tables (uint8, stored as int32) and constants as DNNw records."""
    recs = []
    for name, arr in stats.arrays.items():
        if name.startswith(("dred_latent_", "dred_state_")):
            recs.append((name, W.WEIGHT_INT32, arr.data.astype("<i4")))
    if not recs:
        raise WeightsError("no dred_latent_*/dred_state_* tables found", file=stats.file)
    for name, value in constants.items():
        recs.append((name, W.WEIGHT_INT32, np.array([value], "<i4")))
    return recs


def _dred_blob(src: LibopusSource) -> tuple[bytes, dict]:
    stats = parse_data_c(src.read(STATS_FILE).decode("latin-1"), file=STATS_FILE)
    consts: dict[str, int] = {}
    for h in DRED_HEADERS:
        if src.has(h):
            consts.update(parse_defines(src.read(h).decode("latin-1"), file=h))
    consts = {k: v for k, v in consts.items() if k.startswith("DRED_")}
    return W.weights_to_bytes(dred_table_records(stats, consts)), consts


def import_dred_tables(source) -> bytes:
    """Only the DRED statistics (``dred_rdovae_stats_data.c`` + constants headers) as a DNNw blob."""
    own = not isinstance(source, LibopusSource)
    src = LibopusSource(source) if own else source
    try:
        if not src.has(STATS_FILE):
            raise WeightsError(f"{STATS_FILE} not found", file=src.path)
        return _dred_blob(src)[0]
    finally:
        if own:
            src.close()


def import_models(source, *, progress=None) -> ImportResult:
    """Convert every model of a libopus source (path or :class:`LibopusSource`) to DNNw blobs.

    ``progress(done, total, name)`` is called after each file. Raises WeightsError (file,
    position, reason) on anything it cannot convert exactly.
    """
    own = not isinstance(source, LibopusSource)
    src = LibopusSource(source) if own else source
    try:
        result = ImportResult(version=src.version, source=src.path)
        files = src.data_files()
        if not files:
            raise WeightsError("no dnn/*_data.c model files (a libopus 1.5+ source tree, release tarball "
                               "or opus_data-*.tar.gz model bundle is needed)", file=src.path)
        total = len(files) + 1
        for i, name in enumerate(files):
            text = src.read(name).decode("latin-1")
            df = parse_data_c(text, file=name)
            for table in df.tables:
                result.blobs[table] = df.blob(table)
                result.tables[table] = name
                result.skipped[table] = df.skipped_tables[table]
            result.layers.update(df.layers)
            if progress:
                progress(i + 1, total, name)
        missing = [t for t in COMBINED_TABLES if t not in result.blobs]
        if not missing:
            result.blobs[COMBINED_NAME] = b"".join(result.blobs[t] for t in COMBINED_TABLES)
        if src.has(STATS_FILE):
            result.blobs[DRED_TABLES_NAME], result.dred_constants = _dred_blob(src)
        if progress:
            progress(total, total, STATS_FILE)
        return result
    finally:
        if own:
            src.close()


__all__ = ["BUILD_DEFINES", "COMBINED_TABLES", "COMBINED_NAME", "DRED_TABLES_NAME", "CArray", "DataFile",
           "ImportResult", "LibopusSource", "import_models", "import_dred_tables", "parse_data_c", "parse_defines",
           "preprocess",
           "dred_table_records"]
