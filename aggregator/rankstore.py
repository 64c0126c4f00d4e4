"""The ranking kept in the state store, so a run re-ranks only what changed.

:class:`~aggregator.rank.Ranker` ranks a stream of summaries in memory: it
is simple and it is the reference.  A cron job over a large archive would
feed it every article on every run and hold a summary per URL meanwhile.
:class:`RankIndex` keeps the same ranking as indexed rows of the state store:

- ``copies``: one row per copy of an article (a file's article, a remote
  item), keyed by URL first, so the copies of a URL are adjacent;
- ``urls``: per URL what :func:`aggregate` made of its copies (the winning
  copy, its merged topics, its topic spellings...) and its rank key;
- ``members`` and ``custom_members``: (feed, rank key, URL) per live URL and
  feed, so a feed's top k is the start of an index range;
- ``days`` and ``spellings``: per topic the counts behind ``per_day`` and
  its display name, kept up to date by adding and subtracting.

A run records the URLs its changes touch (files parsed or gone, remote
items that changed, copies whose eligibility the clock changed) and
re-aggregates those only.  New ranking settings, filters, custom feeds or
program version rebuild it, streaming over ``copies`` in key order.  The
outcome equals the in-memory ranker's (tests/test_rankstore.py).

Text that comes from input (URLs, paths, topic names) is stored as UTF-8
with ``surrogatepass``: a lone surrogate from a YAML escape must not fail
the build, and the byte order of UTF-8 is the code point order Python
sorts by, so ties break the same way in SQL and in memory.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from .config import FilterSettings, RankingSettings
from .custom import CustomFeed, Matcher, capped
from .model import Problem, Summary
from .rank import DAY, Pick, Ranking, RankKey, copy_choice, day_window, effective_quality, month_of, rank_key_with
from .topics import display_name, topic_key

FLUSH_EVERY = 4096  # URLs aggregated between two batches of SQL writes

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS copies (
        id BLOB NOT NULL, remote INTEGER NOT NULL, origin BLOB NOT NULL, pos INTEGER NOT NULL,
        published REAL NOT NULL, summary BLOB NOT NULL,
        PRIMARY KEY (id, remote, origin, pos)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS copies_origin ON copies (origin)",
    "CREATE INDEX IF NOT EXISTS copies_published ON copies (published)",
    """CREATE TABLE IF NOT EXISTS urls (
        id BLOB PRIMARY KEY, live INTEGER NOT NULL, r0 REAL, r1 REAL, state BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS urls_rank ON urls (r0, r1, id) WHERE live = 1",
    """CREATE TABLE IF NOT EXISTS members (
        topic BLOB, r0 REAL, r1 REAL, id BLOB, PRIMARY KEY (topic, r0, r1, id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS custom_members (
        feed INTEGER, r0 REAL, r1 REAL, id BLOB, PRIMARY KEY (feed, r0, r1, id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS days (
        topic BLOB, day INTEGER, n INTEGER NOT NULL, PRIMARY KEY (topic, day)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS spellings (
        topic BLOB, name BLOB, n INTEGER NOT NULL, PRIMARY KEY (topic, name)) WITHOUT ROWID""",
)
DERIVED = ("urls", "members", "custom_members", "days", "spellings")
TABLES = ("copies", *DERIVED)


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _s(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


Copy = tuple[str, float, bytes]  # an article copy: id, published, pickled Summary


def copy_of(item: Summary) -> Copy:
    return (item.id, item.published, pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))


class UrlState(NamedTuple):
    """What the ranking knows of one URL, from all its copies."""

    live: bool  # published: an eligible copy, and no copy says ``removed``
    rank: RankKey | None
    item: Summary | None  # the winning copy
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

    def key(self) -> str:
        """Changes with every setting that changes a URL's state (not the clock)."""
        return hashlib.sha256(repr((self.ranking, self.filters, self.custom)).encode("utf-8", "surrogatepass"),
                              ).hexdigest()[:16]

    def topic_key(self, name: str) -> str:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = topic_key(name)
        return key


