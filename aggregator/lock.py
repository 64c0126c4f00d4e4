"""One run at a time: a kernel file lock beside the state file.

``flock`` locks vanish with the process that held them, so a crashed or
killed run never leaves a stale lock behind -- provided no other process
shares the lock's open file: a process forked while the lock is held (a
parse worker) inherits the descriptor, and if the run is killed with
SIGKILL, an orphaned worker would keep every later run locked out.  So
forked children close the descriptor at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import LockedError

_HELD: set[int] = set()  # lock descriptors of this process


def _close_in_child() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)  # drops only the child's reference; the parent keeps the lock
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


@contextmanager
def run_lock(state_path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold ``<state>.lock`` for the duration; raise :class:`LockedError`
    if another run holds it for longer than ``wait`` seconds."""
    lock_path = state_path.with_name(state_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    _HELD.add(fd)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockedError(f"{lock_path}: another run is in progress") from None
                time.sleep(0.1)
        yield
    finally:
        _HELD.discard(fd)
        os.close(fd)  # closing releases the lock
