"""Shared CLI plumbing: one-line errors, quiet exit on a closed pipe, stdout/stdin helpers."""
from __future__ import annotations

import functools
import os
import signal
import sys

import click

from mlcodec.errors import MlcodecError

#: Exit status for bad input (a readable error line was printed).
EXIT_BAD_INPUT = 1
#: Exit status for usage errors is click's own (2).


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
    except (OSError, ValueError):
        pass
    raise SystemExit(0)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that temp outputs are removed on the way out."""


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise Terminated()


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
            return func(*args, **kwargs)
        except BrokenPipeError:
            _quiet_broken_pipe()
        except MlcodecError as exc:
            fail(str(exc))
        except Terminated:
            fail("terminated", 143)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except OSError as exc:
            if os.environ.get("MLCODEC_DEBUG"):
                raise
            name = getattr(exc, "filename", None)
            fail(f"{name}: {exc.strerror or exc}" if name else str(exc))
        except Exception as exc:  # pragma: no cover - last-resort guard
            if os.environ.get("MLCODEC_DEBUG"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (set MLCODEC_DEBUG=1 for a traceback)", 70)

    return wrapper
