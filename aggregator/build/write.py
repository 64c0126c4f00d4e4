"""The write stage: render and write every feed whose digest changed (or
whose file is not the one recorded), then the listings; remove what is no
longer published.  Every file is staged and renamed into place at the end
(:class:`aggregator.publishing.output.StagedWrites`), with a journal a
killed run is recovered from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aggregator.build.progress import Progress
from aggregator.config import Config
from aggregator.executor import Executor
from aggregator.model import FeedInfo
from aggregator.publishing.feeds import (
    Loader,
    Loaders,
    PlannedFeed,
    RawLoader,
    RenderJob,
    load_job,
    render_job,
    with_newest,
)
from aggregator.publishing.listings import Listing, is_listing, manifest_entry, plan_listings, read_manifest
from aggregator.publishing.output import (
    StagedWrites,
    current_stat,
    fsync_dirs,
    journal_path,
    remove_file,
    remove_stale_temps,
)
from aggregator.state.store import OutputStat, Store

# Fewer feeds to render than this are rendered in this process: a touched
# article changes a handful of feeds, cheaper to render than to start a pool.
RENDER_POOL_MIN = 16


@dataclass
class Written:
    """What the write stage did to the output folder (relative paths)."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def write_feeds(config: Config, store: Store, feeds: list[PlannedFeed], loaders: Loaders, executor: Executor,
                progress: Progress | None, *, failed: bool, stray: Sequence[str] = ()) -> Written:
    """``failed``: an input failed this run, so a feed that vanished keeps
    its files (a failed read or fetch may be why its articles are missing).
    ``stray``: files a killed run renamed into place; those this run does
    not publish go, like a vanished feed's."""
    out = config.output_dir
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    # Nothing recorded (a new, lost or rebuilt state file): the manifest in
    # the folder says what was published, so vanished feeds still go.
    previous = store.published() or read_manifest(out)
    current = {f.info.key: manifest_entry(f.info) for f in feeds}
    kept = {key: entry for key, entry in previous.items() if key not in current} if failed else {}
    listings = plan_listings(config, feeds, list(kept.values()))
    writer = _Writer(out, store.outputs(), StagedWrites(out, journal_path(config.state_path)),
                     progress, len(feeds) + len(listings))
    writer.write(feeds, listings, loaders, executor)
    for path, stat in writer.staged.stats.items():
        store.set_output(path, writer.digest_of[path], stat)
    done = Written(list(writer.staged.written), writer.unchanged)
    if not failed:
        keep = {path for entry in current.values() for path in entry["files"].values()}
        gone = [path for entry in previous.values() for path in entry["files"].values() if path not in keep]
        listed = {listing.path for listing in listings}
        gone += [path for path in writer.records if is_listing(path) and path not in listed]
        gone += [path for path in stray if path not in keep and path not in listed]
        for relative in sorted(set(gone)):
            store.forget_output(relative)
            if remove_file(out, relative):
                done.removed.append(relative)
    fsync_dirs(out, done.removed)
    store.set_published({**current, **kept})
    return done


class _Writer:
    """One run's writing of the output folder: what is up to date, what is
    staged, and the digests to record for what was written."""

    def __init__(self, out: Path, records: dict[str, tuple[str, OutputStat]], staged: StagedWrites,
                 progress: Progress | None, total: int) -> None:
        self.out, self.records, self.staged = out, records, staged
        self.progress, self.total = progress, total
        self.digest_of: dict[str, str] = {}
        self.unchanged: list[str] = []

    def write(self, feeds: list[PlannedFeed], listings: list[Listing], loaders: Loaders, executor: Executor) -> None:
        try:
            # Rendering is pure and CPU-bound: it runs on the executor's workers.
            for rendered in executor.map(render_job, self.jobs(feeds, loaders.load_raw),
                                         serial_below=RENDER_POOL_MIN):
                for path, data in rendered:
                    self.put(path, data)
                self.tick()
            self.listings(listings, {f.info.key: f for f in feeds}, loaders.load)
            self.staged.commit()
        except BaseException:
            self.staged.abandon()  # no temporary files left behind
            raise

    def up_to_date(self, relative: str, digest: str) -> bool:
        # The file must still be the one written for this digest: a run
        # killed after its renames but before its commit, or a hand edit,
        # leaves a file that the stored digest does not describe.
        record = self.records.get(relative)
        return record is not None and record[0] == digest and current_stat(self.out, relative) == record[1]

    def put(self, relative: str, data: bytes) -> None:
        if not self.staged.stage(relative, data):
            self.unchanged.append(relative)

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
            self.unchanged.extend(path for fmt, path in feed.info.files if fmt not in stale)
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
                self.unchanged.append(listing.path)
            else:
                for key in listing.shows:
                    if key not in newest:
                        newest[key] = with_newest(feeds[key].info, feeds[key], load)
                self.put(listing.path, listing.render(newest))
                self.digest_of[listing.path] = listing.digest
            self.tick()

