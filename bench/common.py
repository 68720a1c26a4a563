"""Helpers shared by the bench scripts: thread pinning, timing, alignment, speech metrics, output.

Standard library at import time (numpy, pesq, pystoi and speechmos are imported where used), so
a script can call ``one_thread()`` before its own ``import numpy``.
"""
from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import time
from pathlib import Path

RATE = 16000
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def one_thread() -> None:
    """Keep BLAS/OpenMP/numba to one thread (unless set): call before numpy is imported."""
    for v in THREAD_VARS:
        os.environ.setdefault(v, "1")


# ---------------------------------------------------------------------------------------------
# Timing


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def timed(fn, repeat: int) -> tuple[float, float, float]:
    """Best wall, best CPU (this process + finished children) and median wall of ``repeat`` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        c0 = cpu_seconds()
        t = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(cpu_seconds() - c0)
    return min(walls), min(cpus), statistics.median(walls)


def time_opusinfo(path: Path, repeat: int) -> tuple[float, float, float] | None:
    """``timed`` of Debian's ``opusinfo PATH`` (output discarded); None when it is not installed."""
    if not shutil.which("opusinfo"):
        return None

    def run_info():
        with open(os.devnull, "wb") as null:
            subprocess.run(["opusinfo", str(path)], stdout=null, stderr=null, check=True)

    return timed(run_info, repeat)


# ---------------------------------------------------------------------------------------------
# Speech metrics


def delay_aligned(ref, out, delay: int):
    """``out`` advanced by ``delay`` samples and cut to ``ref``; ``ref`` cut to the same length."""
    y = out[delay:delay + len(ref)]
    return ref[: len(y)], y


def pesq_stoi(ref, deg) -> tuple[float, float]:
    """PESQ-WB (NaN where PESQ refuses the signal) and STOI of ``deg`` against ``ref`` (+-1 floats)."""
    from pesq import pesq
    from pystoi import stoi

    try:
        p = float(pesq(RATE, ref, deg, "wb"))
    except Exception:  # noqa: BLE001 - PESQ refuses some silent/odd signals
        p = float("nan")
    return p, float(stoi(ref, deg, RATE, extended=False))


def load_dnsmos(skip: bool):
    """speechmos's ``dnsmos`` module, or None when ``skip`` or it fails to import (said on stdout)."""
    if skip:
        return None
    try:
        from speechmos import dnsmos
        return dnsmos
    except Exception as exc:  # noqa: BLE001 - optional metric
        print(f"# DNSMOS skipped: {exc}")
        return None


def add_dnsmos(r: dict, dnsmos, y, sig_bak: bool = False) -> None:
    """Put DNSMOS ``ovrl`` and ``p808`` (and ``sig``, ``bak``) of ``y`` (+-1 floats) into ``r``."""
    import numpy as np

    d = dnsmos.run(np.clip(y, -1, 1).astype(np.float32), sr=RATE)
    r["ovrl"], r["p808"] = d["ovrl_mos"], d["p808_mos"]
    if sig_bak:
        r["sig"], r["bak"] = d["sig_mos"], d["bak_mos"]


# ---------------------------------------------------------------------------------------------
# Output


def write_section(out: Path, begin: str, end: str, section: str, new_file_head: str) -> None:
    """Replace the ``begin``..``end`` section of markdown file ``out`` by ``section`` (appended
    when absent; a missing file starts with ``new_file_head``); temp file, then rename."""
    text = out.read_text() if out.exists() else new_file_head
    if begin in text and end in text:
        pre, rest = text.split(begin, 1)
        text = pre + section + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, out)
