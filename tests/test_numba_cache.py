"""mlcodec._numba_cache: a writable NUMBA_CACHE_DIR when the installed package is read-only."""
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


def test_explicit_setting_is_left_alone(tmp_path):
    env = {"NUMBA_CACHE_DIR": "/mine", "HOME": str(tmp_path)}
    assert nc.choose_cache_dir(env, package_ok=_never) is None
    assert nc.configure(env) is None and env["NUMBA_CACHE_DIR"] == "/mine"


def test_writable_package_keeps_numbas_default(tmp_path):
    env = {"HOME": str(tmp_path)}
    assert nc.choose_cache_dir(env, package_ok=lambda d: True) is None


def test_package_writable_checks_every_source_dir(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub" / "__pycache__").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "k.py").write_text("")
    (pkg / "data").mkdir()  # no sources: not checked
    assert nc.package_writable(str(pkg))
    blocked = {str(pkg / "sub" / "__pycache__")}
    assert not nc.package_writable(str(pkg), writable=lambda d: d not in blocked)
    assert nc.package_writable(str(pkg), writable=lambda d: d != str(pkg / "data"))
    assert not nc.package_writable(str(tmp_path / "absent"))


@pytest.mark.parametrize("xdg, want", [
    ("XDG", "{xdg}/mlcodec/numba"),
    ("", "{home}/.cache/mlcodec/numba"),
    ("relative/dir", "{home}/.cache/mlcodec/numba"),  # the XDG spec ignores relative paths
])
def test_read_only_package_uses_the_users_cache_dir(tmp_path, xdg, want):
    home, x = tmp_path / "home", tmp_path / "xdg"
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(x) if xdg == "XDG" else xdg}
    d = nc.choose_cache_dir(env, package_ok=_never)
    assert d == want.format(xdg=x, home=home) and os.path.isdir(d)


def test_unwritable_home_falls_back_to_a_temp_dir(tmp_path):
    env = {"HOME": UNWRITABLE_HOME, "TMPDIR": str(tmp_path)}
    d = nc.choose_cache_dir(env, package_ok=_never)
    assert d == str(tmp_path / f"mlcodec-numba-{os.getuid()}") and os.path.isdir(d)
    assert os.stat(d).st_mode & 0o077 == 0  # per user: not shared with others


def test_nothing_writable_leaves_numba_to_report(tmp_path):
    env = {"HOME": UNWRITABLE_HOME, "TMPDIR": "/dev/null/tmp"}
    assert nc.choose_cache_dir(env, package_ok=_never, usable=_never) is None


def test_set_before_numba_is_imported_and_used(tmp_path):
    """End to end in a fresh interpreter: a read-only package and an unwritable HOME give a
    NUMBA_CACHE_DIR in the temp dir, set before numba loads, and numba caches a kernel there."""
    mod = tmp_path / "kern.py"
    mod.write_text("from numba import njit\n\n@njit(cache=True)\ndef f(x):\n    return x + 1\n")
    script = textwrap.dedent(f"""
        import os, sys
        from mlcodec import _numba_cache as nc
        assert "numba" not in sys.modules, "mlcodec imported numba before configuring its cache"
        nc.package_writable = lambda *a, **k: False  # as if installed read-only
        d = nc.configure()
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
    assert r.stdout.strip() == str(tmp_path / f"mlcodec-numba-{os.getuid()}")


def test_package_import_configures_first():
    """``import mlcodec`` runs the fallback before anything else (numba stays unloaded)."""
    r = subprocess.run([sys.executable, "-c", "import sys, mlcodec; print('numba' in sys.modules)"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
