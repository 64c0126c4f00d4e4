"""The embedded state store: one SQLite file, no server.

Holds the parse cache (one row per article file, keyed by path and checked
against size, mtime_ns, inode, ctime_ns and a fingerprint of the program version and
parse settings), the ranking (tables owned by :mod:`aggregator.ranking.index`),
the list of files each feed was last published with (so a vanished topic's
files can be removed, and only those), and the tables of the remote sources
(owned by :mod:`aggregator.sources.remote`).  SQLite's own
transactions keep it consistent when a run is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator.errors import LockedError, StateDamaged, StateError
from aggregator.model import Article, ParseResult
from aggregator.state import codec

# An article file as found: size, mtime_ns, inode and ctime_ns (a chmod or
# chown changes only the ctime, and may make a cached file unreadable).
FileStat = tuple[int, int, int, int]
OutputStat = tuple[int, int, int]  # an output file as written: size, mtime_ns, inode


@dataclass(frozen=True)
class Schema:
    """The tables one owner keeps in the state file, and their version.

    Every owner declares its own (this module: the parse cache and the
    output records; :mod:`aggregator.ranking.index`, the remote sources and
    WebSub theirs) and calls :func:`ensure_schema` before using them.  A new
    ``version`` drops the owner's tables (they are rebuilt from the inputs);
    ``adopt``: tables made before owners declared versions are kept, not
    dropped (their rows are still valid); ``migrations``: per older version
    ``n``, the statements that bring its tables to version ``n + 1`` (an
    upgrade with a migration for every step keeps the rows)."""

    owner: str
    version: int
    tables: tuple[str, ...]
    statements: tuple[str, ...]
    adopt: bool = False
    migrations: tuple[tuple[int, tuple[str, ...]], ...] = ()


def ensure_schema(conn: sqlite3.Connection, schema: Schema) -> None:
    """Create ``schema``'s tables: migrated from an older version when every
    step has a migration, else dropped first (rebuilt from the inputs)."""
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    key = f"schema:{schema.owner}"
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    current = row is not None and row[0] == str(schema.version)
    stored = int(row[0]) if row is not None and row[0].isdigit() else (1 if row is None and schema.adopt else None)
    steps = dict(schema.migrations)
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                          (schema.tables[0],)).fetchone() is not None
    if not current and exists and stored is not None and stored < schema.version and all(
            n in steps for n in range(stored, schema.version)):
        for n in range(stored, schema.version):
            for statement in steps[n]:
                conn.execute(statement)
    elif not current and not (row is None and schema.adopt):
        for table in schema.tables:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in schema.statements:
        conn.execute(statement)
    if not current:
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(schema.version)))


# The parse cache and the output records.  6: JSON (state/codec.py), not pickles.
SCHEMA = Schema("store", 6, ("parsed", "results", "published", "outputs"), (
    # ``problems`` (NULL when none) is what a run reports of an unchanged
    # file; its articles' summaries live in the ranking's ``copies``
    # (aggregator.ranking.index); the whole ParseResult in a table of its
    # own, read by path only for the articles of feeds being rendered.
    """CREATE TABLE IF NOT EXISTS parsed (
        path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, ctime_ns INTEGER,
        fingerprint TEXT, problems BLOB)""",
    "CREATE TABLE IF NOT EXISTS results (path TEXT PRIMARY KEY, result BLOB)",
    "CREATE TABLE IF NOT EXISTS published (key TEXT PRIMARY KEY, entry TEXT NOT NULL)",
    # Per output file: the digest it was rendered from and the (size,
    # mtime_ns, inode) it had when written.  A digest alone is a claim: a
    # run killed after renaming files but before its commit leaves files
    # that no stored digest describes; their stat tells.
    """CREATE TABLE IF NOT EXISTS outputs (
        path TEXT PRIMARY KEY, digest TEXT NOT NULL, size INTEGER, mtime_ns INTEGER, inode INTEGER)""",
))


# SQLite's primary result codes (``sqlite3.Error.sqlite_errorcode & 0xff``)
# that say something about the file rather than about this program.
_DAMAGED = {11: "damaged (database disk image is malformed)", 26: "damaged (not a SQLite database)"}
_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED: another connection holds it
_UNUSABLE = {3: "permission denied", 8: "read-only", 10: "I/O error", 13: "disk full", 14: "cannot be opened",
             23: "access denied"}
# Files SQLite keeps beside the state file: a damaged file's go with it.
SIDE_FILES = ("-journal", "-wal", "-shm")
# A lock held by another program for less than this is waited for, even with
# ``wait=0``: a reader of the file (a backup, sqlite3) holds one briefly.
MIN_BUSY_WAIT = 2.0


def state_error(path: Path, exc: sqlite3.Error, wait: float = 0.0) -> Exception:
    """The error to raise for ``exc`` met while using the state file ``path``:
    :class:`StateDamaged`, :class:`StateError`, :class:`LockedError`, or
    ``exc`` itself when it is not about the file (a programming error)."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in _DAMAGED:
        return StateDamaged(f"{path}: state file {_DAMAGED[primary]}")
    if primary in _BUSY:
        waited = max(wait, MIN_BUSY_WAIT)
        return LockedError(f"{path}: the state file is locked by another program (waited {waited:g}s)")
    if primary in _UNUSABLE:
        return StateError(f"{path}: cannot use the state file: {_UNUSABLE[primary]} ({exc})")
    return exc


