"""A run when the no-change shortcut does not apply, as a sequence of
stages: collect the local files, fetch the remote sources, rank, plan the
feeds, render and write them, announce them to the WebSub hub.

Each stage takes the run's :class:`Context` (and what earlier stages
returned) and returns a value; :func:`run` builds the report from those
values.  :func:`aggregator.build.frame.build` calls :func:`run` holding the
lock and the state store's transaction; besides the frame, only
:func:`run` commits, once, before the announce (so the feeds to ping
survive a run killed while pinging).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aggregator import memory
from aggregator.build import shortcut
from aggregator.build.progress import Progress
from aggregator.build.write import Written, write_feeds
from aggregator.config import Config
from aggregator.executor import Executor
from aggregator.model import Article, Problem, summarize
from aggregator.publishing.feeds import Loaders, PlannedFeed, plan_feeds
from aggregator.publishing.output import start_flush
from aggregator.ranking.index import RankIndex
from aggregator.ranking.rows import Rules
from aggregator.ranking.rules import Ranking
from aggregator.report import Report
from aggregator.sources.local.collect import CollectStats, collect_local
from aggregator.sources.local.discover import Found, find
from aggregator.sources.local.parsekey import ParseOptions
from aggregator.state import codec
from aggregator.state.store import Store

# Files parsed from which the state file's new pages are flushed to disk in
# the background while the run goes on (output.start_flush).
EARLY_FLUSH_MIN = 5000


@dataclass(frozen=True)
class Context:
    """What every stage of one run may use: the settings, the state, the
    clock, the workers and the outside world (the HTTP transport and
    resolver: ``None`` for the real ones)."""

    config: Config
    store: Store
    now: datetime
    executor: Executor
    options: ParseOptions
    version: str
    offline: bool = False
    transport: Any = None
    resolver: Any = None
    dry_run: bool = False
    progress: Progress | None = None
    stray: tuple[str, ...] = ()  # files a killed run may have renamed into place (recover_writes)


@dataclass
class Collected:
    """The local files as collected: counts, problems, the files found."""

    files: int
    parsed: int
    problems: list[Problem]
    found: list[Found]
    walk_problems: list[Problem]


@dataclass
class Fetched:
    """This run's remote items, by (source, id), and what the sources reported."""

    articles: dict[tuple[str, str], Article] = field(default_factory=dict)
    sources: list[Any] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Ranked:
    ranking: Ranking
    future: list[Problem]  # articles skipped for being dated in the future
    due: float  # when the earliest of them becomes eligible (POSIX time)
    filtered: int
    merged: int  # copies merged into another item


def run(ctx: Context, walked: tuple[list[Found], list[Problem]] | None, key: str | None,
        started: float) -> Report:
    """``walked``: the article files and the walk's problems, when the
    caller listed them (``None``: nothing is cached, every file is parsed
    as the walk finds it); ``key``: their no-change key, when computed."""
    config, report = ctx.config, Report(dry_run=ctx.dry_run)
    index = RankIndex(ctx.store.conn, Rules(config.ranking, config.filters, ctx.now, config.custom_feeds),
                      ctx.version)
    local = collect(ctx, index, walked)
    del walked  # the store has what ranking needs; keep memory flat for rendering
    report.files, report.parsed, report.articles = local.files, local.parsed, index.local_count()
    report.problems.extend(local.problems + local.walk_problems)
    if key is None and not ctx.dry_run and not config.sources:
        key = shortcut.inputs_key(repr(config), ctx.version, sorted(local.found), local.walk_problems)
    # Many files parsed: the state file has hundreds of MB to write to disk.
    flushing = start_flush(config.state_path.parent) if local.parsed >= EARLY_FLUSH_MIN and not ctx.dry_run else None
    report.timings["collect"] = time.perf_counter() - started
    remote = fetch(ctx, index)
    report.sources.extend(remote.sources)
    report.problems.extend(remote.problems)
    report.articles += len(remote.articles)
    report.timings["fetch"] = time.perf_counter() - started - report.timings["collect"]
    mark = time.perf_counter()
    ranked = rank(ctx, index)
    report.problems.extend(ranked.future)
    report.eligible, report.filtered = ranked.ranking.eligible, ranked.filtered
    report.merged = ranked.merged + sum(getattr(s, "merged", 0) for s in remote.sources)
    report.problems.sort(key=lambda p: (p.where, p.line or 0, p.kind, p.reason))
    feeds = plan_feeds(config, ranked.ranking)
    report.feeds = sum(1 for f in feeds if f.info.kind != "archive")
    report.archives = len(feeds) - report.feeds
    report.timings["rank"] = time.perf_counter() - mark
    if not ctx.dry_run:
        mark = time.perf_counter()
        written = write_feeds(ctx.config, ctx.store, feeds, _loaders(ctx.store, remote), ctx.executor,
                              ctx.progress, failed=bool(report.failed), stray=ctx.stray)
        report.written.extend(written.written)
        report.unchanged.extend(written.unchanged)
        report.removed.extend(written.removed)
        report.timings["write"] = time.perf_counter() - mark
        announce(ctx, feeds, written, report)  # after the write: a failing hub never blocks removals
    if key is not None:
        if report.failed:
            shortcut.forget(ctx.store.conn)
        else:
            shortcut.save(ctx.store.conn, key, ctx.now.timestamp(), ranked.due, report)
    if flushing is not None:
        flushing.join()  # long done by now, normally
    report.timings["total"] = time.perf_counter() - started
    return report


