"""The fixed evaluation subset of ../shared/data/speech shared by all speech benchmarks.

Library-free (standard library only) so every bench script picks exactly the same files.

Selection rule (deterministic, independent of manifest row order):
1. Read ``manifest.csv``; keep files lasting 2..12 s (bounded bench time, enough speech).
2. Group by speaker (source + speaker id). ``picovoice_coffee`` has no speaker ids, so each of
   its files counts as its own group. Within a group keep the file whose SHA-1 of its path is
   smallest.
3. Per source, order the groups by SHA-1 of "source/speaker"; then take one group from each
   source in turn (sources in alphabetical order), round robin, until ``n`` files are chosen.
   This spreads the subset over all corpora and over as many different speakers as possible.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

MIN_S = 2.0
MAX_S = 12.0


def _h(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8")).hexdigest()


def eval_files(speech_root, n: int = 50) -> list[Path]:
    """The first ``n`` files of the deterministic evaluation order (see module docstring)."""
    root = Path(speech_root)
    groups: dict[str, dict[str, str]] = {}
    with open(root / "manifest.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                dur = float(row["duration_s"])
            except (KeyError, ValueError):
                continue
            if not (MIN_S <= dur <= MAX_S):
                continue
            src = row["source"]
            spk = row["speaker"]
            if not spk or spk == "unknown":
                spk = row["path"]
            key = f"{src}/{spk}"
            best = groups.setdefault(src, {}).get(key)
            if best is None or _h(row["path"]) < _h(best):
                groups[src][key] = row["path"]
    queues = {src: [g[k] for k in sorted(g, key=_h)] for src, g in groups.items()}
    chosen: list[Path] = []
    while len(chosen) < n and any(queues.values()):
        for src in sorted(queues):
            if queues[src] and len(chosen) < n:
                chosen.append(root / queues[src].pop(0))
    return chosen


if __name__ == "__main__":
    import sys

    for p in eval_files(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/speech"):
        print(p)
