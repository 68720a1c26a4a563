"""Batch transcoding at scale (issue 15): peak memory of a long encode by path, scaling from 1 to
2 local workers, and a kill -9 rerun. Every number is a fresh ``mlcodec`` process measured by
``os.wait4`` (wall clock, CPU, peak RSS); the load average is printed beside the timings,
because on a shared machine it decides them.

    python bench/bench_batch.py --long /tmp/1h.flac [--corpus DIR | --files 8 --seconds 60] [--mlcodec CMD]

``--long``: a long input generated beforehand (never committed), e.g. an hour of concatenated
speech. The scaling corpus is cut from the shipped sample (tiled and varied), in a temp dir.
``--mlcodec``: the command to measure (default: this checkout's ``python -m mlcodec_cli.main``).
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mlcodec" / "samples" / "sample.flac"


def run(cmd: list[str], **kw) -> dict:
    """Run ``cmd`` to the end: wall seconds, CPU seconds, peak RSS (MB) and exit code."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024,
            "rc": os.waitstatus_to_exitcode(status), "stderr": err}


def load() -> str:
    return "load average %.1f %.1f %.1f" % os.getloadavg()


def make_corpus(d: Path, files: int, seconds: float) -> None:
    import numpy as np
    import soundfile as sf

    x, rate = sf.read(SAMPLE, dtype="float64")
    n = int(seconds * rate)
    for i in range(files):
        y = np.tile(x, -(-n // len(x)))[:n] * (0.6 + 0.05 * i)  # a different file each time
        sf.write(d / f"f{i:02d}.wav", y, rate, subtype="PCM_16")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--long", help="long input for the memory measurement (e.g. 1 h of speech)")
    ap.add_argument("--corpus", help="folder of inputs for the scaling and kill -9 runs (default: generated)")
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--mlcodec", default=f"{shlex.quote(sys.executable)} -m mlcodec_cli.main")
    ap.add_argument("--skip-scaling", action="store_true")
    a = ap.parse_args()
    cmd = shlex.split(a.mlcodec)
    print(f"# bench_batch: {os.cpu_count()} CPUs, {load()}")
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        tmp = Path(tmp)
        run(cmd + ["encode", str(SAMPLE), str(tmp / "warm.opus")])  # warm the numba cache
        if a.long:
            import soundfile as sf

            dur = sf.info(a.long).duration
            r = run(cmd + ["encode", a.long, str(tmp / "long.opus")])
            print(f"memory: encode {a.long} ({dur / 60:.1f} min) by path: peak RSS {r['rss_mb']:.0f} MB, "
                  f"wall {r['wall']:.0f} s, CPU {r['cpu']:.0f} s, rc {r['rc']}  [{load()}]")
            r = run(["sh", "-c", " ".join(map(shlex.quote, cmd)) + " encode - " + shlex.quote(str(tmp / "pipe.opus"))
                     + " < " + shlex.quote(a.long)])
            print(f"memory: the same through stdin: peak RSS {r['rss_mb']:.0f} MB, wall {r['wall']:.0f} s, "
                  f"rc {r['rc']}  [{load()}]")
            same = (tmp / "long.opus").read_bytes() == (tmp / "pipe.opus").read_bytes()
            print(f"        path and pipe outputs identical: {same}")
            r = run(cmd + ["decode", str(tmp / "long.opus"), str(tmp / "long.wav")])
            print(f"memory: decode it to WAV: peak RSS {r['rss_mb']:.0f} MB, wall {r['wall']:.0f} s, "
                  f"rc {r['rc']}  [{load()}]")
            (tmp / "long.wav").unlink(missing_ok=True)
            r = run(cmd + ["encode", str(SAMPLE), str(tmp / "short.opus")])
            print(f"memory: for scale, encode the 8 s sample: peak RSS {r['rss_mb']:.0f} MB  [{load()}]")
        if a.skip_scaling:
            return
        import soundfile as sf

        if a.corpus:
            src = Path(a.corpus)
        else:
            src = tmp / "in"
            src.mkdir()
            make_corpus(src, a.files, a.seconds)
        inputs = sorted(p for p in src.iterdir() if p.suffix in (".wav", ".flac"))
        a.files = len(inputs)
        audio = sum(sf.info(p).duration for p in inputs)
        res = {}
        for jobs in (1, 2, 1, 2):  # interleaved: a load change hits both
            out = tmp / f"out{jobs}"
            shutil.rmtree(out, ignore_errors=True)
            r = run(cmd + ["encode", str(src), "-o", str(out), "-j", str(jobs)])
            assert r["rc"] == 0, r["stderr"]
            res.setdefault(jobs, []).append(r)
            print(f"scaling: -j {jobs}: {a.files} files, {audio / 60:.1f} min of audio: wall {r['wall']:.1f} s "
                  f"({audio / r['wall']:.1f}x real time), CPU {r['cpu']:.1f} s  [{load()}]")
        w1, w2 = (min(x["wall"] for x in res[j]) for j in (1, 2))
        print(f"scaling: best wall -j 1 {w1:.1f} s, -j 2 {w2:.1f} s: speed-up {w1 / w2:.2f}x (target >= 1.7x)")
        same = all((tmp / "out1" / f.name).read_bytes() == f.read_bytes() for f in (tmp / "out2").glob("*.opus"))
        print(f"scaling: -j 1 and -j 2 outputs identical: {same}")
        # kill -9 mid-batch, then rerun with --resume
        out = tmp / "killed"
        p = subprocess.Popen(cmd + ["encode", str(src), "-o", str(out), "-j", "2"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        while p.poll() is None and len(list(out.glob("*.opus"))) < a.files // 2:
            time.sleep(0.05)
        kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        done = len(list(out.glob("*.opus")))
        time.sleep(2)
        alive = [k for k in kids if os.path.exists(f"/proc/{k}") and
                 open(f"/proc/{k}/stat").read().rsplit(")", 1)[1].split()[0] not in "ZX"]
        tmps = list(out.glob(".*.tmp"))
        r = run(cmd + ["encode", str(src), "-o", str(out), "-j", "2", "--resume", "--report", str(tmp / "r.jsonl")])
        import json

        st = [json.loads(ln)["status"] for ln in (tmp / "r.jsonl").read_text().splitlines()]
        same = all((tmp / "out1" / f.name).read_bytes() == f.read_bytes() for f in out.glob("*.opus"))
        print(f"kill -9: after {done} of {a.files} files: {len(kids)} workers, {len(alive)} alive 2 s later, "
              f"{len(tmps)} temp files; rerun: {st.count('skipped')} skipped, {st.count('ok')} redone, "
              f"wall {r['wall']:.1f} s; all outputs identical to the uninterrupted run: {same}  [{load()}]")


if __name__ == "__main__":
    main()
