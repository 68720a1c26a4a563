"""Format 2 end to end (issue 10): whole-file rate control, DTX, CBR, damaged files that keep
their audio, and encoder inputs that are streams. References: the file's own size over its
duration, the input length, RFC 3533 page CRCs, known signals (digital silence, noise)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mlcodec.codec import format as fmt
from mlcodec.codec.decoder import StreamDecoder
from mlcodec.codec.encoder import encode_stream
from mlcodec.containers.ogg import iter_pages
from mlcodec.containers.resync import iter_pages_resync

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ROOT / "test_vectors" / "inputs"


def _speech(seconds: float) -> np.ndarray:
    """The vectors' espeak-ng sentences with 0.5 s pauses, repeated to ``seconds``."""
    xs = [sf.read(INPUTS / f"{n}.flac", dtype="int16")[0].astype(np.float32)
          for n in ("speech_en", "speech_de", "speech_es")]
    sil = np.zeros(8000, np.float32)
    one = np.concatenate([np.concatenate([a, sil]) for a in xs])
    reps = int(np.ceil(seconds * 16000 / len(one)))
    return np.tile(one, reps)[: int(seconds * 16000)]


def _encode(x, **kw) -> tuple[bytes, object]:
    buf = io.BytesIO()
    enc = encode_stream([x], buf, serial=7, **kw)
    return buf.getvalue(), enc


def _decode(data: bytes):
    d = StreamDecoder(io.BytesIO(data), vocoder="reference")
    y = np.concatenate(list(d) or [np.zeros(0, np.float32)])
    return y, d


def _kbps(data: bytes, n: int) -> float:
    return len(data) * 8 / (n / 16000) / 1000


@pytest.fixture(scope="module")
def speech9():
    return _speech(9.27)


@pytest.mark.parametrize("bitrate", ["3k", "2.5k", "6k", "8k"])
def test_whole_file_rate_meets_the_target(speech9, bitrate):
    data, enc = _encode(speech9, bitrate=bitrate)
    assert _kbps(data, len(speech9)) <= fmt.parse_bitrate(bitrate) / 1000
    y, d = _decode(data)
    assert len(y) == len(speech9) and d.truncated is None


def test_rate_orders_presets_and_dtx_skips_pauses(speech9):
    sizes = {br: _encode(speech9, bitrate=br)[0] for br in ("1.5k", "3k", "6k")}
    assert len(sizes["1.5k"]) < len(sizes["3k"]) < len(sizes["6k"])
    _, enc = _encode(speech9, bitrate="3k")
    # 3 pauses of 0.5 s: all but hangover and SID latents are DTX
    assert enc.dtx_latents >= 3 * 15
    _, off = _encode(speech9, bitrate="3k", dtx=False)
    assert off.dtx_latents == 0


def test_cbr_packets_have_one_size(speech9):
    data, enc = _encode(speech9, bitrate="4k", mode="cbr")
    from mlcodec.containers.ogg import read_packets

    sizes = {len(p.data) for p in read_packets(io.BytesIO(data))} - {19}
    audio = [len(p.data) for p in read_packets(io.BytesIO(data))][2:]
    assert len(set(audio)) == 1 and enc.dtx_latents == 0
    assert audio[0] == 4000 * 120 // 8000 - 1 - 2
    assert sizes


def test_one_pass_stays_near_the_target(speech9):
    data, _ = _encode(speech9, bitrate="3k", two_pass=False)
    assert _kbps(data, len(speech9)) <= 3.0 * 1.1


def test_digital_silence_costs_almost_nothing():
    """10 s of digital silence: one SID carrier, then 1-byte DTX packets on 10 s pages.
    (<= 0.2 kb/s is below what any valid Ogg Opus file can reach for 10 s: research s5.2.)"""
    data, enc = _encode(np.zeros(160000, np.float32), bitrate="3k")
    assert _kbps(data, 160000) < 0.45
    assert enc.dtx_latents >= 490
    y, d = _decode(data)
    assert len(y) == 160000 and d.truncated is None
    assert 20 * np.log10(np.abs(y).max() / 32768 + 1e-12) < -60


