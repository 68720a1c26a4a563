#!/usr/bin/env python3
"""Benchmark: parse an hour of 20 ms Ogg Opus packets carrying extensions.

Generates (with mlcodec's own writer, in a temp dir) one hour of SILK WB 20 ms packets, each
with two extensions in its padding (a long ID 33 and a short ID 3), then times in the same
run: the library (containers + packets + extensions), the library's report dicts
(``mlcodec.inspect``), ``mlcodec inspect-extensions --json`` to /dev/null, and Debian's
``opusinfo`` on the same file. Prints a table with packets/s and the ratio to opusinfo.

Usage: python bench/bench_inspect.py [--minutes 60] [--repeat 3] [--keep FILE]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import time_opusinfo, timed  # noqa: E402
from mlcodec.bitstream.extensions import Extension  # noqa: E402
from mlcodec.bitstream.packet import build_packet, packet_extensions, parse_packet  # noqa: E402
from mlcodec.containers.oggopus import OggOpusWriter, read_ogg_opus  # noqa: E402
from mlcodec.inspect import inspect_path  # noqa: E402


def make_file(path: Path, packets: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    pool = []
    for i in range(997):
        frame = bytes(rnd.randrange(256) for _ in range(rnd.randrange(25, 60)))
        exts = [Extension(0, 33, bytes(rnd.randrange(256) for _ in range(rnd.randrange(4, 16)))),
                Extension(0, 3, bytes([i & 0xFF]))]
        pool.append(build_packet(9, [frame], extensions=exts))
    with open(path, "wb") as f:
        w = OggOpusWriter(f, serial=1, input_sample_rate=16000)
        for i in range(packets):
            w.write_packet(pool[i % len(pool)])
        w.close()


def best(fn, repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time (this process + finished children) over ``repeat``."""
    return timed(fn, repeat)[:2]


def lib_parse(path: Path) -> int:
    n = 0
    for p in read_ogg_opus(path).packets():
        pkt = parse_packet(p.data)
        if pkt.padding:
            packet_extensions(pkt)
        n += 1
    return n


def lib_reports(path: Path) -> int:
    n = 0
    for _ in inspect_path(path):
        n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="also copy the generated file here")
    args = ap.parse_args()
    packets = int(args.minutes * 60 * 50)
    exe = Path(sys.executable).parent / "mlcodec"
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "mlcodec_cli.main"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hour.opus"
        t = time.perf_counter()
        make_file(path, packets)
        gen = time.perf_counter() - t
        if args.keep:
            shutil.copy(path, args.keep)
        size = path.stat().st_size
        print(f"generated {path.name}: {packets} packets, {size / 1e6:.1f} MB in {gen:.1f} s")
        assert lib_parse(path) == packets
        rows = []
        rows.append(("library: containers+packets+extensions", best(lambda: lib_parse(path), args.repeat)))
        rows.append(("library: report dicts (mlcodec.inspect)", best(lambda: lib_reports(path), args.repeat)))

        def run_cli():
            with open(os.devnull, "wb") as null:
                subprocess.run(cli + ["inspect-extensions", "--json", str(path)], stdout=null, check=True)

        rows.append(("mlcodec inspect-extensions --json > /dev/null", best(run_cli, args.repeat)))
        t_info = time_opusinfo(path, args.repeat)
        if t_info is not None:
            t_info = t_info[:2]
            rows.append(("opusinfo (Debian opus-tools) > /dev/null", t_info))
    w = max(len(r[0]) for r in rows)
    print(f"\n{'what':<{w}}  {'wall s':>7}  {'cpu s':>7}  {'packets/s':>11}  {'x opusinfo':>10}  {'cpu x':>7}")
    for name, (wall, cpu) in rows:
        ratio = f"{wall / t_info[0]:10.1f}" if t_info else f"{'n/a':>10}"
        cratio = f"{cpu / max(t_info[1], 1e-3):7.1f}" if t_info else f"{'n/a':>7}"
        print(f"{name:<{w}}  {wall:7.3f}  {cpu:7.3f}  {packets / wall:11,.0f}  {ratio}  {cratio}")
    print(f"\nbest of {args.repeat} runs each; {packets} packets of 20 ms ({args.minutes:g} min); "
          "packets/s from wall time; 'cpu x' uses CPU seconds (robust on a busy machine)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
