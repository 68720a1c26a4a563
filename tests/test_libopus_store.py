"""The libopus model cache and ``mlcodec models``: install from a made-up source (directory,
tarball, a pinned opus_data bundle fetched through the download code from a file:// URL)."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlcodec.errors import MlcodecError, WeightsError
from mlcodec.libopus import store

from test_libopus_import import _expected_fake_blob, make_fake_source

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "models"
    monkeypatch.setenv("MLCODEC_MODELS_DIR", str(d))
    return d


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("MLCODEC_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store.models_dir() == tmp_path / "xdg" / "mlcodec" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.models_dir() == tmp_path / "home" / ".cache" / "mlcodec" / "models"
    monkeypatch.setenv("MLCODEC_MODELS_DIR", str(tmp_path / "mine"))
    assert store.models_dir() == tmp_path / "mine"


def test_missing_models_say_how_to_install(cache):
    with pytest.raises(store.ModelsNotInstalled) as e:
        store.load_blob("fargan")
    assert isinstance(e.value, MlcodecError) and "mlcodec models install libopus" in str(e.value)
    with pytest.raises(store.ModelsNotInstalled, match="mlcodec models install"):
        store.dred_tables()


def test_install_list_load_and_replace(cache, tmp_path):
    src = make_fake_source(tmp_path, "tar.xz")
    stages = []
    s = store.install(src, progress=lambda st, d, t: stages.append(st))
    assert s.name == "libopus-9.9.9" and s.path == cache / "libopus-9.9.9" and "import" in stages
    assert (s.path / "toy_arrays.bin").read_bytes() == _expected_fake_blob()
    assert (s.path / "COPYING").read_text() == "BSD-3-Clause fake\n"
    [listed] = store.installed()
    f = listed.files["toy_arrays"]
    assert f["bytes"] == len(_expected_fake_blob()) and f["sha256"] == hashlib.sha256(_expected_fake_blob()).hexdigest()
    assert listed.index["source_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert store.load_blob("toy_arrays").blob == _expected_fake_blob()
    assert store.model_layers()["toy"][0]["name"] == "toy_dense"
    with pytest.raises(store.ModelsNotInstalled, match="no libopus model 'fargan'"):
        store.blob_path("fargan")
    # reinstall from a directory replaces the set; no temp directories are left behind
    store.install(make_fake_source(tmp_path / "d", "dir"))
    assert [p.name for p in cache.iterdir()] == ["libopus-9.9.9"]


def _bundle(tmp_path: Path) -> tuple[Path, str]:
    """A made-up opus_data-<sha256>.tar.gz (its name carries its own digest, as upstream's do)."""
    tar = make_fake_source(tmp_path / "b", "tar.gz")
    sha = hashlib.sha256(tar.read_bytes()).hexdigest()
    bundle = tmp_path / f"opus_data-{sha}.tar.gz"
    tar.rename(bundle)
    return bundle, sha


def test_download_path_checks_the_pinned_sha256(cache, tmp_path, monkeypatch):
    bundle, sha = _bundle(tmp_path)
    url = bundle.as_uri()  # file:// goes through the same urllib code as https://
    with pytest.raises(WeightsError, match="unknown model release"):
        store.install(url)  # not pinned
    monkeypatch.setitem(store.RELEASES, sha, "9.9.9-test")
    seen = []
    s = store.install(url, progress=lambda st, d, t: seen.append(st))
    assert s.version == "9.9.9-test" and "download" in seen
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]
    # a bundle whose bytes do not match its name is refused before anything is installed
    bad = tmp_path / f"opus_data-{'0' * 64}.tar.gz"
    bad.write_bytes(bundle.read_bytes())
    monkeypatch.setitem(store.RELEASES, "0" * 64, "0.0.0")
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        store.install(bad.as_uri())
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        store.install(bad)
    assert [s.version for s in store.installed()] == ["9.9.9-test"]
    with pytest.raises(WeightsError, match="download failed"):
        store.install((tmp_path / f"opus_data-{sha}x.tar.gz").as_uri(), sha256=sha)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mlcodec_cli.main", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)


def test_cli_models(cache, tmp_path):
    import os

    env = dict(os.environ, MLCODEC_MODELS_DIR=str(cache))
    r = _cli("models", "list", env=env)
    assert r.returncode == 0 and "no models installed" in r.stdout
    r = _cli("models", "install", "libopus", str(tmp_path / "nope.tar.xz"), env=env)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = _cli("dump-weights", "libopus:fargan", env=env)
    assert r.returncode == 1 and "mlcodec models install libopus" in r.stderr and r.stderr.count("\n") == 1
    r = _cli("models", "install", "libopus", str(make_fake_source(tmp_path, "tar.gz")), env=env)
    assert r.returncode == 0, r.stderr
    assert "installed libopus-9.9.9" in r.stdout
    r = _cli("models", "list", "--json", env=env)
    doc = json.loads(r.stdout)
    assert doc["schema"] == "mlcodec.models/1" and doc["sets"][0]["files"]["toy_arrays"]["records"] == 4
    assert _cli("models", "path", env=env).stdout.strip() == str(cache)
    path = _cli("models", "path", "libopus:toy_arrays", env=env).stdout.strip()
    assert Path(path).read_bytes() == _expected_fake_blob()
    r = _cli("dump-weights", "libopus:toy_arrays", "--json", env=env)
    recs = json.loads(r.stdout)["records"]
    assert recs[0]["name"] == "toy_dense_weights_int8" and "toy_dense (linear)" in recs[0]["shape"]


def test_optional_dred_tables(cache, tmp_path):
    assert store.optional_dred_tables() is None
    store.install(make_fake_source(tmp_path, "tar.gz"))
    with pytest.raises(MlcodecError):  # the made-up tables are not a full set (no state tables)
        store.optional_dred_tables()


def test_libopus_specs_do_not_relabel_our_codec(cache):
    """libopus's RDOVAE and our codec share record names: a model that does not bind the whole
    blob must not label its records (dump-weights shapes)."""
    import os

    from mlcodec.nn.weights import shipped_weights

    if not any(p.stem.startswith("codec") for p in shipped_weights()):
        pytest.skip("no shipped codec model in this checkout")
    d = cache / "libopus-0.0.1"
    d.mkdir(parents=True)
    (d / "index.json").write_text(json.dumps({"version": "0.0.1", "files": {}}))
    layer = {"name": "enc_dense1", "kind": "linear", "bias": "enc_dense1_bias", "subias": None,
             "weights_int8": None, "weights_float": "enc_dense1_weights_float", "weights_idx": None,
             "diag": None, "scale": None, "nb_inputs": 3, "nb_outputs": 5}
    (d / "layers.json").write_text(json.dumps({"rdovaeenc": [layer]}))
    env = dict(os.environ, MLCODEC_MODELS_DIR=str(cache))
    r = _cli("dump-weights", "--json", "codec", env=env)
    shapes = {rec["name"]: rec["shape"] for rec in json.loads(r.stdout)["records"]}
    assert shapes["enc_dense1_bias"].startswith("enc_dense1 (dense)")
    r = _cli("dump-weights", "--verify", "libopus:rdovaeenc", "codec", env=env)
    assert r.returncode == 1 and "does not bind to libopus:rdovaeenc" in r.stdout
