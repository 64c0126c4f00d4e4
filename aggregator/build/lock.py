"""One run at a time: a kernel file lock beside the state file.

A POSIX record lock (``lockf``), not ``flock``: record locks belong to the
process, so a child never holds one -- not a parse worker, not a helper
between its ``fork`` and ``exec``.  (An ``flock`` belongs to the open
file, which every child shares until it closes or execs it; a run killed
with SIGKILL at the wrong moment then left the next run locked out.)  The
kernel drops the lock when the process ends, so a crashed or killed run
never leaves a stale one.  Record locks do not exclude two runs of the
same process, so an in-process registry does.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aggregator.errors import LockedError, StateError

_HELD: set[Path] = set()  # lock files this process holds
_GUARD = threading.Lock()


@contextmanager
def run_lock(state_path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold ``<state>.lock`` for the duration; raise :class:`LockedError`
    if another run holds it for longer than ``wait`` seconds."""
    lock_path = state_path.with_name(state_path.name + ".lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StateError(f"{lock_path}: cannot open the lock file: {exc.strerror or exc}") from None
    key = lock_path.resolve()
    try:
        deadline = time.monotonic() + wait
        while not _acquire(fd, key):
            if time.monotonic() >= deadline:
                raise LockedError(f"{lock_path}: another run is in progress")
            time.sleep(0.1)
        try:
            yield
        finally:
            with _GUARD:
                _HELD.discard(key)
    finally:
        os.close(fd)  # closing releases the lock


def _acquire(fd: int, key: Path) -> bool:
    with _GUARD:
        if key in _HELD:
            return False  # a run of this very process holds it
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EACCES or EAGAIN: another process holds it
            return False
        _HELD.add(key)
        return True
