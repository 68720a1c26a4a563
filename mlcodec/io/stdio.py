"""``"-"`` on a command line or in a path argument: stdin for inputs, stdout for outputs."""
from __future__ import annotations

import os
import sys
from typing import BinaryIO

#: The name that stands for stdin (inputs) or stdout (outputs).
STDIO = "-"


def is_stdio(path) -> bool:
    """True when ``path`` is the string ``"-"``."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path) == STDIO


def name_of(x, default: str = STDIO) -> str:
    """A path, ``"-"``, or a file object's name (``default`` when it has none)."""
    if isinstance(x, (str, os.PathLike)):
        return os.fspath(x)
    n = getattr(x, "name", None)
    return n if isinstance(n, str) else default


def stdin() -> BinaryIO:
    return sys.stdin.buffer


def stdout() -> BinaryIO:
    return sys.stdout.buffer
