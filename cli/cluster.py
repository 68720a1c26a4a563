"""``--scheduler ADDRESS`` (or ``MLCODEC_SCHEDULER``): the same batch on a dask.distributed
cluster (the optional ``[dask]`` extra; docs/batch.md).

Each input is one task. A worker opens the input and writes the output itself, on storage all
machines share, so no audio passes through the scheduler: tasks carry two paths and the
options, results carry the run's statistics or its one-line error. Results come back in
completion order (``as_completed``), as in local mode.
"""
from __future__ import annotations

import os
from typing import Callable

from .common import EXIT_USAGE, fail

#: Environment variable that names the scheduler when ``--scheduler`` is not given.
ENV = "MLCODEC_SCHEDULER"


def scheduler_address(given: str | None) -> str | None:
    return given or os.environ.get(ENV) or None


def _client(address: str):
    try:
        from distributed import Client
    except ImportError:
        fail(f"--scheduler {address}: dask.distributed is not installed "
             "(pip install 'mlcodec[dask]')", EXIT_USAGE)
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        fail(f"--scheduler {address}: cannot reach the scheduler ({exc})")


def _remote(task, src: str, dst: str):
    """Runs on a worker: the task reads ``src`` and writes ``dst`` there; returns (stats, error)."""
    return task(src, dst, None)


def run_dask(address: str, task, pairs: list[tuple[str, str]],
             on_result: Callable[[object, str | None, str], None], advance: Callable[[], None] | None = None) -> None:
    """Run ``task`` on every (input, output) pair as dask tasks; ``on_result(result, error,
    dst)`` as each finishes. A task that fails on the worker (the worker died, the code could
    not be imported) is reported as that input's error; the batch goes on."""
    from distributed import as_completed

    client = _client(address)
    futs = {}
    try:
        for i, (src, dst) in enumerate(pairs):
            fut = client.submit(_remote, task, src, dst, pure=False, key=f"mlcodec-{i}-{os.path.basename(src)}")
            futs[fut] = (src, dst)
        for fut in as_completed(futs):
            src, dst = futs[fut]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - any worker-side failure is this input's error
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                res = (None, f"{src}: failed on the cluster ({type(exc).__name__}: {reason}); output not written")
            fut.release()
            on_result(res[0], res[1], dst)
            if advance:
                advance()
    except BaseException:
        client.cancel(list(futs))
        raise
    finally:
        client.close()