def set_aside(path: Path) -> Path:
    """Move a damaged state file (and SQLite's files beside it) out of the
    way, to ``<name>.damaged``; return where it went."""
    aside = path.with_name(path.name + ".damaged")
    for suffix in ("", *SIDE_FILES):
        source = path.with_name(path.name + suffix)
        try:
            os.replace(source, aside.with_name(aside.name + suffix))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StateError(f"{path}: state file damaged, and cannot be moved aside: {exc.strerror}") from None
    return aside


def discard(path: Path) -> None:
    """Delete the state file and SQLite's files beside it (``--rebuild-state``)."""
    _check_kind(path)
    for suffix in ("", *SIDE_FILES):
        try:
            os.unlink(path.with_name(path.name + suffix))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StateError(f"{path}: cannot delete the state file: {exc.strerror}") from None


def _check_kind(path: Path) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateError(f"{path}: cannot use the state file: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise StateError(f"{path}: the state file is {kind}; remove it or set `state` to another path")


class Store:
    def __init__(self, path: Path, *, wait: float = 0.0):
        """Open (or create) the state file.  Raises :class:`StateError`,
        :class:`StateDamaged` or :class:`LockedError` (after ``wait``
        seconds) when it cannot be used."""
        _check_kind(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"{path.parent}: cannot create the state folder: {exc.strerror}") from None
        self.path = path
        try:
            self._open(path, max(wait, MIN_BUSY_WAIT))
        except sqlite3.Error as exc:
            with contextlib.suppress(AttributeError, sqlite3.Error):
                self.conn.close()
            raise state_error(path, exc, wait) from None

    def _open(self, path: Path, busy_wait: float) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=busy_wait)
        # Larger pages suit the cache's multi-KB rows (fewer overflow pages:
        # a cold 100,000-file build inserts ~30% faster).  Only takes effect
        # when the file is created.
        self.conn.execute("PRAGMA page_size=16384")
        # A rollback journal, not WAL: one run writes at a time (the run lock)
        # and nothing reads concurrently, and WAL would write a cold build's
        # ~300 MB of cache twice (log, then checkpoint).  FULL: the few
        # commits of a run are fsynced, so a power cut cannot corrupt it.
        self.conn.execute("PRAGMA journal_mode=DELETE")
        self.conn.execute("PRAGMA synchronous=FULL")
        # Helper threads for SQLite's sorter: a cold build creates its
        # ranking indexes while the parse workers have nothing to do.
        self.conn.execute("PRAGMA threads=2")
        self._migrate()
        self.conn.execute("BEGIN")

    def _migrate(self) -> None:
        ensure_schema(self.conn, SCHEMA)

    # -- parse cache -------------------------------------------------
    def has_cache(self, fingerprint: str) -> bool:
        """Whether any article was parsed with this fingerprint (else every
        file will be parsed: a cold cache, a new version or parse settings)."""
        row = self.conn.execute("SELECT 1 FROM parsed WHERE fingerprint=? LIMIT 1", (fingerprint,)).fetchone()
        return row is not None

    def cached(self, fingerprint: str) -> dict[str, FileStat]:
        """Path -> stat of every cache row made with this fingerprint."""
        rows = self.conn.execute("SELECT path, size, mtime_ns, inode, ctime_ns FROM parsed WHERE fingerprint=?",
                                 (fingerprint,))
        return {path: (size, mtime, inode, ctime) for path, size, mtime, inode, ctime in rows}

    def problems(self, fingerprint: str) -> Iterator[tuple[str, bytes]]:
        """(path, encoded problems) of every cache row made with this
        fingerprint whose file had problems."""
        yield from self.conn.execute("SELECT path, problems FROM parsed WHERE fingerprint=? AND problems IS NOT NULL",
                                     (fingerprint,))

    def result_blob(self, path: str) -> bytes | None:
        """The encoded :class:`ParseResult` of ``path``, as cached."""
        row = self.conn.execute("SELECT result FROM results WHERE path=?", (path,)).fetchone()
        return None if row is None else bytes(row[0])

    def load_result(self, path: str) -> ParseResult | None:
        blob = self.result_blob(path)
        return None if blob is None else codec.loads_result(blob)

    def load_article(self, path: str, article_id: str) -> Article | None:
        result = self.load_result(path)
        for article in result.articles if result else ():
            if article.id == article_id:
                return article
        return None

    def save_parsed(self, rows: list[tuple[str, FileStat, bytes | None, bytes]], fingerprint: str) -> None:
        """Cache ``(path, stat, problems, result)`` rows (a batch at a time:
        one statement per table, not two per file)."""
        self.conn.executemany("INSERT OR REPLACE INTO parsed VALUES (?, ?, ?, ?, ?, ?, ?)",
                              ((path, *stat, fingerprint, problems) for path, stat, problems, _result in rows))
        self.conn.executemany("INSERT OR REPLACE INTO results VALUES (?, ?)",
                              ((path, result) for path, _stat, _problems, result in rows))

    def forget(self, paths: list[str], *, keep_fingerprint: str) -> None:
        """Drop the cache rows of ``paths`` and every row made with another
        fingerprint (another program version or parse settings)."""
        for table in ("parsed", "results"):
            self.conn.executemany(f"DELETE FROM {table} WHERE path=?", ((p,) for p in paths))  # noqa: S608
        kept = self.conn.execute("SELECT COUNT(*) FROM parsed WHERE fingerprint=?", (keep_fingerprint,)).fetchone()
        if self.conn.execute("SELECT COUNT(*) FROM parsed").fetchone() != kept:
            self.conn.execute("DELETE FROM results WHERE path IN (SELECT path FROM parsed WHERE fingerprint IS NOT ?)",
                              (keep_fingerprint,))
            self.conn.execute("DELETE FROM parsed WHERE fingerprint IS NOT ?", (keep_fingerprint,))

    # -- what each output file was rendered from ---------------------------
    def outputs(self) -> dict[str, tuple[str, OutputStat]]:
        """Path -> (digest, stat when written) of every output file."""
        rows = self.conn.execute("SELECT path, digest, size, mtime_ns, inode FROM outputs")
        return {path: (digest, (size, mtime, inode)) for path, digest, size, mtime, inode in rows}

    def set_output(self, path: str, digest: str, stat: OutputStat) -> None:
        self.conn.execute("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?)", (path, digest, *stat))

    def forget_output(self, path: str) -> None:
        self.conn.execute("DELETE FROM outputs WHERE path=?", (path,))

    # -- what was published ---------------------------------------------
    def published(self) -> dict[str, dict[str, Any]]:
        """Key (:attr:`FeedInfo.key`) -> manifest entry of every feed the last run published."""
        rows = self.conn.execute("SELECT key, entry FROM published")
        return {key: json.loads(entry) for key, entry in rows}

    def set_published(self, feeds: dict[str, dict[str, Any]]) -> None:
        self.conn.execute("DELETE FROM published")
        self.conn.executemany("INSERT INTO published VALUES (?, ?)",
                              ((key, json.dumps(entry, sort_keys=True)) for key, entry in sorted(feeds.items())))

    # -- transactions --------------------------------------------------
    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")
        finally:
            self.conn.close()
