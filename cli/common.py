"""Shared CLI plumbing: one-line errors, quiet exit on a closed pipe, stdout/stdin helpers.

Every failure is one line on stderr, ``mlcodec: error: FILE: [offset N: ]reason``
(docs/codec.md, "Errors and exit status"): bad input exits 1, usage errors 2 (cli/main.py),
Ctrl-C 130, SIGTERM 143. Never a traceback unless ``MLCODEC_DEBUG=1``.
"""
from __future__ import annotations

import errno
import functools
import io
import os
import signal
import sys

import click

from mlcodec.errors import MlcodecError

#: Exit status for bad input (a readable error line was printed).
EXIT_BAD_INPUT = 1
#: Exit status for usage errors (click's own).
EXIT_USAGE = 2
#: Exit status after Ctrl-C / SIGTERM (128 + signal number, as shells report them).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

#: How stdin/stdout are named in error lines and summaries (``-`` on the command line).
STDIN_NAME = "<stdin>"
STDOUT_NAME = "<stdout>"

#: errno values that can only come from writing (disk full, quota, file too large, ...).
WRITE_ERRNOS = frozenset(getattr(errno, n) for n in ("ENOSPC", "EDQUOT", "EFBIG", "EROFS") if hasattr(errno, n))


def display_name(path, stdio: str = STDIN_NAME) -> str:
    """A path as error lines show it: ``-`` becomes ``<stdin>`` (or ``stdio``)."""
    p = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
    return stdio if p == "-" else p


def error_line(exc: BaseException) -> str:
    """``FILE: [offset N: ]reason`` for an MlcodecError or OSError (without the prefix)."""
    if isinstance(exc, MlcodecError):
        parts = [display_name(exc.file)] if exc.file is not None else []
        if exc.offset is not None:
            parts.append(f"offset {exc.offset}")
        return ": ".join(parts + [exc.reason])
    if isinstance(exc, OSError):
        name = exc.filename
        why = exc.strerror or str(exc)
        return f"{display_name(name)}: {why}" if name is not None else why
    return str(exc)


def _isatty(stream) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def check_std_streams(src: str | None = None, dst: str | None = None, what: str = "binary data") -> None:
    """Refuse ``-`` where it cannot work: reading stdin from a terminal (it would just wait)
    or writing binary data to one (it would garble the terminal), as gzip/zstd do."""
    if src == "-" and _isatty(sys.stdin):
        fail(f"{STDIN_NAME}: is a terminal; pipe the input in (... | mlcodec ...) or give a file name",
             EXIT_USAGE)
    if dst == "-" and _isatty(sys.stdout):
        fail(f"{STDOUT_NAME}: is a terminal; refusing to write {what} there (redirect it, or give a file name)",
             EXIT_USAGE)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> "NoReturn":  # noqa: F821
    """Print ``mlcodec: error: <message>`` on stderr and exit non-zero."""
    click.echo(f"mlcodec: error: {message}", err=True)
    raise SystemExit(code)


def _quiet_broken_pipe() -> None:
    # A closed pipe (`| head`) ends quietly: point stdout at devnull so the interpreter's
    # final flush cannot raise again, then exit 0 like other Unix filters do.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass
    raise SystemExit(0)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that temp outputs are removed on the way out."""


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise Terminated()


class _NamedFileIO(io.FileIO):
    """fd 0/1 whose OSErrors carry a name (``<stdout>``), so a full disk or an I/O error
    behind a redirect says which file failed."""

    label = STDOUT_NAME
    #: Set by the first failed write: the run is failing, so later writes (the interpreter's
    #: final flush among them) are dropped instead of failing a second time.
    failed = False

    def _tag(self, exc: OSError) -> OSError:
        if exc.filename is None:
            exc.filename = self.label
        return exc

    def write(self, b):
        if self.failed:
            return len(b)
        try:
            return super().write(b)
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.failed = True
            raise self._tag(exc)

    def readinto(self, b):
        try:
            return super().readinto(b)
        except OSError as exc:
            raise self._tag(exc)


def name_std_streams() -> None:
    """Re-open stdout on a :class:`_NamedFileIO` so that write errors name ``<stdout>``.

    Only the process's real stdout (fd 1) is replaced; captured streams (tests) stay as they
    are. Encoding, error handler and line buffering are kept.
    """
    out = sys.stdout
    if out is None or isinstance(getattr(getattr(out, "buffer", None), "raw", None), _NamedFileIO):
        return
    try:
        if out.fileno() != 1:
            return
        out.flush()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return
    raw = _NamedFileIO(1, "w", closefd=False)
    buf = io.BufferedWriter(raw)
    sys.stdout = io.TextIOWrapper(buf, encoding=out.encoding, errors=out.errors,
                                  line_buffering=out.line_buffering, write_through=getattr(out, "write_through", False))


def flush_stdout() -> None:
    """Flush stdout inside the guarded region (a late failure still gets its one line)."""
    try:
        sys.stdout.flush()
    except (AttributeError, ValueError):
        pass


def guarded(func):
    """Decorator for click commands: MlcodecError -> one error line; EPIPE -> quiet exit.

    Anything else unexpected also becomes one line (never a traceback) unless
    ``MLCODEC_DEBUG=1`` is set.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread (e.g. tests): leave the default handler
            pass
        try:
            rv = func(*args, **kwargs)
            flush_stdout()
            return rv
        except BrokenPipeError:
            _quiet_broken_pipe()
        except MlcodecError as exc:
            fail(error_line(exc))
        except Terminated:
            fail("terminated", EXIT_TERMINATED)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                _quiet_broken_pipe()
            if os.environ.get("MLCODEC_DEBUG"):
                raise
            fail(error_line(exc))
        except Exception as exc:  # pragma: no cover - last-resort guard
            if os.environ.get("MLCODEC_DEBUG"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (set MLCODEC_DEBUG=1 for a traceback)", 70)

    return wrapper
