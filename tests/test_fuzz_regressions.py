"""Regressions for what the fuzzing campaign found (docs/reliability.md, "Findings and fixes").
Entry points come through bench/fuzz.py's ADAPTERS table, so they follow the code when it moves."""
from __future__ import annotations

import io
import struct
import subprocess
import sys
import warnings

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import fuzz  # noqa: E402


def _float_wav(samples: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)
    d = b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", 4 + len(d)) + b"WAVE" + d


#: float32 WAV holding a signalling NaN (0x7f800001): numpy's float32->float64 cast raised the
#: "invalid" flag, so `mlcodec encode - OUT` printed a RuntimeWarning (2 lines) before its error.
SNAN_WAV = _float_wav(struct.pack("<f", 0.1) * 4000 + bytes.fromhex("0100807f") * 4 + struct.pack("<f", 0.1) * 4000)
#: +inf and -inf in one stereo frame: their mean is NaN ("invalid value in reduce").
INF_WAV = _float_wav(struct.pack("<ff", float("inf"), float("-inf")) * 10).replace(
    struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32), struct.pack("<HHIIHH", 3, 2, 16000, 128000, 8, 32))


@pytest.mark.parametrize("data", [SNAN_WAV, INF_WAV], ids=["snan", "inf-minus-inf"])
def test_streaming_wav_non_finite_samples_refused_without_a_warning(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(fuzz.api("MlcodecError"), match="non-finite"):
            for _ in fuzz.api("wav_stream")(io.BytesIO(data[12:]), data[:12], "x.wav"):
                pass


def test_cli_encode_stdin_snan_prints_one_line(tmp_path):
    out = tmp_path / "o.opus"
    p = subprocess.run([sys.executable, "-m", fuzz.ADAPTERS["cli_module"], "encode", "-", str(out)],
                       input=SNAN_WAV, capture_output=True)
    err = p.stderr.decode().strip().splitlines()
    assert p.returncode == 1 and len(err) == 1 and err[0].startswith("mlcodec: error: "), err
    assert "non-finite" in err[0] and not out.exists()


def _corpus():
    files = sorted(fuzz.CORPUS.glob("*/*.bin"))
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in files if p.parent.name in fuzz.PARSER_TARGETS]


@pytest.mark.parametrize("path", _corpus())
def test_kept_findings_replay_cleanly(path):
    """Every input kept in bench/fuzz_corpus/ now gives a result or an MlcodecError, no warning."""
    import fuzz_targets

    tgt = fuzz_targets.make_target(path.parent.name, fuzz.api)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            tgt.run(path.read_bytes())
        except fuzz.api("MlcodecError") as exc:
            assert exc.reason and "\n" not in str(exc)


def _set_granule(data: bytes, page_index: int, granule: int) -> bytes:
    """``data`` with Ogg page ``page_index`` (negative counts from the end) given ``granule`` and
    a CRC recomputed over it (RFC 3533 s6), as the fuzzer's CRC-fixing mutations do."""
    from mlcodec.containers.ogg import crc32

    starts = [i for i in range(len(data) - 3) if data[i:i + 4] == b"OggS"]
    at = starts[page_index]
    end = starts[starts.index(at) + 1] if at != starts[-1] else len(data)
    page = bytearray(data[at:end])
    struct.pack_into("<q", page, 6, granule)
    struct.pack_into("<I", page, 22, 0)
    struct.pack_into("<I", page, 22, crc32(bytes(page)))
    return data[:at] + bytes(page) + data[end:]


@pytest.mark.parametrize("page", [-1, 2], ids=["eos-page", "middle-page"])
def test_absurd_granule_is_damage_not_years_of_concealment(page):
    """An absurd granule under a good CRC made decode allocate 94.7 TiB (MemoryError, found by
    the fuzz smoke test after format 2): now it is reported as damage and nothing is filled."""
    import numpy as np

    import mlcodec

    rng = np.random.default_rng(3)
    x = (0.1 * rng.standard_normal(16000 * 8)).astype(np.float32)
    data = mlcodec.encode(x, 16000)
    bad = _set_granule(data, page, 2**62)
    try:
        y, rate = mlcodec.decode(bad)
    except fuzz.api("MlcodecError") as exc:
        assert "implausible" in str(exc)
    else:
        assert abs(y.shape[0] - x.shape[0]) <= rate
