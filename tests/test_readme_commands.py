"""The README's two install commands, run in order in one checkout, leave a working CLI.

Issue 14: ``pip install .`` then a run wrote numba's cache into
``site-packages/mlcodec/*/__pycache__``; ``pip install -e .`` left that directory behind as a
namespace package that shadowed the editable install (``ImportError: cannot import name
'__version__'``), and the CLI was installed as a top-level ``cli`` package. Offline and quick:
the new venv sees this interpreter's packages for the dependencies (a .pth file), and pip runs
with ``--no-deps --no-index --no-build-isolation``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _checkout(dst: Path) -> None:
    """Copy the files git knows (tracked and new, not ignored) into ``dst``: a fresh checkout."""
    r = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"not a git checkout ({ROOT}): cannot make a clean copy to install")
    for name in r.stdout.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dst / name)


def test_install_then_editable_install_keeps_the_cli_working(tmp_path):
    try:
        import setuptools  # noqa: F401  (the build backend, reused offline)
    except ImportError:
        pytest.skip("setuptools is not installed in this interpreter; the offline build needs it")
    src, env_dir, home = tmp_path / "checkout", tmp_path / "venv", tmp_path / "home"
    _checkout(src)
    home.mkdir()
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # dependencies (numpy, numba, click, ...) and setuptools come from this interpreter
    deps = {p for p in sys.path if p.endswith("-packages") and os.path.isdir(p)} | {sysconfig.get_paths()["purelib"]}
    (site / "zz_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), PATH=f"{env_dir / 'bin'}:{env.get('PATH', '')}", PYTHONNOUSERSITE="1")
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
           "--no-build-isolation"]

    def run(*cmd, cwd=src):
        r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{cmd}: {r.stdout}\n{r.stderr}"
        return r

    # 1. `pip install .` then use it: the CLI runs, and a kernel compiles and is cached
    run(*pip, ".")
    assert (site / "mlcodec_cli" / "main.py").is_file() and not (site / "cli").exists()
    run(env_dir / "bin" / "mlcodec", "inspect-extensions", "--json", src / "mlcodec" / "samples" / "sample.opus")
    run(py, "-c", "import numpy as np; from mlcodec.dsp.audio import dc_reject; dc_reject(np.ones(320, np.float32))",
        cwd=tmp_path)
    cached = [p for p in (home / ".cache" / "mlcodec" / "numba").rglob("*.nbi")]
    assert cached, "numba cached nothing in the per-user directory"
    stray = [p for p in (site / "mlcodec").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert not stray, f"numba cache inside site-packages: {stray[:3]}"
    # 2. `pip install -e .` in the same checkout: the editable install wins, nothing shadows it
    run(*pip, "-e", ".")
    r = run(py, "-c", "import mlcodec, mlcodec_cli.main; print(mlcodec.__version__, mlcodec.__file__, "
                      "mlcodec_cli.main.__file__)", cwd=tmp_path)
    version, lib, cli = r.stdout.split()
    assert lib == str(src / "mlcodec" / "__init__.py") and cli == str(src / "cli" / "main.py")
    r = run(env_dir / "bin" / "mlcodec", "--version")
    assert version in r.stdout
    run(env_dir / "bin" / "mlcodec", "inspect-extensions", src / "mlcodec" / "samples" / "sample.opus")
