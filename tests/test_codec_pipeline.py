"""Encode/decode pipelines with the shipped model: timing, streaming, errors, real tools."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings, strategies as st

from mlcodec.codec import format as fmt
from mlcodec.codec.decoder import Decoder
from mlcodec.codec.encoder import Encoder
from mlcodec.codec.files import decode_stream, encode_stream
from mlcodec.codec.format import split_codec_packet
from mlcodec.codec.vocoders import codec_delay
from mlcodec.io.transcode import decode_file, encode_file
from mlcodec.io.wav import WavWriter, iter_audio
from mlcodec.containers.oggopus import OggOpusWriter, read_ogg_opus
from mlcodec.errors import CodecError, MlcodecError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mlcodec" / "samples" / "sample.flac"
SHIPPED = ROOT / "mlcodec" / "models" / "codec_v2.bin"


def model_path() -> Path:
    """The shipped model (MLCODEC_DEV_MODEL may point elsewhere while it is being trained)."""
    p = Path(os.environ.get("MLCODEC_DEV_MODEL", SHIPPED))
    if not p.is_file():
        assert p != SHIPPED, f"the shipped codec model {p} is missing from this checkout"
        pytest.skip(f"MLCODEC_DEV_MODEL names {p}, which does not exist")
    return p


@pytest.fixture(scope="module")
def model():
    from mlcodec.codec.model import load_model

    return load_model(model_path())


@pytest.fixture(scope="module")
def speech():
    from mlcodec.dsp.audio import read_audio

    return read_audio(SAMPLE)[: 16000 * 2 + 123]  # 2 s and a bit: not a whole packet


def _encode(model, x, **kw) -> bytes:
    buf = io.BytesIO()
    encode_stream([x], buf, model=model, serial=1, **kw)
    return buf.getvalue()


def _decode(model, data: bytes, **kw):
    parts = []
    res = decode_stream(io.BytesIO(data), parts.append, model=model, **kw)
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), res


@pytest.mark.parametrize("frame_ms", fmt.FRAME_MS_CHOICES)
@pytest.mark.parametrize("bitrate", fmt.BITRATE_PRESETS)
def test_round_trip_length_and_timing(model, speech, frame_ms, bitrate):
    data = _encode(model, speech, bitrate=bitrate, frame_ms=frame_ms)
    r = read_ogg_opus(io.BytesIO(data))
    assert r.head.channels == 1 and r.head.input_sample_rate == 16000
    assert r.head.pre_skip == 3 * codec_delay()
    info = fmt.parse_stream_tags(r.tags.comments)
    assert model.checksum.startswith(info.model_checksum) and info.format_version == fmt.FORMAT_VERSION
    assert info.frame_ms == frame_ms and info.bitrate == bitrate
    pkts = list(r.packets())
    assert pkts[-1].eos and pkts[-1].granule >= 3 * len(speech) + r.head.pre_skip
    assert pkts[-1].granule - pkts[-1].samples < 3 * len(speech) + r.head.pre_skip  # < one packet trimmed
    for p in pkts:
        assert p.samples == 48 * frame_ms and fmt.carrier_payload(p.data)[0] == frame_ms // 20
    out, res = _decode(model, data)
    assert res.truncated is None
    assert out.shape == speech.shape  # pre-skip and end trimming give the input length back
    assert np.all(np.isfinite(out)) and np.abs(out).max() < 32768 * 4


def test_decoded_audio_resembles_input(model, speech):
    """Loose sanity: the decoded envelope follows the input's (aligned by the pre-skip)."""
    out, _ = _decode(model, _encode(model, speech, bitrate="6k"))

    def env(s):
        e = np.convolve(s.astype(np.float64) ** 2, np.hanning(640), "same")
        return np.log(e + 1e4)
    c = np.corrcoef(env(speech), env(out))[0, 1]
    assert c > 0.6, c


def test_streaming_chunks_match_whole(model, speech):
    whole = _encode(model, speech, frame_ms=40)
    rng = np.random.default_rng(5)
    cuts = np.sort(rng.choice(len(speech), 12, replace=False))
    chunks = np.split(speech, cuts)
    buf = io.BytesIO()
    encode_stream(chunks, buf, model=model, serial=1, frame_ms=40)
    assert buf.getvalue() == whole


