"""Shared fixtures. Conformance tests read $MLCODEC_VECTORS (default ../shared/vectors)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def vectors_dir() -> Path:
    """The libopus vector directory: $MLCODEC_VECTORS, else ../shared/vectors beside the repo."""
    env = os.environ.get("MLCODEC_VECTORS")
    return Path(env) if env else (ROOT.parent / "shared" / "vectors")


def vector_set(name: str) -> Path:
    """Path of one vector set; skips (with the reason) only when the directory is absent."""
    d = vectors_dir() / name
    if not d.is_dir():
        pytest.skip(f"libopus vector set {d} is absent (set MLCODEC_VECTORS to a vectors directory)")
    return d


def libopus_prefix() -> Path:
    """Install prefix of a libopus 1.6.1 build (``../shared/tools/build-libopus.sh PREFIX``):
    $MLCODEC_LIBOPUS_PREFIX, else ``../libopus`` beside the repo. Tests that need it skip, saying so."""
    env = os.environ.get("MLCODEC_LIBOPUS_PREFIX")
    return Path(env) if env else (ROOT.parent / "libopus")


def libopus_src() -> Path:
    """The unpacked libopus 1.6.1 source: $MLCODEC_LIBOPUS_SRC, else the tree the build script
    unpacked into ``PREFIX-build/src/opus-1.6.1``."""
    env = os.environ.get("MLCODEC_LIBOPUS_SRC")
    if env:
        return Path(env)
    prefix = libopus_prefix()
    return prefix.parent / f"{prefix.name}-build" / "src" / "opus-1.6.1"


def libopus_blob(name: str) -> Path:
    """libopus's weight blob ``name`` (e.g. ``fargan_arrays.bin``) from $MLCODEC_LIBOPUS_WEIGHTS,
    else ``../shared/libopus``; skips, saying where it looked, when absent (never committed)."""
    d = os.environ.get("MLCODEC_LIBOPUS_WEIGHTS")
    p = (Path(d) if d else ROOT.parent / "shared" / "libopus") / name
    if not p.is_file():
        pytest.skip(f"libopus weights {p} absent (set MLCODEC_LIBOPUS_WEIGHTS to a folder with {name})")
    return p


def speech_dir() -> Path:
    d = ROOT.parent / "shared" / "data" / "speech"
    return d


@pytest.fixture(scope="session")
def vectors() -> Path:
    d = vectors_dir()
    if not d.is_dir():
        pytest.skip(f"libopus vectors {d} are absent (set MLCODEC_VECTORS)")
    return d


@pytest.fixture(scope="session")
def libopus_models(tmp_path_factory) -> Path:
    """A model cache with libopus's models installed from its source (``mlcodec models install
    libopus``): $MLCODEC_LIBOPUS_SRC, else the libopus build's tarball or tree beside the repo.
    Use it as MLCODEC_MODELS_DIR (monkeypatch or a subprocess's env)."""
    from test_libopus_import import libopus_source

    src = libopus_source()
    if src is None or not src.exists():
        pytest.skip("no libopus 1.6.1 source: set MLCODEC_LIBOPUS_SRC to a source tree or release tarball")
    d = tmp_path_factory.mktemp("libopus-models")
    old = os.environ.get("MLCODEC_MODELS_DIR")
    os.environ["MLCODEC_MODELS_DIR"] = str(d)
    try:
        from mlcodec.libopus import store

        store.install(src)
    finally:
        if old is None:
            del os.environ["MLCODEC_MODELS_DIR"]
        else:
            os.environ["MLCODEC_MODELS_DIR"] = old
    return d
