"""Where numba keeps the compiled kernels (``@njit(cache=True)``): a per-user directory keyed
by the mlcodec and numba versions, never inside the installed package.

numba's default is ``__pycache__`` beside the source. For an installed package that is
site-packages, and a leftover ``site-packages/mlcodec/*/__pycache__`` survives
``pip install -e`` as a namespace package that shadows the editable install (issue 14). So
before numba is first imported, :func:`configure` points ``NUMBA_CACHE_DIR`` at
``$XDG_CACHE_HOME/mlcodec/numba/<key>`` (else ``~/.cache/...``, else a per-user temp dir),
where ``<key>`` names both versions: an upgrade never reads stale kernels. An explicit
``NUMBA_CACHE_DIR`` is always left alone. The library never prints; :func:`kernels_cached`
lets a front end say that a first run compiles.
"""
from __future__ import annotations

import os
import sys
import tempfile
from typing import Callable, Iterable, MutableMapping

#: Subdirectory of the user's cache directory ($XDG_CACHE_HOME, else ~/.cache).
CACHE_SUBDIR = os.path.join("mlcodec", "numba")

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _writable(d: str) -> bool:
    return os.path.isdir(d) and os.access(d, os.W_OK | os.X_OK)


def _usable(d: str) -> bool:
    """True if ``d`` exists or can be created (owner-only) and is writable."""
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
    except OSError:
        return False
    return _writable(d)


def numba_version() -> str:
    """numba's version without importing numba (its dist-info beside the package), else "?"."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("numba")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return "?"
    site = os.path.dirname(list(spec.submodule_search_locations)[0])
    try:
        for n in os.listdir(site):
            if n.startswith("numba-") and n.endswith((".dist-info", ".egg-info")):
                return n[len("numba-"):].rsplit(".", 1)[0]
    except OSError:
        pass
    try:  # pragma: no cover - unusual layouts
        from importlib.metadata import version

        return version("numba")
    except Exception:  # noqa: BLE001
        return "?"


def cache_key(mlcodec_version: str | None = None, numba: str | None = None) -> str:
    """``mlcodec-<version>-numba-<version>``: compiled kernels are valid for this pair only."""
    if mlcodec_version is None:
        from mlcodec import __version__ as mlcodec_version
    return f"mlcodec-{mlcodec_version}-numba-{numba or numba_version()}"


def user_cache_dirs(environ: "MutableMapping[str, str]") -> list[str]:
    """Candidate cache directories, best first: $XDG_CACHE_HOME/mlcodec/numba (when set to an
    absolute path, as the XDG spec requires), ~/.cache/mlcodec/numba, then a per-user temp dir."""
    out = []
    xdg = environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        out.append(os.path.join(xdg, CACHE_SUBDIR))
    home = environ.get("HOME") or os.path.expanduser("~")
    if os.path.isabs(home):
        out.append(os.path.join(home, ".cache", CACHE_SUBDIR))
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    tmp = environ.get("TMPDIR") or tempfile.gettempdir()
    out.append(os.path.join(tmp, f"mlcodec-numba-{uid}"))
    return out


def choose_cache_dir(environ: "MutableMapping[str, str]", *, key: str | None = None,
                     usable: Callable[[str], bool] | None = None) -> str | None:
    """The directory to set as ``NUMBA_CACHE_DIR`` (the first usable candidate, keyed), or
    None: when ``NUMBA_CACHE_DIR`` is already set, or when no candidate is writable (numba
    then reports it)."""
    if environ.get("NUMBA_CACHE_DIR"):
        return None
    key = key or cache_key()
    for d in user_cache_dirs(environ):
        d = os.path.join(d, key)
        if (usable or _usable)(d):
            return d
    return None


def configure(environ: "MutableMapping[str, str] | None" = None) -> str | None:
    """Set ``NUMBA_CACHE_DIR`` (see :func:`choose_cache_dir`); returns what was set.

    Called by ``mlcodec/__init__.py`` before any module imports numba. If numba was imported
    already (by the application), its config is updated too; kernels compiled afterwards use it.
    """
    environ = os.environ if environ is None else environ
    try:
        d = choose_cache_dir(environ)
    except OSError:  # pragma: no cover - a broken file system: leave numba's defaults
        return None
    if d is None:
        return None
    environ["NUMBA_CACHE_DIR"] = d
    config = sys.modules.get("numba.core.config")
    if config is not None and environ is os.environ and not getattr(config, "CACHE_DIR", ""):
        config.CACHE_DIR = d
    return d


def kernels_cached(modules: Iterable[str] = (), environ: "MutableMapping[str, str] | None" = None) -> bool:
    """True when the cache holds compiled kernels: of every module stem in ``modules`` (e.g.
    ``"features"`` for mlcodec/dsp/features.py), or of any module when none is given. A
    front end uses it to say that a first run compiles instead of reporting a speed."""
    environ = os.environ if environ is None else environ
    d = environ.get("NUMBA_CACHE_DIR", "")
    if not d or not os.path.isdir(d):
        return False
    found: set[str] = set()
    for _, _, files in os.walk(d):
        for n in files:
            if n.endswith(".nbi"):
                found.add(n.split(".", 1)[0])
    want = set(modules)
    return bool(found) and want <= found
