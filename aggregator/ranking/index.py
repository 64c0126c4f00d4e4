"""The ranking kept in the state store, so a run re-ranks only what changed.

:class:`~aggregator.ranking.rules.Ranker` ranks a stream of summaries in memory: it
is simple and it is the reference.  A cron job over a large archive would
feed it every article on every run and hold a summary per URL meanwhile.
:class:`RankIndex` keeps the same ranking as indexed rows of the state store:

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
build only writes them, with the indexes dropped, and re-aggregates the URLs
seen more than once.  The outcome equals the in-memory ranker's whichever
way it was reached (tests/test_rankstore.py).

Text that comes from input (URLs, paths, topic names) is stored as UTF-8
with ``surrogatepass``: a lone surrogate from a YAML escape must not fail
the build, and the byte order of UTF-8 is the code point order Python
sorts by, so ties break the same way in SQL and in memory.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from aggregator.config import FilterSettings, RankingSettings
from aggregator.config.custom import CustomFeed, Matcher, capped
from aggregator.model import Problem, Summary
from aggregator.ranking.rules import (
    DAY,
    Pick,
    Ranking,
    RankKey,
    copy_choice,
    day_window,
    effective_quality,
    month_of,
    rank_key_with,
)
from aggregator.state import codec
from aggregator.state.store import Schema, ensure_schema
from aggregator.topics import display_name, topic_key

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
}
DERIVED = ("urls", "members", "custom_members", "days", "spellings", "topic_results")
TABLES = ("copies", *DERIVED)
# 2: JSON rows (state/codec.py), not pickles.
SCHEMA = Schema("ranking", 2, TABLES, (*_TABLES, *_COPY_INDEXES.values(), *_DERIVED_INDEXES.values()))


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _s(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


Copy = tuple[str, float, bytes]  # an article copy: id, published, its Summary (state codec)


def copy_of(item: Summary) -> Copy:
    return (item.id, item.published, codec.dumps_summary(item))


class UrlState(NamedTuple):
    """What the ranking knows of one URL, from all its copies."""

    live: bool  # published: an eligible copy, and no copy says ``removed``
    rank: RankKey | None  # the winning copy's (None: no eligible copy)
    item: Summary | None  # the winning copy
    day: int  # the winning copy's day of publication (POSIX days)
    quality: float
    topics: tuple[str, ...]  # canonical keys over the eligible copies, in order of appearance
    names: tuple[str, ...]  # the topic spellings of the eligible copies, one per use
    filtered: int  # copies left out by the filters
    custom: tuple[int, ...]  # the custom feeds (by position) the URL belongs to


class Rules:
    """The settings and clock a ranking depends on, and a memo of topic keys."""

    def __init__(self, ranking: RankingSettings, filters: FilterSettings, now: datetime,
                 custom: Sequence[CustomFeed] = ()):
        self.ranking = ranking
        self.filters = filters
        self.custom = tuple(custom)
        self.matchers = [Matcher.of(c) for c in custom]
        self.latest_allowed = (now.astimezone(UTC) + timedelta(seconds=filters.max_future)).timestamp()
        self._keys: dict[str, str] = {}
        self._key = hashlib.sha256(repr((ranking, filters, self.custom)).encode("utf-8", "surrogatepass"),
                                   ).hexdigest()[:16]

    def key(self) -> str:
        """Changes with every setting that changes a URL's state (not the clock)."""
        return self._key

    def topic_key(self, name: str) -> str:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = topic_key(name)
        return key


