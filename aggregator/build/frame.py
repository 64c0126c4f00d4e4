"""A whole run: collect -> rank -> render -> write, and the report.

This is the library's main entry point (:func:`build`); the CLI is a thin
layer over it.  The world is passed in: the clock (``now``), the executor,
the HTTP transport; nothing here reads the environment.

Here: the run's frame (the lock, the state store's transaction) and the
no-change shortcut (:mod:`aggregator.build.shortcut`).  The run itself is
:func:`aggregator.build.stages.run`, imported only when the shortcut does not apply:
a cron run that finds nothing new never imports what parses, ranks and
renders, half of a run's start-up.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aggregator import memory
from aggregator.build import shortcut
from aggregator.build.lock import run_lock
from aggregator.build.progress import Progress
from aggregator.config import Config
from aggregator.errors import StateDamaged
from aggregator.executor import Executor, SerialExecutor
from aggregator.model import Problem
from aggregator.publishing.output import end_writes, journal_path, recover_writes
from aggregator.report import Report
from aggregator.sources.local.discover import Found, discover
from aggregator.sources.local.parsekey import ParseOptions, fingerprint
from aggregator.state.store import Store, discard, set_aside, state_error
from aggregator.version import code_id


def parse_options(config: Config) -> ParseOptions:
    return ParseOptions(parser=config.parse.parser, max_topics=config.feeds.max_topics,
                        max_file_bytes=config.parse.max_file_bytes, placeholders=config.images.placeholders)


def build(config: Config, *, now: datetime | None = None, executor: Executor | None = None,
          offline: bool = False, transport: Any = None, resolver: Any = None, wait: float = 0.0,
          dry_run: bool = False, progress: Progress | None = None, rebuild_state: bool = False) -> Report:
    """Build every feed of ``config``; return the :class:`Report`.

    Raises :class:`~aggregator.errors.LockedError` when another run holds
    the lock (after ``wait`` seconds), or another program the state file's,
    and other :class:`~aggregator.errors.AggregatorError` s when nothing can
    be built (:class:`~aggregator.errors.StateError`: the state file cannot
    be used).  A state file whose content is damaged is set aside and
    rebuilt from the inputs (reported as a failed input), as
    ``rebuild_state`` does on request.  ``dry_run`` parses and ranks
    everything but writes nothing (``check``).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    run = _Run(config, now, executor or SerialExecutor(), offline, transport, resolver, dry_run, progress, wait)
    with run_lock(config.state_path, wait), memory.run_scope():
        if rebuild_state:
            discard(config.state_path)
        try:
            return run.once()
        except StateDamaged as damaged:
            why = str(damaged).partition(": ")[2]
        aside = set_aside(config.state_path)
        report = run.once()
        report.state_rebuilt = str(config.state_path)
        report.problems.insert(0, Problem(str(config.state_path),
                                          f"{why}: set aside as {aside.name} and rebuilt from the inputs", "failed"))
        return report


# What a build's worker processes run (parse_batch, render_job): imported
# once in the process they are forked from.
WORKER_MODULES = ("aggregator.sources.local.collect", "aggregator.publishing.feeds")


@dataclass(frozen=True)
class _Run:
    """One build's inputs, so a run on a damaged state file can start again."""

    config: Config
    now: datetime
    executor: Executor
    offline: bool
    transport: Any
    resolver: Any
    dry_run: bool
    progress: Progress | None
    wait: float

    def once(self) -> Report:
        path = self.config.state_path
        store = Store(path, wait=self.wait)
        try:
            report = self.run(store)
            store.commit()
            end_writes(journal_path(path))
            return report
        except BaseException as exc:
            # Never keep half a run: output digests recorded for files whose
            # rename did not happen would hide them from the next run.
            with contextlib.suppress(sqlite3.Error):
                store.rollback()
            if isinstance(exc, sqlite3.Error):
                error = state_error(path, exc, self.wait)
                if error is not exc:
                    raise error from None
            raise
        finally:
            with contextlib.suppress(sqlite3.Error):
                store.close()

    def run(self, store: Store) -> Report:
        """The no-change shortcut when it applies, else the stages."""
        started = time.perf_counter()
        config = self.config
        options, version = parse_options(config), code_id()
        walked: tuple[list[Found], list[Problem]] | None = None
        key = None
        # A run killed while writing: its temporaries go now, and the full run
        # checks every output file against what the state file recorded.
        interrupted = recover_writes(journal_path(config.state_path), config.output_dir)
        if store.has_cache(fingerprint(options, version)):
            with memory.bulk():  # the walk lives as long as the run
                walked = discover(config.article_folders(), config.root)
            if not self.dry_run and not config.sources and interrupted is None:
                key = shortcut.inputs_key(repr(config), version, *walked)
                replayed = _replay(config, store, key, self.now)
                if replayed is not None:
                    replayed.timings["total"] = time.perf_counter() - started
                    return replayed
        elif not self.dry_run:
            # Nothing cached: every file will be parsed.  The workers start
            # now, in the background, while this process imports what the
            # run needs and walks the folders.
            warm = getattr(self.executor, "warm", None)
            if warm is not None:
                warm()
        from aggregator.build import stages

        context = stages.Context(config, store, self.now, self.executor, options, version, offline=self.offline,
                                 transport=self.transport, resolver=self.resolver, dry_run=self.dry_run,
                                 progress=self.progress, stray=tuple(interrupted or ()))
        return stages.run(context, walked, key, started)


def _replay(config: Config, store: Store, key: str, now: datetime) -> Report | None:
    last = shortcut.load(store.conn)
    if last is None:
        return None
    if config.websub.hub:
        from aggregator.publishing.websub import ensure_schema, pending

        ensure_schema(store.conn)
        if pending(store.conn):
            return None  # pings to retry: a full run does that
    return shortcut.replay(last, key, now.timestamp(), config.output_dir, store.outputs())
