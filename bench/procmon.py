"""Peak memory of a process tree, sampled from a background thread.

``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the maximum RSS of the *largest single*
descendant, not the sum over a pool of workers that live at the same time, so it under-reports a
multi-process build.  This sampler sums the RSS of the root process and all its live descendants
every ``interval`` seconds and keeps the largest sum.  Summing RSS counts pages shared after
``fork`` once per process, so the figure is an upper bound of the real footprint -- the
conservative side for an acceptance limit such as "400 MB for all the build's processes".
Very short-lived peaks (< interval) can be missed; 20 ms is far below the life of a build.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

import psutil


class TreeRSSSampler:
    """Context manager: ``with TreeRSSSampler(pid) as s: ...; s.peak_bytes``."""

    def __init__(self, pid: int, interval: float = 0.02, include_root: bool = True) -> None:
        self.pid = pid
        self.interval = interval
        self.include_root = include_root
        self.peak_bytes = 0
        self.peak_processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self, root: psutil.Process) -> None:
        total = 0
        procs = root.children(recursive=True)
        if self.include_root:
            procs.append(root)
        counted = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
                counted += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue  # a worker that exited between listing and reading: nothing to count
        self.samples += 1
        self.peak_bytes = max(self.peak_bytes, total)
        self.peak_processes = max(self.peak_processes, counted)

    def _run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while True:
            try:
                self._sample(root)
            except psutil.NoSuchProcess:
                return
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
