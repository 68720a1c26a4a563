"""Start-up of the shell commands beside the Opus tools, in one run (issue 14).

Each command runs N times as a fresh process on a small file (3 s of the shipped speech
sample), interleaved; the table gives the median wall time and the median peak RSS (GNU time's ``%M``). The numba cache is warmed first (one untimed run of each), so
the numbers are those of every run after the first. ``--write`` puts the table into
docs/benchmarks.md under "Start-up".

    python bench/bench_startup.py [-n 7] [--mlcodec PATH] [--write]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mlcodec" / "samples" / "sample.flac"
BEGIN, END = "<!-- startup:begin -->", "<!-- startup:end -->"
#: issue 14's targets (seconds, MB); None: no target
TARGETS = {"mlcodec --help": (0.15, None), "mlcodec encode": (0.35, 120), "mlcodec decode": (0.35, 120),
           "mlcodec inspect-extensions --json": (0.12, None)}


def run_once(cmd: list[str], rss_file: Path) -> tuple[float, float]:
    """(wall s, peak RSS MB) of one fresh process. The RSS comes from GNU time (``%M``): Linux
    keeps ru_maxrss across exec, so a child forked from this Python would report at least this
    process's size; time(1) is a small C program."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *cmd], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}")
    return wall, int(rss_file.read_text().split()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=7, help="fresh processes per command (median)")
    ap.add_argument("--mlcodec", default=shutil.which("mlcodec") or "", help="the installed mlcodec script")
    ap.add_argument("--baseline", default="", metavar="PATH",
                    help="another installed mlcodec script (e.g. the main branch's) timed in the same run")
    ap.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    a = ap.parse_args()
    if not a.mlcodec:
        raise SystemExit("no mlcodec on PATH; install the package (pip install .) or give --mlcodec")
    import numpy as np
    import soundfile as sf

    d = Path(tempfile.mkdtemp(prefix="mlcodec-startup-"))
    x, sr = sf.read(SAMPLE, dtype="int16")
    wav = d / "in.wav"
    sf.write(wav, x[: 3 * sr], sr, subtype="PCM_16")
    m = a.mlcodec
    rows = [
        ("mlcodec --help", [m, "--help"]),
        ("mlcodec encode", [m, "encode", str(wav), str(d / "m.opus")]),
        ("mlcodec decode", [m, "decode", str(d / "m.opus"), str(d / "m.wav")]),
        ("mlcodec inspect-extensions --json", [m, "inspect-extensions", "--json", str(d / "m.opus")]),
    ]
    if a.baseline:
        b = a.baseline
        rows += [
            ("baseline: mlcodec --help", [b, "--help"]),
            ("baseline: mlcodec encode", [b, "encode", str(wav), str(d / "b.opus")]),
            ("baseline: mlcodec decode", [b, "decode", str(d / "b.opus"), str(d / "b.wav")]),
            ("baseline: mlcodec inspect-extensions --json", [b, "inspect-extensions", "--json", str(d / "b.opus")]),
        ]
    rows += [
        ("opusenc", ["opusenc", "--quiet", str(wav), str(d / "o.opus")]),
        ("opusdec", ["opusdec", "--quiet", str(d / "o.opus"), str(d / "o.wav")]),
        ("opusinfo", ["opusinfo", str(d / "o.opus")]),
    ]
    rows = [(n, c) for n, c in rows if shutil.which(c[0]) or os.path.isfile(c[0])]
    for _, cmd in rows:
        run_once(cmd, d / "rss")  # warm: numba cache, page cache
    times: dict[str, list] = {n: [] for n, _ in rows}
    for _ in range(a.n):  # interleaved, so that a change of machine load hits every command alike
        for name, cmd in rows:
            times[name].append(run_once(cmd, d / "rss"))
    res = []
    for name, _ in rows:
        walls, rss = zip(*times[name])
        res.append((name, statistics.median(walls), statistics.median(rss)))
        print(f"{name:46s} {statistics.median(walls):6.3f} s  {statistics.median(rss):6.1f} MB", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [BEGIN, "## Start-up", "",
             f"`python bench/bench_startup.py -n {a.n}`: median of {a.n} fresh processes on 3 s of the shipped "
             f"sample (16 kHz WAV), warm numba cache, peak RSS from GNU time. {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, load average {load:.1f} at the end of the run."
             + (f" Baseline: `{a.baseline}`." if a.baseline else ""), "",
             "| command | wall (s) | peak RSS (MB) | target |", "|---|---|---|---|"]
    for name, w, r in res:
        t = TARGETS.get(name)  # baseline rows have none
        tgt = "" if t is None else f"≤ {t[0]} s" + (f", ≤ {t[1]} MB" if t[1] else "")
        lines.append(f"| `{name}` | {'n/a' if w is None else f'{w:.3f}'} | {'n/a' if r is None else f'{r:.1f}'} | {tgt} |")
    lines += ["", END, ""]
    section = "\n".join(lines)
    print(section)
    if a.write:
        write_section(ROOT / "docs" / "benchmarks.md", BEGIN, END, section, "# Benchmarks\n")
    shutil.rmtree(d, ignore_errors=True)
    del np


if __name__ == "__main__":
    main()
