"""``mlcodec decode --vocoder libopus``: our streams through libopus's FARGAN, imported from a
libopus source into a temporary model cache (conftest ``libopus_models``)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import mlcodec
from mlcodec.errors import CodecError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mlcodec" / "samples" / "sample.flac"


def _cli(args, env_dir, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MLCODEC_MODELS_DIR=str(env_dir))
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _envelope(x, n=160):
    x = np.asarray(x, np.float64)[: len(x) // n * n].reshape(-1, n)
    return 10 * np.log10(np.mean(x * x, axis=1) + 1e-9)


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    x, sr = sf.read(SAMPLE, dtype="float64")
    x = x[: 3 * sr]  # 3 s of the shipped (espeak-ng) sample
    p = tmp_path_factory.mktemp("voc") / "s.opus"
    p.write_bytes(mlcodec.encode(x, sr, bitrate="6k", serial=7))
    return p, x, sr


def test_decode_with_libopus_vocoder(stream, libopus_models, tmp_path):
    src, x, sr = stream
    out = tmp_path / "o.wav"
    r = _cli(["decode", "--vocoder", "libopus", str(src), str(out)], libopus_models, tmp_path)
    assert r.returncode == 0, r.stderr
    y, ry = sf.read(out, dtype="float64")
    assert ry == 16000 and len(y) == len(x)
    # sane level: within 6 dB of the input's RMS
    rms = lambda v: np.sqrt(np.mean(v * v))  # noqa: E731
    assert abs(20 * np.log10(rms(y) / rms(x))) < 6
    # aligned: the 10 ms energy envelopes correlate best at lag 0 (+-1 frame), i.e. the decoder
    # compensated FARGAN's 240-sample delay
    a, b = _envelope(x), _envelope(y)
    corr = {lag: np.corrcoef(a[10 + lag : len(a) - 10 + lag], b[10 : len(b) - 10])[0, 1] for lag in range(-6, 7)}
    best = max(corr, key=corr.get)
    assert abs(best) <= 1 and corr[best] > 0.8, corr


def test_missing_models_one_line_error(stream, tmp_path):
    src, _x, _sr = stream
    out = tmp_path / "o.wav"
    r = _cli(["decode", "--vocoder", "libopus", str(src), str(out)], tmp_path / "empty", tmp_path)
    assert r.returncode != 0 and not out.exists()
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "vocoder 'libopus'" in r.stderr and "mlcodec models install libopus" in r.stderr


def test_library_error_is_a_codec_error(monkeypatch, tmp_path):
    from mlcodec.codec.vocoders import default_vocoder

    monkeypatch.setenv("MLCODEC_MODELS_DIR", str(tmp_path / "none"))
    with pytest.raises(CodecError, match="mlcodec models install libopus"):
        default_vocoder("libopus")
