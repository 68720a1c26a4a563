"""The per-user cache of imported libopus models.

libopus's weights are BSD-3-Clause but are never shipped with mlcodec: a user imports them
once from their own libopus source (directory or release tarball) or from the official
model bundle (downloaded with its SHA-256 pinned), and the library loads them from here:

    $MLCODEC_MODELS_DIR/libopus-<version>/   (default $XDG_CACHE_HOME/mlcodec/models, else
                                              ~/.cache/mlcodec/models)
        <table>.bin        one DNNw blob per model (pitchdnn_arrays.bin, fargan_arrays.bin, ...)
        weights_blob.bin   the seven upstream write_lpcnet_weights concatenates
        dred_tables.bin    DRED quantiser statistics + DRED_* constants (DNNw, int32)
        layers.json        each model's layers as its init_<model>() binds them
        index.json         what is installed: source, sizes, sha256s
        COPYING            libopus's licence, when the source has it

A set is written to a temp directory and renamed into place, so a reader never sees half
of one. The library never prints: ``progress(stage, done, total)`` reports long work.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlcodec.errors import WeightsError

#: The libopus release whose models we know; ``load_blob`` uses it when several are installed.
DEFAULT_VERSION = "1.6.1"
#: Official model bundles (``dnn/download_model.sh``, ``autogen.sh``): sha256 -> libopus version.
RELEASES = {"a5177ec6fb7d15058e99e57029746100121f68e4890b1467d4094aa336b6013e": "1.6.1"}
RELEASE_URL = "https://media.xiph.org/opus/models/opus_data-{sha256}.tar.gz"
#: sha256 of upstream's combined weights_blob.bin per release (names an import from a source
#: whose version we cannot read, e.g. a bare dnn/ directory).
KNOWN_COMBINED = {"929870a0d8206873f3e74d7df12563ccd51adb6991ae41989768aa9e5dce1fec": "1.6.1"}
PREFIX = "libopus-"
INDEX = "index.json"
LAYERS = "layers.json"
INDEX_SCHEMA = "mlcodec.libopus-models/1"
#: Short model names -> blob names.
ALIASES = {
    "pitchdnn": "pitchdnn_arrays", "fargan": "fargan_arrays", "plc": "plcmodel_arrays",
    "plcmodel": "plcmodel_arrays", "rdovaeenc": "rdovaeenc_arrays", "rdovaedec": "rdovaedec_arrays",
    "lace": "lacelayers_arrays", "lacelayers": "lacelayers_arrays", "nolace": "nolacelayers_arrays",
    "nolacelayers": "nolacelayers_arrays", "bbwenet": "bbwenetlayers_arrays",
    "bbwenetlayers": "bbwenetlayers_arrays", "lossgen": "lossgen_arrays", "all": "weights_blob",
    "weights": "weights_blob", "dred": "dred_tables",
}
_BUNDLE_RE = re.compile(r"opus_data-([0-9a-f]{64})\.tar\.gz$")
_CHUNK = 1 << 16


class ModelsNotInstalled(WeightsError):
    """libopus models asked for but not imported yet; the message says how to install them."""


INSTALL_HINT = ("import them with 'mlcodec models install libopus SOURCE' (SOURCE: a libopus 1.6.1 source "
                "directory or tarball, or --download for the official model release)")


def models_dir() -> Path:
    """Root of the cache: ``$MLCODEC_MODELS_DIR``, else ``$XDG_CACHE_HOME/mlcodec/models``, else
    ``~/.cache/mlcodec/models``."""
    env = os.environ.get("MLCODEC_MODELS_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "mlcodec" / "models"


@dataclass(frozen=True)
class InstalledSet:
    """One installed ``libopus-<version>`` directory and its index."""

    name: str
    version: str
    path: Path
    index: dict

    @property
    def files(self) -> dict:
        return self.index.get("files", {})

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "path": str(self.path),
                "source": self.index.get("source"), "source_sha256": self.index.get("source_sha256"),
                "installed": self.index.get("installed"), "files": self.files}


def installed() -> list[InstalledSet]:
    """Every readable installed set, by name."""
    root = models_dir()
    out = []
    if not root.is_dir():
        return out
    for p in sorted(root.iterdir()):
        if not p.name.startswith(PREFIX) or not (p / INDEX).is_file():
            continue
        try:
            idx = json.loads((p / INDEX).read_text())
        except (OSError, ValueError):
            continue
        out.append(InstalledSet(p.name, str(idx.get("version", p.name[len(PREFIX):])), p, idx))
    return out


def find_set(version: str | None = None) -> InstalledSet:
    """The installed set of ``version``; by default 1.6.1, else the only one installed."""
    sets = installed()
    if version is not None:
        for s in sets:
            if s.version == version or s.name == version:
                return s
        raise ModelsNotInstalled(f"libopus {version} models are not installed in {models_dir()}: {INSTALL_HINT}")
    if not sets:
        raise ModelsNotInstalled(f"no libopus models installed in {models_dir()}: {INSTALL_HINT}")
    for s in sets:
        if s.version == DEFAULT_VERSION:
            return s
    if len(sets) == 1:
        return sets[0]
    raise ModelsNotInstalled(f"several libopus model sets installed ({', '.join(s.name for s in sets)}); name one")


def blob_name(name: str) -> str:
    """``fargan`` / ``fargan_arrays`` / ``fargan_arrays.bin`` -> ``fargan_arrays``."""
    n = name[:-4] if name.endswith(".bin") else name
    return ALIASES.get(n, n)


def blob_path(name: str, version: str | None = None) -> Path:
    """Path of an installed blob (see :data:`ALIASES` for short names)."""
    s = find_set(version)
    b = blob_name(name)
    p = s.path / f"{b}.bin"
    if b not in s.files or not p.is_file():
        known = ", ".join(sorted(k for k in s.files if k != "COPYING"))
        raise ModelsNotInstalled(f"no libopus model {name!r} in {s.path} (installed: {known}); "
                                 f"reinstall with 'mlcodec models install libopus SOURCE'")
    return p


def load_blob(name: str, version: str | None = None):
    """An installed model's weights as a :class:`mlcodec.nn.weights.WeightSet`."""
    from mlcodec.nn.weights import read_weights

    return read_weights(blob_path(name, version))


