"""The public API (mlcodec.encode/decode/info/read_codes/decode_codes) and `mlcodec codes`."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import mlcodec
from mlcodec.errors import AudioError, CodecError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mlcodec" / "samples" / "sample.flac"


def _db(a, b) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(a, dtype=np.float64))) / np.sqrt(np.mean(np.square(b, dtype=np.float64))))


@pytest.fixture(scope="module")
def speech44():
    import soxr

    x, sr = sf.read(SAMPLE, dtype="float64")
    return soxr.resample(x[: 3 * sr], sr, 44100).astype(np.float32)


@pytest.fixture(scope="module")
def coded(speech44):
    return mlcodec.encode(speech44, 44100, serial=7)


def test_import_is_cheap_and_lazy():
    r = subprocess.run([sys.executable, "-c", "import sys, mlcodec; print(sorted(m for m in ('numpy', 'numba', "
                        "'mlcodec.api', 'soundfile') if m in sys.modules)); print(callable(mlcodec.encode))"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["[]", "True"]


def test_float_round_trip_right_level_and_length(speech44, coded):
    """Float [-1, 1] audio at 44.1 kHz comes back at 44.1 kHz, same length, and at the level the
    codec gives through the CLI's path (the same samples written as WAV and coded by file)."""
    y, rate = mlcodec.decode(coded, 44100)
    assert rate == 44100 and y.dtype == np.float32 and y.shape == speech44.shape
    assert np.max(np.abs(y)) <= 1.0
    # Before issue 14 float input was taken as int16 units: near-silence, about -90 dB.
    assert abs(_db(y, speech44)) < 3.0
    buf = io.BytesIO()
    sf.write(buf, speech44, 44100, format="WAV", subtype="FLOAT")
    buf.seek(0)
    out = io.BytesIO()
    from mlcodec.io.transcode import encode_file

    encode_file(buf, out, serial=7)
    assert out.getvalue() == coded  # the API codes exactly what the CLI's path codes
    y16, r16 = mlcodec.decode(coded)
    assert r16 == 16000 and abs(len(y16) - len(speech44) * 16000 // 44100) <= 1
    assert abs(_db(y16, y)) < 0.2


def test_int16_and_multichannel_input(speech44):
    pcm = np.round(speech44 * 32767).astype(np.int16)
    a = mlcodec.encode(pcm, 44100, serial=7)
    b = mlcodec.encode(speech44, 44100, serial=7)
    ya, _ = mlcodec.decode(a)
    yb, _ = mlcodec.decode(b)
    # (int16 rounding may move the two-pass level choice of a page: a small level difference)
    assert len(ya) == len(yb) and abs(_db(ya, yb)) < 0.5
    stereo = np.stack([speech44, speech44], axis=1)
    assert mlcodec.encode(stereo, 44100, serial=7) == b  # identical channels mix to the same mono


def test_float_in_int16_units_is_refused_not_silenced(speech44):
    with pytest.raises(AudioError, match=r"float audio must be in \[-1, 1\]"):
        mlcodec.encode(speech44 * 32768, 44100)
    with pytest.raises(AudioError, match="too short"):
        mlcodec.encode(np.zeros(10, np.float32), 16000)


def test_info(coded, tmp_path):
    fi = mlcodec.info(coded)
    assert fi.preset == "3k" and fi.format_version == 3 and fi.model == "codec_v2"
    assert abs(fi.duration - 3.0) < 1e-3 and fi.file_bytes == len(coded)
    assert fi.file_kbps == pytest.approx(len(coded) * 8 / fi.duration / 1000)
    assert 0 < fi.payload_kbps < fi.file_kbps
    p = tmp_path / "x.opus"
    p.write_bytes(coded)
    assert mlcodec.info(p) == fi and mlcodec.info(open(p, "rb")) == fi
    assert json.loads(fi.to_json())["preset"] == "3k"


def test_codes_round_trip(coded):
    c = mlcodec.read_codes(coded)
    assert c.codes.dtype == np.int32 and c.codes.ndim == 2 and c.frame_rate == 50.0
    per = c.frame_ms * 16  # whole packets of 20 ms latents covering the input plus the codec delay
    n = -(-(48000 + c.delay) // per) * per // 320
    assert c.samples == 48000 and c.codes.shape[0] == n and c.level.shape == (n,)
    assert np.any(c.codes != 0)
    y, _ = mlcodec.decode_codes(c)
    ref, _ = mlcodec.decode(coded)
    assert y.shape == ref.shape and np.allclose(y, ref, atol=1e-5)
    # The codes are what the payload carries: coding them again gives the same payload bytes.
    from mlcodec.codec.format import carrier_payload
    from mlcodec.codec.model_io import load_model
    from mlcodec.codec.payload import CodingTables, write_payload_v2
    from mlcodec.containers.oggopus import read_ogg_opus

    tables = CodingTables.from_quant_tables(load_model().quant_tables(int(c.level[0])))
    pkts = list(read_ogg_opus(io.BytesIO(coded)).packets())
    n0, payload = carrier_payload(pkts[0].data)
    # the first packet's latents, none DTX in speech onset... rows equal to their predecessor
    # may be DTX repeats: re-code with the packet's own DTX flags
    from mlcodec.codec.payload import read_payload_v2

    from mlcodec.codec.contexts import model_contexts

    ctx = model_contexts(load_model())  # format 3: values coded in their context
    lv = int(c.level[0])
    _, rows = read_payload_v2(payload, n0, lambda lv: tables, level=None, nb_levels=16, ctx_of=ctx.level)
    again = [c.codes[k] if r is not None else None for k, r in enumerate(rows)]
    assert payload == write_payload_v2(again, tables, level=lv, nb_levels=16, ctx=ctx.level(lv))


def test_damaged_stream_keeps_its_audio(coded):
    with pytest.raises(CodecError) as ei:
        mlcodec.decode(coded[: len(coded) * 9 // 10])  # the EOS page is cut
    audio, rate = ei.value.audio
    assert rate == 16000 and 0.5 < len(audio) / 16000 < 3.0
    with pytest.raises(CodecError, match="no such file"):
        mlcodec.decode("/nonexistent/x.opus")


def test_codes_command(coded, tmp_path):
    src = tmp_path / "s.opus"
    src.write_bytes(coded)
    c = mlcodec.read_codes(coded)

    def run(*args, **kw):
        return subprocess.run([sys.executable, "-m", "mlcodec_cli.main", "codes", *map(str, args)],
                              capture_output=True, timeout=120, cwd=ROOT, **kw)

    r = run(src, "-o", tmp_path / "c.npy")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.load(tmp_path / "c.npy"), c.codes)
    r = run("-", "-o", tmp_path / "c.npz", input=coded)
    assert r.returncode == 0, r.stderr
    z = np.load(tmp_path / "c.npz")
    assert np.array_equal(z["codes"], c.codes) and float(z["frame_rate"]) == 50.0 and str(z["preset"]) == "3k"
    r = run(src, "-o", "-")
    lines = r.stdout.decode().splitlines()
    assert r.returncode == 0 and len(lines) == c.codes.shape[0]
    first = json.loads(lines[0])
    assert first["codes"] == c.codes[0].tolist() and first["level"] == int(c.level[0]) and first["t"] == 0.0
    r = run(ROOT / "mlcodec" / "samples" / "sample.opus", "-o", "-")
    assert r.returncode == 1 and r.stderr.decode().count("\n") == 1 and "not an mlcodec stream" in r.stderr.decode()
