#!/usr/bin/env python3
"""Benchmark: ``mlcodec inspect-extensions`` beside ffprobe and opusinfo, in one run.

Makes (in a temp dir, never committed) an hour of 20 ms Ogg Opus packets that all carry
extensions: the opusenc stream of ``mlcodec/samples/sample.opus`` (SILK WB, espeak-ng speech,
made by scripts/make_sample_opus.py) re-packetized with an ID 33 text label and an ID 3 counter
in every packet's padding, repeated to the length asked for. Then times fresh processes (best
wall, CPU and peak RSS of ``--repeat`` runs; output to /dev/null):

* on the 8 s sample: ``--json``, ffprobe ``-show_packets -of json``, opusinfo, ``python -c pass``;
* on the hour: ``--json``, ``--summary-only``, ``--json --summary``, ffprobe, opusinfo, and the
  numba bulk scanner (``mlcodec.inspect.table.scan`` + ``summary``) in a fresh process.

Prints a markdown table; ``--write`` puts it into docs/benchmarks.md ("Inspection speed").
Usage: python bench/bench_inspect.py [--minutes 60] [--repeat 5] [--keep FILE] [--write]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import write_section  # noqa: E402

SAMPLE = ROOT / "mlcodec" / "samples" / "sample.opus"
BEGIN = "<!-- bench_inspect:begin -->"
END = "<!-- bench_inspect:end -->"


def make_file(path: Path, packets: int, source: Path = SAMPLE) -> None:
    """``packets`` 20 ms packets: the source stream's frames, each packet re-built with an
    ID 33 label and an ID 3 counter (repeating the source as often as needed)."""
    from mlcodec.bitstream.extensions import Extension
    from mlcodec.bitstream.packet import build_packet, parse_packet
    from mlcodec.containers.oggopus import OggOpusWriter, read_ogg_opus

    frames = [parse_packet(p.data) for p in read_ogg_opus(source).packets()]
    with open(path, "wb") as f:
        w = OggOpusWriter(f, serial=1, input_sample_rate=16000)
        for i in range(packets):
            pkt = frames[i % len(frames)]
            exts = [Extension(0, 33, f"mlcodec demo packet {i}".encode()), Extension(0, 3, bytes([i & 0xFF]))]
            w.write_packet(build_packet(pkt.toc.config, list(pkt.frames), stereo=pkt.toc.stereo,
                                        extensions=exts))
        w.close()


def run_proc(cmd: list[str], repeat: int, env=None, cwd=ROOT) -> tuple[float, float, float]:
    """Best wall s, best CPU s (user+sys) and largest peak RSS (MB) of a fresh process. The
    RSS comes from GNU time (a child forked from this Python would inherit its high-water mark)."""
    walls, cpus, rss = [], [], 0.0
    with tempfile.NamedTemporaryFile("r") as rec:
        for _ in range(repeat):
            with open(os.devnull, "wb") as null:
                t = time.perf_counter()
                p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rec.name] + cmd, stdout=null,
                                     stderr=null, cwd=cwd, env=env)
                _, status, ru = os.wait4(p.pid, 0)
                walls.append(time.perf_counter() - t)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"failed: {' '.join(cmd)}")
            cpus.append(ru.ru_utime + ru.ru_stime)
            rec.seek(0)
            rss = max(rss, int(rec.read().split()[-1]) / 1024)
    return min(walls), min(cpus), rss


_SCAN = ("import sys; from mlcodec.inspect.table import scan; from mlcodec.inspect.messages import summary; "
         "print(summary(scan(open(sys.argv[1], 'rb').read())).packets)")


def _git_head(path: str) -> str:
    p = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return p.stdout.strip() or "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", help="also copy the generated file here")
    ap.add_argument("--write", action="store_true", help="record the table in docs/benchmarks.md")
    ap.add_argument("--baseline", help="a checkout of an earlier version: its --json and "
                    "--summary-only are timed too (rows 'before')")
    args = ap.parse_args()
    packets = int(args.minutes * 60 * 50)
    py = sys.executable
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cli = [py, "-m", "cli.main", "inspect-extensions"]
    ffprobe = ["ffprobe", "-v", "quiet", "-show_packets", "-of", "json"]
    rows: list[tuple[str, str, tuple[float, float, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        hour = Path(tmp) / "hour.opus"
        t = time.perf_counter()
        make_file(hour, packets)
        gen = time.perf_counter() - t
        if args.keep:
            shutil.copy(hour, args.keep)
        size = hour.stat().st_size
        print(f"generated: {packets} packets ({args.minutes:g} min), {size / 1e6:.1f} MB in {gen:.1f} s",
              file=sys.stderr)
        subprocess.run([py, "-c", _SCAN, str(hour)], check=True, cwd=ROOT, env=env,
                       capture_output=True)  # numba compiles into its cache once, untimed
        small = str(SAMPLE)
        long = f"{args.minutes:g} min" if args.minutes != 60 else "1 h"
        jobs = [
            ("8 s sample", "python -c pass (interpreter start-up)", [py, "-c", "pass"]),
            ("8 s sample", "mlcodec --help", [py, "-m", "cli.main", "--help"]),
            ("8 s sample", "mlcodec inspect-extensions --json", cli + ["--json", small]),
            ("8 s sample", "ffprobe -show_packets -of json", ffprobe + [small]),
            ("8 s sample", "opusinfo", ["opusinfo", small]),
            (long, "mlcodec inspect-extensions --json", cli + ["--json", str(hour)]),
            (long, "mlcodec inspect-extensions --json --summary", cli + ["--json", "--summary", str(hour)]),
            (long, "mlcodec inspect-extensions --summary-only", cli + ["--summary-only", str(hour)]),
            (long, "ffprobe -show_packets -of json", ffprobe + [str(hour)]),
            (long, "opusinfo", ["opusinfo", str(hour)]),
            (long, "numba scanner: import + scan() + summary() (library)", [py, "-c", _SCAN, str(hour)]),
        ]
        for what, name, cmd in jobs:
            if shutil.which(cmd[0]) is None:
                print(f"skipped (not installed): {name}", file=sys.stderr)
                continue
            rows.append((what, name, run_proc(cmd, args.repeat, env)))
        if args.baseline:
            base = Path(args.baseline).resolve()
            benv = dict(os.environ, PYTHONPATH=str(base))
            bcli = [py, "-m", "cli.main", "inspect-extensions"]
            subprocess.run(bcli + ["--summary-only", str(hour)], cwd=base, env=benv, check=True,
                           capture_output=True)  # its numba cache, untimed
            for what, name, cmd in [
                    ("8 s sample", "before: inspect-extensions --json", bcli + ["--json", small]),
                    (long, "before: inspect-extensions --json", bcli + ["--json", str(hour)]),
                    (long, "before: inspect-extensions --summary-only", bcli + ["--summary-only", str(hour)])]:
                rows.append((what, name, run_proc(cmd, args.repeat, benv, base)))
    ref = {what: r for what, name, r in rows if name.startswith("ffprobe")}
    lines = ["| input | command | wall s | CPU s | peak RSS MB | wall x ffprobe |",
             "|---|---|---:|---:|---:|---:|"]
    for what, name, (wall, cpu, rss) in rows:
        x = f"{wall / ref[what][0]:.2f}" if what in ref else "n/a"
        lines.append(f"| {what} | {name} | {wall:.3f} | {cpu:.3f} | {rss:.0f} | {x} |")
    load = os.getloadavg()[0]
    cmdline = "python bench/bench_inspect.py " + " ".join(sys.argv[1:])
    note = (f"Best of {args.repeat} fresh processes each, output to /dev/null, in one run "
            f"(`{cmdline.strip()}`; {os.cpu_count()} CPUs, load average {load:.1f} at the end). "
            f"The long input: {packets} packets of 20 ms, {size / 1e6:.1f} MB, each carrying an ID 33 "
            "label and an ID 3 counter (the opusenc stream of mlcodec/samples/sample.opus "
            "re-packetized and repeated). Peak RSS from GNU time."
            + (f" 'before' rows: the same commands of {args.baseline} (git "
               f"{_git_head(args.baseline)})." if args.baseline else ""))
    table = "\n".join(lines)
    print(table)
    print(note)
    if args.write:
        section = (f"{BEGIN}\n## Inspection speed (bench/bench_inspect.py)\n\n{table}\n\n{note}\n{END}\n")
        write_section(ROOT / "docs" / "benchmarks.md", BEGIN, END, section, "# Benchmarks\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
