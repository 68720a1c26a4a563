"""A generic batch runner: one task per (input, output) pair, in this process or a process pool.

Ctrl-C/SIGTERM mid-batch stop at once: queued inputs are cancelled, running workers stop at
their next safe point (the task's progress callback) so their atomic outputs remove their temp
files, and leftover temp files beside unfinished outputs are removed.
"""
from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable

from .common import Terminated

#: ``task(src, dst, progress) -> (result or None, error line or None)``; must be picklable
#: (a module-level function or a functools.partial of one) to run in the pool.
Task = Callable[..., tuple]

#: In a pool worker: True while an input is being coded (a signal then aborts it).
_busy = False
#: In a pool worker: the stop signal received while busy, acted on at the next safe point.
_stop_signal = 0
#: The batch's main process, as the pool worker was told at start-up (None: not a pool worker).
_parent_pid: int | None = None


def _pool_signal(signum, frame):  # noqa: ARG001
    global _stop_signal
    if _busy:
        # Not raised here: an exception thrown into native code (soxr's nanobind bindings)
        # aborts the process. The coding loop's progress callback raises it (_pool_check).
        _stop_signal = signum
        return
    os._exit(128 + signum)  # idle: nothing to clean up


def _pool_check(*_args) -> None:
    """Progress callback of pool workers: a safe point to stop at between chunks/packets;
    the exception unwinds through the atomic output, which removes its temp file."""
    if _stop_signal:
        raise Terminated() if _stop_signal == signal.SIGTERM else KeyboardInterrupt()


#: prctl option: signal this process when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1
#: Seconds between the parent-pid watchdog's checks (systems without PR_SET_PDEATHSIG).
WATCHDOG_PERIOD = 0.25


def _parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent dies (prctl(2)); False
    where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return False


def _watch_parent(parent: int) -> None:
    """Watchdog thread: once the parent is gone (this process re-parented), stop as SIGTERM
    does (the current input's temp output is removed)."""
    import time

    while os.getppid() == parent:
        time.sleep(WATCHDOG_PERIOD)
    os.kill(os.getpid(), signal.SIGTERM)


def watch_parent(parent: int) -> None:
    """No orphans (issue 15): this process ends when ``parent`` dies, by kill -9, a crash or a
    closed pipe. Linux: PR_SET_PDEATHSIG=SIGTERM; elsewhere a daemon thread polls the parent
    pid. Either way SIGTERM then stops the current input at its next safe point."""
    if not _parent_death_signal(signal.SIGTERM):
        import threading

        threading.Thread(target=_watch_parent, args=(parent,), name="mlcodec-parent-watchdog", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(143)


def _pool_init(parent: int | None = None) -> None:
    """Pool worker start-up: SIGTERM/SIGINT stop the current input cleanly, then the process;
    the worker also stops when the parent dies (:func:`watch_parent`).

    A SIGINT that the main process ignores (a background job of a non-interactive shell) stays
    ignored in the workers too, so that Ctrl-C never stops the workers behind its back."""
    global _parent_pid
    _parent_pid = parent
    signal.signal(signal.SIGTERM, _pool_signal)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _pool_signal)
    if parent is not None:
        watch_parent(parent)


def _pool_worker(task: Task, src: str, dst: str):
    """Process-pool entry around ``task``; an interrupted worker exits at once (its temp
    output already removed), leaving the report to the main process."""
    global _busy
    _busy = True
    try:
        _pool_check()
        return task(src, dst, _pool_check)
    except KeyboardInterrupt as exc:
        os._exit(143 if isinstance(exc, Terminated) else 130)
    finally:
        _busy = False
        if _stop_signal and _parent_pid is not None and os.getppid() != _parent_pid:
            # the parent died while this input ran past its last safe point (a two-pass
            # encode's coding phase): nobody will take the result, and idle is no place to stay
            os._exit(128 + _stop_signal)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel queued inputs, stop the running ones (each removes its temp output) and wait
    for the workers, so that nothing is left behind."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(10)
        if p.is_alive():  # pragma: no cover - a worker stuck in native code
            p.kill()
            p.join(1)


def remove_temp_outputs(dsts: Iterable[str]) -> None:
    """Remove temp files (``.NAME.XXXX.SUFFIX.tmp``, mlcodec.io.atomic) still beside outputs
    that were being written: a signal landing inside an atomic commit (fsync, rename) or a
    worker killed after the grace period can leave one behind."""
    import glob

    for dst in dsts:
        if dst == "-":
            continue
        d, name = os.path.split(os.path.realpath(dst))
        for tmp in glob.glob(os.path.join(glob.escape(d), f".{glob.escape(name)}.*.tmp")):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def run_batch(task: Task, pairs: list[tuple[str, str]], jobs: int,
              on_result: Callable[[object, str | None, str], None], advance: Callable[[], None] | None = None) -> None:
    """Run ``task`` on every pair (``jobs`` worker processes when > 1), calling
    ``on_result(result, error, dst)`` as each finishes, in completion order."""
    finished: set[str] = set()

    def done(res, dst):
        finished.add(dst)
        on_result(res[0], res[1], dst)
        if advance:
            advance()

    try:
        if jobs <= 1 or len(pairs) == 1:
            for src, dst in pairs:
                done(task(src, dst, None), dst)
            return
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(pairs)), initializer=_pool_init,
                                   initargs=(os.getpid(),))
        try:
            futs = {pool.submit(_pool_worker, task, src, dst): (src, dst) for src, dst in pairs}
            for fut in as_completed(futs):
                src, dst = futs[fut]
                try:
                    res = fut.result()
                except BrokenProcessPool:  # a worker was killed (out of memory, kill -9)
                    res = (None, f"{src}: worker process ended unexpectedly; output not written")
                done(res, dst)
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown()
    except KeyboardInterrupt:
        remove_temp_outputs(dst for _, dst in pairs if dst not in finished)
        raise