def test_encoder_decoder_classes(model, speech):
    enc = Encoder(model, bitrate="3k", frame_ms=20)
    pkts = enc.process(speech[:5000]) + enc.process(speech[5000:]) + enc.flush()
    assert enc.flush() == []
    n = -(-(len(speech) + enc.delay) // 320)
    assert len(pkts) == n == enc.packets_out
    assert enc.final_granule() == 3 * len(speech) + enc.pre_skip
    dec = Decoder(enc.info, model)
    feats = [dec.decode_packet(p)[0] for p in pkts]
    assert all(f.shape == (2, 20) for f in feats)
    with pytest.raises(CodecError):
        enc.process(speech)


def test_float_path_and_fixed_path_differ_slightly(model, speech):
    a = _encode(model, speech, fixed_point=True)
    b = _encode(model, speech, fixed_point=False)
    assert len(a) > 0 and len(b) > 0
    fa, _ = _decode(model, a, fixed_point=True)
    fb, _ = _decode(model, a, fixed_point=False)
    assert fa.shape == fb.shape


def test_decoder_features_sink(model, speech):
    feats = []
    out, res = _decode(model, _encode(model, speech), feature_sink=feats.append)
    f = np.concatenate(feats)
    assert f.shape == (2 * res.packets * fmt.DEFAULT_FRAME_MS // 20, 20)


def test_vocoder_hook(model, speech):
    calls = []

    class Silent:
        def synthesize(self, f):
            calls.append(f.shape)
            return np.zeros(160 * f.shape[0], np.float32)
    out, _ = _decode(model, _encode(model, speech), vocoder=Silent)
    assert calls and not out.any() and out.shape == speech.shape


def test_vocoder_by_name(model, speech):
    from mlcodec.codec.vocoders import default_vocoder, neural_vocoder_available
    from mlcodec.dsp.synth import ReferenceSynth

    data = _encode(model, speech)
    out, _ = _decode(model, data, vocoder="reference")
    assert out.shape == speech.shape
    assert isinstance(default_vocoder("reference"), ReferenceSynth)
    from mlcodec.codec.vocoders import AUTO_VOCODER, AUTO_VOCODER_BY_PRESET, auto_vocoder

    # auto is the measured better vocoder, possibly per preset (docs/vocoder.md)
    assert isinstance(default_vocoder("auto"), ReferenceSynth) == (auto_vocoder() == "reference")
    for preset in ("1.5k", "3k", "6k"):
        want = AUTO_VOCODER_BY_PRESET.get(preset, AUTO_VOCODER) if neural_vocoder_available() else "reference"
        assert auto_vocoder(preset) == want
        assert isinstance(default_vocoder("auto", preset=preset), ReferenceSynth) == (want == "reference")
    if neural_vocoder_available():
        assert not isinstance(default_vocoder("neural"), ReferenceSynth)
        out, _ = _decode(model, data, vocoder="neural")
        assert out.shape == speech.shape
    else:
        assert isinstance(default_vocoder("auto"), ReferenceSynth)
        with pytest.raises(CodecError, match="not installed"):
            _decode(model, data, vocoder="neural")
    with pytest.raises(CodecError, match="unknown vocoder"):
        _decode(model, data, vocoder="wavenet")


@pytest.mark.parametrize("delay", [0, 160, 400])
def test_vocoder_with_other_delay_keeps_length(model, speech, delay):
    class Ramp:
        def __init__(self):
            self.delay, self.n = delay, 0

        def synthesize(self, f):
            out = np.arange(self.n, self.n + 160 * f.shape[0], dtype=np.float32)
            self.n += out.shape[0]
            return out
    out, _ = _decode(model, _encode(model, speech), vocoder=Ramp())
    assert out.shape == speech.shape
    # sample i of the output is vocoder sample i + delay (zeros where the vocoder had none)
    i = len(speech) // 2
    assert out[i] == i + delay


def _retag(data: bytes, **changes) -> bytes:
    r = read_ogg_opus(io.BytesIO(data))
    tags = [c for c in r.tags.comments if c.split("=")[0] not in changes]
    tags += [f"{k}={v}" for k, v in changes.items() if v is not None]
    out = io.BytesIO()
    w = OggOpusWriter(out, pre_skip=r.head.pre_skip, serial=1, tags=tags)
    last = None
    for p in r.packets():
        w.write_packet(p.data)
        last = p.granule
    w.close(final_granule=last)
    return out.getvalue()


def test_model_mismatch(model, speech, tmp_path):
    bad = _retag(_encode(model, speech), MLCODEC="2 codec_v1 0123abcd00000000 120 160 3k")
    with pytest.raises(CodecError, match="checksum"):
        _decode(model, bad)
    p = tmp_path / "bad.opus"
    p.write_bytes(bad)
    with pytest.raises(CodecError, match="checksum"):
        decode_file(p, tmp_path / "x.wav", model=model)
    assert not (tmp_path / "x.wav").exists() and os.listdir(tmp_path) == ["bad.opus"]  # no temp left


def test_not_mlcodec(model, speech, tmp_path):
    with pytest.raises(CodecError, match="not an mlcodec stream"):
        _decode(model, _retag(_encode(model, speech), MLCODEC=None))
    with pytest.raises(CodecError, match="format version"):
        _decode(model, _retag(_encode(model, speech), MLCODEC="9 codec_v1 0123abcd00000000 120 160 3k"))
    with pytest.raises(CodecError, match="not an Ogg Opus file"):
        _decode(model, SAMPLE.read_bytes())


def test_truncated_stream_keeps_output(model, speech, tmp_path):
    data = _encode(model, np.concatenate([speech] * 2))
    src = tmp_path / "cut.opus"
    src.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "cut.wav"
    with pytest.raises(CodecError, match="truncated") as ei:
        decode_file(src, out, model=model)
    assert out.exists()
    y, rate = sf.read(out)
    assert rate == 16000 and 0 < len(y) < 2 * len(speech)
    assert ei.value.stats.truncated


def test_missing_eos_is_truncation(model, speech):
    data = _encode(model, np.concatenate([speech] * 3))  # 3 pages of 2.4 s
    last_page = data.rfind(b"OggS")
    out, res = _decode(model, data[:last_page])
    assert res.truncated and "EOS" in res.truncated and len(out) > 0


def test_foreign_packet_mid_stream_keeps_decoded_part(model, speech):
    data = _encode(model, speech)
    r = read_ogg_opus(io.BytesIO(data))
    out = io.BytesIO()
    w = OggOpusWriter(out, pre_skip=r.head.pre_skip, serial=1, tags=list(r.tags.comments))
    last = None
    for i, p in enumerate(r.packets()):
        # a plain SILK packet of the same duration (120 ms: config 11, code 1)
        w.write_packet(p.data if i != 5 else bytes([0x59, 1, 2, 3, 4]))
        last = p.page_granule if p.eos else p.granule
    w.close(final_granule=last)
    audio, res = _decode(model, out.getvalue())
    # concealed, reported, and the output keeps its length (format.md s2.5)
    assert res.truncated and "mlcodec" in res.truncated
    assert len(audio) == len(speech)


@pytest.mark.parametrize("rate", [16000, 48000])
def test_decode_file_rates(model, speech, tmp_path, rate):
    src = tmp_path / "in.wav"
    sf.write(src, speech / 32768.0, 16000, subtype="PCM_16")
    st_e = encode_file(src, tmp_path / "a.opus", model=model, serial=3)
    assert st_e.packets > 0 and st_e.file_bytes == (tmp_path / "a.opus").stat().st_size
    assert 0 < st_e.payload_kbps < st_e.file_kbps
    st_d = decode_file(tmp_path / "a.opus", tmp_path / "a.wav", rate=rate, model=model)
    y, r = sf.read(tmp_path / "a.wav")
    assert r == rate and len(y) == len(speech) * rate // 16000
    assert st_d.duration == pytest.approx(len(speech) / 16000)
    with pytest.raises(CodecError, match="rate"):
        decode_file(tmp_path / "a.opus", tmp_path / "b.wav", rate=44100, model=model)


def test_any_input_format_and_rate(model, speech, tmp_path):
    from mlcodec.dsp.audio import resample

    x = resample(speech.astype(np.float64), 16000, 44100) / 32768.0
    sf.write(tmp_path / "in.flac", np.stack([x, x], 1), 44100)
    encode_file(tmp_path / "in.flac", tmp_path / "a.opus", model=model)
    decode_file(tmp_path / "a.opus", tmp_path / "a.wav", model=model)
    assert len(sf.read(tmp_path / "a.wav")[0]) == len(speech)


class _Pipe(io.RawIOBase):
    """A non-seekable reader, like stdin from a pipe."""

    def __init__(self, data: bytes):
        self._b = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        d = self._b.read(min(len(b), 1000))
        b[: len(d)] = d
        return len(d)


@pytest.mark.parametrize("subtype,rate", [("PCM_16", 16000), ("PCM_24", 16000), ("FLOAT", 16000), ("PCM_16", 48000)])
def test_wav_from_pipe_streams(speech, subtype, rate):
    from mlcodec.dsp.audio import read_audio, resample

    x = resample(speech.astype(np.float64), 16000, rate) / 32768.0
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype=subtype)
    chunks, total = iter_audio(io.BufferedReader(_Pipe(buf.getvalue())))
    assert total is None  # streamed, length unknown in advance
    got = np.concatenate(list(chunks))
    ref = read_audio(io.BytesIO(buf.getvalue()))
    assert abs(len(got) - len(ref)) <= 1
    n = min(len(got), len(ref))
    assert np.max(np.abs(got[:n] - ref[:n])) < (2.0 if rate == 16000 else 200.0)


def test_wav_writer_open_ended_header():
    pipe = io.BytesIO()
    pipe.seekable = lambda: False  # type: ignore[method-assign]
    w = WavWriter(pipe, 16000)
    w.write(np.arange(100, dtype=np.float32))
    w.close()
    data = pipe.getvalue()
    assert data[4:8] == b"\xff\xff\xff\xff" and data[40:44] == b"\xff\xff\xff\xff" and len(data) == 244
    # ... and our own stdin reader accepts such a header
    chunks, _ = iter_audio(io.BufferedReader(_Pipe(data + bytes(400))))
    assert len(np.concatenate(list(chunks))) == 300
    seek = io.BytesIO()
    w = WavWriter(seek, 16000)
    w.write(np.arange(100, dtype=np.float32))
    w.close()
    y, r = sf.read(io.BytesIO(seek.getvalue()), dtype="int16")
    assert r == 16000 and y.tolist() == list(range(100))


@pytest.mark.parametrize("bad", [b"", b"RIFF\x00\x00\x00\x00WAVEjunk", b"hello world, not audio"])
def test_bad_audio_input(bad):
    with pytest.raises(MlcodecError):
        chunks, _ = iter_audio(io.BufferedReader(_Pipe(bad)), file="-")
        list(chunks)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_mutated_streams(model, speech, data):
    good = _FUZZ_BASE.setdefault("x", _encode(model, speech[:8000]))
    b = bytearray(good)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(b) - 1))
        b[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(b)))
    try:
        _decode(model, bytes(b[:cut]))
    except MlcodecError:
        pass


