"""The embedded state store: one SQLite file, no server.

Holds the parse cache (one row per article file, keyed by path and checked
against size, mtime_ns, inode and a fingerprint of the program version and
parse settings), the list of files each feed was last published with (so a
vanished topic's files can be removed, and only those), and the tables of
the remote sources (owned by :mod:`aggregator.remote`).  SQLite's own
transactions keep it consistent when a run is killed.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .model import Article, ParseResult

SCHEMA_VERSION = 1
FileStat = tuple[int, int, int]  # size, mtime_ns, inode


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()
        self.conn.execute("BEGIN")

    def _migrate(self) -> None:
        c = self.conn
        c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = c.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is not None and int(row[0]) != SCHEMA_VERSION:
            c.execute("DROP TABLE IF EXISTS parsed")
            c.execute("DROP TABLE IF EXISTS published")
        c.execute("""CREATE TABLE IF NOT EXISTS parsed (
            path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER,
            fingerprint TEXT, result BLOB)""")
        c.execute("CREATE TABLE IF NOT EXISTS published (slug TEXT PRIMARY KEY, entry TEXT NOT NULL)")
        c.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    # -- parse cache -------------------------------------------------
    def cached(self, fingerprint: str) -> dict[str, FileStat]:
        """Path -> stat of every cache row made with this fingerprint."""
        rows = self.conn.execute("SELECT path, size, mtime_ns, inode FROM parsed WHERE fingerprint=?",
                                 (fingerprint,))
        return {path: (size, mtime, inode) for path, size, mtime, inode in rows}

    def load_results(self, paths: Iterable[str]) -> Iterator[tuple[str, ParseResult]]:
        for path in paths:
            row = self.conn.execute("SELECT result FROM parsed WHERE path=?", (path,)).fetchone()
            if row is not None:
                yield path, pickle.loads(row[0])  # noqa: S301 - our own state file, never input

    def load_article(self, path: str, article_id: str) -> Article | None:
        for _path, result in self.load_results([path]):
            for article in result.articles:
                if article.id == article_id:
                    return article
        return None

    def save_result(self, path: str, stat: FileStat, fingerprint: str, result: ParseResult) -> None:
        self.conn.execute("INSERT OR REPLACE INTO parsed VALUES (?, ?, ?, ?, ?, ?)",
                          (path, *stat, fingerprint, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)))

    def forget_except(self, keep: set[str]) -> int:
        """Drop cache rows of files that no longer exist."""
        gone = [p for (p,) in self.conn.execute("SELECT path FROM parsed") if p not in keep]
        self.conn.executemany("DELETE FROM parsed WHERE path=?", ((p,) for p in gone))
        return len(gone)

    # -- what was published ---------------------------------------------
    def published(self) -> dict[str, dict[str, Any]]:
        """Slug -> manifest entry of every feed the last run published."""
        rows = self.conn.execute("SELECT slug, entry FROM published")
        return {slug: json.loads(entry) for slug, entry in rows}

    def set_published(self, feeds: dict[str, dict[str, Any]]) -> None:
        self.conn.execute("DELETE FROM published")
        self.conn.executemany("INSERT INTO published VALUES (?, ?)",
                              ((slug, json.dumps(entry, sort_keys=True)) for slug, entry in sorted(feeds.items())))

    # -- transactions --------------------------------------------------
    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def close(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")
        finally:
            self.conn.close()
