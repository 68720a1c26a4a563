"""Audio input/output (mlcodec.dsp.audio): formats, rates, mix-down, scaling, errors."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile as sf

from mlcodec.dsp.audio import MIN_SAMPLES, SAMPLE_RATE, read_audio, resample, write_audio
from mlcodec.errors import AudioError, MlcodecError

FS = SAMPLE_RATE


def sine(f, n, rate, amp=0.5):
    return amp * np.sin(2 * np.pi * f * np.arange(n) / rate)


def test_int16_wav_keeps_int16_units(tmp_path):
    pcm = (np.arange(-1600, 1600) * 10).astype(np.int16)
    p = tmp_path / "a.wav"
    sf.write(p, pcm, FS, subtype="PCM_16")
    x = read_audio(p)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, pcm.astype(np.float32))   # specs 07 s1: int16 units


@pytest.mark.parametrize("fmt,subtype", [("WAV", "FLOAT"), ("FLAC", "PCM_16"), ("WAV", "PCM_24")])
def test_formats(tmp_path, fmt, subtype):
    s = sine(440, 4000, FS)
    p = tmp_path / f"a.{fmt.lower()}"
    sf.write(p, s, FS, format=fmt, subtype=subtype)
    x = read_audio(p)
    np.testing.assert_allclose(x, s * 32768, atol=1.0)


def test_stereo_is_mixed_down(tmp_path):
    left, right = sine(300, 3200, FS, 0.4), sine(700, 3200, FS, 0.2)
    p = tmp_path / "st.wav"
    sf.write(p, np.stack([left, right], axis=1), FS, subtype="FLOAT")
    np.testing.assert_allclose(read_audio(p), (left + right) / 2 * 32768, atol=0.01)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampled_to_16k(tmp_path, rate):
    n = rate  # 1 s
    p = tmp_path / "r.wav"
    sf.write(p, sine(1000, n, rate), rate, subtype="FLOAT")
    x = read_audio(p)
    assert abs(len(x) - FS) <= 1
    mid = x[2000:-2000].astype(np.float64)
    ref = 0.5 * 32768 * np.sin(2 * np.pi * 1000 * np.arange(len(x)) / FS)[2000:-2000]
    # soxr is (nearly) linear phase with its delay compensated: the tone lands in place
    assert np.sqrt(np.mean((mid - ref) ** 2)) < 0.01 * 0.5 * 32768


def test_resample_function():
    y = resample(np.ones(4800, dtype=np.float32), 48000, 16000)
    assert y.dtype == np.float32 and len(y) == 1600
    x = np.arange(10.0)
    assert resample(x, FS, FS) is not None and np.array_equal(resample(x, FS, FS), x)


def test_file_objects_and_pipes(tmp_path):
    buf = io.BytesIO()
    s = sine(200, 1600, FS)
    sf.write(buf, s, FS, format="WAV", subtype="PCM_16")
    data = buf.getvalue()
    x1 = read_audio(io.BytesIO(data), file="-")

    class Pipe(io.RawIOBase):  # a non-seekable stream like stdin
        def __init__(self, b):
            self._b = io.BytesIO(b)

        def readable(self):
            return True

        def seekable(self):
            return False

        def readinto(self, m):
            chunk = self._b.read(len(m))
            m[: len(chunk)] = chunk
            return len(chunk)

    x2 = read_audio(io.BufferedReader(Pipe(data)), file="-")
    np.testing.assert_array_equal(x1, x2)
    assert len(x1) == 1600


def _err(source, **kw) -> AudioError:
    with pytest.raises(AudioError) as ei:
        read_audio(source, **kw)
    assert isinstance(ei.value, MlcodecError)
    return ei.value


def test_missing_file_names_it(tmp_path):
    e = _err(tmp_path / "nope.wav")
    assert "nope.wav" in str(e)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    e = _err(p)
    assert "empty" in str(e) and "empty.wav" in str(e)


def test_wav_with_no_samples(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros(0), FS, subtype="PCM_16")
    e = _err(p)
    assert "zero.wav" in str(e)


def test_garbage_is_unreadable(tmp_path):
    p = tmp_path / "junk.flac"
    p.write_bytes(os.urandom(1000))
    e = _err(p)
    assert "unreadable" in str(e) and "junk.flac" in str(e)


def test_too_short(tmp_path):
    p = tmp_path / "short.wav"
    sf.write(p, np.zeros(MIN_SAMPLES - 1), FS, subtype="PCM_16")
    e = _err(p)
    assert "too short" in str(e) and "short.wav" in str(e)
    # too short after resampling from 48 kHz as well
    sf.write(p, np.zeros(3 * MIN_SAMPLES - 30), 48000, subtype="PCM_16")
    assert "too short" in str(_err(p))


def test_empty_stream_names_it():
    e = _err(io.BytesIO(b""), file="-")
    assert e.file == "-"


def test_write_audio_roundtrip_and_clip(tmp_path):
    x = np.array([0.0, 1.4, -1.6, 40000.0, -40000.0, 12345.5] * 40, dtype=np.float32)
    p = tmp_path / "out.wav"
    write_audio(p, x)
    y, rate = sf.read(p, dtype="int16")
    assert rate == FS
    np.testing.assert_array_equal(y[:6], [0, 1, -2, 32767, -32768, 12346])
    assert [f.name for f in tmp_path.iterdir()] == ["out.wav"]   # no temp file left


def test_write_audio_to_file_object():
    buf = io.BytesIO()
    write_audio(buf, np.zeros(320))
    y, rate = sf.read(io.BytesIO(buf.getvalue()), dtype="int16")
    assert rate == FS and len(y) == 320


def test_write_read_roundtrip_is_exact(tmp_path):
    pcm = np.random.default_rng(0).integers(-32768, 32767, 4000).astype(np.float32)
    p = tmp_path / "rt.wav"
    write_audio(p, pcm)
    np.testing.assert_array_equal(read_audio(p), pcm)


def test_dc_reject_removes_offset_and_streams():
    from mlcodec.dsp.audio import DCReject, dc_reject

    x = -8000 + 3000 * np.sin(2 * np.pi * 200 * np.arange(FS) / FS)
    y = dc_reject(x)
    assert y.dtype == np.float32
    assert abs(y[FS // 2:].mean()) < 20                      # offset gone after ~0.3 s
    tail = y[FS // 2:].astype(np.float64) - y[FS // 2:].mean()
    assert abs(np.std(tail) / (3000 / np.sqrt(2)) - 1) < 0.01  # speech band untouched
    d = DCReject()
    parts = [d.process(x[i:i + 333]) for i in range(0, len(x), 333)]
    np.testing.assert_array_equal(np.concatenate(parts), y)


# --- fuzz: only AudioError may escape read_audio on bad bytes --------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _valid_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, sine(300, 800, FS), FS, format=fmt, subtype="PCM_16")
    return buf.getvalue()


_VALID = {"WAV": _valid_bytes("WAV"), "FLAC": _valid_bytes("FLAC")}


def _read_or_audio_error(data: bytes) -> None:
    try:
        x = read_audio(io.BytesIO(data), file="fuzz")
    except AudioError as e:
        assert e.file == "fuzz"
    else:
        assert x.dtype == np.float32 and x.ndim == 1 and len(x) >= MIN_SAMPLES


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(data):
    _read_or_audio_error(data)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(_VALID)), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, 2000))
def test_fuzz_mutated_headers(fmt, edits, cut):
    data = bytearray(_VALID[fmt])
    for pos, val in edits:
        if pos < len(data):
            data[pos] = val
    _read_or_audio_error(bytes(data[: len(data) - cut]))


def test_missing_file_and_directory_have_plain_reasons(tmp_path):
    from mlcodec.dsp.audio import read_audio
    from mlcodec.errors import AudioError

    with pytest.raises(AudioError, match="no such file"):
        read_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a directory"):
        read_audio(tmp_path)
    import io
    with pytest.raises(AudioError) as e:
        read_audio(io.BytesIO(b"not audio at all" * 10), file="-")
    assert "BytesIO" not in str(e.value) and "Error opening" not in str(e.value)


# --- plain reasons instead of libsndfile's ("System error", "Format not recognised") ----------


def test_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    import mlcodec.dsp.audio as audio

    p = tmp_path / "locked.wav"
    sf.write(p, sine(440, 4000, FS), FS, subtype="PCM_16")
    p.chmod(0)
    try:
        if os.access(p, os.R_OK):  # root: permissions are not enforced, so fake the refusal
            def refuse(path, *a, **k):
                raise PermissionError(13, "Permission denied", os.fspath(path))

            monkeypatch.setattr(audio, "open", refuse, raising=False)
        with pytest.raises(AudioError) as ei:
            read_audio(p)
        assert str(ei.value) == f"{p}: Permission denied"
    finally:
        p.chmod(0o644)


@pytest.mark.parametrize("make", [
    lambda tmp: io.BytesIO(b""),
    lambda tmp: open(tmp / "empty.raw", "rb"),  # an opened (seekable) empty file
    lambda tmp: io.BufferedReader(io.BytesIO(b"")),
], ids=["bytesio", "file_object", "buffered"])
def test_empty_stream_says_empty_input(tmp_path, make):
    (tmp_path / "empty.raw").write_bytes(b"")
    src = make(tmp_path)
    try:
        e = _err(src, file="-")
    finally:
        src.close()
    assert e.reason == "empty input" and e.file == "-"


def test_stream_read_to_its_end_is_empty_input():
    buf = io.BytesIO(b"x" * 100)
    buf.seek(100)
    assert _err(buf, file="-").reason == "empty input"


def test_empty_file_path_says_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    assert _err(p).reason == "empty file"
