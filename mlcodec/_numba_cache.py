"""Where numba keeps the compiled kernels (``@njit(cache=True)``) when the package is read-only.

numba caches next to the source (``__pycache__``), else in the user's ``~/.cache/numba``;
when neither is writable (a system-wide install run by a user with a read-only or absent
home) every kernel fails with "cannot cache function ...: no locator available". Before
numba is first imported, :func:`configure` points ``NUMBA_CACHE_DIR`` at a per-user
directory in that case. An explicit ``NUMBA_CACHE_DIR`` is always left alone.
"""
from __future__ import annotations

import os
import sys
import tempfile
from typing import Callable, MutableMapping

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


def package_writable(package_dir: str = PACKAGE_DIR, writable: Callable[[str], bool] = _writable) -> bool:
    """True if numba can cache beside every module of the package: each source directory's
    ``__pycache__`` (or the directory itself, where that does not exist yet) is writable."""
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
        if not any(f.endswith(".py") for f in filenames):
            continue
        cache = os.path.join(dirpath, "__pycache__")
        if not writable(cache if os.path.isdir(cache) else dirpath):
            return False
    return os.path.isdir(package_dir)


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


def choose_cache_dir(environ: "MutableMapping[str, str]", package_dir: str = PACKAGE_DIR, *,
                     package_ok: Callable[[str], bool] | None = None,
                     usable: Callable[[str], bool] | None = None) -> str | None:
    """The directory to set as ``NUMBA_CACHE_DIR``, or None to leave numba's defaults: when
    ``NUMBA_CACHE_DIR`` is already set, when the package can hold its own cache, or when no
    candidate is writable either (numba then reports it as before)."""
    if environ.get("NUMBA_CACHE_DIR"):
        return None
    if (package_ok or package_writable)(package_dir):
        return None
    for d in user_cache_dirs(environ):
        if (usable or _usable)(d):
            return d
    return None


def configure(environ: "MutableMapping[str, str] | None" = None) -> str | None:
    """Set ``NUMBA_CACHE_DIR`` if needed (see :func:`choose_cache_dir`); returns what was set.

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
