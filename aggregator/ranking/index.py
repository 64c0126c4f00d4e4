"""The ranking kept in the state store, so a run re-ranks only what changed
(:class:`RankIndex`: an in-memory ranker would be fed every article each run):

- ``copies``: one row per copy of an article (a file's article, a remote
  item): its URL, where it comes from and its summary;
- ``urls``: per URL what :func:`aggregate` made of its copies (the winning
  copy, its merged topics, its topic spellings...) and its rank key;
- ``members`` and ``custom_members``: (feed, rank key, URL) per live URL and
  feed, so a feed's top k is the start of an index range;
- ``days`` and ``spellings``: per topic the counts behind ``per_day`` and
  its display name, kept up to date by adding and subtracting;
- ``topic_results``: per topic what :meth:`RankIndex.result` last read for
  it, dropped when any of the topic's rows changes.

A run records the URLs its changes touch (files parsed or gone, remote
items that changed, copies whose eligibility the clock changed) and
re-aggregates those only.  New ranking settings, filters, custom feeds or
program version rebuild it, streaming over ``copies`` in URL order.  A cold
build (every file parsed) takes a third way: the parse workers compute each
article's rows as if its URL had no other copy (:func:`solo_rows`), the
build writes them with the indexes dropped and re-aggregates the URLs seen
twice.  The outcome equals the reference ranker's of the tests whichever
way it was reached; the rows are pure functions (:mod:`~aggregator.ranking.rows`).
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial

from aggregator.model import Problem, Summary
from aggregator.ranking import clusters, stories
from aggregator.ranking.changes import Changes
from aggregator.ranking.clusters import Clusters
from aggregator.ranking.picks import ALL, CUSTOM, TOPIC, Reader, from_stored
from aggregator.ranking.picks import stored as to_stored
from aggregator.ranking.rows import (
    Copy,
    LocalFile,
    Rows,
    Rules,
    UrlState,
    aggregate,
    as_bytes,
    as_text,
    copy_of,
    decode,
    encode,
    solo_rows,
)
from aggregator.ranking.rules import (
    Member,
    Pick,
    Ranking,
    day_window,
    member_of,
)
from aggregator.state import codec
from aggregator.state.store import Schema, ensure_schema
from aggregator.topics import display_name

FLUSH_EVERY = 4096  # URLs between two batches of SQL writes
_SEEN_BITS = 1 << 24  # a cold build's bitmap of the URLs seen (2 MiB)

# Plain rowid tables whose indexes a cold build drops and creates again
# afterwards: inserting 100,000 rows in URL or topic order into an index
# that does not fit SQLite's page cache costs seconds; sorting them once
# (CREATE INDEX) costs a fraction of that.
_TABLES = (
    """CREATE TABLE IF NOT EXISTS copies (
        cid INTEGER PRIMARY KEY, id BLOB NOT NULL, remote INTEGER NOT NULL, origin BLOB NOT NULL,
        pos INTEGER NOT NULL, published REAL NOT NULL, summary BLOB NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS urls (
        id BLOB NOT NULL, live INTEGER NOT NULL, r0 REAL, r1 REAL, state BLOB NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS members (topic BLOB, r0 REAL, r1 REAL, id BLOB)",
    "CREATE TABLE IF NOT EXISTS custom_members (feed INTEGER, r0 REAL, r1 REAL, id BLOB)",
    # Small (per topic and day or spelling) and updated by upsert: keyed.
    """CREATE TABLE IF NOT EXISTS days (
        topic BLOB, day INTEGER, n INTEGER NOT NULL, PRIMARY KEY (topic, day)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS spellings (
        topic BLOB, name BLOB, n INTEGER NOT NULL, PRIMARY KEY (topic, name)) WITHOUT ROWID""",
    # Per topic what :meth:`RankIndex.result` read for it last (its picks,
    # display name and per-day counts), dropped whenever a row of the topic
    # changes: a run that changed one article reads two topics, not all.
    """CREATE TABLE IF NOT EXISTS topic_results (
        topic BLOB PRIMARY KEY, max_items INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID""",
)
_INSERT_COPY = "INSERT INTO copies (id, remote, origin, pos, published, summary) VALUES (?, ?, ?, ?, ?, ?)"
_COPY_INDEXES = {
    "copies_id": "CREATE UNIQUE INDEX IF NOT EXISTS copies_id ON copies (id, remote, origin, pos)",
    "copies_origin": "CREATE INDEX IF NOT EXISTS copies_origin ON copies (origin)",
    "copies_published": "CREATE INDEX IF NOT EXISTS copies_published ON copies (published)",
    # The remote copies alone (none, without sources): a run reads them all,
    # and a scan of ``copies`` for them cost a one-file rebuild 50 ms at 100k.
    "copies_remote": "CREATE INDEX IF NOT EXISTS copies_remote ON copies (origin, pos) WHERE remote = 1",
}
_DERIVED_INDEXES = {
    "urls_id": "CREATE UNIQUE INDEX IF NOT EXISTS urls_id ON urls (id)",
    "urls_rank": "CREATE INDEX IF NOT EXISTS urls_rank ON urls (r0, r1, id) WHERE live = 1",
    "members_key": "CREATE UNIQUE INDEX IF NOT EXISTS members_key ON members (topic, r0, r1, id)",
    "custom_key": "CREATE UNIQUE INDEX IF NOT EXISTS custom_key ON custom_members (feed, r0, r1, id)",
    # Story clustering finds the live URLs published near a changed one (r1 is -published).
    "urls_published": "CREATE INDEX IF NOT EXISTS urls_published ON urls (r1) WHERE live = 1",
}
DERIVED = ("urls", "members", "custom_members", "days", "spellings", "topic_results", "clusters")
TABLES = ("copies", *DERIVED)
# 2: JSON rows (state/codec.py), not pickles; 3: story clusters.
SCHEMA = Schema("ranking", 3, TABLES, (*_TABLES, *clusters.TABLES, *_COPY_INDEXES.values(),
                                       *_DERIVED_INDEXES.values()))


def _shown(state: UrlState | None) -> Member | None:
    """What the other members of its story show of a URL."""
    return None if state is None or state.item is None else member_of(state.item)


class RankIndex:
    """The ranking in the state store (see module docstring).

    Feed it changes (:meth:`start_local` then :meth:`apply` and
    :meth:`drop_origins`; :meth:`set_remote`), then :meth:`update` and
    read :meth:`result`.
    Every change happens in the connection's open transaction: a failed run
    rolls the index back with the rest of the store.
    """

    def __init__(self, conn: sqlite3.Connection, rules: Rules, version: str):
        self.conn = conn
        self.rules = rules
        ensure_schema(conn, SCHEMA)
        self._key = f"{rules.key()}:{version}"
        # URLs whose copies changed this run; None: every URL (a rebuild).
        self._dirty: set[bytes] | None = None if self._meta("rank_key") != self._key else set()
        self._cold: Changes | None = None  # a cold build's solo rows, not yet written
        found = rules.ranking.clusters
        self.clusters = Clusters(conn, stories.Settings(found.threshold, found.window) if found.enabled else None)
        self._changed: set[bytes] = set()  # URLs whose state this run changed (re-clustered)
        self._restyled: set[bytes] = set()  # those of them whose Member record changed too
        self._seen = bytearray()

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _drop(self, indexes: dict[str, str]) -> None:
        for name in indexes:
            self.conn.execute(f"DROP INDEX IF EXISTS {name}")

    def _create(self, indexes: dict[str, str]) -> None:
        for statement in indexes.values():
            self.conn.execute(statement)

    def _clear_derived(self) -> None:
        for table in DERIVED:
            self.conn.execute(f"DELETE FROM {table}")  # noqa: S608 - a fixed table name
        self.conn.execute("DELETE FROM meta WHERE key='rank_filtered'")

    # -- changes -----------------------------------------------------------
    def start_local(self, complete: bool) -> Callable[[Summary], Rows] | None:
        """Local changes follow (:meth:`apply`).  ``complete``: every local
        file is about to be parsed and applied (a cold parse cache), so the
        local copies start over.  Returns what the parse workers should
        compute per copy: for a complete set, the rows of its URL as if it
        had no other copy (:func:`~aggregator.ranking.rows.solo_rows`), so
        this process only writes them (work done there runs on every core;
        work done here competes with the workers)."""
        if not complete:
            return None
        self._drop(_COPY_INDEXES)
        self._drop(_DERIVED_INDEXES)
        self.conn.execute("DELETE FROM copies WHERE remote = 0")
        self._clear_derived()
        # Remote copies kept from the last run are aggregated again at the end.
        self._dirty = {row[0] for row in self.conn.execute("SELECT id FROM copies")}
        self._cold = Changes()
        self._seen = bytearray((_SEEN_BITS + 7) // 8)
        return partial(solo_rows, rules=self.rules)

    def apply(self, files: Sequence[LocalFile]) -> None:
        """The articles of each file are now its copies, in file order."""
        if self._cold is None:
            for file in files:
                self._set_copies(file.path, file.copies)
            return
        # A complete set: a URL's second copy (or a hash collision: harmless)
        # is aggregated at :meth:`update`; the bitmap keeps memory flat.
        changes, seen, dirty = self._cold, self._seen, self._dirty
        assert dirty is not None
        copies, first = [], []
        for file in files:
            key = as_bytes(file.path)
            for pos, (copy, rows) in enumerate(zip(file.copies, file.rows, strict=True)):
                ident = rows.url[0]
                copies.append((ident, 0, key, pos, copy.published, copy.summary))
                h = hash(ident) % _SEEN_BITS
                if seen[h >> 3] & (1 << (h & 7)):
                    dirty.add(ident)
                else:
                    seen[h >> 3] |= 1 << (h & 7)
                    first.append(rows)
        changes.add_all(first)
        self.conn.executemany(_INSERT_COPY, copies)
        if changes.count >= FLUSH_EVERY:
            changes.flush(self.conn)

    def _set_copies(self, origin: str, copies: Sequence[Copy], *, remote: bool = False) -> None:
        assert self._cold is None, "a complete set of files is applied as a whole"
        key = as_bytes(origin)
        if self._dirty is not None:
            self._dirty.update(row[0] for row in self.conn.execute(
                "SELECT id FROM copies WHERE origin=?", (key,)))
        self.conn.execute("DELETE FROM copies WHERE origin=?", (key,))
        rows = [(as_bytes(article_id), int(remote), key, pos, published, blob)
                for pos, (article_id, published, blob) in enumerate(copies)]
        self.conn.executemany(_INSERT_COPY, rows)
        if self._dirty is not None:
            self._dirty.update(row[0] for row in rows)

    def drop_origins(self, origins: Iterable[str]) -> None:
        """The files ``origins`` are gone (or were parsed with other settings)."""
        for origin in origins:
            self._set_copies(origin, ())

    def set_remote(self, items: Sequence[Summary]) -> None:
        """This run's remote items (every source, in order); copies that did
        not change are left alone."""
        self._create(_COPY_INDEXES)
        wanted: dict[tuple[bytes, int], Summary] = {}
        positions: Counter[str] = Counter()
        for item in items:
            wanted[(as_bytes(item.origin), positions[item.origin])] = item
            positions[item.origin] += 1
        stored = self.conn.execute("SELECT cid, origin, pos, id, summary FROM copies WHERE remote = 1").fetchall()
        for cid, origin, pos, ident, blob in stored:
            same = wanted.get((origin, pos))
            if same is not None and codec.loads_summary(blob) == same:
                del wanted[(origin, pos)]
                continue
            if self._dirty is not None:
                self._dirty.add(ident)
            self.conn.execute("DELETE FROM copies WHERE cid=?", (cid,))
        rows = [(as_bytes(article_id), 1, origin, pos, published, blob)
                for (origin, pos), s in wanted.items() for article_id, published, blob in (copy_of(s),)]
        self.conn.executemany(_INSERT_COPY, rows)
        if self._dirty is not None:
            self._dirty.update(row[0] for row in rows)

    def merged(self) -> int:
        """Copies merged into another (same id): ``urls`` has a row per id
        of ``copies`` (4 ms at 100k; ``COUNT(DISTINCT id)`` took 58)."""
        query = "SELECT (SELECT COUNT(*) FROM copies) - (SELECT COUNT(*) FROM urls)"
        return int(self.conn.execute(query).fetchone()[0])

    def local_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM copies WHERE remote = 0").fetchone()[0])

    # -- aggregation -----------------------------------------------------------
    def update(self) -> None:
        """Re-aggregate every URL this run's changes (or the clock) touched,
        then re-cluster around them."""
        latest = self.rules.latest_allowed
        self._create(_COPY_INDEXES)
        everything = self._cold is not None or self._dirty is None
        if self._cold is not None:
            # The solo rows were made with this clock: only the further
            # copies of URLs (and remote copies) are left to aggregate.
            self._cold.flush(self.conn)
            self._cold, self._seen = None, bytearray()
            self._create(_DERIVED_INDEXES)
            assert self._dirty is not None
            self._update(sorted(self._dirty))
        elif self._dirty is None:
            self._rebuild_all()
        else:
            before = self._meta("rank_latest")
            if before is not None and float(before) != latest:
                # Copies dated between the two clocks became eligible, or
                # stopped being (a run with an earlier --now).
                low, high = sorted((float(before), latest))
                self._dirty.update(row[0] for row in self.conn.execute(
                    "SELECT id FROM copies WHERE published > ? AND published <= ?", (low, high)))
            self._update(sorted(self._dirty))
        if everything:
            self.clusters.rebuild()
        else:
            self._stale_topics(self.clusters.update(self._changed, self._restyled))
        self._dirty, self._changed, self._restyled = set(), set(), set()
        self._set_meta("rank_latest", repr(latest))
        self._set_meta("rank_key", self._key)

    def _stale_topics(self, ids: Iterable[bytes]) -> None:
        """Drop the stored results of the topics of ``ids`` (their stories changed)."""
        topics: set[bytes] = set()
        for ident in sorted(ids):
            row = self.conn.execute("SELECT state FROM urls WHERE id=?", (ident,)).fetchone()
            if row is not None:
                topics.update(as_bytes(t) for t in codec.loads(row[0])[2])
        self.conn.executemany("DELETE FROM topic_results WHERE topic=?", ((t,) for t in sorted(topics)))

    def _state(self, copies: Iterable[bytes]) -> UrlState:
        return aggregate([codec.loads_summary(blob) for blob in copies], self.rules)

    def _rebuild_all(self) -> None:
        self._drop(_DERIVED_INDEXES)
        self._clear_derived()
        changes = Changes()
        # A cursor of its own: ``changes.flush`` writes through the connection meanwhile.
        rows = self.conn.cursor().execute("SELECT id, summary FROM copies ORDER BY id, remote, origin, pos")
        group: list[bytes] = []
        current = b""
        for ident, blob in rows:
            if ident != current:
                if group:
                    changes.add(encode(self._state(group), as_text(current), self.rules))
                    if changes.count >= FLUSH_EVERY:
                        changes.flush(self.conn, counts=False)
                group, current = [], ident
            group.append(blob)
        if group:
            changes.add(encode(self._state(group), as_text(current), self.rules))
        changes.flush(self.conn)
        self._create(_DERIVED_INDEXES)

    def _update(self, ids: Sequence[bytes]) -> None:
        changes = Changes()
        for ident in ids:
            row = self.conn.execute("SELECT * FROM urls WHERE id=?", (ident,)).fetchone()
            old = decode(row) if row else None
            copies = [blob for (blob,) in self.conn.execute(
                "SELECT summary FROM copies WHERE id=? ORDER BY remote, origin, pos", (ident,))]
            new = self._state(copies) if copies else None
            if old != new:
                self._changed.add(ident)
                if _shown(old) != _shown(new):
                    self._restyled.add(ident)
                article_id = as_text(ident)
                changes.replace(ident, encode(old, article_id, self.rules) if old else None,
                                encode(new, article_id, self.rules) if new else None)
            if changes.count >= FLUSH_EVERY:
                changes.flush(self.conn, counts=False)
        changes.flush(self.conn)

    # -- reading ------------------------------------------------------------
    def future(self) -> tuple[list[Problem], float]:
        """The copies skipped for a date in the future, and when the first
        of them becomes eligible (``inf`` when none)."""
        problems: list[Problem] = []
        due = math.inf
        rows = self.conn.execute("SELECT summary FROM copies WHERE published > ?",
                                 (self.rules.latest_allowed,))
        for (blob,) in rows:
            item = codec.loads_summary(blob)
            if item.removed:
                continue
            due = min(due, item.published - self.rules.filters.max_future)
            when = datetime.fromtimestamp(item.published, UTC).isoformat()
            problems.append(Problem(item.origin, f"publishedDateTime {when} is in the future"))
        return problems, due

    def filtered(self) -> int:
        return int(self._meta("rank_filtered") or 0)

    def result(self, max_items: int, *, archives: bool = False) -> Ranking:
        """The same :class:`Ranking` as the reference ranker gives for the same
        copies, settings and clock; only the picks are read."""
        conn, reader, per_provider = self.conn, Reader(self.conn, self.clusters), self.rules.ranking.max_per_provider
        topics: dict[str, str] = {}
        feeds: dict[str, tuple[Pick, ...]] = {}
        per_day: dict[str, tuple[int, ...]] = {}
        months: dict[str, dict[str, tuple[Pick, ...]]] = {}
        shared: dict[bytes, Pick] = {}  # archives: one Pick per URL, however many topics list it
        stored = dict(conn.execute("SELECT topic, data FROM topic_results WHERE max_items=?", (max_items,)))
        for topic_b, newest in conn.execute("SELECT topic, MAX(day) FROM days GROUP BY topic").fetchall():
            key = as_text(topic_b)
            data = stored.get(topic_b)
            if data is not None:
                picks, topics[key], days = codec.loads(data)
                per_day[key] = tuple(days)
                feeds[key] = tuple(from_stored(picks))
            else:
                feeds[key] = reader.picks(TOPIC, (topic_b,), max_items, per_provider)
                spellings = Counter({as_text(name): n for name, n in conn.execute(
                    "SELECT name, n FROM spellings WHERE topic=?", (topic_b,))})
                topics[key] = display_name(spellings)
                counts = Counter(dict(conn.execute("SELECT day, n FROM days WHERE topic=? AND day > ?",
                                                   (topic_b, newest - 30))))
                per_day[key] = day_window(counts)
                data = codec.dumps([to_stored(feeds[key]), topics[key], per_day[key]])
                conn.execute("INSERT OR REPLACE INTO topic_results VALUES (?, ?, ?)", (topic_b, max_items, data))
            if archives:
                months[key] = reader.months(topic_b, shared)
        custom_picks = tuple(reader.picks(CUSTOM, (i,), feed.max_items or max_items, feed.max_per_provider)
                             for i, feed in enumerate(self.rules.custom))
        return Ranking(
            topics=topics, feeds=feeds, all=reader.picks(ALL, (), max_items, per_provider), per_day=per_day,
            eligible=int(conn.execute("SELECT COUNT(*) FROM urls WHERE live = 1").fetchone()[0]),
            custom=custom_picks, archives=months)
