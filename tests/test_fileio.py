"""Atomic outputs: never a half-written file, never a replaced device/FIFO/symlink, clear errors."""
from __future__ import annotations

import os
import stat

import pytest

from mlcodec.errors import OutputError
from mlcodec.io.atomic import AtomicOutput, atomic_write, check_overwrite


def test_commit_replaces_and_abort_keeps_old(tmp_path):
    p = tmp_path / "out.bin"
    p.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(p) as f:
            f.write(b"half")
            raise RuntimeError("boom")
    assert p.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]
    with atomic_write(p) as f:
        f.write(b"new")
    assert p.read_bytes() == b"new" and os.listdir(tmp_path) == ["out.bin"]
    mode = stat.S_IMODE(p.stat().st_mode)
    assert mode & 0o044  # umask permissions, not mkstemp's 0600


def test_symlink_is_written_through(tmp_path):
    target = tmp_path / "target.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    with atomic_write(link) as f:
        f.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_device_is_written_not_replaced():
    with atomic_write("/dev/null") as f:
        f.write(b"x" * 1000)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_fifo_is_written_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so opening for writing succeeds
    try:
        with atomic_write(fifo) as f:
            f.write(b"hello")
        assert os.read(r, 100) == b"hello"
    finally:
        os.close(r)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_errors_name_the_users_path(tmp_path):
    with pytest.raises(OutputError, match="is a directory") as e:
        AtomicOutput(tmp_path)
    assert e.value.file == str(tmp_path)
    missing = tmp_path / "no" / "x.opus"
    with pytest.raises(OutputError, match="directory does not exist") as e:
        AtomicOutput(missing)
    assert e.value.file == str(missing) and ".tmp" not in str(e.value)


def test_check_overwrite(tmp_path):
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF....WAVE")
    ogg = tmp_path / "a.opus"
    ogg.write_bytes(b"OggS....")
    with pytest.raises(OutputError, match="output is the input"):
        check_overwrite(str(wav), str(wav), (b"RIFF",), "a WAV file")
    with pytest.raises(OutputError, match="not an Ogg file"):
        check_overwrite(str(ogg), str(wav), (b"OggS",), "an Ogg file")
    check_overwrite(str(wav), str(ogg), (b"OggS",), "an Ogg file")  # replacing an Ogg file is fine
    check_overwrite(str(wav), str(tmp_path / "new.opus"), (b"OggS",), "an Ogg file")
    check_overwrite("-", "-", (b"OggS",), "an Ogg file")


# --- commit failures and the window before the ``with`` block -----------------------------------


def _only(tmp_path, *names):
    return sorted(os.listdir(tmp_path)) == sorted(names)


@pytest.mark.parametrize("where", ["fsync", "replace"])
@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk_full", "ctrl_c"])
def test_failing_commit_removes_the_temp_file_and_reraises(tmp_path, monkeypatch, where, exc):
    p = tmp_path / "out.bin"
    p.write_bytes(b"old")

    def fail(*a, **k):
        raise exc

    monkeypatch.setattr(os, where, fail)
    with pytest.raises(type(exc)):
        with atomic_write(p) as f:
            f.write(b"new")
    monkeypatch.undo()
    assert p.read_bytes() == b"old" and _only(tmp_path, "out.bin")


def test_failing_explicit_commit_aborts(tmp_path, monkeypatch):
    p = tmp_path / "out.bin"
    out = AtomicOutput(p)
    out.f.write(b"x")
    assert len(os.listdir(tmp_path)) == 1  # the temp file

    def fail(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        out.commit()
    assert _only(tmp_path)


def test_constructing_creates_nothing(tmp_path):
    """No temp file exists until the ``with`` block is entered: an error (or Ctrl-C) between
    construction and the block cannot leave one behind."""
    out = AtomicOutput(tmp_path / "out.bin", suffix=".wav")
    assert _only(tmp_path)
    with out as o:
        assert o is out
        (tmp,) = os.listdir(tmp_path)
        assert tmp.startswith(".out.bin.") and tmp.endswith(".wav.tmp")
        out.f.write(b"data")
    assert _only(tmp_path, "out.bin") and (tmp_path / "out.bin").read_bytes() == b"data"


@pytest.mark.parametrize("victim", ["fchmod", "fdopen"])
def test_interrupt_while_creating_the_temp_file_leaves_nothing(tmp_path, monkeypatch, victim):
    def interrupt(*a, **k):
        raise KeyboardInterrupt()

    monkeypatch.setattr(os, victim, interrupt)
    with pytest.raises(KeyboardInterrupt):
        with AtomicOutput(tmp_path / "out.bin"):
            pass  # pragma: no cover - never reached
    monkeypatch.undo()
    assert _only(tmp_path)


def test_temp_file_refused_is_an_output_error(tmp_path, monkeypatch):
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    out = AtomicOutput(tmp_path / "out.bin")  # the path itself is fine
    with pytest.raises(OutputError, match="cannot create output: Permission denied") as e:
        with out:
            pass  # pragma: no cover - never reached
    assert e.value.file == str(tmp_path / "out.bin") and _only(tmp_path)


def test_stream_output_is_flushed_not_closed(tmp_path):
    import io

    buf = io.BytesIO()
    with atomic_write(buf) as f:
        f.write(b"abc")
    assert not buf.closed and buf.getvalue() == b"abc" and _only(tmp_path)
