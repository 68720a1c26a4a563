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
   The first 50 files of this order are the **held-out pool** (:func:`holdout_files`): no
   training recipe uses them, nor any other file of their speakers (train/data.py,
   train/vocoder/data.py).
4. **Speaker-disjoint evaluation set** (:func:`eval_files`, issue 10): the files of the pool
   whose speaker is known and has *no other file* in the corpus. Why: the shipped vocoder
   (vocoder_v1) was trained before the speaker rule and excluded only the pool's files, so a
   pool speaker with other files was heard by it; the codec model excluded whole speakers.
   Only speakers all of whose files are in the pool are unseen by every shipped model: 16
   files (LibriSpeech; picovoice_coffee has no speaker ids, so its files cannot be proven
   unseen). A vocoder retrained with the fixed exclusion makes the whole pool usable again.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

MIN_S = 2.0
MAX_S = 12.0


def _h(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8")).hexdigest()


POOL = 50


def _manifest(root: Path) -> list[dict]:
    with open(root / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def eval_files(speech_root, n: int = POOL) -> list[Path]:
    """The first ``n`` files of the speaker-disjoint evaluation set (module docstring, step 4)."""
    root = Path(speech_root)
    pool = holdout_files(root)
    rows = _manifest(root)
    count: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r["source"], r["speaker"])
        count[key] = count.get(key, 0) + 1
    spk = {r["path"]: (r["source"], r["speaker"]) for r in rows}
    in_pool: dict[tuple[str, str], int] = {}
    for p in pool:
        k = spk.get(str(p.relative_to(root)))
        if k:
            in_pool[k] = in_pool.get(k, 0) + 1
    out = []
    for p in pool:
        k = spk.get(str(p.relative_to(root)))
        if k and k[1] not in ("", "unknown") and count[k] == in_pool[k]:
            out.append(p)
    return out[:n]


def holdout_files(speech_root, n: int = POOL) -> list[Path]:
    """The first ``n`` files of the deterministic order: the held-out pool (steps 1-3)."""
    root = Path(speech_root)
    groups: dict[str, dict[str, str]] = {}
    for row in _manifest(root):
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
