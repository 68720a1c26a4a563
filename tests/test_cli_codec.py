"""`mlcodec encode` / `mlcodec decode` / `mlcodec demo`: files, pipes, batches, error lines."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from mlcodec_cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mlcodec" / "samples" / "sample.flac"
SHIPPED = ROOT / "mlcodec" / "models" / "codec_v2.bin"


def model_path() -> Path:
    p = Path(os.environ.get("MLCODEC_DEV_MODEL", SHIPPED))
    if not p.is_file():
        assert p != SHIPPED, f"the shipped codec model {p} is missing from this checkout"
        pytest.skip(f"MLCODEC_DEV_MODEL names {p}, which does not exist")
    return p


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    """A 1.5 s 16-bit WAV cut from the shipped sample."""
    x, rate = sf.read(SAMPLE)
    p = tmp_path_factory.mktemp("in") / "speech.wav"
    sf.write(p, x[: int(1.5 * rate)], rate, subtype="PCM_16")
    return p


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def mlcodec(*args, input=None):
    """Run the real entry point in a subprocess (pipes, exit codes, stderr)."""
    return subprocess.run([sys.executable, "-m", "mlcodec_cli.main", *map(str, args)], input=input,
                          capture_output=True, cwd=ROOT)


def test_encode_decode_files(wav, tmp_path):
    m = model_path()
    r = run("encode", "--model", m, "-b", "1.5k", "--frame-ms", "40", wav, tmp_path / "a.opus")
    assert r.exit_code == 0, r.output
    assert "payload" in r.output and "whole file" in r.output and "kb/s" in r.output
    r = run("decode", "--model", m, "--rate", "48000", "--vocoder", "reference", tmp_path / "a.opus",
            tmp_path / "a.wav")
    assert r.exit_code == 0, r.output
    y, rate = sf.read(tmp_path / "a.wav")
    n = sf.info(wav).frames
    assert rate == 48000 and len(y) == 3 * n
    assert sorted(os.listdir(tmp_path)) == ["a.opus", "a.wav"]  # no temp files left


def test_serial_makes_output_reproducible(wav, tmp_path):
    m = model_path()
    for name in ("a", "b"):
        assert run("encode", "--model", m, "--serial", 42, wav, tmp_path / f"{name}.opus").exit_code == 0
    assert (tmp_path / "a.opus").read_bytes() == (tmp_path / "b.opus").read_bytes()


def test_pipes(wav, tmp_path):
    m = model_path()
    r = mlcodec("encode", "--model", m, "--serial", 42, "-", "-", input=wav.read_bytes())
    assert r.returncode == 0, r.stderr
    assert r.stdout[:4] == b"OggS" and b"kb/s" in r.stderr  # summary goes to stderr
    assert run("encode", "--model", m, "--serial", 42, wav, tmp_path / "f.opus").exit_code == 0
    # stdin is coded in one pass (leaky bucket), a file in two (docs/format.md 2.4): same
    # headers, same length, the bytes of the audio pages may differ
    f = (tmp_path / "f.opus").read_bytes()
    assert r.stdout[:200] == f[:200]
    d = mlcodec("decode", "--model", m, "-", "-", input=r.stdout)
    assert d.returncode == 0, d.stderr
    assert d.stdout[:4] == b"RIFF" and d.stdout[4:8] == b"\xff\xff\xff\xff"  # open-ended header
    pcm = np.frombuffer(d.stdout[44:], "<i2")
    assert len(pcm) == sf.info(wav).frames


def test_many_files_with_workers(wav, tmp_path):
    m = model_path()
    ins = []
    for i in range(3):
        p = tmp_path / f"in{i}.wav"
        p.write_bytes(wav.read_bytes())
        ins.append(p)
    out = tmp_path / "out"
    r = run("encode", "--model", m, "-j", 2, "-o", out, *ins)
    assert r.exit_code == 0, r.output
    assert sorted(os.listdir(out)) == ["in0.opus", "in1.opus", "in2.opus"] and "total: 3 files" in r.output
    r = run("decode", "--model", m, "-j", 2, "-o", out, *sorted(out.glob("*.opus")))
    assert r.exit_code == 0, r.output
    assert len(list(out.glob("*.wav"))) == 3


def test_many_files_one_bad(wav, tmp_path):
    m = model_path()
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    r = mlcodec("encode", "--model", m, "-o", tmp_path / "out", wav, bad)
    assert r.returncode == 1
    err = r.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mlcodec: error: ") and "bad.wav" in err[0]
    assert (tmp_path / "out" / "speech.opus").exists() and not (tmp_path / "out" / "bad.opus").exists()


@pytest.mark.parametrize("case", ["missing", "text", "wav_to_decode", "opusenc_file", "truncated", "mismatch"])
def test_one_clear_error_line(wav, tmp_path, case):
    m = model_path()
    good = tmp_path / "good.opus"
    assert run("encode", "--model", m, wav, good).exit_code == 0
    if case == "missing":
        args = ["encode", "--model", m, tmp_path / "nope.wav", tmp_path / "x.opus"]
    elif case == "text":
        (tmp_path / "t.wav").write_text("hello")
        args = ["encode", "--model", m, tmp_path / "t.wav", tmp_path / "x.opus"]
    elif case == "wav_to_decode":
        args = ["decode", "--model", m, wav, tmp_path / "x.wav"]
    elif case == "opusenc_file":
        from mlcodec.containers.oggopus import OggOpusWriter

        with open(tmp_path / "o.opus", "wb") as f:  # an Ogg Opus file without mlcodec tags
            w = OggOpusWriter(f, tags=["ENCODER=opusenc"])
            w.write_packet(bytes([0x48, 1, 2, 3]))
            w.close()
        args = ["decode", "--model", m, tmp_path / "o.opus", tmp_path / "x.wav"]
    elif case == "truncated":
        x, rate = sf.read(wav)
        sf.write(tmp_path / "long.wav", np.tile(x, 4), rate)  # 6 s: 3 pages of 2.4 s
        assert run("encode", "--model", m, tmp_path / "long.wav", good).exit_code == 0
        data = good.read_bytes()
        (tmp_path / "cut.opus").write_bytes(data[: len(data) - 50])
        args = ["decode", "--model", m, tmp_path / "cut.opus", tmp_path / "x.wav"]
    else:  # the same stream claiming another model (pages rebuilt so the CRCs stay valid)
        import io

        from mlcodec.containers.oggopus import OggOpusWriter, read_ogg_opus

        rd = read_ogg_opus(io.BytesIO(good.read_bytes()))
        tags = [c if not c.startswith("MLCODEC=") else " ".join(
                    v if i != 2 else "00ff00ff00ff00ff" for i, v in enumerate(c.split(" ")))
                for c in rd.tags.comments]
        with open(tmp_path / "mm.opus", "wb") as f:
            w = OggOpusWriter(f, pre_skip=rd.head.pre_skip, tags=tags)
            for p in rd.packets():
                w.write_packet(p.data)
            w.close()
        args = ["decode", "--model", m, tmp_path / "mm.opus", tmp_path / "x.wav"]
    r = mlcodec(*args)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlcodec: error: "), r.stderr
    assert "Traceback" not in r.stderr.decode()
    if case == "truncated":
        assert "truncated" in lines[0] and (tmp_path / "x.wav").exists()  # decoded part is kept
    else:
        assert not (tmp_path / "x.wav").exists() and not (tmp_path / "x.opus").exists()
    if case == "mismatch":
        assert "checksum" in lines[0]
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]  # mlcodec.io.atomic temp names
    assert leftovers == []


def test_usage_errors(wav, tmp_path):
    assert run("encode", wav).exit_code == 2
    assert run("encode", "--bitrate", "9k", wav, tmp_path / "x.opus").exit_code == 2
    assert run("encode", "--frame-ms", "30", wav, tmp_path / "x.opus").exit_code == 2
    assert run("decode", "--rate", "44100", wav, tmp_path / "x.wav").exit_code == 2
    r = run("encode", "-o", tmp_path, "-")
    assert r.exit_code != 0


def test_demo(tmp_path):
    if not SHIPPED.is_file():
        pytest.skip("the shipped model is absent")
    r = run("demo", tmp_path / "demo")
    assert r.exit_code == 0, r.output
    assert "kb/s" in r.output and "decoded:" in r.output
    files = sorted(os.listdir(tmp_path / "demo"))
    assert files == ["sample-3k-decoded.wav", "sample-3k.opus", "sample-input.wav"]
    a, _ = sf.read(tmp_path / "demo" / "sample-input.wav")
    b, _ = sf.read(tmp_path / "demo" / "sample-3k-decoded.wav")
    assert len(a) == len(b)


def test_outputs_that_would_destroy_data_are_refused(wav, tmp_path):
    """A forgotten -o (second input WAV taken as OUT) and OUT == IN are refused; nothing changes."""
    m = model_path()
    other = tmp_path / "other.wav"
    other.write_bytes(wav.read_bytes())
    r = mlcodec("encode", "--model", m, wav, other)
    err = r.stderr.decode().strip().splitlines()
    assert r.returncode == 1 and len(err) == 1 and "not an Ogg file" in err[0] and "-o DIR" in err[0]
    assert other.read_bytes() == wav.read_bytes()
    r = mlcodec("encode", "--model", m, other, other)
    assert r.returncode == 1 and b"output is the input" in r.stderr
    opus = tmp_path / "a.opus"
    assert mlcodec("encode", "--model", m, wav, opus).returncode == 0
    before = opus.read_bytes()
    r = mlcodec("decode", "--model", m, opus, opus)
    assert r.returncode == 1 and b"output is the input" in r.stderr and opus.read_bytes() == before
    r = mlcodec("encode", "--model", m, wav, tmp_path / "missing" / "x.opus")
    assert r.returncode == 1 and b"directory does not exist" in r.stderr and b".tmp" not in r.stderr
    assert sorted(os.listdir(tmp_path)) == ["a.opus", "other.wav"]


def test_decode_with_nothing_readable_writes_nothing(wav, tmp_path):
    m = model_path()
    opus = tmp_path / "a.opus"
    assert mlcodec("encode", "--model", m, wav, opus).returncode == 0
    cut = tmp_path / "cut.opus"
    data = opus.read_bytes()
    third_page = data.index(b"OggS", data.index(b"OggS", 4) + 4)  # after OpusHead and OpusTags
    cut.write_bytes(data[:third_page + 60])  # the first audio page is cut short
    r = mlcodec("decode", "--model", m, cut, tmp_path / "cut.wav")
    assert r.returncode == 1 and b"nothing could be decoded" in r.stderr
    assert not (tmp_path / "cut.wav").exists()


def test_chained_ogg_is_not_silently_cut(wav, tmp_path):
    """Two mlcodec streams back to back: the first is decoded, the second is reported (exit 1).
    A chain's links have distinct serials (RFC 3533 s4); the same input encoded twice gives the
    same serial by default (issue 15), so the second link gets its own."""
    m = model_path()
    a, b = tmp_path / "a.opus", tmp_path / "b.opus"
    assert mlcodec("encode", "--model", m, wav, a).returncode == 0
    assert mlcodec("encode", "--model", m, "--serial", 7, wav, b).returncode == 0
    chain = tmp_path / "chain.opus"
    chain.write_bytes(a.read_bytes() + b.read_bytes())
    r = mlcodec("decode", "--model", m, chain, tmp_path / "chain.wav")
    assert r.returncode == 1 and b"chained Ogg" in r.stderr and len(r.stderr.splitlines()) == 1
    assert sf.info(tmp_path / "chain.wav").frames == sf.info(wav).frames


def test_first_run_says_it_compiles_instead_of_a_speed(wav, tmp_path, monkeypatch):
    """Issue 14: the first run (empty kernel cache, as mlcodec.kernels_cached reports it) says
    "compiling kernels (first run only)…" on stderr and prints no "x real time"."""
    import mlcodec

    monkeypatch.setattr(mlcodec, "kernels_cached", lambda *a, **k: False)
    r = CliRunner().invoke(cli, ["encode", str(wav), str(tmp_path / "a.opus")])
    assert r.exit_code == 0, r.output
    assert "mlcodec: compiling kernels (first run only)\u2026" in r.stderr
    assert "real time" not in r.output
    monkeypatch.setattr(mlcodec, "kernels_cached", lambda *a, **k: True)
    r = CliRunner().invoke(cli, ["encode", str(wav), str(tmp_path / "b.opus")])
    assert r.exit_code == 0 and "compiling" not in r.stderr
