"""A whole run: collect -> rank -> render -> write, and the report.

This is the library's main entry point (:func:`build`); the CLI is a thin
layer over it.  The world is passed in: the clock (``now``), the executor,
the HTTP transport; nothing here reads the environment.

Here: the run's frame (the lock, the state store's transaction) and the
no-change shortcut (:mod:`aggregator.uptodate`).  The run itself is
:func:`aggregator.run.run`, imported only when the shortcut does not apply:
a cron run that finds nothing new never imports what parses, ranks and
renders, half of a run's start-up.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from . import uptodate
from .codeid import code_id
from .config import Config
from .discover import Found, discover
from .executor import Executor, SerialExecutor
from .lock import run_lock
from .model import Problem
from .parsekey import ParseOptions, fingerprint
from .progress import Progress
from .report import Report
from .store import Store


def parse_options(config: Config) -> ParseOptions:
    return ParseOptions(parser=config.parse.parser, max_topics=config.feeds.max_topics,
                        max_front_matter=config.parse.max_front_matter_bytes)


def build(config: Config, *, now: datetime | None = None, executor: Executor | None = None,
          offline: bool = False, transport: Any = None, resolver: Any = None, wait: float = 0.0,
          dry_run: bool = False, progress: Progress | None = None) -> Report:
    """Build every feed of ``config``; return the :class:`Report`.

    Raises :class:`~aggregator.errors.LockedError` when another run holds
    the lock (after ``wait`` seconds) and other
    :class:`~aggregator.errors.AggregatorError` s when nothing can be built.
    ``dry_run`` parses and ranks everything but writes nothing (``check``).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with run_lock(config.state_path, wait):
        store = Store(config.state_path)
        try:
            report = _run(config, store, now, executor or SerialExecutor(), offline, transport, resolver,
                          dry_run, progress)
            store.commit()
        except BaseException:
            # Never keep half a run: output digests recorded for files whose
            # rename did not happen would hide them from the next run.
            store.rollback()
            raise
        finally:
            store.close()
    return report


def _run(config: Config, store: Store, now: datetime, executor: Executor, offline: bool, transport: Any,
         resolver: Any, dry_run: bool, progress: Progress | None) -> Report:
    started = time.perf_counter()
    options, version = parse_options(config), code_id()
    walked: tuple[list[Found], list[Problem]] | None = None
    key = None
    if store.has_cache(fingerprint(options, version)):
        walked = discover(config.article_folders(), config.root)
        if not dry_run and not config.sources:
            key = uptodate.inputs_key(repr(config), version, *walked)
            replayed = _replay(config, store, key, now)
            if replayed is not None:
                replayed.timings["total"] = time.perf_counter() - started
                return replayed
    elif not dry_run:
        # Nothing cached: every file will be parsed.  The workers start now,
        # in the background, while this process imports what the run needs
        # and walks the folders.
        warm = getattr(executor, "warm", None)
        if warm is not None:
            warm()
    from .run import run

    return run(config, store, now, executor, offline=offline, transport=transport, resolver=resolver,
               dry_run=dry_run, progress=progress, options=options, version=version, walked=walked, key=key,
               started=started)


def _replay(config: Config, store: Store, key: str, now: datetime) -> Report | None:
    last = uptodate.load(store.conn)
    if last is None:
        return None
    if config.websub.hub:
        from .websub import ensure_schema, pending

        ensure_schema(store.conn)
        if pending(store.conn):
            return None  # pings to retry: a full run does that
    return uptodate.replay(last, key, now.timestamp(), config.output_dir)
