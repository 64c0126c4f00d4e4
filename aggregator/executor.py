"""Where the parse and render stages run: in this process, a local process
pool, or a Dask cluster.  All three take the same pure function and return
results in input order, so the build is byte-identical whichever runs it.
"""

from __future__ import annotations

import collections
import gc
import itertools
import os
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:  # imported when a pool starts: a run that needs none starts ~10 ms sooner
    import multiprocessing.context
    from concurrent.futures import Future, ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")

# Below this many batches a process pool costs more than it saves.
MIN_BATCHES_FOR_POOL = 2
# Items in flight on a Dask cluster: enough to keep a few dozen workers busy.
DASK_WINDOW = 64


class Executor(Protocol):
    """Runs ``fn`` over ``items``, yielding results in input order."""

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, serial_below: int = ...) -> Iterator[R]: ...

    def close(self) -> None: ...


class SerialExecutor:
    def map(self, fn: Callable[[T], R], items: Iterable[T], *, serial_below: int = 0) -> Iterator[R]:
        return map(fn, items)

    def close(self) -> None:
        pass


class PoolExecutor:
    """A local process pool (``--workers N``; default: every core)."""

    def __init__(self, workers: int | None = None, preload: Sequence[str] = ()):
        """``preload``: modules the workers will need, imported once in the
        server process they are forked from (so not in every worker)."""
        self.workers = workers or os.cpu_count() or 1
        self.preload = tuple(preload)
        self._pool: ProcessPoolExecutor | None = None

    def warm(self) -> None:
        """Start the workers now, in the background: a build that knows it
        will parse everything overlaps their start-up (~0.3 s) with
        finding the files."""
        if self.workers > 1:
            for _ in range(self.workers):  # one task each: the pool starts a process per waiting task
                self._start().submit(int)

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_worker_start,
                                             initargs=(os.getpid(),), mp_context=_context(self.preload))
        return self._pool

    def map(self, fn: Callable[[T], R], items: Iterable[T], *,
            serial_below: int = MIN_BATCHES_FOR_POOL) -> Iterator[R]:
        """``serial_below``: with fewer items than this, run them here
        (starting the pool costs ~0.3 s, more than a few small items)."""
        source = iter(items)
        first = list(itertools.islice(source, serial_below))
        if self.workers <= 1 or len(first) < serial_below:
            return map(fn, itertools.chain(first, source))
        return _windowed(self._start(), fn, itertools.chain(first, source), 2 * self.workers)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _windowed(pool: ProcessPoolExecutor, fn: Callable[[T], R], items: Iterator[T], window: int) -> Iterator[R]:
    """Results in input order, with at most ``window`` items submitted and
    not yet taken.  Unlike ``ProcessPoolExecutor.map``, which submits every
    item at once, this takes items from ``items`` only as results are taken:
    a lazy producer (loading each feed's articles) then runs while the
    workers render the previous ones, and only a window of them is in
    memory."""
    pending: collections.deque[Future[R]] = collections.deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:  # abandoned early (an error, a closed generator)
            future.cancel()


def _context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """Workers forked from a small server process, not from the build: a
    fork of the build would start with (and be charged for) everything the
    build holds by then, e.g. 100,000 ranking summaries before rendering."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")  # pragma: no cover - not Linux
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context


def _worker_start(build: int) -> None:
    """Set up a worker process.

    The modules it imported are frozen out of the garbage collector: each
    file parsed makes thousands of short-lived containers, and every
    collection they trigger would otherwise traverse those modules too
    (~3 % of a parse worker's time).  And the worker ends when the build
    process ``build`` does (:func:`_end_with`)."""
    gc.freeze()
    _end_with(build)


def _end_with(pid: int) -> None:
    """End this process as soon as process ``pid`` ends.

    A run killed by cron or SIGKILL must not leave its workers behind, and
    nothing else would end them: each waits on a queue whose write end it
    holds too, and the fork server they come from (their parent, which
    PR_SET_PDEATHSIG would watch) lives as long as any of them does.  A
    pidfd becomes readable when its process ends; a thread waits on it
    without holding the GIL."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)  # gone already
    except (AttributeError, OSError):  # not Linux 5.3 or later: look once a second
        def wait() -> None:
            while True:
                time.sleep(1)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    os._exit(1)
                except PermissionError:
                    pass  # a live process (another user's, if the number was reused)
    else:
        def wait() -> None:
            select.select([fd], [], [])
            os._exit(1)
    threading.Thread(target=wait, name="end-with-build", daemon=True).start()


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

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, serial_below: int = 0) -> Iterator[R]:
        # A window of submitted items, as in the local pool: the producer
        # stays lazy and memory bounded.
        pending: collections.deque[Any] = collections.deque()
        try:
            for item in items:
                pending.append(self.client.submit(fn, item, pure=False))
                if len(pending) >= DASK_WINDOW:
                    yield pending.popleft().result()
            while pending:  # in input order
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


def make_executor(kind: str = "local", workers: int | None = None, scheduler: str | None = None, *,
                  preload: Sequence[str] = ()) -> Executor:
    if kind == "dask":
        if not scheduler:
            raise ValueError("--executor dask needs --scheduler ADDRESS")
        return DaskExecutor(scheduler)
    if kind == "serial" or workers == 1:
        return SerialExecutor()
    return PoolExecutor(workers, preload)
