"""The remote sources' part of the SQLite state store.

The caller (the store module) opens the database and passes the connection;
this module owns two tables, created on first use:

``source_state``
    one row per source URL: conditional-GET validators, the last good items
    (JSON, see :mod:`aggregator.sources.remote.codec`), consecutive failures, the last
    error and HTTP status, ``not_before`` (Retry-After or backoff), the times
    of the last attempt and success, ``fresh_until`` (the feed's own minimum
    interval: Cache-Control, Expires, ``<ttl>``), ``failing_since`` and
    ``feed_url`` (the feed an HTML page at the source URL named: fetched
    directly from then on, with its own validators).
    Times are ISO 8601 UTC text.
``source_seen``
    first-seen times of undated items, keyed by (source URL, item id), so the
    date given to such an item is the same on every run.

All writes of one run happen inside :func:`transaction` (a savepoint, which is
a transaction of its own when none is open).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from aggregator.model import Article
from aggregator.sources.remote.codec import decode_articles, encode_articles
from aggregator.state.store import Schema
from aggregator.state.store import ensure_schema as state_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS source_state (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    items TEXT NOT NULL DEFAULT '[]',
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_status INTEGER,
    not_before TEXT,
    last_attempt TEXT,
    last_success TEXT,
    fresh_until TEXT,
    failing_since TEXT,
    feed_url TEXT
);
CREATE TABLE IF NOT EXISTS source_seen (
    source_url TEXT NOT NULL,
    item_id TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (source_url, item_id)
);
"""
_SELECT = """SELECT url, etag, last_modified, items, consecutive_failures, last_error, last_status,
    not_before, last_attempt, last_success, fresh_until, failing_since, feed_url FROM source_state WHERE url = ?"""
_UPSERT = """INSERT OR REPLACE INTO source_state (url, etag, last_modified, items, consecutive_failures,
    last_error, last_status, not_before, last_attempt, last_success, fresh_until, failing_since, feed_url)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


@dataclass(frozen=True)
class SourceState:
    """What is remembered about one source between runs."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    items: tuple[Article, ...] = ()
    consecutive_failures: int = 0
    last_error: str | None = None
    last_status: int | None = None
    not_before: datetime | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    fresh_until: datetime | None = None  # not fetched before this: the feed's own minimum interval
    failing_since: datetime | None = None  # the first failure of the current run of failures
    feed_url: str | None = None  # the feed the source URL's HTML page names (autodiscovery), fetched instead


# 2: fresh_until, failing_since and feed_url (added, rows kept).
TABLES = Schema("sources.remote", 2, ("source_state", "source_seen"),
                tuple(s for s in SCHEMA.split(";") if s.strip()), adopt=True,
                migrations=((1, ("ALTER TABLE source_state ADD COLUMN fresh_until TEXT",
                                 "ALTER TABLE source_state ADD COLUMN failing_since TEXT",
                                 "ALTER TABLE source_state ADD COLUMN feed_url TEXT")),))


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the ``source_*`` tables if they do not exist yet."""
    state_schema(conn, TABLES)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Group writes: committed together at the end, rolled back on an exception."""
    conn.execute("SAVEPOINT source_run")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO source_run")
        conn.execute("RELEASE source_run")
        raise
    conn.execute("RELEASE source_run")


def load_state(conn: sqlite3.Connection, url: str) -> SourceState:
    """The stored state of ``url`` (a blank state for a new source).

    Stored items that cannot be decoded (a corrupt row) are treated as none:
    the next good fetch replaces them.
    """
    row = conn.execute(_SELECT, (url,)).fetchone()
    if row is None:
        return SourceState(url)
    etag, last_modified = row[1], row[2]
    try:
        items = decode_articles(row[3])
    except (ValueError, TypeError, KeyError):
        # Validators without their items would make a 304 keep nothing: fetch in full.
        items, etag, last_modified = (), None, None
    return SourceState(url, etag, last_modified, items, int(row[4]), row[5], row[6],
                       _time(row[7]), _time(row[8]), _time(row[9]), _time(row[10]), _time(row[11]), row[12])


def save_state(conn: sqlite3.Connection, state: SourceState) -> None:
    values = (state.url, state.etag, state.last_modified, encode_articles(state.items),
              state.consecutive_failures, state.last_error, state.last_status, _text(state.not_before),
              _text(state.last_attempt), _text(state.last_success), _text(state.fresh_until),
              _text(state.failing_since), state.feed_url)
    conn.execute(_UPSERT, values)


def load_first_seen(conn: sqlite3.Connection, url: str) -> dict[str, datetime]:
    rows = conn.execute("SELECT item_id, first_seen FROM source_seen WHERE source_url = ?", (url,))
    return {item_id: datetime.fromisoformat(seen) for item_id, seen in rows}


def save_first_seen(conn: sqlite3.Connection, url: str, first_seen: Mapping[str, datetime]) -> None:
    """Replace the first-seen times of ``url`` with ``first_seen`` (the undated items now in the feed).

    Items that left the feed are forgotten, so the table does not grow forever.
    """
    conn.execute("DELETE FROM source_seen WHERE source_url = ?", (url,))
    conn.executemany("INSERT INTO source_seen (source_url, item_id, first_seen) VALUES (?, ?, ?)",
                     [(url, item_id, seen.isoformat()) for item_id, seen in first_seen.items()])


def prune_sources(conn: sqlite3.Connection, configured_urls: Iterable[str]) -> int:
    """Forget every source not in ``configured_urls``; return how many were removed."""
    ensure_schema(conn)
    keep = set(configured_urls)
    stored = [url for (url,) in conn.execute("SELECT url FROM source_state")]
    stored += [url for (url,) in conn.execute("SELECT DISTINCT source_url FROM source_seen")]
    gone = sorted(set(stored) - keep)
    for url in gone:
        conn.execute("DELETE FROM source_state WHERE url = ?", (url,))
        conn.execute("DELETE FROM source_seen WHERE source_url = ?", (url,))
    return len(gone)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _text(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None