def aggregate(copies: Sequence[Summary], rules: Rules) -> UrlState:
    """A URL's state from its copies, in order of appearance; the same
    decisions as :meth:`Ranker.add` (removed, future, filtered, winner)."""
    removed = False
    best: int | None = None
    best_choice: tuple[float, float, str, str] | None = None
    best_quality = 0.0
    topics: dict[str, None] = {}  # canonical keys in order of appearance
    names: list[str] = []
    filtered = 0
    filters = rules.filters
    for position, item in enumerate(copies):
        if item.removed:
            removed = True
            continue
        if item.published > rules.latest_allowed:
            continue  # reported by RankIndex.future()
        quality = effective_quality(item, rules.ranking)
        if (filters.published_only and item.is_published is not True) or (
                filters.min_quality is not None and quality < filters.min_quality):
            filtered += 1
            continue
        for name in item.topics:
            key = rules.topic_key(name)
            if key:
                names.append(name)
                topics[key] = None
        choice = copy_choice(item, quality)
        if best_choice is None or choice < best_choice:
            best, best_choice, best_quality = position, choice, quality
    merged = tuple(topics)
    if best is None:
        return UrlState(False, None, None, 0, 0.0, merged, tuple(names), filtered, ())
    winner = copies[best]
    live = not removed
    custom = tuple(i for i, m in enumerate(rules.matchers) if m.matches(winner, merged, best_quality)) if live else ()
    return UrlState(live, rank_key_with(winner, best_quality, rules.ranking), winner, int(winner.published // DAY),
                    best_quality, merged, tuple(names), filtered, custom)


class Rows(NamedTuple):
    """A URL's state as what it adds to each table.  Made in the parse
    workers for a cold build (:func:`solo_rows`), so the build process
    only writes them."""

    url: tuple[bytes, int, float | None, float | None, bytes]  # the ``urls`` row
    topics: tuple[bytes, ...]  # its ``members`` (when live)
    day: int
    custom: tuple[int, ...]  # its ``custom_members`` (when live)
    spellings: tuple[tuple[bytes, bytes], ...]  # (topic key, spelling), one per use
    filtered: int


def encode(state: UrlState, article_id: str, rules: Rules) -> Rows:
    rank = state.rank
    # The winning copy as a plain tuple: a feed's picks are read from here,
    # without a look-up of the copy.
    item = list(state.item) if state.item is not None else None
    extra = codec.dumps([state.day, state.quality, state.topics, state.names, state.filtered, state.custom, item])
    url = (_b(article_id), int(state.live), rank[0] if rank else None, rank[1] if rank else None, extra)
    live = state.live and rank is not None
    return Rows(url, tuple(_b(t) for t in state.topics) if live else (), state.day, state.custom if live else (),
                tuple((_b(rules.topic_key(n)), _b(n)) for n in state.names), state.filtered)


def decode(row: Sequence[Any]) -> UrlState:
    """The state of a ``urls`` row (its columns in table order)."""
    ident, live, r0, r1, extra = row
    day, quality, topics, names, filtered, custom, item = codec.loads(extra)
    rank = (r0, r1, _s(ident)) if r0 is not None else None
    return UrlState(bool(live), rank, codec.summary_of(item) if item is not None else None, day, quality,
                    tuple(topics), tuple(names), filtered, tuple(custom))


def solo_rows(item: Summary, rules: Rules) -> tuple[Any, ...]:
    """The :class:`Rows` of a URL whose one copy is ``item`` (the usual
    case), as a plain tuple (3x cheaper to pickle)."""
    rules = _shared(rules)
    return tuple(encode(aggregate((item,), rules), item.id, rules))


_RULES: dict[str, Rules] = {}


def _shared(rules: Rules) -> Rules:
    """One Rules per settings in a worker process, so its memo of topic
    keys outlives the batch each copy of it arrived with."""
    key = rules.key()
    if (shared := _RULES.get(key)) is None or shared.latest_allowed != rules.latest_allowed:
        shared = _RULES[key] = rules
    return shared


class _Changes:
    """Row changes gathered over many URLs and written in a few statements."""

    def __init__(self) -> None:
        self.urls: list[tuple[bytes, int, float | None, float | None, bytes]] = []
        self.gone_urls: list[tuple[bytes]] = []
        self.members: tuple[list[tuple[bytes, float, float, bytes]], list[tuple[bytes, float, float, bytes]]] = \
            ([], [])  # (out, in)
        self.custom: tuple[list[tuple[int, float, float, bytes]], list[tuple[int, float, float, bytes]]] = ([], [])
        self.days: Counter[tuple[bytes, int]] = Counter()
        self.spellings: Counter[tuple[bytes, bytes]] = Counter()
        self.filtered = 0
        self.count = 0
        self.topics: set[bytes] = set()  # whose stored result is stale

    def add(self, rows: Rows, sign: int = 1) -> None:
        """Add (``sign`` 1) or take away (-1) what ``rows`` contribute."""
        self.count += 1
        ident, _live, r0, r1 = rows.url[:4]
        self.filtered += sign * rows.filtered
        for spelling in rows.spellings:
            self.spellings[spelling] += sign
            self.topics.add(spelling[0])  # a spelling counts towards the display name, live or not
        self.topics.update(rows.topics)
        if rows.topics or rows.custom:
            assert r0 is not None and r1 is not None
            side = 0 if sign < 0 else 1
            members = self.members[side]
            for topic in rows.topics:
                members.append((topic, r0, r1, ident))
                self.days[(topic, rows.day)] += sign
            self.custom[side].extend((feed, r0, r1, ident) for feed in rows.custom)
        if sign > 0:
            self.urls.append(rows.url)

    def replace(self, ident: bytes, old: Rows | None, new: Rows | None) -> None:
        if old is not None:
            self.add(old, -1)
        if new is not None:
            self.add(new)
        else:
            self.gone_urls.append((ident,))

    def flush(self, conn: sqlite3.Connection, *, counts: bool = True) -> None:
        """Write the rows gathered; ``counts=False`` keeps the per-topic
        counts for later (a cold build writes them once, at the end)."""
        conn.executemany("DELETE FROM urls WHERE id=?", self.gone_urls)
        conn.executemany("INSERT OR REPLACE INTO urls VALUES (?, ?, ?, ?, ?)", self.urls)
        conn.executemany("DELETE FROM members WHERE topic=? AND r0=? AND r1=? AND id=?", self.members[0])
        conn.executemany("INSERT INTO members VALUES (?, ?, ?, ?)", self.members[1])
        conn.executemany("DELETE FROM custom_members WHERE feed=? AND r0=? AND r1=? AND id=?", self.custom[0])
        conn.executemany("INSERT INTO custom_members VALUES (?, ?, ?, ?)", self.custom[1])
        self.urls, self.gone_urls, self.members, self.custom = [], [], ([], []), ([], [])
        self.count = 0
        conn.executemany("DELETE FROM topic_results WHERE topic=?", ((topic,) for topic in self.topics))
        self.topics = set()
        if not counts:
            return
        for table, changes in (("days", self.days), ("spellings", self.spellings)):
            changed: list[tuple[bytes, int | bytes, int]] = [(*k, n) for k, n in changes.items() if n]
            columns = "topic, day" if table == "days" else "topic, name"
            conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?) ON CONFLICT ({columns}) "  # noqa: S608
                             "DO UPDATE SET n = n + excluded.n", changed)
            conn.executemany(f"DELETE FROM {table} WHERE {columns.replace(', ', '=? AND ')}=? AND n <= 0",  # noqa: S608
                             [k for k, n in changes.items() if n < 0])
        if self.filtered:
            conn.execute("INSERT INTO meta VALUES ('rank_filtered', ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value", (str(self.filtered),))
        self.days, self.spellings, self.filtered = Counter(), Counter(), 0


