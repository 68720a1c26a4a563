"""QA sweep of the ``mlcodec`` CLI: usage errors, odd inputs and outputs, pipes, signals.

The project rule (docs/codec.md, "Errors and exit status"): every failure is ONE line
``mlcodec: error: FILE: [offset N: ]reason`` on stderr, a non-zero exit (usage errors 2),
no traceback and no half-written output.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import mlcodec_cli.codec as clicodec
import mlcodec_cli.report as clireport
import mlcodec_cli.common as clicommon
from mlcodec_cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mlcodec" / "samples" / "sample.flac"
SHIPPED = ROOT / "mlcodec" / "models" / "codec_v2.bin"
VOCODER = ROOT / "mlcodec" / "models" / "vocoder_v2.bin"


def need_model() -> Path:
    if not SHIPPED.is_file():
        pytest.skip("the shipped codec model is absent")
    return SHIPPED


def run(*args):
    """In-process run (fast: kernels stay loaded); stdout and stderr are kept apart."""
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="mlcodec")


def mlcodec(*args, input=None, stdout=subprocess.PIPE, **kw):
    """The real entry point in a subprocess (true fds, exit codes, signals)."""
    return subprocess.run([sys.executable, "-m", "mlcodec_cli.main", *map(str, args)], input=input, stdout=stdout,
                          stderr=subprocess.PIPE, cwd=ROOT, **kw)


def one_error_line(stderr: str | bytes) -> str:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("mlcodec: error: ") and "Traceback" not in text and "Usage:" not in text, text
    return lines[0]


def no_temp_files(*dirs: Path) -> bool:
    return not [p for d in dirs if d.is_dir() for p in d.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def speech():
    x, rate = sf.read(SAMPLE)
    return x[: int(0.5 * rate)], rate


@pytest.fixture(scope="module")
def wav(tmp_path_factory, speech):
    """0.5 s of the shipped sample as 16-bit WAV."""
    x, rate = speech
    p = tmp_path_factory.mktemp("in") / "speech.wav"
    sf.write(p, x, rate, subtype="PCM_16")
    return p


@pytest.fixture(scope="module")
def opus(tmp_path_factory, wav):
    need_model()
    p = tmp_path_factory.mktemp("enc") / "speech.opus"
    r = run("encode", "--serial", 7, wav, p)
    assert r.exit_code == 0, r.output
    return p


# --- 1. usage errors: one line, exit 2; --help unchanged --------------------------------------


@pytest.mark.parametrize("args, words", [
    (["encode", "--bogus", "a.wav", "b.opus"], ["No such option '--bogus'", "mlcodec encode --help"]),
    (["encode", "-b", "9k", "a.wav", "b.opus"], ["bit rate 9k outside 1k..8k", "--bitrate"]),
    (["decode", "--rate", "44100", "a.opus", "b.wav"], ["'44100' is not one of"]),
    (["encode", "-j", "0", "-o", "d", "a.wav"], ["0 is not in the range"]),
    (["inspect-extensions"], ["Missing argument 'FILE|-'", "mlcodec inspect-extensions --help"]),
    (["inspect-extensions", "--format", "mp3", "x"], ["'mp3' is not one of"]),
    (["dump-weights", "--diff"], ["'--diff' requires an argument", "mlcodec dump-weights --help"]),
    (["frobnicate"], ["No such command 'frobnicate'", "mlcodec --help"]),
    (["encode", "a.wav"], ["encode takes IN OUT.opus", "got 1 path"]),
    (["decode"], ["decode takes IN.opus OUT.wav", "got 0 path"]),
    (["encode", "-o", "d", "-"], ["'-' (stdin) cannot be used with -o DIR"]),
    (["demo", "__file__"], ["is a file"]),
    (["encode", "-o", "__file__", "a.wav"], ["is a file"]),
    (["encode", "a.wav", "__dir__"], ["is a directory; to write", "NAME.opus use -o"]),
    (["encode", "--serial", "-1", "a.wav", "b.opus"], ["-1 is not in the range"]),
])
def test_usage_error_is_one_line_exit_2(args, words):
    args = [{"__file__": __file__, "__dir__": str(ROOT / "tests")}.get(a, a) for a in args]
    r = run(*args)
    assert r.exit_code == 2, r.output
    line = one_error_line(r.stderr)
    assert r.stdout == ""
    for w in words:
        assert w in line, line


def test_usage_error_through_the_real_entry_point():
    r = mlcodec("encode", "--bogus")
    assert r.returncode == 2 and r.stdout == b""
    assert "--bogus" in one_error_line(r.stderr)


def test_help_and_version_are_unchanged():
    r = run("encode", "--help")
    assert r.exit_code == 0 and r.stdout.startswith("Usage: mlcodec encode [OPTIONS]") and "--bitrate" in r.stdout
    assert run("--version").stdout.strip() == f"mlcodec, version {__import__('mlcodec').__version__}"
    r = run()  # bare `mlcodec`: the help, as click shows it
    assert r.exit_code == 2 and "Commands:" in r.stderr and "mlcodec: error" not in r.stderr


# --- 2. batch outputs that collide ------------------------------------------------------------


def test_batch_outputs_maps_stems(tmp_path):
    pairs = clicodec.batch_outputs(["a/x.wav", "b/y.flac"], str(tmp_path), ".opus")
    assert pairs == [("a/x.wav", str(tmp_path / "x.opus")), ("b/y.flac", str(tmp_path / "y.opus"))]


@pytest.mark.parametrize("case", ["same_stem", "other_suffix", "given_twice", "same_file_two_spellings"])
def test_batch_collision_is_refused_up_front_naming_both(tmp_path, wav, case):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = tmp_path / "a" / "x.wav"
    a.write_bytes(wav.read_bytes())
    if case == "same_stem":
        other = tmp_path / "b" / "x.wav"
        other.write_bytes(wav.read_bytes())
    elif case == "other_suffix":
        other = tmp_path / "a" / "x.flac"
        other.write_bytes(wav.read_bytes())
    elif case == "given_twice":
        other = a
    else:
        other = tmp_path / "b" / ".." / "a" / "x.wav"
    out = tmp_path / "out"
    r = run("encode", "-o", out, a, other)
    assert r.exit_code == 2, r.output
    line = one_error_line(r.stderr)
    if case in ("same_stem", "other_suffix"):
        assert str(a) in line and str(other) in line and str(out / "x.opus") in line
    else:
        assert "given twice" in line and str(other) in line
    assert "nothing was done" in line
    assert not out.exists()  # refused before anything was created


# --- 3. write errors on stdout name <stdout> --------------------------------------------------


def _dev_full():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    return open("/dev/full", "wb")


@pytest.mark.parametrize("cmd", ["encode", "decode", "inspect", "inspect-json", "dump-weights", "help"])
def test_full_stdout_is_one_line_naming_stdout(cmd, wav, opus):
    args = {"encode": ["encode", wav, "-"], "decode": ["decode", opus, "-"],
            "inspect": ["inspect-extensions", opus], "inspect-json": ["inspect-extensions", "--json", opus],
            "dump-weights": ["dump-weights", "codec"], "help": ["--help"]}[cmd]
    with _dev_full() as full:
        r = mlcodec(*args, stdout=full)
    assert r.returncode == 1, r.stderr
    assert one_error_line(r.stderr) == "mlcodec: error: <stdout>: No space left on device"


def test_full_output_device_is_named(wav):
    need_model()
    _dev_full().close()
    r = mlcodec("encode", wav, "/dev/full")
    assert r.returncode == 1 and one_error_line(r.stderr) == "mlcodec: error: /dev/full: No space left on device"


def test_closed_pipe_is_quiet(opus):
    # 0.5 s at 48 kHz is 48 kB, under a pipe's 64 kB; four copies make sure the decoder blocks
    # on the pipe (and gets EPIPE) instead of finishing before the reader closes.
    long = opus.parent / "long-for-pipe.opus"
    if not long.exists():
        assert run("decode", opus, opus.parent / "short.wav").exit_code == 0
        x, rate = sf.read(opus.parent / "short.wav")
        sf.write(opus.parent / "long.wav", np.tile(x, 4), rate, subtype="PCM_16")
        assert run("encode", opus.parent / "long.wav", long).exit_code == 0
    p = subprocess.Popen([sys.executable, "-m", "mlcodec_cli.main", "decode", "-r", "48000", str(long), "-"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(10)
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait() == 0 and err == b""


def test_pipes_name_stdin_and_stdout(wav):
    need_model()
    r = mlcodec("encode", "-", "-", input=wav.read_bytes())
    assert r.returncode == 0 and r.stdout[:4] == b"OggS"
    summary = r.stderr.decode()
    assert summary.startswith("<stdin> -> <stdout>: ") and "real time" not in summary
    d = mlcodec("decode", "-", "-", input=r.stdout)
    assert d.returncode == 0 and d.stderr.decode().startswith("<stdin> -> <stdout>: ")
    bad = mlcodec("decode", "-", "-", input=b"RIFF....WAVE")
    assert one_error_line(bad.stderr) == ("mlcodec: error: <stdin>: offset 0: not an Ogg Opus file "
                                          "(mlcodec decode reads streams made by mlcodec encode)")
    assert bad.returncode == 1 and bad.stdout == b""  # not even a WAV header


@pytest.mark.parametrize("kind, data", [("encode", "short_wav"), ("encode", "no_data_chunk"),
                                        ("decode", "header_pages_only"), ("decode", "cut_first_page")])
def test_failing_pipe_writes_nothing_to_stdout(wav, opus, kind, data):
    """A run that fails before any audio leaves stdout empty: no lone WAV header or Ogg header
    pages that the next program would take for an empty stream."""
    ogg = opus.read_bytes()
    second = ogg.index(b"OggS", 4)
    third = ogg.index(b"OggS", second + 4)
    payload = {"short_wav": wav.read_bytes()[:44 + 200],  # 100 samples: too short
               "no_data_chunk": b"RIFF\xff\xff\xff\xffWAVEfmt ",
               "header_pages_only": ogg[:third], "cut_first_page": ogg[:third + 30]}[data]
    r = mlcodec(kind, "-", "-", input=payload)
    assert r.returncode == 1 and r.stdout == b"", r.stderr
    assert one_error_line(r.stderr).startswith("mlcodec: error: <stdin>: ")


def test_stdout_redirected_to_a_file_is_the_same_as_a_file_output(tmp_path, opus):
    with open(tmp_path / "piped.wav", "wb") as f:
        r = mlcodec("decode", opus, "-", stdout=f)
    assert r.returncode == 0 and b"-> <stdout>" in r.stderr
    assert run("decode", opus, tmp_path / "file.wav").exit_code == 0
    assert (tmp_path / "piped.wav").read_bytes() == (tmp_path / "file.wav").read_bytes()  # sizes patched


@pytest.mark.parametrize("args, what", [
    (["encode", "__wav__", "-"], "<stdout>: is a terminal"),
    (["decode", "__opus__", "-"], "<stdout>: is a terminal"),
    (["encode", "-", "x.opus"], "<stdin>: is a terminal"),
    (["inspect-extensions", "-"], "<stdin>: is a terminal"),
])
def test_terminal_stdio_is_refused(monkeypatch, args, what, wav, opus):
    monkeypatch.setattr(clicommon, "_isatty", lambda stream: True)
    args = [{"__wav__": wav, "__opus__": opus}.get(a, a) for a in args]
    r = run(*args)
    assert r.exit_code == 2 and what in one_error_line(r.stderr)


# --- 4. dump-weights --verify takes a shipped blob's name or a checksum prefix ----------------


def test_verify_takes_blob_name_and_checksum_prefix():
    need_model()
    digest = hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    for name in ("codec", "codec_v2", digest[:12], digest.upper()[:16]):
        r = run("dump-weights", "codec", "--verify", name)
        assert r.exit_code == 0 and "binds to" in r.stdout and ": OK" in r.stdout, (name, r.output)
    r = run("dump-weights", "codec", "--verify", "0123abcd0123")
    assert r.exit_code == 1 and "unknown model '0123abcd0123'" in one_error_line(r.stderr)
    assert "codec_v2" in r.stderr and "codec_v1" in r.stderr and "checksum prefix" in r.stderr
    if VOCODER.is_file():  # another blob named by the codec's checksum: not that model
        r = run("dump-weights", VOCODER, "--verify", digest[:12])
        assert r.exit_code == 1 and "is not the model" in r.stdout


# --- 5. the speed in the summary --------------------------------------------------------------


def _stats(duration, seconds, src="a.wav"):
    return types.SimpleNamespace(input=src, output="b.opus", duration=duration, seconds=seconds, bitrate="3k",
                                 frame_ms=20, payload_kbps=3.0, file_kbps=5.0, file_bytes=100)


@pytest.mark.parametrize("duration, seconds, shown", [
    (0.05, 0.3, None), (1.0, 0.5, None), (65.7, 1.4, "47x real time"), (600.0, 2.0, "300x real time"),
    (3.0, 1.25, "2.4x real time"), (1.0, 2.0, "0.5x real time"), (0.2, 1.5, "0.13x real time"),
])
def test_speed_is_shown_only_when_it_means_something(duration, seconds, shown):
    for kind in ("encode", "decode"):
        line = clireport.summary(kind, _stats(duration, seconds))
        assert " 0x real time" not in line
        if shown is None:
            assert "real time" not in line and not line.endswith(", ")
        else:
            assert line.endswith(", " + shown)
    assert "real time" not in clireport.summary("encode", _stats(600.0, 2.0, src="-"))  # a pipe's pace


# --- sweep: inputs that work ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["stereo", "8k", "48k", "float", "flac", "ogg_vorbis", "24bit"])
def test_any_soundfile_input_encodes(tmp_path, speech, kind):
    need_model()
    import soxr

    x, rate = speech
    p = tmp_path / f"in.{'flac' if kind == 'flac' else 'ogg' if kind == 'ogg_vorbis' else 'wav'}"
    if kind == "stereo":
        sf.write(p, np.stack([x, -x * 0.5], 1), rate, subtype="PCM_16")
    elif kind in ("8k", "48k"):
        r2 = 8000 if kind == "8k" else 48000
        sf.write(p, soxr.resample(x, rate, r2), r2, subtype="PCM_16")
    elif kind == "float":
        sf.write(p, x.astype(np.float32), rate, subtype="FLOAT")
    elif kind == "24bit":
        sf.write(p, x, rate, subtype="PCM_24")
    elif kind == "flac":
        sf.write(p, x, rate)
    else:
        sf.write(p, x, rate, format="OGG", subtype="VORBIS")
    out = tmp_path / "out.opus"
    r = run("encode", p, out)
    assert r.exit_code == 0, r.output
    assert " 0.50 s, " in r.stdout and out.read_bytes()[:4] == b"OggS"
    r = run("decode", out, tmp_path / "back.wav")
    assert r.exit_code == 0 and sf.info(tmp_path / "back.wav").frames == len(x)


# --- sweep: inputs and outputs that fail ------------------------------------------------------


def _opus_cut_in_header(opus: Path, tmp: Path) -> Path:
    p = tmp / "cut.opus"
    p.write_bytes(opus.read_bytes()[:100])  # inside the OpusTags page
    return p


def _vorbis(speech, tmp: Path) -> Path:
    p = tmp / "vorbis.ogg"
    sf.write(p, *speech, format="OGG", subtype="VORBIS")
    return p


@pytest.mark.parametrize("case, reason", [
    ("encode_missing", "nope.wav: no such file"),
    ("encode_directory", "is a directory"),
    ("encode_zero_samples", "zero.wav: audio has no samples"),
    ("encode_empty_file", "empty.wav: empty file"),
    ("encode_too_short", "audio too short"),
    ("encode_random", "random.bin: unreadable audio"),
    ("encode_text_as_wav", "text.wav: unreadable audio"),
    ("encode_missing_out_dir", "cannot create output: its directory does not exist"),
    ("encode_output_is_input", "the output is the input file"),
    ("encode_over_a_wav", "refusing to overwrite an existing file that is not an Ogg file"),
    ("decode_missing", "nope.opus: no such file"),
    ("decode_directory", "is a directory"),
    ("decode_random", "random.bin: offset 0: not an Ogg Opus file"),
    ("decode_empty", "empty.opus: empty file"),
    ("decode_wav", "speech.wav: offset 0: not an Ogg Opus file"),
    ("decode_vorbis", "vorbis.ogg: offset 0: no Opus logical stream"),
    ("decode_cut_header", "cut.opus: offset "),
    ("decode_output_is_input", "the output is the input file"),
    ("inspect_random", "random.bin: offset 0: unrecognised container"),
    ("inspect_missing", "nope.opus: No such file or directory"),
    ("weights_opus_file", "speech.opus: offset 0: record 0 (header at 0): bad magic b'OggS'"),
    ("weights_random", "random.bin: offset 0: record 0"),
    ("weights_missing", "nope.bin: cannot read weights file"),
])
def test_every_failure_is_one_line_and_leaves_nothing(tmp_path, wav, opus, speech, case, reason):
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(1).bytes(3000))
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "empty.opus").write_bytes(b"")
    (tmp_path / "text.wav").write_text("hello, not audio\n")
    sf.write(tmp_path / "zero.wav", np.zeros(0), 16000, subtype="PCM_16")
    sf.write(tmp_path / "short.wav", np.zeros(100), 16000, subtype="PCM_16")
    (tmp_path / "a dir").mkdir()
    (tmp_path / "speech.wav").write_bytes(wav.read_bytes())
    (tmp_path / "speech.opus").write_bytes(opus.read_bytes())
    t = tmp_path
    args = {
        "encode_missing": ["encode", t / "nope.wav", t / "o.opus"],
        "encode_directory": ["encode", t / "a dir", t / "o.opus"],
        "encode_zero_samples": ["encode", t / "zero.wav", t / "o.opus"],
        "encode_empty_file": ["encode", t / "empty.wav", t / "o.opus"],
        "encode_too_short": ["encode", t / "short.wav", t / "o.opus"],
        "encode_random": ["encode", t / "random.bin", t / "o.opus"],
        "encode_text_as_wav": ["encode", t / "text.wav", t / "o.opus"],
        "encode_missing_out_dir": ["encode", t / "speech.wav", t / "no" / "o.opus"],
        "encode_output_is_input": ["encode", t / "speech.opus", t / "speech.opus"],
        "encode_over_a_wav": ["encode", t / "speech.wav", t / "short.wav"],
        "decode_missing": ["decode", t / "nope.opus", t / "o.wav"],
        "decode_directory": ["decode", t / "a dir", t / "o.wav"],
        "decode_random": ["decode", t / "random.bin", t / "o.wav"],
        "decode_empty": ["decode", t / "empty.opus", t / "o.wav"],
        "decode_wav": ["decode", t / "speech.wav", t / "o.wav"],
        "decode_vorbis": ["decode", _vorbis(speech, t), t / "o.wav"],
        "decode_cut_header": ["decode", _opus_cut_in_header(opus, t), t / "o.wav"],
        "decode_output_is_input": ["decode", t / "speech.wav", t / "speech.wav"],
        "inspect_random": ["inspect-extensions", t / "random.bin"],
        "inspect_missing": ["inspect-extensions", t / "nope.opus"],
        "weights_opus_file": ["dump-weights", t / "speech.opus"],
        "weights_random": ["dump-weights", t / "random.bin"],
        "weights_missing": ["dump-weights", t / "nope.bin"],
    }[case]
    before = {p.name: p.read_bytes() for p in t.iterdir() if p.is_file()}
    r = run(*args)
    assert r.exit_code == 1, r.output
    line = one_error_line(r.stderr)
    assert reason in line, line
    assert ", offset" not in line  # "FILE: offset N: reason", as documented
    if not case.startswith("inspect"):
        assert r.stdout == ""
    after = {p.name: p.read_bytes() for p in t.iterdir() if p.is_file()}
    assert after == before and no_temp_files(t)  # nothing written, nothing changed


def test_unreadable_input_says_permission_denied(tmp_path, wav, monkeypatch):
    need_model()
    p = tmp_path / "locked.wav"
    p.write_bytes(wav.read_bytes())
    p.chmod(0)
    try:
        if os.access(p, os.R_OK):  # root: permissions are not enforced, so fake the refusal
            def refuse(path, *a, **k):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(clicodec, "open", refuse, raising=False)
        r = run("encode", p, tmp_path / "o.opus")
        assert r.exit_code == 1 and one_error_line(r.stderr).endswith("locked.wav: Permission denied")
    finally:
        p.chmod(0o644)


def test_truncated_stream_keeps_what_decodes(tmp_path):
    need_model()
    x, rate = sf.read(SAMPLE)
    sf.write(tmp_path / "long.wav", x[: int(2.5 * rate)], rate, subtype="PCM_16")  # > 1 audio page
    assert run("encode", tmp_path / "long.wav", tmp_path / "long.opus").exit_code == 0
    data = (tmp_path / "long.opus").read_bytes()
    (tmp_path / "t.opus").write_bytes(data[: len(data) - 40])
    r = run("decode", tmp_path / "t.opus", tmp_path / "t.wav")
    assert r.exit_code == 1 and "truncated" in one_error_line(r.stderr) and "kept the output" in r.stderr
    assert sf.info(tmp_path / "t.wav").frames > 0 and no_temp_files(tmp_path)


def test_existing_ogg_output_is_replaced(tmp_path, wav, opus):
    out = tmp_path / "o.opus"
    out.write_bytes(opus.read_bytes()[:200])  # an old (broken) Ogg file: replaced, as documented
    r = run("encode", "--serial", 7, wav, out)
    assert r.exit_code == 0 and out.read_bytes() == opus.read_bytes()


# --- Ctrl-C / SIGTERM mid-batch ---------------------------------------------------------------


@pytest.mark.parametrize("jobs, sig, code", [(2, signal.SIGTERM, 143), (1, signal.SIGTERM, 143),
                                             (2, signal.SIGINT, 130)])
def test_signal_mid_batch_stops_at_once_and_leaves_no_temp_files(tmp_path, jobs, sig, code):
    need_model()
    x, rate = sf.read(SAMPLE)
    x = np.tile(x, 4)  # ~33 s each: long enough to be caught while coding
    ins = []
    for i in range(4):
        p = tmp_path / f"in{i}.wav"
        sf.write(p, x, rate, subtype="PCM_16")
        ins.append(p)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mlcodec_cli.main", "encode", "-j", str(jobs), "-o", str(out), *map(str, ins)]
    # SIG_DFL for SIGINT in the child, as in a terminal's foreground job: a test run started in
    # the background of a non-interactive shell inherits SIGINT ignored (Python then installs
    # no KeyboardInterrupt handler, and neither do the workers, by design).
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and no_temp_files(out):  # wait until an output is being written
        time.sleep(0.01)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground group
    else:
        proc.send_signal(sig)  # `kill PID` reaches the main process only
    err = proc.stderr.read()
    assert proc.wait(30) == code, err
    assert one_error_line(err) in ("mlcodec: error: terminated", "mlcodec: error: interrupted")
    time.sleep(0.2)  # workers are joined before exit; give stray ones no chance to write
    assert no_temp_files(out)
    done = sorted(p.name for p in out.iterdir())
    assert len(done) < 4, done  # stopped, not run to the end
    for name in done:  # what is there is complete
        assert name.endswith(".opus") and (out / name).read_bytes()[:4] == b"OggS"


# --- helpers ----------------------------------------------------------------------------------


def test_error_line_format():
    from mlcodec.errors import CodecError

    assert clicommon.error_line(CodecError("bad", file="a.opus", offset=12)) == "a.opus: offset 12: bad"
    assert clicommon.error_line(CodecError("bad", file="-")) == "<stdin>: bad"
    assert clicommon.error_line(CodecError("bad")) == "bad"
    err = OSError(28, "No space left on device", "<stdout>")
    assert clicommon.error_line(err) == "<stdout>: No space left on device"


def test_encode_to_stdout_writes_nothing_when_it_fails_before_audio():
    """The library holds the Ogg Opus header pages until an audio page follows (no HeldStdout
    in the CLI): a WAV stream that turns bad after its header leaves stdout empty."""
    import io

    from mlcodec.codec.encoder import encode_stream
    from mlcodec.errors import MlcodecError

    def chunks():
        yield np.zeros(160, np.float32)
        raise MlcodecError("bad samples")

    sink = io.BytesIO()
    with pytest.raises(MlcodecError):
        encode_stream(chunks(), sink)
    assert sink.getvalue() == b""
    good = io.BytesIO()
    encode_stream([np.zeros(16000, np.float32)], good, serial=1)
    assert good.getvalue().startswith(b"OggS") and good.getvalue().count(b"OggS") >= 3
