"""The run itself, when the no-change shortcut does not apply: parse the
files that changed, fetch the remote sources, rank, render and write the
feeds that changed, and report.  :func:`aggregator.pipeline.build` calls
:func:`run` holding the lock and the state store's transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import uptodate
from .collect import CollectStats, collect_local
from .config import Config
from .discover import Found, find
from .executor import Executor
from .listings import Listing, is_listing, manifest_entry, plan_listings, read_manifest
from .model import Article, FeedInfo, Problem, summarize
from .output import StagedWrites, current_stat, fsync_dirs, journal_path, remove_file, remove_stale_temps, start_flush
from .parsekey import ParseOptions
from .progress import Progress
from .publish import (
    Loader,
    PlannedFeed,
    RawLoader,
    RenderJob,
    load_job,
    plan_feeds,
    render_job,
    with_newest,
)
from .rankstore import RankIndex, Rules
from .report import Report
from .state import codec
from .store import OutputStat, Store

# Fewer feeds to render than this are rendered in this process: a touched
# article changes a handful of feeds, cheaper to render than to start a pool.
RENDER_POOL_MIN = 16
# Files parsed from which the state file's new pages are flushed to disk in
# the background while the run goes on (output.start_flush).
EARLY_FLUSH_MIN = 5000


def run(config: Config, store: Store, now: datetime, executor: Executor, *, offline: bool, transport: Any,
        resolver: Any, dry_run: bool, progress: Progress | None, options: ParseOptions, version: str,
        walked: tuple[list[Found], list[Problem]] | None, key: str | None, started: float) -> Report:
    """``walked``: the article files and the walk's problems, when the
    caller listed them (``None``: nothing is cached, every file is parsed
    as the walk finds it); ``key``: their no-change key, when computed."""
    report = Report(dry_run=dry_run)
    index = RankIndex(store.conn, Rules(config.ranking, config.filters, now, config.custom_feeds), version)
    stats = CollectStats()
    count: int | None = None  # files to parse, when known in advance
    files: Iterable[Found]
    if walked is not None:
        found, problems = walked
        files, count = found, len(found)
    else:
        # Nothing cached: every file is parsed, starting with the first
        # folder listed while the walk goes on (no earlier run to replay).
        found, problems = [], []
        files = _recorded(find(config.article_folders(), config.root, problems), found)
    tick = (lambda n: progress("parse", n, count)) if progress else None
    for _path, file_problems in collect_local(
            files, store, index, executor, options, version,
            stats=stats, progress=tick):
        report.problems.extend(file_problems)
    report.problems.extend(problems)
    if key is None and not dry_run and not config.sources:
        found.sort()
        key = uptodate.inputs_key(repr(config), version, found, problems)
    del files, found, walked  # the store has what ranking needs; keep memory flat for rendering
    report.files, report.parsed = stats.files, stats.parsed
    # Many files parsed: the state file has hundreds of MB to write to disk.
    flushing = start_flush(config.state_path.parent) if stats.parsed >= EARLY_FLUSH_MIN and not dry_run else None
    report.articles = index.local_count()
    report.timings["collect"] = time.perf_counter() - started
    remote = _collect_remote(config, store, now, offline, transport, resolver, index, report)
    report.timings["fetch"] = time.perf_counter() - started - report.timings["collect"]
    mark = time.perf_counter()
    index.update()
    future, due = index.future()
    report.problems.extend(future)
    ranking = index.result(config.feeds.max_items, archives=config.feeds.archives)
    report.eligible, report.filtered = ranking.eligible, index.filtered()
    report.problems.sort(key=lambda p: (p.where, p.line or 0, p.kind, p.reason))

    def load(origin: str, article_id: str) -> Article | None:
        return remote.get((origin, article_id)) or store.load_article(origin, article_id)

    def load_raw(origin: str, article_id: str) -> bytes | None:
        article = remote.get((origin, article_id))
        if article is not None:
            return codec.dumps_article(article)
        return store.result_blob(origin)

    feeds = plan_feeds(config, ranking)
    report.feeds = sum(1 for f in feeds if f.info.kind != "archive")
    report.archives = len(feeds) - report.feeds
    report.timings["rank"] = time.perf_counter() - mark
    if not dry_run:
        mark = time.perf_counter()
        _write(config, store, feeds, load, load_raw, report, executor, progress)
        report.timings["write"] = time.perf_counter() - mark
        if config.websub.hub:  # after _write: a failing hub never blocks removals
            from .websub import announce
            announce(config, store, feeds, report, offline=offline, transport=transport)
    if key is not None:
        if report.failed:
            uptodate.forget(store.conn)
        else:
            uptodate.save(store.conn, key, now.timestamp(), due, report)
    if flushing is not None:
        flushing.join()  # long done by now, normally
    report.timings["total"] = time.perf_counter() - started
    return report


def _recorded(files: Iterator[Found], into: list[Found]) -> Iterator[Found]:
    for found in files:
        into.append(found)
        yield found


def _collect_remote(config: Config, store: Store, now: datetime, offline: bool, transport: Any, resolver: Any,
                    index: RankIndex, report: Report) -> dict[tuple[str, str], Article]:
    # remote.state, not remote: a build without sources never imports httpx.
    from .remote.state import ensure_schema, prune_sources

    ensure_schema(store.conn)
    prune_sources(store.conn, [source.url for source in config.sources])
    if not config.sources:
        index.set_remote(())
        return {}
    from .remote import collect_sources

    # What the sources store (retry times, first-seen dates) is history: it
    # is never dated after the real clock, so one run with a --now far ahead
    # cannot defer every source, or date undated items, into that future.
    result = collect_sources(config.sources, config.fetch, store.conn, min(now, datetime.now(UTC)), offline=offline,
                             transport=transport, resolver=resolver)
    report.sources.extend(result.reports)
    report.problems.extend(result.problems)
    found: dict[tuple[str, str], Article] = {}
    for article in result.articles:
        report.articles += 1
        found[(article.origin, article.id)] = article
    index.set_remote([summarize(article) for article in result.articles])
    return found


def _write(config: Config, store: Store, feeds: list[PlannedFeed], load: Loader, load_raw: RawLoader,
           report: Report, executor: Executor, progress: Progress | None) -> None:
    """Render and write every feed whose digest changed (or whose file is
    not the one recorded), then the listings; remove what is no longer
    published."""
    out = config.output_dir
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    # Nothing recorded (a new, lost or rebuilt state file): the manifest in
    # the folder says what was published, so vanished feeds still go.
    previous = store.published() or read_manifest(out)
    current = {f.info.key: manifest_entry(f.info) for f in feeds}
    # A vanished feed loses its files (and manifest entry) only after a
    # clean run: a failed read or fetch may be why its articles are missing.
    kept = {key: entry for key, entry in previous.items() if key not in current} if report.failed else {}
    listings = plan_listings(config, feeds, list(kept.values()))
    writer = _Writer(out, store.outputs(), StagedWrites(out, journal_path(config.state_path)), report,
                     progress, len(feeds) + len(listings))
    try:
        # Rendering is pure and CPU-bound: it runs on the executor's workers.
        for rendered in executor.map(render_job, writer.jobs(feeds, load_raw), serial_below=RENDER_POOL_MIN):
            for path, data in rendered:
                writer.put(path, data)
            writer.tick()
        writer.listings(listings, {f.info.key: f for f in feeds}, load)
        writer.staged.commit()
    except BaseException:
        writer.staged.abandon()  # no temporary files left behind
        raise
    for path, stat in writer.staged.stats.items():
        store.set_output(path, writer.digest_of[path], stat)
    report.written.extend(writer.staged.written)
    if not report.failed:
        keep = {path for entry in current.values() for path in entry["files"].values()}
        gone = [path for entry in previous.values() for path in entry["files"].values() if path not in keep]
        listed = {listing.path for listing in listings}
        gone += [path for path in writer.records if is_listing(path) and path not in listed]
        for relative in sorted(set(gone)):
            store.forget_output(relative)
            if remove_file(out, relative):
                report.removed.append(relative)
    fsync_dirs(out, report.removed)
    store.set_published({**current, **kept})


class _Writer:
    """One run's writing of the output folder: what is up to date, what is
    staged, and the digests to record for what was written."""

    def __init__(self, out: Path, records: dict[str, tuple[str, OutputStat]], staged: StagedWrites,
                 report: Report, progress: Progress | None, total: int) -> None:
        self.out, self.records, self.staged, self.report = out, records, staged, report
        self.progress, self.total = progress, total
        self.digest_of: dict[str, str] = {}

    def up_to_date(self, relative: str, digest: str) -> bool:
        # The file must still be the one written for this digest: a run
        # killed after its renames but before its commit, or a hand edit,
        # leaves a file that the stored digest does not describe.
        record = self.records.get(relative)
        return record is not None and record[0] == digest and current_stat(self.out, relative) == record[1]

    def put(self, relative: str, data: bytes) -> None:
        if not self.staged.stage(relative, data):
            self.report.unchanged.append(relative)

    def tick(self, count: int = 1) -> None:
        if self.progress:
            self.progress("write", count, self.total)

    def jobs(self, feeds: list[PlannedFeed], load_raw: RawLoader) -> Iterator[RenderJob]:
        """A render job per feed with a stale file.  Lazy: each feed's
        articles are loaded when the executor asks for the next job, while
        its workers render the previous ones, so only a window of feeds is
        in memory at a time."""
        for feed in feeds:
            stale = [fmt for fmt, path in feed.info.files if not self.up_to_date(path, feed.digest)]
            self.report.unchanged.extend(path for fmt, path in feed.info.files if fmt not in stale)
            if stale:
                job = load_job(feed, load_raw, stale)
                self.digest_of.update((path, feed.digest) for _fmt, path in job.files)
                yield job
            else:
                self.tick()

    def listings(self, listings: list[Listing], feeds: dict[str, PlannedFeed], load: Loader) -> None:
        """Render the listings whose digest changed, loading the newest
        items of the feeds they show (each feed's once)."""
        newest: dict[str, FeedInfo] = {}
        for listing in listings:
            if self.up_to_date(listing.path, listing.digest):
                self.report.unchanged.append(listing.path)
            else:
                for key in listing.shows:
                    if key not in newest:
                        newest[key] = with_newest(feeds[key].info, feeds[key], load)
                self.put(listing.path, listing.render(newest))
                self.digest_of[listing.path] = listing.digest
            self.tick()