_FUZZ_BASE: dict = {}


# --- real tools (Debian opus-tools, ffmpeg) ---------------------------------------------------------


@pytest.fixture(scope="module")
def encoded_files(model, speech, tmp_path_factory):
    d = tmp_path_factory.mktemp("tools")
    out = {}
    for fm in fmt.FRAME_MS_CHOICES:
        p = d / f"s{fm}.opus"
        p.write_bytes(_encode(model, speech, frame_ms=fm))
        out[fm] = p
    return out


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install opus-tools ffmpeg)")
    return path


@pytest.mark.parametrize("frame_ms", fmt.FRAME_MS_CHOICES)
def test_opusinfo_accepts(encoded_files, frame_ms, speech):
    r = subprocess.run([_tool("opusinfo"), str(encoded_files[frame_ms])], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    text = r.stdout + r.stderr
    assert "WARNING" not in text.upper() and "ERROR" not in text.upper(), text
    assert f"{frame_ms}.0ms (max)" in text and "Original sample rate: 16000" in text


@pytest.mark.parametrize("frame_ms", fmt.FRAME_MS_CHOICES)
def test_opusdec_plays_silence(encoded_files, frame_ms, speech, tmp_path):
    wav = tmp_path / "o.wav"
    r = subprocess.run([_tool("opusdec"), "--quiet", "--rate", "16000", str(encoded_files[frame_ms]), str(wav)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    y, rate = sf.read(wav)
    assert rate == 16000 and abs(len(y) - len(speech)) <= 2
    assert np.abs(y).max() < 1e-3  # silence (concealment of zero-length frames)


@pytest.mark.parametrize("frame_ms", fmt.FRAME_MS_CHOICES)
def test_ffprobe_accepts(encoded_files, frame_ms, speech):
    r = subprocess.run([_tool("ffprobe"), "-v", "error", "-show_entries", "stream=codec_name,channels:format=duration",
                        "-of", "default=nw=1", str(encoded_files[frame_ms])], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "codec_name=opus" in r.stdout and "channels=1" in r.stdout
    dur = float(r.stdout.split("duration=")[1].split()[0])
    assert abs(dur - len(speech) / 16000) < 0.03
    r = subprocess.run([_tool("ffmpeg"), "-v", "error", "-i", str(encoded_files[frame_ms]), "-f", "null", "-"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr


# --- a failing input writes nothing (matters for stdout); plain reasons for empty inputs ------


def _header_pages(data: bytes) -> bytes:
    """The OpusHead and OpusTags pages of an encoded stream, without any audio page."""
    third = data.index(b"OggS", data.index(b"OggS", 4) + 4)
    return data[:third]


def _failing_chunks(first: np.ndarray | None):
    if first is not None:
        yield first
    raise MlcodecError("input broke", file="-")


@pytest.mark.parametrize("first", [None, 100, 300], ids=["before_audio", "after_100", "after_300"])
def test_encode_stream_writes_nothing_before_the_first_packet(model, speech, first):
    out = io.BytesIO()
    with pytest.raises(MlcodecError, match="input broke"):
        encode_stream(_failing_chunks(None if first is None else speech[:first]), out, model=model, serial=1)
    assert out.getvalue() == b""  # no lone OpusHead/OpusTags pages


def test_encode_stream_too_short_wav_pipe_writes_nothing(model):
    buf = io.BytesIO()
    sf.write(buf, np.zeros(100), 16000, format="WAV", subtype="PCM_16")
    chunks, _ = iter_audio(io.BufferedReader(_Pipe(buf.getvalue())), file="-")
    out = io.BytesIO()
    with pytest.raises(MlcodecError, match="too short"):
        encode_stream(chunks, out, model=model)
    assert out.getvalue() == b""


def test_encode_stream_headers_still_lead_the_stream(model, speech):
    data = _encode(model, speech)
    r = read_ogg_opus(io.BytesIO(data))
    assert data[:4] == b"OggS" and r.head.channels == 1 and len(list(r.packets())) > 0


@pytest.mark.parametrize("case", ["empty", "not_ogg", "header_pages_only", "cut_first_page"])
def test_decode_file_failing_input_writes_nothing(model, speech, case):
    good = _encode(model, speech)
    data = {"empty": b"", "not_ogg": SAMPLE.read_bytes()[:3000], "header_pages_only": _header_pages(good),
            "cut_first_page": good[:40]}[case]
    out = io.BytesIO()
    with pytest.raises(MlcodecError):
        decode_file(io.BufferedReader(_Pipe(data)), out, model=model)
    assert out.getvalue() == b""  # not even a WAV header


def test_decode_file_writes_a_wav_header_with_the_audio(model, speech):
    out = io.BytesIO()
    st_d = decode_file(io.BytesIO(_encode(model, speech)), out, model=model)
    y, r = sf.read(io.BytesIO(out.getvalue()))
    assert r == 16000 and len(y) == len(speech) and st_d.packets > 0


def test_decode_empty_says_empty(model, tmp_path):
    p = tmp_path / "empty.opus"
    p.write_bytes(b"")
    with pytest.raises(CodecError) as ei:
        decode_file(p, tmp_path / "o.wav", model=model)
    assert str(ei.value) == f"{p}: empty file" and os.listdir(tmp_path) == ["empty.opus"]
    with pytest.raises(CodecError) as ei:
        decode_stream(io.BytesIO(b""), lambda x: None, model=model, file="-")
    assert str(ei.value) == "-: empty input"


def test_decode_unreadable_file_says_permission_denied(model, tmp_path, monkeypatch):
    import mlcodec.io.transcode as pipeline

    p = tmp_path / "locked.opus"
    p.write_bytes(b"OggS")

    def refuse(path, *a, **k):
        raise PermissionError(13, "Permission denied", os.fspath(path))

    monkeypatch.setattr(pipeline, "open", refuse, raising=False)
    with pytest.raises(CodecError) as ei:
        decode_file(p, tmp_path / "o.wav", model=model)
    assert str(ei.value) == f"{p}: Permission denied" and os.listdir(tmp_path) == ["locked.opus"]


@pytest.mark.parametrize("src", [lambda: io.BufferedReader(_Pipe(b"")), lambda: io.BytesIO(b"")],
                         ids=["pipe", "seekable"])
def test_iter_audio_empty_stdin_says_empty_input(src):
    with pytest.raises(MlcodecError) as ei:
        chunks, _ = iter_audio(src(), file="-")
        list(chunks)
    assert ei.value.reason == "empty input" and ei.value.file == "-"
