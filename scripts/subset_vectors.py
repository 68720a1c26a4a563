#!/usr/bin/env python3
"""Make a *different* vectors directory with the layout of ``$MLCODEC_VECTORS``, to prove that
the conformance tests travel (issue 15, item 6): no case names, counts or coverage of the shared
set may be assumed.

    python scripts/subset_vectors.py SRC DST [--phase 1]

What changes against SRC:
* every ``*.jsonl`` keeps every other case (those at odd positions, or even with ``--phase 0``);
  where cases have a ``category``, the category that sorts last is dropped entirely;
* ``nnet/blob_parse.jsonl`` gains an ``empty`` case (a zero-length blob: libopus's
  ``parse_weights`` returns 0 arrays for it, the loop body never runs);
* ``nnet/weights.bin`` gets every record and layer renamed (prefix ``p``), with ``manifest.json``
  and ``linear_init.jsonl`` rewritten to match, and ``manifest.json`` keeps every other test;
* ``streams/index.json`` and ``dred/index.json`` keep every other stream (with their files);
* ``SHA256SUMS`` lists the files that remain.
Nothing is written outside DST; SRC is only read.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import struct
from pathlib import Path

PREFIX = "p"


def _keep(items: list, phase: int) -> list:
    return [x for k, x in enumerate(items) if k % 2 == phase]


def _subset_cases(rows: list[dict], phase: int) -> list[dict]:
    rows = _keep(rows, phase)
    cats = sorted({r["category"] for r in rows if isinstance(r, dict) and "category" in r})
    if len(cats) > 1:
        rows = [r for r in rows if r.get("category") != cats[-1]]
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))


def _rename_blob(blob: bytes) -> bytes:
    """Every record name gets PREFIX (names stay NUL-terminated within 44 bytes)."""
    out = bytearray(blob)
    pos = 0
    while pos + 64 <= len(out):
        block = struct.unpack_from("<i", out, pos + 16)[0]
        raw = bytes(out[pos + 20:pos + 64]).split(b"\0", 1)[0]
        new = (PREFIX.encode() + raw)[:43]
        out[pos + 20:pos + 64] = new.ljust(44, b"\0")
        pos += 64 + block
    return bytes(out)


def _rn(name: str) -> str:
    return (PREFIX + name)[:43]


def subset_nnet(src: Path, dst: Path, phase: int) -> None:
    dst.mkdir(parents=True)
    man = json.loads((src / "manifest.json").read_text())
    blob = man.get("blob", "weights.bin")
    (dst / blob).write_bytes(_rename_blob((src / blob).read_bytes()))
    for r in man.get("blob_records", []):
        r["name"] = _rn(r["name"])
    man["layers"] = {_rn(k): {**v, "arrays": {a: _rn(n) for a, n in v.get("arrays", {}).items()}}
                     for k, v in man.get("layers", {}).items()}
    tests = _keep(man.get("tests", []), phase)
    for t in tests:
        if "layer" in t:
            t["layer"] = _rn(t["layer"])
        if "layers" in t:
            t["layers"] = [_rn(x) for x in t["layers"]]
    man["tests"] = tests
    (dst / "manifest.json").write_text(json.dumps(man, indent=1))
    needed = {v for t in tests for k, v in t.items() if isinstance(v, str) and v.startswith("data/")}
    needed |= {v for t in tests for o in t.values() if isinstance(o, dict) for v in o.values()
               if isinstance(v, str) and v.startswith("data/")}
    (dst / "data").mkdir()
    for f in sorted((src / "data").iterdir()):
        if f"data/{f.name}" in needed:
            shutil.copy2(f, dst / "data" / f.name)
    for f in src.iterdir():
        if f.name in ("manifest.json", blob, "data"):
            continue
        if f.name == "linear_init.jsonl":
            rows = _subset_cases([json.loads(x) for x in f.read_text().splitlines() if x.strip()], phase)
            for r in rows:
                r["layer"] = _rn(r["layer"])
            _write_jsonl(dst / f.name, rows)
        elif f.name == "blob_parse.jsonl":
            rows = _subset_cases([json.loads(x) for x in f.read_text().splitlines() if x.strip()], phase)
            rows.append({"name": "empty", "note": "zero-length blob", "blob": "", "parse_weights": 0, "arrays": []})
            _write_jsonl(dst / f.name, rows)
        else:
            _copy_any(f, dst / f.name, phase)


def subset_index(src: Path, dst: Path, phase: int) -> None:
    """streams/ and dred/: keep every other index entry and the files it names."""
    dst.mkdir(parents=True)
    idx = json.loads((src / "index.json").read_text())
    all_files = {v for s in idx.get("streams", []) for v in s.values() if isinstance(v, str) and (src / v).is_file()}
    idx["streams"] = _keep(idx.get("streams", []), phase)
    keep = {v for s in idx["streams"] for v in s.values() if isinstance(v, str) and (src / v).is_file()}
    if "audio_cases" in idx:
        idx["audio_cases"] = [c for c in idx["audio_cases"] if c.get("bit") in keep]
        keep |= {v for c in idx["audio_cases"] for v in c.values() if isinstance(v, str) and (src / v).is_file()}
        all_files |= {v for c in json.loads((src / "index.json").read_text())["audio_cases"] for v in c.values()
                      if isinstance(v, str) and (src / v).is_file()}
    (dst / "index.json").write_text(json.dumps(idx, indent=1))
    for f in sorted(src.rglob("*")):
        rel = f.relative_to(src).as_posix()
        if f.is_dir() or rel == "index.json" or (rel in all_files and rel not in keep):
            continue
        # a stream's companion files (same stem: .json, .opusinfo.txt, .log) go with it
        if any(rel.startswith(Path(a).with_suffix("").as_posix() + ".") for a in all_files - keep):
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst / rel)  # per-stream files stay whole


def _copy_any(f: Path, out: Path, phase: int) -> None:
    if f.is_dir():
        shutil.copytree(f, out)
    elif f.suffix == ".jsonl":
        rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
        _write_jsonl(out, _subset_cases(rows, phase))
    else:
        shutil.copy2(f, out)


def _fix_sums(dst: Path) -> None:
    for sums in dst.rglob("SHA256SUMS"):
        lines = []
        for line in sums.read_text().splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2:
                p = sums.parent / parts[1].lstrip("*")
                if p.is_file():
                    lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {parts[1]}")
        sums.write_text("".join(x + "\n" for x in lines))


def make_subset(src: Path, dst: Path, phase: int = 1) -> Path:
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for d in sorted(src.iterdir()):
        out = dst / d.name
        if d.name == "nnet" and (d / "manifest.json").is_file():
            subset_nnet(d, out, phase)
        elif d.is_dir() and (d / "index.json").is_file():
            subset_index(d, out, phase)
        elif d.is_dir():
            out.mkdir()
            for f in sorted(d.iterdir()):
                _copy_any(f, out / f.name, phase)
        else:
            shutil.copy2(d, out)
    _fix_sums(dst)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--phase", type=int, default=1, choices=(0, 1))
    a = ap.parse_args()
    make_subset(Path(a.src), Path(a.dst), a.phase)


if __name__ == "__main__":
    main()
