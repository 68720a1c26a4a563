"""Atomic output files: write to a temp file beside the target, then rename into place.

Nothing half-written is ever left under the target's name: on any error the temp file is
removed and an existing target stays untouched. ``"-"`` means stdout. A symlink is written
through (its target is replaced); a device or FIFO is written directly, never replaced.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import BinaryIO, Iterator

from mlcodec.errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicOutput:
    """Binary output: a temp file beside ``path`` renamed into place on :meth:`commit`, or
    stdout for ``"-"``, or a given file object. Without a commit the temp file is removed.

    Use it as a context manager: the constructor only checks the path (no file is created,
    so nothing can be left behind by an error between construction and the ``with``); the
    temp file is made on entering the block (or on first use of :attr:`f`).
    """

    def __init__(self, path: "str | os.PathLike | BinaryIO", *, suffix: str = ""):
        self.tmp = None
        self.suffix = suffix
        self._f = None
        self._device = False  # a device or FIFO we open ourselves (written directly, closed at the end)
        self._given = None
        if not isinstance(path, (str, os.PathLike)):
            self.path, self._f = None, path
        elif os.fspath(path) == "-":
            from mlcodec.io.stdio import stdout

            self.path, self._f = "-", stdout()
        else:
            given = self._given = os.fspath(path)
            # Write *through* a symlink (replace its target, not the link) ...
            self.path = os.path.realpath(given)
            if os.path.isdir(self.path):
                raise OutputError("is a directory", file=given)
            if os.path.exists(self.path) and not os.path.isfile(self.path):
                # ... and into a device or FIFO directly: renaming over it would replace it.
                self._device = True
            elif not os.path.isdir(os.path.dirname(self.path)):
                raise OutputError("cannot create output: its directory does not exist", file=given)

    @property
    def f(self) -> BinaryIO:
        """The file object to write to (the temp file is created on first use)."""
        if self._f is None:
            self.open()
        return self._f

    def open(self) -> "AtomicOutput":
        """Create the temp file (or open the device/FIFO); a no-op once open."""
        if self._f is not None:
            return self
        given = self._given
        if self._device:
            try:
                self._f = open(self.path, "wb")
            except OSError as exc:
                raise OutputError(f"cannot write: {exc.strerror or exc}", file=given) from None
            return self
        d = os.path.dirname(self.path)
        name = os.path.basename(self.path)
        fd = None
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=self.suffix + ".tmp", dir=d)
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
            self._f = os.fdopen(fd, "w+b")
        except BaseException as exc:  # incl. Ctrl-C: leave no temp file behind
            if self._f is None and fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._f = None
            self._drop_tmp()
            if isinstance(exc, OSError):
                why = "its directory does not exist" if not os.path.isdir(d) else (exc.strerror or str(exc))
                raise OutputError(f"cannot create output: {why}", file=given) from None
            raise
        return self

    def commit(self) -> None:
        """Flush and move the temp file into place (or just flush a stream).

        If that fails (disk full at fsync, Ctrl-C during the rename, ...) the temp file is
        removed and the error re-raised: the target is then either untouched or complete.
        """
        try:
            if self.tmp is not None:
                f = self._f
                f.flush()
                os.fsync(f.fileno())
                f.close()
                os.replace(self.tmp, self.path)
                self.tmp = None
            else:
                self.f.flush()
                if self._device:
                    self._f.close()
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> "AtomicOutput":
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> None:
        """Commit when the block succeeds, abort (remove the temp file) when it raises; a
        failing commit also aborts, and its error propagates."""
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def _drop_tmp(self) -> None:
        tmp, self.tmp = self.tmp, None
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def abort(self) -> None:
        """Drop the temp file; the target (if any) is left as it was."""
        if self.tmp is not None:
            try:
                if self._f is not None:
                    self._f.close()
            except OSError:
                pass
            finally:
                self._drop_tmp()
        elif self._device and self._f is not None:
            try:
                self._f.close()
            except OSError:
                pass


@contextlib.contextmanager
def atomic_write(path: "str | os.PathLike | BinaryIO", *, suffix: str = "") -> Iterator[BinaryIO]:
    """``with atomic_write(p) as f: f.write(...)`` commits on success, aborts on any error."""
    with AtomicOutput(path, suffix=suffix) as out:
        yield out.f


def check_overwrite(src: str, dst: str, magic: tuple[bytes, ...], kind: str, hint: str = "") -> None:
    """Refuse outputs that would destroy data: the input itself, or an existing non-empty file
    that is not already of the output's kind (``magic`` prefixes), e.g. a forgotten ``-o DIR``
    that would turn the second input WAV into an Opus file. ``hint`` is added in brackets."""
    if dst == "-" or not os.path.isfile(dst):
        return
    if src != "-" and os.path.exists(src) and os.path.samefile(src, dst):
        raise OutputError("the output is the input file; refusing to overwrite it", file=dst)
    if os.path.getsize(dst) == 0:
        return
    with open(dst, "rb") as f:
        head = f.read(max(len(m) for m in magic))
    if not any(head.startswith(m) for m in magic):
        raise OutputError(f"refusing to overwrite an existing file that is not {kind}"
                          + (f" ({hint})" if hint else ""), file=dst)
