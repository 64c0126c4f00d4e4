"""Where the parse stage runs: in this process, a local process pool, or a
Dask cluster.  All three take the same pure batch function and return
results in input order, so the build is byte-identical whichever runs it.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this many batches a process pool costs more than it saves.
MIN_BATCHES_FOR_POOL = 2


class Executor(Protocol):
    """Runs ``fn`` over ``items``, yielding results in input order."""

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class SerialExecutor:
    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return map(fn, items)

    def close(self) -> None:
        pass


class PoolExecutor:
    """A local process pool (``--workers N``; default: every core)."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        batch = list(items)
        if self.workers <= 1 or len(batch) < MIN_BATCHES_FOR_POOL:
            return map(fn, batch)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_die_with_parent,
                                             mp_context=_context())
        return self._pool.map(fn, batch)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _context() -> multiprocessing.context.BaseContext:
    """Workers forked from a small server process, not from the build: a
    fork of the build would start with (and be charged for) everything the
    build holds by then, e.g. 100,000 ranking summaries before rendering."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")  # pragma: no cover - not Linux
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["aggregator.collect", "aggregator.publish"])
    return context


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the build process dies: a run
    killed by cron or SIGKILL must not leave orphaned workers behind."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers exit when the queue closes
        pass


class DaskExecutor:
    """Runs batches on a Dask distributed cluster (``aggregator[dask]``).

    Workers must see the article files at the same paths (shared storage);
    the results travel back to this process, which writes the output.
    """

    def __init__(self, scheduler: str):
        try:
            from dask.distributed import Client
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise RuntimeError("the dask executor needs: pip install 'aggregator[dask]'") from exc
        self.client = Client(scheduler)  # type: ignore[no-untyped-call]

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        futures = self.client.map(fn, list(items), pure=False)
        for future in futures:  # in input order, as they complete
            yield future.result()

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


def make_executor(kind: str = "local", workers: int | None = None, scheduler: str | None = None) -> Executor:
    if kind == "dask":
        if not scheduler:
            raise ValueError("--executor dask needs --scheduler ADDRESS")
        return DaskExecutor(scheduler)
    if kind == "serial" or workers == 1:
        return SerialExecutor()
    return PoolExecutor(workers)
