"""The cycle collector and the build process's long-lived data.

CPython's collector traverses every tracked container of a generation each
time it runs; a build holds 100,000-entry structures (the walk of the
article folders, the parse cache's stat records, the stored feed results)
for its whole life, and they hold no reference cycles.  Collections
triggered while they are made, and every full collection after, traverse
them again for nothing: measured at 100,000 articles, a one-file rebuild
spent 0.12-0.17 s (8-10 % of it) in three to five full collections.

So bulk loads run with the collector paused, and what they made is then
frozen (moved to the permanent generation, which collections skip).
Frozen objects are still freed by reference counting when the run drops
them; only a cycle among them would wait for the process to end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def bulk() -> Iterator[None]:
    """Make long-lived acyclic data: the collector is off meanwhile, and
    what exists at the end is frozen out of later collections."""
    with paused():
        try:
            yield
        finally:
            gc.freeze()


@contextmanager
def paused() -> Iterator[None]:
    """The collector off, without freezing: for work whose objects are
    acyclic and mostly garbage at the end (the sketches of a cold clustering)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def run_scope() -> Iterator[None]:
    """One build: what its bulk loads froze goes back to the collector at
    the end, so a long-lived process that builds many times (a test
    suite, ``watch``, an API user) does not keep their cycles forever.
    Left alone when something else had frozen objects before."""
    frozen = gc.get_freeze_count()
    try:
        yield
    finally:
        if not frozen:
            gc.unfreeze()
