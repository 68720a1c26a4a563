"""Issue 15 items 1-2 (library side): paths are read in blocks, encodes are reproducible, and an
existing output is proven complete (or not) from its pages and tags."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile as sf

import mlcodec
from mlcodec.codec.encoder import load_model
from mlcodec.dsp.audio import read_audio
from mlcodec.io import blocks
from mlcodec.io.resume import SETTINGS_TAG, output_status, settings_digest
from mlcodec.io.transcode import encode_file
from mlcodec.io.wav import iter_audio


def _speech(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Voiced-speech-like test signal: a 120-200 Hz buzz with a syllable envelope and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 150 + 40 * np.sin(2 * np.pi * 0.7 * t)
    x = np.sign(np.sin(2 * np.pi * np.cumsum(f0) / rate)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
    return (0.2 * x + 0.01 * rng.standard_normal(t.shape)).astype(np.float64)


@pytest.fixture(scope="module")
def digest():
    return settings_digest(load_model(None), "3k", 20, True)


@pytest.mark.parametrize("rate,channels,fmt_", [(44100, 2, "WAV"), (16000, 1, "FLAC"), (48000, 1, "FLAC")])
def test_blocks_equal_whole_read(tmp_path, rate, channels, fmt_):
    """Block reading (small blocks, so many chunk boundaries) gives the samples a whole-file
    read gives: soxr's streamed output equals its one-shot output."""
    x = _speech(3.3, rate)
    x = np.stack([x, 0.5 * x], axis=1) if channels == 2 else x
    p = tmp_path / f"a.{fmt_.lower()}"
    sf.write(p, x, rate, format=fmt_, subtype="PCM_16")
    chunks, dur = blocks.open_blocks(p, block=4099)
    got = np.concatenate(list(chunks))
    ref = read_audio(p)
    assert dur == pytest.approx(3.3, abs=1e-3)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-3)  # float32 int16 units


def test_piped_flac_is_spooled_not_slurped(tmp_path):
    """A non-WAV pipe is spooled to a temporary file and then read in blocks: same audio."""
    x = _speech(2.0, 16000)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="FLAC")

    class Pipe(io.RawIOBase):
        def __init__(self, b):
            self._b = io.BytesIO(b)

        def readable(self):
            return True

        def readinto(self, b):
            d = self._b.read(min(len(b), 777))
            b[: len(d)] = d
            return len(d)

    chunks, _ = iter_audio(io.BufferedReader(Pipe(buf.getvalue())), file="-")
    np.testing.assert_allclose(np.concatenate(list(chunks)), read_audio(io.BytesIO(buf.getvalue())), atol=1e-3)


def test_path_errors_are_one_line(tmp_path):
    from mlcodec.errors import AudioError

    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.wav").write_bytes(b"not audio at all" * 10)
    for name, words in (("missing.wav", "no such file"), ("empty.wav", "empty file"), ("junk.wav", "unreadable")):
        with pytest.raises(AudioError, match=words):
            chunks, _ = blocks.open_blocks(tmp_path / name)
            list(chunks)
    sf.write(tmp_path / "short.wav", np.zeros(50), 16000)
    with pytest.raises(AudioError, match="too short"):
        list(blocks.open_blocks(tmp_path / "short.wav")[0])


def test_same_input_same_bytes_whatever_the_path(tmp_path):
    """Default serial: from the settings and the audio, not the name, the folder or the
    container; --serial (serial=) still overrides it; another input gets another serial."""
    x = np.round(_speech(2.5, 16000) * 32767).astype(np.int16)  # the same samples in both containers
    sf.write(tmp_path / "a.wav", x, 16000, subtype="PCM_16")
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "other-name.flac", x, 16000, subtype="PCM_16")
    sf.write(tmp_path / "b.wav", x[::-1].copy(), 16000, subtype="PCM_16")
    outs = {}
    for name, src in (("a1", "a.wav"), ("a2", "a.wav"), ("flac", "sub/other-name.flac"), ("b", "b.wav")):
        encode_file(tmp_path / src, tmp_path / f"{name}.opus")
        outs[name] = (tmp_path / f"{name}.opus").read_bytes()
    assert outs["a1"] == outs["a2"] == outs["flac"]
    serial = lambda b: int.from_bytes(b[14:18], "little")  # Ogg page header (RFC 3533 s6)
    assert serial(outs["b"]) != serial(outs["a1"])
    encode_file(tmp_path / "a.wav", tmp_path / "fixed.opus", serial=1234)
    fixed = (tmp_path / "fixed.opus").read_bytes()
    assert serial(fixed) == 1234 and fixed != outs["a1"]
    # The array API codes the same bytes as the file path.
    assert mlcodec.encode(sf.read(tmp_path / "a.wav")[0], 16000) == outs["a1"]


def test_output_status_proves_completeness(tmp_path, digest):
    x = _speech(2.0, 16000)
    sf.write(tmp_path / "a.wav", x, 16000)
    p = tmp_path / "a.opus"
    encode_file(tmp_path / "a.wav", p)
    data = p.read_bytes()
    assert output_status(p, digest) is None
    assert f"{SETTINGS_TAG}={digest}".encode() in data
    # other settings (another preset, float arithmetic) do not count
    assert "other settings" in output_status(p, settings_digest(load_model(None), "6k", 20, True))
    assert "other settings" in output_status(p, settings_digest(load_model(None), "3k", 20, False))
    # a cut file: at a page boundary (no EOS page) and inside a page
    last = data.rfind(b"OggS")
    (tmp_path / "cut.opus").write_bytes(data[:last])
    assert "EOS" in output_status(tmp_path / "cut.opus", digest)
    (tmp_path / "cut2.opus").write_bytes(data[:-7])
    assert "damaged" in output_status(tmp_path / "cut2.opus", digest)
    # a flipped byte in the middle: the page CRC catches it
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0x55
    (tmp_path / "flip.opus").write_bytes(bytes(bad))
    assert "damaged" in output_status(tmp_path / "flip.opus", digest)
    assert output_status(tmp_path / "none.opus", digest) == "missing"
    (tmp_path / "junk.opus").write_bytes(b"\0" * 100)
    assert output_status(tmp_path / "junk.opus", digest) is not None


def test_foreign_ogg_opus_does_not_count(tmp_path, digest):
    """An Ogg Opus file made by another encoder (our writer, without our tags) is foreign."""
    from mlcodec.containers.oggopus import OggOpusWriter

    p = tmp_path / "foreign.opus"
    with open(p, "wb") as f:
        w = OggOpusWriter(f, channels=1, serial=9, tags=["ENCODER=someone else"])
        w.write_packet(bytes([0x48]))  # a TOC-only SILK WB 20 ms packet (RFC 6716 s3.1)
        w.close(final_granule=960)
    assert "no settings tag" in output_status(p, digest)


def test_encode_block_size_is_bounded(tmp_path):
    """The chunks handed to the encoder stay bounded whatever the file's length (flat memory):
    a long file comes in many blocks, none longer than BLOCK_FRAMES at 16 kHz."""
    sf.write(tmp_path / "long.flac", np.zeros(16000 * 30), 16000, subtype="PCM_16")
    chunks, _ = blocks.open_blocks(tmp_path / "long.flac")
    sizes = [c.shape[0] for c in chunks]
    assert len(sizes) >= 7 and max(sizes) <= blocks.BLOCK_FRAMES and sum(sizes) == 16000 * 30
