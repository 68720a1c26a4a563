"""What ``-o DIR`` runs on: files, directories (recursive) and manifests, each input paired
with the output path that mirrors it under DIR.

* a file ``a/x.wav`` -> ``DIR/x.opus`` (flat, as before);
* a directory ``D`` -> every input file below it, ``D/s1/x.wav`` -> ``DIR/s1/x.opus``
  (files whose suffix the command reads; hidden files and folders skipped; sorted);
* a manifest (``.txt``/``.lst``: one path per line, ``#`` comments; ``.csv``: an ``input``
  column) -> its entries, relative paths taken from the manifest's folder, mirrored below the
  entries' common folder: ``corpus/s1/x.wav``, ``corpus/s2/y.wav`` -> ``DIR/s1/x.opus``,
  ``DIR/s2/y.opus``.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from .common import EXIT_USAGE, fail

MANIFEST_SUFFIXES = (".txt", ".lst", ".list", ".csv")


def is_manifest(path: str) -> bool:
    return path.lower().endswith(MANIFEST_SUFFIXES) and os.path.isfile(path)


def read_manifest(path: str) -> list[str]:
    """The input paths a manifest lists (relative ones resolved from its folder)."""
    base = os.path.dirname(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            if path.lower().endswith(".csv"):
                rows = csv.DictReader(f)
                names = {(n or "").strip().lower(): n for n in (rows.fieldnames or [])}
                if "input" not in names:
                    fail(f"{path}: a CSV manifest needs an 'input' column (has: {', '.join(names) or 'none'})",
                         EXIT_USAGE)
                entries = [(r.get(names["input"]) or "").strip() for r in rows]
            else:
                entries = [ln.strip() for ln in f]
    except OSError as exc:
        fail(f"{path}: cannot read manifest ({exc.strerror or exc})", EXIT_USAGE)
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(f"{path}: not a text manifest ({exc})", EXIT_USAGE)
    return [e if os.path.isabs(e) else os.path.join(base, e) for e in entries if e and not e.startswith("#")]


def scan_dir(root: str, suffixes: tuple[str, ...]) -> list[str]:
    """Input files below ``root`` (recursive, sorted, hidden entries skipped)."""
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        out += [os.path.join(d, f) for f in sorted(files)
                if not f.startswith(".") and f.lower().endswith(suffixes)]
    return out


def _stem(rel: str) -> str:
    p = Path(rel)
    return str(p.with_suffix("")) if p.suffix else str(p)


def expand(paths, suffixes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(input, output path relative to DIR without suffix) for every input the arguments name."""
    items: list[tuple[str, str]] = []
    for arg in paths:
        if arg != "-" and os.path.isdir(arg):
            found = scan_dir(arg, suffixes)
            if not found:
                fail(f"{arg}: no input files ({', '.join(suffixes)}) in this directory", EXIT_USAGE)
            items += [(f, _stem(os.path.relpath(f, arg))) for f in found]
        elif arg != "-" and is_manifest(arg):
            entries = read_manifest(arg)
            if not entries:
                fail(f"{arg}: the manifest lists no inputs", EXIT_USAGE)
            root = os.path.commonpath([os.path.dirname(os.path.abspath(e)) for e in entries])
            items += [(e, _stem(os.path.relpath(os.path.abspath(e), root))) for e in entries]
        else:
            items.append((arg, Path(arg).stem))
    return items
