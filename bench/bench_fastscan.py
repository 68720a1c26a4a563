#!/usr/bin/env python3
"""Benchmark: the numba bulk scanner (mlcodec.inspect.table) on an hour of Ogg Opus.

Generates the same file as bench/bench_inspect.py (one hour of SILK WB 20 ms packets, each
with a long ID 33 and a short ID 3 extension) and times, in the same run:

* ``scan()`` warm (best of ``--repeat`` after one warm-up call) and ``scan()+summary()``;
* ``scan()`` cold: a fresh Python process that imports fastscan (numba + its on-disk cache)
  and scans once, timed inside that process and as a whole process;
* ``batch.summarize`` as a whole process (what ``inspect-extensions --summary-only`` runs);
* the pure-Python library path (containers + packets + extensions) and the report dicts;
* Debian's ``opusinfo`` on the same file.

Prints wall and CPU seconds, packets/s and ratios to opusinfo (CPU ratios are the robust
ones on a busy machine). Usage: python bench/bench_fastscan.py [--minutes 60] [--repeat 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_inspect import make_file  # noqa: E402
from common import cpu_seconds as _cpu, time_opusinfo, timed as best  # noqa: E402

_COLD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from mlcodec.inspect.table import scan
from mlcodec.inspect.messages import summary
t1 = time.perf_counter()
data = open(sys.argv[1], "rb").read()
t2 = time.perf_counter()
t = scan(data, "ogg")
t3 = time.perf_counter()
s = summary(t)
t4 = time.perf_counter()
r = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "scan": t3 - t2, "summary": t4 - t3,
                  "packets": len(t), "cpu": r.ru_utime + r.ru_stime}))
"""

_SUMMARY = ("import sys; from mlcodec.containers.detect import open_input; "
            "from mlcodec.inspect.batch import summarize; "
            "d, e = summarize(open_input(sys.argv[1])); print(d.packets)")


def lib_parse(path: Path) -> int:
    """Containers + packets + extensions, pure Python."""
    from mlcodec.bitstream.packet import packet_extensions, parse_packet
    from mlcodec.containers.oggopus import read_ogg_opus

    n = 0
    for p in read_ogg_opus(path).packets():
        pkt = parse_packet(p.data)
        if pkt.padding:
            packet_extensions(pkt)
        n += 1
    return n


def lib_reports(path: Path) -> int:
    """The reference PacketReports (mlcodec.inspect.reference)."""
    from mlcodec.inspect.reference import inspect_path

    return sum(1 for _ in inspect_path(path))


def _proc(cmd: list[str], repeat: int) -> tuple[float, float, float, str]:
    """Best wall, best CPU (children), median wall of a whole process; its last stdout."""
    walls, cpus, out = [], [], ""
    for _ in range(repeat):
        c0 = _cpu()
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c0)
        out = p.stdout.decode()
    return min(walls), min(cpus), statistics.median(walls), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-python", action="store_true", help="skip the (slow) pure-Python rows")
    args = ap.parse_args()
    packets = int(args.minutes * 60 * 50)
    from mlcodec.inspect import messages, table

    class fs:  # noqa: N801 - the scanner API in one namespace
        scan = staticmethod(table.scan)
        summary = staticmethod(messages.summary)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hour.opus"
        t = time.perf_counter()
        make_file(path, packets)
        gen = time.perf_counter() - t
        size = path.stat().st_size
        print(f"generated {path.name}: {packets} packets, {size / 1e6:.1f} MB in {gen:.1f} s")
        data = path.read_bytes()
        rows: list[tuple[str, tuple[float, float, float]]] = []
        notes = []

        # cold first: a fresh process (numba cache on disk, nothing compiled in memory)
        subprocess.run([sys.executable, "-c", _COLD, str(path)], capture_output=True, check=True,
                       cwd=ROOT)  # make sure the on-disk cache exists
        cold_wall, cold_cpu, cold_med, out = _proc([sys.executable, "-c", _COLD, str(path)], args.repeat)
        info = json.loads(out)
        assert info["packets"] == packets
        rows.append(("fastscan cold: python + import + scan + summary (process)",
                     (cold_wall, cold_cpu, cold_med)))
        notes.append(f"cold process breakdown (last run): import {info['import']:.3f} s, read "
                     f"{info['read']:.3f} s, first scan {info['scan']:.3f} s, summary "
                     f"{info['summary']:.3f} s")
        rows.append(("fastscan cold: first scan() call in that process (last run)",
                     (info["scan"], info["scan"], info["scan"])))
        rows.append(("batch.summarize(path) (process, = --summary-only)",
                     _proc([sys.executable, "-c", _SUMMARY, str(path)], args.repeat)[:3]))

        # warm, in this process
        tab = fs.scan(data, "ogg")
        assert len(tab) == packets and tab.container_error is None
        assert int(tab.ext_count.sum()) == 2 * packets
        rows.append(("fastscan warm: scan()", best(lambda: fs.scan(data, "ogg"), args.repeat)))
        rows.append(("fastscan warm: scan() + summary()",
                     best(lambda: fs.summary(fs.scan(data, "ogg")), args.repeat)))
        rows.append(("fastscan warm: scan() without CRC check",
                     best(lambda: fs.scan(data, "ogg", check_crc=False), args.repeat)))
        # glibc has by now raised its mmap threshold and keeps freed blocks: no first-touch
        # page faults any more (the rows above paid them on fresh memory, ~1 ms/MB here)
        rows.append(("fastscan warm: scan() again (freed memory reused)",
                     best(lambda: fs.scan(data, "ogg"), args.repeat)))

        if not args.no_python:
            assert lib_parse(path) == packets
            rows.append(("pure Python: containers+packets+extensions", best(lambda: lib_parse(path), 1)))
            rows.append(("pure Python: PacketReports (mlcodec.inspect.reference)", best(lambda: lib_reports(path), 1)))

        t_info = time_opusinfo(path, args.repeat)
        if t_info is not None:
            rows.append(("opusinfo (Debian opus-tools) > /dev/null", t_info))
    w = max(len(r[0]) for r in rows)
    print(f"\n{'what':<{w}}  {'wall s':>7}  {'median':>7}  {'cpu s':>7}  {'packets/s':>12}  "
          f"{'x opusinfo':>10}  {'median x':>8}  {'cpu x':>6}")
    for name, (wall, cpu, med) in rows:
        ratio = f"{wall / t_info[0]:10.2f}" if t_info else f"{'n/a':>10}"
        mratio = f"{med / t_info[2]:8.2f}" if t_info else f"{'n/a':>8}"
        cratio = f"{cpu / max(t_info[1], 1e-3):6.2f}" if t_info else f"{'n/a':>6}"
        print(f"{name:<{w}}  {wall:7.3f}  {med:7.3f}  {cpu:7.3f}  {packets / wall:12,.0f}  {ratio}  "
              f"{mratio}  {cratio}")
    print(f"\nbest (and median) of {args.repeat} runs each (pure Python: 1); {packets} packets of "
          f"20 ms ({args.minutes:g} min); 'x opusinfo' compares best wall times, 'median x' "
          "median ones, 'cpu x' CPU seconds (robust on a busy machine); in-process rows count "
          "this process's CPU, process rows the child's")
    for n in notes:
        print(n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