def test_background_noise_is_not_hiss_or_clicks():
    """Speech-level noise bursts over a -60 dBFS noise floor: the DTX stretches of the floor
    decode near the floor's level (no hiss well above it, no clicks at the joins)."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 32768 * 10 ** (-60 / 20), 16000 * 6).astype(np.float32)
    x[16000:24000] += rng.normal(0, 3000, 8000) * np.hanning(8000)
    x[56000:64000] += rng.normal(0, 3000, 8000) * np.hanning(8000)
    data, enc = _encode(x, bitrate="3k")
    assert enc.dtx_latents > 100
    y, _ = _decode(data)
    seg = y[32000:52000]  # a DTX stretch of floor only
    rms_db = 20 * np.log10(np.sqrt(np.mean(seg ** 2)) / 32768 + 1e-12)
    assert rms_db < -45, f"floor decodes at {rms_db:.1f} dBFS"
    frame = y[: len(y) // 160 * 160].reshape(-1, 160)
    peaks = np.abs(frame[200:325]).max(1)  # 10 ms peaks over the DTX stretch
    assert peaks.max() < 32768 * 10 ** (-35 / 20)


# --- damage ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    x = _speech(60.0)
    data, _ = _encode(x, bitrate="3k")
    return x, data


def _pages(data: bytes):
    return list(iter_pages(io.BytesIO(data)))


def test_resync_reader_skips_damage():
    x = _speech(12.0)
    data, _ = _encode(x, bitrate="3k")
    pages = _pages(data)
    bad = bytearray(data)
    bad[pages[3].offset + 40] ^= 0x55
    damage = []
    got = list(iter_pages_resync(io.BytesIO(bytes(bad)), damage))
    assert [p.sequence for p in got] == [p.sequence for p in pages if p.sequence != 3]
    assert damage and damage[0][0] == pages[3].offset and "CRC" in damage[0][1]


def test_flipped_byte_in_a_60s_file_keeps_the_audio(long_file, tmp_path):
    x, data = long_file
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0x01
    y, d = _decode(bytes(bad))
    assert len(y) == len(x)                                   # exact length
    assert d.truncated and "CRC" in d.truncated
    assert 1 - d.concealed / len(x) >= 0.95                   # >= 95 % decoded
    # and the CLI keeps the WAV, reports the damage in one line, exits 1
    src, dst = tmp_path / "bad.opus", tmp_path / "out.wav"
    src.write_bytes(bytes(bad))
    r = subprocess.run([sys.executable, "-m", "cli.main", "decode", "--vocoder", "reference", str(src), str(dst)],
                       capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(src) in lines[0] and "offset" in lines[0]
    assert sf.info(dst).frames == len(x)


def test_damaged_first_audio_page_loses_that_page_only(long_file):
    x, data = long_file
    pages = _pages(data)
    bad = bytearray(data)
    bad[pages[2].offset + 50] ^= 0xFF  # page 2 = the first audio page
    y, d = _decode(bytes(bad))
    assert len(y) == len(x) and d.truncated
    page_samples = pages[2].granule // 3
    assert d.concealed <= page_samples + 320


def test_missing_page_is_a_gap(long_file):
    x, data = long_file
    pages = _pages(data)
    k = len(pages) // 2
    cut = data[: pages[k].offset] + data[pages[k + 1].offset:]
    y, d = _decode(cut)
    assert len(y) == len(x)
    assert d.truncated and "lost pages" in d.truncated
    lost = (pages[k].granule - pages[k - 1].granule) // 3
    assert abs(d.concealed - lost) <= 320


@pytest.mark.parametrize("version", [2, 3])
def test_garbage_packet_is_concealed(version):
    x = _speech(6.0)
    data, _ = _encode(x, bitrate="3k", format_version=version)
    pages = _pages(data)
    p = pages[3]
    # the second packet's padding-length byte -> garbage (an extension area past the packet end)
    body = bytearray(p.body)
    body[p.segments[0] + 2] = 0xFF
    from mlcodec.containers.ogg import build_page

    raw = build_page(bytes(body), p.segments, flags=p.flags, granule=p.granule, serial=p.serial,
                     sequence=p.sequence)
    bad = data[: p.offset] + raw + data[p.offset + p.size:]
    y, d = _decode(bad)
    assert len(y) == len(x) and d.truncated
    # format 3 too: contexts restart in every packet, so only the garbage packet is lost
    assert 0 < d.concealed <= 1920 + 320


# --- wrong-way input ------------------------------------------------------------------------------


def test_encoding_a_stream_is_refused(tmp_path):
    x = _speech(2.0)
    data, _ = _encode(x, bitrate="3k")
    src = tmp_path / "x.opus"
    src.write_bytes(data)
    r = subprocess.run([sys.executable, "-m", "cli.main", "encode", str(src), str(tmp_path / "y.opus")],
                       capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 1 and "mlcodec decode" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "y.opus").exists()