def collect(ctx: Context, index: RankIndex, walked: tuple[list[Found], list[Problem]] | None) -> Collected:
    """Bring the parse cache and the ranking's local copies up to date."""
    count: int | None = None  # files to parse, when known in advance
    files: Iterable[Found]
    if walked is not None:
        found, walk_problems = walked
        files, count = found, len(found)
    else:
        # Nothing cached: every file is parsed, starting with the first
        # folder listed while the walk goes on (no earlier run to replay).
        found, walk_problems = [], []
        files = _recorded(find(ctx.config.article_folders(), ctx.config.root, walk_problems), found)
    progress = ctx.progress
    tick = (lambda n: progress("parse", n, count)) if progress else None
    stats = CollectStats()
    problems = [problem for _path, file_problems in collect_local(
        files, ctx.store, index, ctx.executor, ctx.options, ctx.version, stats=stats, progress=tick)
        for problem in file_problems]
    return Collected(stats.files, stats.parsed, problems, found, walk_problems)


def _recorded(files: Iterator[Found], into: list[Found]) -> Iterator[Found]:
    for found in files:
        into.append(found)
        yield found


def fetch(ctx: Context, index: RankIndex) -> Fetched:
    """Fetch the remote sources (those due) and give their items to the ranking."""
    # remote.state, not remote: a build without sources never imports httpx.
    from aggregator.sources.remote.state import ensure_schema, prune_sources

    config = ctx.config
    ensure_schema(ctx.store.conn)
    prune_sources(ctx.store.conn, [source.url for source in config.sources])
    if not config.sources:
        index.set_remote(())
        return Fetched()
    from aggregator.sources.remote import collect_sources

    # What the sources store (retry times, first-seen dates) is history: it
    # is never dated after the real clock, so one run with a --now far ahead
    # cannot defer every source, or date undated items, into that future.
    result = collect_sources(config.sources, config.fetch, ctx.store.conn, min(ctx.now, datetime.now(UTC)),
                             offline=ctx.offline, transport=ctx.transport, resolver=ctx.resolver)
    index.set_remote([summarize(article) for article in result.articles])
    return Fetched({(a.origin, a.id): a for a in result.articles}, list(result.reports), list(result.problems))


def rank(ctx: Context, index: RankIndex) -> Ranked:
    """Re-rank what changed; the top items of every feed."""
    index.update()
    future, due = index.future()
    with memory.bulk():  # every feed's picks, kept for the run
        ranking = index.result(ctx.config.feeds.max_items, archives=ctx.config.feeds.archives)
    return Ranked(ranking, future, due, index.filtered(), index.merged())


def _loaders(store: Store, remote: Fetched) -> Loaders:
    """How the writers load a published item in full: a remote one from
    this run's fetch, a local one from the parse cache."""
    def load(origin: str, article_id: str) -> Article | None:
        return remote.articles.get((origin, article_id)) or store.load_article(origin, article_id)

    def load_raw(origin: str, article_id: str) -> bytes | None:
        article = remote.articles.get((origin, article_id))
        if article is not None:
            return codec.dumps_article(article)
        return store.result_blob(origin)

    return Loaders(load, load_raw)


def announce(ctx: Context, feeds: list[PlannedFeed], written: Written, report: Report) -> None:
    """Tell the WebSub hub which feeds changed (pings left pending by
    earlier runs included)."""
    if not ctx.config.websub.hub:
        return
    from aggregator.publishing import websub

    websub.queue(ctx.store.conn, feeds, written.written)
    ctx.store.commit()  # the feeds to ping survive a run killed while pinging
    websub.announce(ctx.config, ctx.store.conn, report, offline=ctx.offline, transport=ctx.transport)
