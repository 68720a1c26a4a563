"""Atomic output files: write to a temp file beside the target, then rename into place.

Nothing half-written is ever left under the target's name: on any error the temp file is
removed and an existing target stays untouched. ``"-"`` means stdout. A symlink is written
through (its target is replaced); a device or FIFO is written directly, never replaced.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import BinaryIO, Iterator

from mlcodec.errors import OutputError


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
            given = os.fspath(path)
            # Write *through* a symlink (replace its target, not the link) ...
            self.path = os.path.realpath(given)
            if os.path.isdir(self.path):
                raise OutputError("is a directory", file=given)
            if os.path.exists(self.path) and not os.path.isfile(self.path):
                # ... and into a device or FIFO directly: renaming over it would replace it.
                try:
                    self.f = open(self.path, "wb")
                except OSError as exc:
                    raise OutputError(f"cannot write: {exc.strerror or exc}", file=given) from None
                self.path = None
                return
            d = os.path.dirname(self.path)
            name = os.path.basename(self.path)
            try:
                fd, self.tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix + ".tmp", dir=d)
            except OSError as exc:
                why = "its directory does not exist" if not os.path.isdir(d) else (exc.strerror or str(exc))
                raise OutputError(f"cannot create output: {why}", file=given) from None
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

    def __enter__(self) -> "AtomicOutput":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Commit when the block succeeds, abort (remove the temp file) when it raises."""
        if exc_type is None:
            self.commit()
        else:
            self.abort()

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
    with AtomicOutput(path, suffix=suffix) as out:
        yield out.f


def check_overwrite(src: str, dst: str, magic: tuple[bytes, ...], kind: str) -> None:
    """Refuse outputs that would destroy data: the input itself, or an existing non-empty file
    that is not already of the output's kind (``magic`` prefixes), e.g. a forgotten ``-o DIR``
    that would turn the second input WAV into an Opus file."""
    if dst == "-" or not os.path.isfile(dst):
        return
    if src != "-" and os.path.exists(src) and os.path.samefile(src, dst):
        raise OutputError("the output is the input file; refusing to overwrite it", file=dst)
    if os.path.getsize(dst) == 0:
        return
    with open(dst, "rb") as f:
        head = f.read(max(len(m) for m in magic))
    if not any(head.startswith(m) for m in magic):
        raise OutputError(f"refusing to overwrite an existing file that is not {kind} "
                          "(several inputs? use -o DIR)", file=dst)
