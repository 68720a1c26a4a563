"""Atomic output files: write to a temp file beside the target, then rename into place.

Nothing half-written is ever left under the target's name: on any error the temp file is
removed and an existing target stays untouched. ``"-"`` means stdout.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import BinaryIO, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicOutput:
    """Binary output: a temp file beside ``path`` renamed into place on :meth:`commit`, or
    stdout for ``"-"``, or a given file object. Without a commit the temp file is removed."""

    def __init__(self, path: "str | os.PathLike | BinaryIO", *, suffix: str = ""):
        self.tmp = None
        if not isinstance(path, (str, os.PathLike)):
            self.path, self.f = None, path
        elif os.fspath(path) == "-":
            self.path, self.f = "-", sys.stdout.buffer
        else:
            self.path = os.fspath(path)
            d = os.path.dirname(os.path.abspath(self.path))
            name = os.path.basename(self.path)
            fd, self.tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix + ".tmp", dir=d)
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
            self.f = os.fdopen(fd, "w+b")

    def commit(self) -> None:
        """Flush and move the temp file into place (or just flush a stream)."""
        if self.tmp is not None:
            self.f.flush()
            os.fsync(self.f.fileno())
            self.f.close()
            os.replace(self.tmp, self.path)
            self.tmp = None
        else:
            self.f.flush()

    def abort(self) -> None:
        """Drop the temp file; the target (if any) is left as it was."""
        if self.tmp is not None:
            try:
                self.f.close()
            finally:
                try:
                    os.unlink(self.tmp)
                except OSError:
                    pass
                self.tmp = None


@contextlib.contextmanager
def atomic_write(path: "str | os.PathLike | BinaryIO", *, suffix: str = "") -> Iterator[BinaryIO]:
    """``with atomic_write(p) as f: f.write(...)`` commits on success, aborts on any error."""
    out = AtomicOutput(path, suffix=suffix)
    try:
        yield out.f
    except BaseException:
        out.abort()
        raise
    out.commit()
