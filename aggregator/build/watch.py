"""``aggregator watch``: publish an article as it is saved.

The article folders and the config file are watched through inotify
(``watchfiles``: Rust's ``notify``, no polling of 100,000 files).  A burst of
changes (an editor's save, a ``git checkout``) is one rebuild: changes are
gathered until none arrives for ``step`` ms (at most ``debounce`` ms).  Each
rebuild is an ordinary :func:`~aggregator.build.frame.build` with the same
state file, so it does only what changed, and it holds the run lock only
while it rebuilds: a cron ``build --wait 60`` runs between two rebuilds, and
a rebuild waits for a cron run to finish.

A config that stops loading is reported and the last good one kept; a
failed rebuild is reported and the next change tries again.  SIGTERM or
SIGINT ends the watch after the rebuild under way.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from aggregator.config import Config
from aggregator.errors import AggregatorError, ConfigError, LockedError
from aggregator.report import Report
from aggregator.sources.local.discover import GLOB_CHARS, SUFFIXES

_IDLE_MS = 300  # how soon a new watch is known to be set up (and how often an idle one wakes)
LOCK_WAIT = 60.0  # seconds a rebuild waits for another run (a cron build) before trying again


def roots(config: Config, config_file: Path) -> list[Path]:
    """The folders to watch: each article folder (a glob's folder before its
    first wildcard; a folder that does not exist yet, its nearest existing
    parent) and the config file's folder."""
    found: set[Path] = {config_file.resolve().parent}
    for folder in config.article_folders():
        parts = Path(folder.path).parts
        plain = Path(*[p for p in parts[:next((i for i, p in enumerate(parts) if GLOB_CHARS & set(p)), len(parts))]])
        path = (config.root / plain).resolve()
        while not path.is_dir() and path != path.parent:
            path = path.parent
        found.add(path)
    # A folder inside another is watched through it (inotify is recursive here).
    return sorted(p for p in found if not any(o != p and o in p.parents for o in found))


def _wanted(config: Config, config_file: str) -> Callable[[Any, str], bool]:
    """Which changes count: the config file's, and those of what could be an
    article file or folder: a name with an article suffix or none at all (a
    folder: one removed with its articles), not hidden (the walk skips
    hidden names; the build's temporaries are hidden), outside the output
    and not the state file or its companions, and none of what
    ``watchfiles`` leaves out by default (``.git``, editor swap files).
    Anything else (a log written next to the articles, the build's own
    writes) would set off a rebuild, and the next, for ever."""
    from watchfiles import DefaultFilter

    base, output, state = DefaultFilter(), str(config.output_dir), str(config.state_path)
    folder = os.path.dirname(state)  # made by the first build

    def wanted(change: Any, path: str) -> bool:
        if path == config_file:
            return True
        name = os.path.basename(path)
        if name.startswith(".") or not (name.lower().endswith(SUFFIXES) or "." not in name):
            return False
        return base(change, path) and not (path in (output, folder) or path.startswith((output + os.sep, state)))

    return wanted


def changes(config_file: Path, load: Callable[[Path], Config], stop: threading.Event, *,
            debounce: int = 1000, step: int = 50, report: Callable[[str], None]) -> Iterator[Config]:
    """Yield the config to build: once the folders are watched (so nothing
    changed meanwhile is missed, the output is brought up to date), then
    after each burst of changes (reloaded when its file was among them),
    until ``stop`` is set.  A new config may name other folders: they are
    watched anew, and built once watched."""
    from watchfiles import watch

    config = load(config_file)
    config_path = str(config_file.resolve())
    while not stop.is_set():
        watching = False
        # ``yield_on_timeout``: an empty batch says the watch is set up (and
        # then, every ``_IDLE_MS``, that nothing happened).
        for batch in watch(*roots(config, config_file), watch_filter=_wanted(config, config_path),
                           debounce=debounce, step=step, stop_event=stop, raise_interrupt=False,
                           rust_timeout=_IDLE_MS, yield_on_timeout=True):
            if not batch and watching:
                continue
            watching = True
            paths = {path for _change, path in batch}
            if config_path in paths:
                try:
                    config = load(config_file)
                    break  # the folders may have changed: watch anew, then build
                except (ConfigError, ValueError) as exc:
                    report(f"error: {exc} (keeping the last good config)")
                    if paths == {config_path}:
                        continue
            yield config


def watch_and_build(config_file: Path, load: Callable[[Path], Config], rebuild: Callable[[Config], Report],
                    show: Callable[[Report], None], report: Callable[[str], None], *,
                    debounce: int = 1000, stop: threading.Event | None = None) -> int:
    """Rebuild after every change until stopped (SIGTERM, SIGINT or
    ``stop``); returns the exit code: 0 when stopped."""
    stop = stop or threading.Event()
    previous = _on_signals(stop)
    try:
        for config in changes(config_file, load, stop, debounce=debounce, report=report):
            while not stop.is_set():
                try:
                    show(rebuild(config))
                    break
                except LockedError:
                    continue  # a long cron run: wait again (rebuild waits LOCK_WAIT seconds a time)
                except (AggregatorError, OSError) as exc:  # e.g. a full disk: the next change tries again
                    report(f"error: {exc}")
                    break
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _on_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGTERM and SIGINT set ``stop`` (in the main thread only: elsewhere
    the caller stops the watch through ``stop``)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    return {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
