"""mlcodec._numba_cache: a per-user NUMBA_CACHE_DIR keyed by versions, never inside the package."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlcodec import _numba_cache as nc

ROOT = Path(__file__).resolve().parent.parent
#: A HOME that nobody (root included) can create directories in: a path below a device.
UNWRITABLE_HOME = "/dev/null/home"


def _never(d):
    return False


KEY = "mlcodec-9.9-numba-0.1"


def test_explicit_setting_is_left_alone(tmp_path):
    env = {"NUMBA_CACHE_DIR": "/mine", "HOME": str(tmp_path)}
    assert nc.choose_cache_dir(env, key=KEY) is None
    assert nc.configure(env) is None and env["NUMBA_CACHE_DIR"] == "/mine"


def test_cache_key_names_both_versions():
    import numba  # the key must agree with what numba says of itself

    assert nc.cache_key("1.2.3", "0.60.0") == "mlcodec-1.2.3-numba-0.60.0"
    assert nc.numba_version() == numba.__version__
    from mlcodec import __version__

    assert nc.cache_key() == f"mlcodec-{__version__}-numba-{numba.__version__}"


def test_never_inside_the_package(tmp_path):
    """Even a writable package (an ``pip install .`` into a venv) caches in the user's dir."""
    env = {"HOME": str(tmp_path / "home")}
    d = nc.choose_cache_dir(env, key=KEY)
    assert d == str(tmp_path / "home" / ".cache" / "mlcodec" / "numba" / KEY)
    assert not d.startswith(nc.PACKAGE_DIR)


@pytest.mark.parametrize("xdg, want", [
    ("XDG", "{xdg}/mlcodec/numba/" + KEY),
    ("", "{home}/.cache/mlcodec/numba/" + KEY),
    ("relative/dir", "{home}/.cache/mlcodec/numba/" + KEY),  # the XDG spec ignores relative paths
])
def test_uses_the_users_cache_dir(tmp_path, xdg, want):
    home, x = tmp_path / "home", tmp_path / "xdg"
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(x) if xdg == "XDG" else xdg}
    d = nc.choose_cache_dir(env, key=KEY)
    assert d == want.format(xdg=x, home=home) and os.path.isdir(d)


def test_unwritable_home_falls_back_to_a_temp_dir(tmp_path):
    env = {"HOME": UNWRITABLE_HOME, "TMPDIR": str(tmp_path)}
    d = nc.choose_cache_dir(env, key=KEY)
    assert d == str(tmp_path / f"mlcodec-numba-{os.getuid()}" / KEY) and os.path.isdir(d)
    assert os.stat(d).st_mode & 0o077 == 0  # per user: not shared with others


def test_kernels_cached_looks_for_index_files(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    assert not nc.kernels_cached(environ=env)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "features._frame-12.py311.nbi").write_bytes(b"")
    assert nc.kernels_cached(environ=env) and nc.kernels_cached(["features"], environ=env)
    assert not nc.kernels_cached(["features", "kernels"], environ=env)
    assert not nc.kernels_cached(environ={})


def test_nothing_writable_leaves_numba_to_report(tmp_path):
    env = {"HOME": UNWRITABLE_HOME, "TMPDIR": "/dev/null/tmp"}
    assert nc.choose_cache_dir(env, key=KEY, usable=_never) is None


def test_set_before_numba_is_imported_and_used(tmp_path):
    """End to end in a fresh interpreter: an unwritable HOME gives a NUMBA_CACHE_DIR in the
    temp dir, set before numba loads, and numba caches a kernel there."""
    mod = tmp_path / "kern.py"
    mod.write_text("from numba import njit\n\n@njit(cache=True)\ndef f(x):\n    return x + 1\n")
    script = textwrap.dedent(f"""
        import os, sys
        from mlcodec import _numba_cache as nc
        assert "numba" not in sys.modules, "mlcodec imported numba before configuring its cache"
        d = os.environ["NUMBA_CACHE_DIR"]
        print(d)
        sys.path.insert(0, {str(tmp_path)!r})
        import kern
        assert kern.f(1) == 2
        assert any(n.endswith(".nbi") for _, _, fs in os.walk(d) for n in fs), "nothing cached in " + d
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=UNWRITABLE_HOME, TMPDIR=str(tmp_path), PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / f"mlcodec-numba-{os.getuid()}" / nc.cache_key())


def test_package_import_configures_first():
    """``import mlcodec`` runs the fallback before anything else (numba stays unloaded)."""
    r = subprocess.run([sys.executable, "-c", "import sys, mlcodec; print('numba' in sys.modules)"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