def dred_tables(version: str | None = None):
    """The installed DRED quantiser tables (:class:`mlcodec.bitstream.dred.DredTables`)."""
    from mlcodec.bitstream.dred import DredTables

    ws = load_blob("dred_tables", version)
    return DredTables.from_records(ws, file=ws.file)


def optional_dred_tables(version: str | None = None):
    """:func:`dred_tables`, or None when no libopus models are installed (header-only DRED)."""
    try:
        return dred_tables(version)
    except ModelsNotInstalled:
        return None


def model_layers(version: str | None = None) -> dict:
    """model -> [layer dicts] as each ``init_<model>()`` of libopus binds them."""
    s = find_set(version)
    try:
        return json.loads((s.path / LAYERS).read_text())
    except (OSError, ValueError) as exc:
        raise ModelsNotInstalled(f"cannot read {s.path / LAYERS} ({exc}); reinstall the models") from None


# --- install ------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_url(source: str) -> bool:
    return bool(re.match(r"^(https?|file)://", source))


def fetch_release(url: str, dest_dir: Path, *, sha256: str | None = None, progress=None) -> Path:
    """Download ``url`` (http, https or file) into ``dest_dir``, checking its SHA-256.

    The expected digest is ``sha256`` or the one in an ``opus_data-<sha256>.tar.gz`` name,
    and must be one of :data:`RELEASES` unless given explicitly. A mismatch deletes the file.
    """
    import urllib.error
    import urllib.request

    m = _BUNDLE_RE.search(url)
    want = sha256 or (m.group(1) if m else None)
    if want is None:
        raise WeightsError("cannot check this download: the URL is not opus_data-<sha256>.tar.gz and "
                           "no sha256 was given", file=url)
    if sha256 is None and want not in RELEASES:
        raise WeightsError(f"unknown model release {want[:16]}... (pinned: "
                           f"{', '.join(f'{v} = {k[:16]}...' for k, v in RELEASES.items())})", file=url)
    fd, tmp = tempfile.mkstemp(prefix=".download-", suffix=".tar.gz", dir=dest_dir)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - pinned digest
                    total = int(resp.headers.get("Content-Length") or 0)
                    done = 0
                    while True:
                        chunk = resp.read(_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        h.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress("download", done, total)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise WeightsError(f"download failed: {getattr(exc, 'reason', None) or exc}", file=url) from None
        got = h.hexdigest()
        if got != want:
            raise WeightsError(f"sha256 mismatch: got {got[:16]}..., expected {want[:16]}... "
                               "(corrupt or tampered download; nothing installed)", file=url)
        return Path(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install(source, *, sha256: str | None = None, progress=None) -> InstalledSet:
    """Import libopus's models from ``source`` and install them into the cache.

    ``source``: a libopus source directory (or its ``dnn/``), a release tarball, an
    ``opus_data-<sha256>.tar.gz`` bundle (its digest checked against the name), or a URL of
    one (downloaded, digest pinned). Returns the installed set; replaces an older install of
    the same version atomically.
    """
    from mlcodec.libopus import sources as S

    root = models_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"cannot create the model cache: {exc.strerror or exc}", file=str(root)) from None
    src = os.fspath(source)
    download = None
    source_sha = None
    try:
        if _is_url(src):
            download = fetch_release(src, root, sha256=sha256, progress=progress)
            path = download
            source_sha = _sha256_file(path)
        else:
            path = Path(src)
            if path.is_file():
                source_sha = _sha256_file(path)
                m = _BUNDLE_RE.search(path.name)
                want = sha256 or (m.group(1) if m else None)
                if want and source_sha != want:
                    raise WeightsError(f"sha256 mismatch: the file is {source_sha[:16]}..., its name or --sha256 "
                                       f"says {want[:16]}...", file=src)
            elif sha256:
                raise WeightsError("--sha256 applies to a file or URL, not a directory", file=src)

        def step(done, total, name):
            if progress:
                progress("import", done, total)

        with S.LibopusSource(path) as lsrc:
            result = S.import_models(lsrc, progress=step)
            copying = lsrc.read("COPYING") if lsrc.has("COPYING") else None
    finally:
        if download is not None:
            download.unlink(missing_ok=True)
    version = _version(result, source_sha)
    return _write_set(root, version, result, src, source_sha, copying)


def _version(result, source_sha: str | None) -> str:
    combined = result.blobs.get("weights_blob")
    by_blob = KNOWN_COMBINED.get(hashlib.sha256(combined).hexdigest()) if combined else None
    if source_sha in RELEASES:
        return RELEASES[source_sha]
    if result.version and re.fullmatch(r"[\w.~+-]+", result.version):
        return result.version
    if by_blob:
        return by_blob
    digest = hashlib.sha256(b"".join(result.blobs[k] for k in sorted(result.blobs))).hexdigest()
    return f"custom-{digest[:12]}"


def _write_set(root: Path, version: str, result, source: str, source_sha, copying) -> InstalledSet:
    name = PREFIX + version
    final = root / name
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))
    try:
        files = {}
        from mlcodec.nn.weights import read_weights

        for bname, blob in result.blobs.items():
            (tmp / f"{bname}.bin").write_bytes(blob)
            files[bname] = {"file": f"{bname}.bin", "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest(),
                            "records": len(read_weights(blob).records),
                            "from": result.tables.get(bname, "dred_rdovae_stats_data.c" if bname == "dred_tables"
                                                      else "concatenation")}
        if copying is not None:
            (tmp / "COPYING").write_bytes(copying)
        (tmp / LAYERS).write_text(json.dumps(result.layers, indent=1) + "\n")
        index = {"schema": INDEX_SCHEMA, "name": name, "version": version, "source": source,
                 "source_sha256": source_sha, "licence": "BSD-3-Clause (libopus; see COPYING)",
                 "installed": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "files": files, "left_out": {k: v for k, v in result.skipped.items() if v},
                 "dred_constants": result.dred_constants}
        (tmp / INDEX).write_text(json.dumps(index, indent=1) + "\n")
        os.chmod(tmp, 0o755)
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{name}-", dir=root))
            os.replace(final, old / name)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise WeightsError(f"cannot write the model cache: {exc.strerror or exc}", file=str(final)) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return InstalledSet(name, version, final, index)


def remove(version: str | None = None) -> Path:
    """Delete an installed set; returns its path."""
    s = find_set(version)
    shutil.rmtree(s.path)
    return s.path


__all__ = ["DEFAULT_VERSION", "RELEASES", "RELEASE_URL", "ALIASES", "InstalledSet", "ModelsNotInstalled",
           "models_dir", "installed", "find_set", "blob_name", "blob_path", "load_blob", "dred_tables",
           "optional_dred_tables",
           "model_layers", "fetch_release", "install", "remove"]