class RankIndex:
    """The ranking in the state store (see module docstring).

    Feed it changes (:meth:`set_copies`, :meth:`drop_origins`,
    :meth:`set_remote`; a cold build :meth:`reset_local` and
    :meth:`add_files`), then :meth:`update` and read :meth:`result`.
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
        self._cold: _Changes | None = None  # a cold build's solo rows, not yet written
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
    def reset_local(self) -> None:
        """Every local copy is about to be added again (a cold parse cache),
        each with its :func:`solo_rows` (:meth:`add_files`)."""
        self._drop(_COPY_INDEXES)
        self._drop(_DERIVED_INDEXES)
        self.conn.execute("DELETE FROM copies WHERE remote = 0")
        self._clear_derived()
        # Remote copies kept from the last run are aggregated again at the end.
        self._dirty = {row[0] for row in self.conn.execute("SELECT id FROM copies")}
        self._cold = _Changes()
        self._seen = bytearray((_SEEN_BITS + 7) // 8)

    def add_files(self, files: Sequence[tuple[str, Sequence[Copy], Sequence[tuple[Any, ...]]]]) -> None:
        """A cold build's batch of new files: per file its copies and, per
        copy, its URL's rows as if it had no other copy.  The second copy
        of a URL (or one whose hash collides with a URL seen: harmless) is
        aggregated properly at :meth:`update`; the bitmap keeps memory flat
        however many URLs there are."""
        assert self._cold is not None and self._dirty is not None
        changes, seen, dirty = self._cold, self._seen, self._dirty
        # What _Changes.add does, inlined: this runs once per article of a
        # cold build, in the process the parse workers wait on.
        urls, members, custom = changes.urls, changes.members[1], changes.custom[1]
        days, spellings = changes.days, changes.spellings
        copies = []
        for origin, file_copies, solos in files:
            key = _b(origin)
            for pos, ((_id, published, blob), rows) in enumerate(zip(file_copies, solos, strict=True)):
                url, topics, day, custom_feeds, spelled, filtered = rows
                ident = url[0]
                copies.append((ident, 0, key, pos, published, blob))
                h = hash(ident) % _SEEN_BITS
                if seen[h >> 3] & (1 << (h & 7)):
                    dirty.add(ident)
                else:
                    seen[h >> 3] |= 1 << (h & 7)
                    r0, r1 = url[2], url[3]
                    urls.append(url)
                    for topic in topics:
                        members.append((topic, r0, r1, ident))
                        days[(topic, day)] += 1
                    if custom_feeds:
                        custom.extend((feed, r0, r1, ident) for feed in custom_feeds)
                    for spelling in spelled:
                        spellings[spelling] += 1
                    changes.filtered += filtered
                    changes.count += 1
        self.conn.executemany(_INSERT_COPY, copies)
        if changes.count >= FLUSH_EVERY:
            changes.flush(self.conn)

    def set_copies(self, origin: str, copies: Sequence[Copy], *, remote: bool = False) -> None:
        """The articles of ``origin`` (a file) are now ``copies``, in file order."""
        assert self._cold is None, "a cold build adds files with add_files"
        key = _b(origin)
        if self._dirty is not None:
            self._dirty.update(row[0] for row in self.conn.execute(
                "SELECT id FROM copies WHERE origin=?", (key,)))
        self.conn.execute("DELETE FROM copies WHERE origin=?", (key,))
        rows = [(_b(article_id), int(remote), key, pos, published, blob)
                for pos, (article_id, published, blob) in enumerate(copies)]
        self.conn.executemany(_INSERT_COPY, rows)
        if self._dirty is not None:
            self._dirty.update(row[0] for row in rows)

    def drop_origins(self, origins: Iterable[str]) -> None:
        for origin in origins:
            self.set_copies(origin, ())

    def set_remote(self, items: Sequence[Summary]) -> None:
        """This run's remote items (every source, in order); copies that did
        not change are left alone."""
        self._create(_COPY_INDEXES)
        wanted: dict[tuple[bytes, int], Summary] = {}
        positions: Counter[str] = Counter()
        for item in items:
            wanted[(_b(item.origin), positions[item.origin])] = item
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
        rows = [(_b(article_id), 1, origin, pos, published, blob)
                for (origin, pos), s in wanted.items() for article_id, published, blob in (copy_of(s),)]
        self.conn.executemany(_INSERT_COPY, rows)
        if self._dirty is not None:
            self._dirty.update(row[0] for row in rows)

    def local_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM copies WHERE remote = 0").fetchone()[0])

    # -- aggregation -----------------------------------------------------------
    def update(self) -> None:
        """Re-aggregate every URL this run's changes (or the clock) touched."""
        latest = self.rules.latest_allowed
        self._create(_COPY_INDEXES)
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
        self._dirty = set()
        self._set_meta("rank_latest", repr(latest))
        self._set_meta("rank_key", self._key)

    def _state(self, copies: Iterable[bytes]) -> UrlState:
        return aggregate([codec.loads_summary(blob) for blob in copies], self.rules)

    def _rebuild_all(self) -> None:
        self._drop(_DERIVED_INDEXES)
        self._clear_derived()
        changes = _Changes()
        # A cursor of its own: ``changes.flush`` writes through the connection meanwhile.
        rows = self.conn.cursor().execute("SELECT id, summary FROM copies ORDER BY id, remote, origin, pos")
        group: list[bytes] = []
        current = b""
        for ident, blob in rows:
            if ident != current:
                if group:
                    changes.add(encode(self._state(group), _s(current), self.rules))
                    if changes.count >= FLUSH_EVERY:
                        changes.flush(self.conn, counts=False)
                group, current = [], ident
            group.append(blob)
        if group:
            changes.add(encode(self._state(group), _s(current), self.rules))
        changes.flush(self.conn)
        self._create(_DERIVED_INDEXES)

    def _update(self, ids: Sequence[bytes]) -> None:
        changes = _Changes()
        for ident in ids:
            row = self.conn.execute("SELECT * FROM urls WHERE id=?", (ident,)).fetchone()
            old = decode(row) if row else None
            copies = [blob for (blob,) in self.conn.execute(
                "SELECT summary FROM copies WHERE id=? ORDER BY remote, origin, pos", (ident,))]
            new = self._state(copies) if copies else None
            if old != new:
                article_id = _s(ident)
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

    def _picks(self, rows: Iterable[tuple[bytes]]) -> Iterator[Pick]:
        for (extra,) in rows:
            state = codec.loads(extra)
            yield Pick(codec.summary_of(state[6]), tuple(state[2]))

    def result(self, max_items: int, *, archives: bool = False) -> Ranking:
        """The same :class:`Ranking` as :meth:`Ranker.result` for the same
        copies, settings and clock; only the picks are read."""
        conn = self.conn
        topics: dict[str, str] = {}
        feeds: dict[str, tuple[Pick, ...]] = {}
        per_day: dict[str, tuple[int, ...]] = {}
        months: dict[str, dict[str, tuple[Pick, ...]]] = {}
        shared: dict[bytes, Pick] = {}  # archives: one Pick per URL, however many topics list it
        stored = dict(conn.execute("SELECT topic, data FROM topic_results WHERE max_items=?", (max_items,)))
        for topic_b, newest in conn.execute("SELECT topic, MAX(day) FROM days GROUP BY topic").fetchall():
            key = _s(topic_b)
            data = stored.get(topic_b)
            if data is not None:
                picks, topics[key], days = codec.loads(data)
                per_day[key] = tuple(days)
                feeds[key] = tuple(Pick(codec.summary_of(item), tuple(topic_keys)) for item, topic_keys in picks)
            else:
                feeds[key] = tuple(self._picks(conn.execute(
                    "SELECT u.state FROM members m JOIN urls u ON u.id = m.id "
                    "WHERE m.topic=? ORDER BY m.r0, m.r1, m.id LIMIT ?",
                    (topic_b, max_items))))
                spellings = Counter({_s(name): n for name, n in conn.execute(
                    "SELECT name, n FROM spellings WHERE topic=?", (topic_b,))})
                topics[key] = display_name(spellings)
                counts = Counter(dict(conn.execute("SELECT day, n FROM days WHERE topic=? AND day > ?",
                                                   (topic_b, newest - 30))))
                per_day[key] = day_window(counts)
                picks = [[list(pick.item), pick.topic_keys] for pick in feeds[key]]
                data = codec.dumps([picks, topics[key], per_day[key]])
                conn.execute("INSERT OR REPLACE INTO topic_results VALUES (?, ?, ?)", (topic_b, max_items, data))
            if archives:
                months[key] = self._months(topic_b, shared)
        custom_picks = tuple(self._custom(i, feed, max_items) for i, feed in enumerate(self.rules.custom))
        return Ranking(
            topics=topics, feeds=feeds,
            all=tuple(self._picks(conn.execute(
                "SELECT state FROM urls WHERE live = 1 ORDER BY r0, r1, id LIMIT ?", (max_items,)))),
            per_day=per_day,
            eligible=int(conn.execute("SELECT COUNT(*) FROM urls WHERE live = 1").fetchone()[0]),
            custom=custom_picks,
            archives=months)

    def _months(self, topic: bytes, shared: dict[bytes, Pick]) -> dict[str, tuple[Pick, ...]]:
        """Every live article of ``topic`` by month, oldest first.  (All of
        them: what an archive needs, and why archives are opt-in.)  ``shared``
        holds the picks already read for other topics: an article listed
        under three topics is one object, not three."""
        picks = []
        for ident, extra in self.conn.execute(
                "SELECT u.id, u.state FROM members m JOIN urls u ON u.id = m.id WHERE m.topic=?", (topic,)):
            pick = shared.get(ident)
            if pick is None:
                full = next(self._picks(((extra,),)))
                # What publishing needs of an archived item (as the in-memory
                # ranker keeps without custom feeds): a third of the memory.
                item = full.item
                slim = Summary(item.id, item.origin, item.published, item.updated, item.title, item.digest)
                pick = shared[ident] = Pick(slim, full.topic_keys)
            picks.append(pick)
        picks.sort(key=lambda p: (p.item.published, p.item.id))
        grouped: dict[str, list[Pick]] = {}
        for pick in picks:
            grouped.setdefault(month_of(pick.item.published), []).append(pick)
        return {month: tuple(found) for month, found in sorted(grouped.items())}

    def _custom(self, index: int, feed: CustomFeed, max_items: int) -> tuple[Pick, ...]:
        """A custom feed's picks: its members best first, read only as far
        as the per-provider cap needs."""
        seen: dict[str, Pick] = {}

        def ranked() -> Iterator[tuple[str, Summary]]:
            for pick in self._picks(self.conn.execute(
                    "SELECT u.state FROM custom_members m JOIN urls u ON u.id = m.id "
                    "WHERE m.feed=? ORDER BY m.r0, m.r1, m.id", (index,))):
                seen[pick.id] = pick
                yield pick.id, pick.item

        return tuple(seen[i] for i in capped(ranked(), feed.max_items or max_items, feed.max_per_provider))