def aggregate(copies: Iterable[Summary], rules: Rules) -> UrlState:
    """A URL's state from its copies, in order of appearance; the same
    decisions as :meth:`Ranker.add` (removed, future, filtered, winner)."""
    removed = False
    best: Summary | None = None
    best_choice: tuple[float, float, str, str] | None = None
    best_quality = 0.0
    topics: list[str] = []
    names: list[str] = []
    filtered = 0
    filters = rules.filters
    for item in copies:
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
                if key not in topics:
                    topics.append(key)
        choice = copy_choice(item, quality)
        if best_choice is None or choice < best_choice:
            best, best_choice, best_quality = item, choice, quality
    live = best is not None and not removed
    rank = rank_key_with(best, best_quality, rules.ranking) if best is not None else None
    merged = tuple(topics)
    custom = tuple(i for i, m in enumerate(rules.matchers) if m.matches(best, merged, best_quality)) \
        if live and best is not None else ()
    return UrlState(live, rank, best, best_quality, merged, tuple(names), filtered, custom)


class _Changes:
    """Row changes gathered over many URLs and written in a few statements."""

    def __init__(self, key: Callable[[str], str]) -> None:
        self.key = key  # topic name -> canonical key (memoised by the caller)
        self.urls: list[tuple[bytes, int, float | None, float | None, bytes]] = []
        self.gone_urls: list[tuple[bytes]] = []
        self.members_out: list[tuple[bytes, float, float, bytes]] = []
        self.members_in: list[tuple[bytes, float, float, bytes]] = []
        self.custom_out: list[tuple[int, float, float, bytes]] = []
        self.custom_in: list[tuple[int, float, float, bytes]] = []
        self.days: Counter[tuple[bytes, int]] = Counter()
        self.spellings: Counter[tuple[bytes, bytes]] = Counter()
        self.filtered = 0
        self.count = 0

    def replace(self, article_id: str, old: UrlState | None, new: UrlState | None) -> None:
        ident = _b(article_id)
        self.count += 1
        for state, sign in ((old, -1), (new, 1)):
            if state is None:
                continue
            self.filtered += sign * state.filtered
            for name in state.names:
                self.spellings[(_b(self.key(name)), _b(name))] += sign
            if not state.live or state.rank is None or state.item is None:
                continue
            r0, r1 = state.rank[0], state.rank[1]
            day = int(state.item.published // DAY)
            members = self.members_out if sign < 0 else self.members_in
            custom = self.custom_out if sign < 0 else self.custom_in
            for topic in state.topics:
                members.append((_b(topic), r0, r1, ident))
                self.days[(_b(topic), day)] += sign
            custom.extend((feed, r0, r1, ident) for feed in state.custom)
        if new is None:
            self.gone_urls.append((ident,))
        else:
            r = new.rank
            self.urls.append((ident, int(new.live), r[0] if r else None, r[1] if r else None,
                              pickle.dumps(new, protocol=pickle.HIGHEST_PROTOCOL)))

    def flush(self, conn: sqlite3.Connection) -> None:
        conn.executemany("DELETE FROM urls WHERE id=?", self.gone_urls)
        conn.executemany("INSERT OR REPLACE INTO urls VALUES (?, ?, ?, ?, ?)", self.urls)
        conn.executemany("DELETE FROM members WHERE topic=? AND r0=? AND r1=? AND id=?", self.members_out)
        conn.executemany("INSERT INTO members VALUES (?, ?, ?, ?)", self.members_in)
        conn.executemany("DELETE FROM custom_members WHERE feed=? AND r0=? AND r1=? AND id=?", self.custom_out)
        conn.executemany("INSERT INTO custom_members VALUES (?, ?, ?, ?)", self.custom_in)
        for table, counts in (("days", self.days), ("spellings", self.spellings)):
            rows = [(*k, n) for k, n in counts.items() if n]
            columns = "topic, day" if table == "days" else "topic, name"
            conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?) ON CONFLICT ({columns}) "  # noqa: S608
                             "DO UPDATE SET n = n + excluded.n", rows)
            conn.executemany(f"DELETE FROM {table} WHERE {columns.replace(', ', '=? AND ')}=? AND n <= 0",  # noqa: S608
                             [k for k, n in counts.items() if n < 0])
        if self.filtered:
            conn.execute("INSERT INTO meta VALUES ('rank_filtered', ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value", (str(self.filtered),))
        self.__init__(self.key)  # type: ignore[misc]


class RankIndex:
    """The ranking in the state store (see module docstring).

    Feed it changes (:meth:`set_copies`, :meth:`drop_origins`,
    :meth:`set_remote`), then :meth:`update` and read :meth:`result`.
    Every change happens in the connection's open transaction: a failed run
    rolls the index back with the rest of the store.
    """

    def __init__(self, conn: sqlite3.Connection, rules: Rules, version: str):
        self.conn = conn
        self.rules = rules
        for statement in _SCHEMA:
            conn.execute(statement)
        self._key = f"{rules.key()}:{version}"
        self._rebuild = self._meta("rank_key") != self._key
        # URLs whose copies changed this run; None: every URL (a rebuild).
        self._dirty: set[bytes] | None = None if self._rebuild else set()

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- changes -----------------------------------------------------------
    def reset_local(self) -> None:
        """Every local copy is about to be set again (a cold parse cache)."""
        self.conn.execute("DELETE FROM copies WHERE remote = 0")
        self._dirty = None

    def set_copies(self, origin: str, copies: Sequence[Copy], *, remote: bool = False) -> None:
        """The articles of ``origin`` (a file) are now ``copies``, in file order."""
        key = _b(origin)
        if self._dirty is not None:
            self._dirty.update(row[0] for row in self.conn.execute(
                "SELECT id FROM copies WHERE origin=?", (key,)))
        self.conn.execute("DELETE FROM copies WHERE origin=?", (key,))
        self.add_copies(origin, copies, remote=remote)

    def add_copies(self, origin: str, copies: Sequence[Copy], *, remote: bool = False) -> None:
        """Add the copies of an origin that has none yet."""
        key = _b(origin)
        rows = [(_b(article_id), int(remote), key, pos, published, blob)
                for pos, (article_id, published, blob) in enumerate(copies)]
        self.conn.executemany("INSERT INTO copies VALUES (?, ?, ?, ?, ?, ?)", rows)
        if self._dirty is not None:
            self._dirty.update(row[0] for row in rows)

    def drop_origins(self, origins: Iterable[str]) -> None:
        for origin in origins:
            self.set_copies(origin, ())

    def set_remote(self, items: Sequence[Summary]) -> None:
        """This run's remote items (every source, in order); copies that did
        not change are left alone."""
        wanted: dict[tuple[bytes, int], Summary] = {}
        positions: Counter[str] = Counter()
        for item in items:
            wanted[(_b(item.origin), positions[item.origin])] = item
            positions[item.origin] += 1
        stored = self.conn.execute("SELECT origin, pos, id, summary FROM copies WHERE remote = 1").fetchall()
        for origin, pos, ident, blob in stored:
            same = wanted.get((origin, pos))
            if same is not None and pickle.loads(blob) == same:  # noqa: S301 - our own state file
                del wanted[(origin, pos)]
                continue
            if self._dirty is not None:
                self._dirty.add(ident)
            self.conn.execute("DELETE FROM copies WHERE id=? AND remote = 1 AND origin=? AND pos=?",
                              (ident, origin, pos))
        rows = [(_b(s.id), 1, origin, pos, s.published, pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL))
                for (origin, pos), s in wanted.items()]
        self.conn.executemany("INSERT INTO copies VALUES (?, ?, ?, ?, ?, ?)", rows)
        if self._dirty is not None:
            self._dirty.update(row[0] for row in rows)

    def local_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM copies WHERE remote = 0").fetchone()[0])

    # -- aggregation -----------------------------------------------------------
    def update(self) -> None:
        """Re-aggregate every URL this run's changes (or the clock) touched."""
        latest = self.rules.latest_allowed
        if self._dirty is None:
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

    def _rebuild_all(self) -> None:
        for table in DERIVED:
            self.conn.execute(f"DELETE FROM {table}")  # noqa: S608 - a fixed table name
        self.conn.execute("DELETE FROM meta WHERE key='rank_filtered'")
        changes = _Changes(self.rules.topic_key)
        # A cursor of its own: ``changes.flush`` writes through the connection meanwhile.
        rows = self.conn.cursor().execute("SELECT id, summary FROM copies ORDER BY id, remote, origin, pos")
        group: list[Summary] = []
        current = b""
        for ident, blob in rows:
            if ident != current:
                if group:
                    changes.replace(_s(current), None, aggregate(group, self.rules))
                    if changes.count >= FLUSH_EVERY:
                        changes.flush(self.conn)
                group, current = [], ident
            group.append(pickle.loads(blob))  # noqa: S301 - our own state file
        if group:
            changes.replace(_s(current), None, aggregate(group, self.rules))
        changes.flush(self.conn)
        self._dirty = set()

    def _update(self, ids: Sequence[bytes]) -> None:
        changes = _Changes(self.rules.topic_key)
        for ident in ids:
            row = self.conn.execute("SELECT state FROM urls WHERE id=?", (ident,)).fetchone()
            old: UrlState | None = pickle.loads(row[0]) if row else None  # noqa: S301 - our own state file
            copies = [pickle.loads(blob) for (blob,) in self.conn.execute(  # noqa: S301 - our own state file
                "SELECT summary FROM copies WHERE id=? ORDER BY remote, origin, pos", (ident,))]
            new = aggregate(copies, self.rules) if copies else None
            if old != new:
                changes.replace(_s(ident), old, new)
            if changes.count >= FLUSH_EVERY:
                changes.flush(self.conn)
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
            item: Summary = pickle.loads(blob)  # noqa: S301 - our own state file
            if item.removed:
                continue
            due = min(due, item.published - self.rules.filters.max_future)
            when = datetime.fromtimestamp(item.published, UTC).isoformat()
            problems.append(Problem(item.origin, f"publishedDateTime {when} is in the future"))
        return problems, due

    def filtered(self) -> int:
        return int(self._meta("rank_filtered") or 0)

    def _picks(self, rows: Iterable[tuple[bytes]]) -> Iterator[Pick]:
        for (blob,) in rows:
            state: UrlState = pickle.loads(blob)  # noqa: S301 - our own state file
            assert state.item is not None
            yield Pick(state.item, state.topics)

    def result(self, max_items: int, *, archives: bool = False) -> Ranking:
        """The same :class:`Ranking` as :meth:`Ranker.result` for the same
        copies, settings and clock; only the picks are read."""
        conn = self.conn
        topics: dict[str, str] = {}
        feeds: dict[str, tuple[Pick, ...]] = {}
        per_day: dict[str, tuple[int, ...]] = {}
        months: dict[str, dict[str, tuple[Pick, ...]]] = {}
        for topic_b, newest in conn.execute("SELECT topic, MAX(day) FROM days GROUP BY topic").fetchall():
            key = _s(topic_b)
            feeds[key] = tuple(self._picks(conn.execute(
                "SELECT u.state FROM members m JOIN urls u ON u.id = m.id "
                "WHERE m.topic=? ORDER BY m.r0, m.r1, m.id LIMIT ?", (topic_b, max_items))))
            spellings = Counter({_s(name): n for name, n in conn.execute(
                "SELECT name, n FROM spellings WHERE topic=?", (topic_b,))})
            topics[key] = display_name(spellings)
            counts = Counter(dict(conn.execute("SELECT day, n FROM days WHERE topic=? AND day > ?",
                                               (topic_b, newest - 30))))
            per_day[key] = day_window(counts)
            if archives:
                months[key] = self._months(topic_b)
        custom_picks = tuple(self._custom(i, feed, max_items) for i, feed in enumerate(self.rules.custom))
        return Ranking(
            topics=topics, feeds=feeds,
            all=tuple(self._picks(conn.execute(
                "SELECT state FROM urls WHERE live = 1 ORDER BY r0, r1, id LIMIT ?", (max_items,)))),
            per_day=per_day,
            eligible=int(conn.execute("SELECT COUNT(*) FROM urls WHERE live = 1").fetchone()[0]),
            custom=custom_picks,
            archives=months)

    def _months(self, topic: bytes) -> dict[str, tuple[Pick, ...]]:
        """Every live article of ``topic`` by month, oldest first.  (All of
        them: what an archive needs, and why archives are opt-in.)"""
        picks = sorted(self._picks(self.conn.execute(
            "SELECT u.state FROM members m JOIN urls u ON u.id = m.id WHERE m.topic=?", (topic,))),
            key=lambda p: (p.item.published, p.item.id))
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
                    "SELECT u.state FROM custom_members c JOIN urls u ON u.id = c.id "
                    "WHERE c.feed=? ORDER BY c.r0, c.r1, c.id", (index,))):
                seen[pick.id] = pick
                yield pick.id, pick.item

        return tuple(seen[i] for i in capped(ranked(), feed.max_items or max_items, feed.max_per_provider))
