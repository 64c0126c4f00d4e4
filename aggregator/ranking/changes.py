"""Row changes of the ranking index, gathered over many URLs and written in
a few statements: members in and out, and the per-topic counts kept by
adding and subtracting."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable

from aggregator.ranking.rows import Rows


class Changes:
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
        self.add_all((rows,), sign)

    def add_all(self, many: Iterable[Rows], sign: int = 1) -> None:
        """:meth:`add` for each of ``many``, with the lookups done once: a
        cold build adds every article's rows here, in the process the parse
        workers wait on."""
        spellings, days, topics = self.spellings, self.days, self.topics
        members, custom = self.members[0 if sign < 0 else 1], self.custom[0 if sign < 0 else 1]
        urls = self.urls if sign > 0 else None
        count = filtered = 0
        for rows in many:
            count += 1
            url = rows.url
            filtered += rows.filtered
            for spelling in rows.spellings:
                spellings[spelling] += sign
                topics.add(spelling[0])  # a spelling counts towards the display name, live or not
            feeds = rows.topics
            if feeds or rows.custom:
                ident, _live, r0, r1 = url[:4]
                assert r0 is not None and r1 is not None
                topics.update(feeds)
                day = rows.day
                for topic in feeds:
                    members.append((topic, r0, r1, ident))
                    days[(topic, day)] += sign
                custom.extend((feed, r0, r1, ident) for feed in rows.custom)
            if urls is not None:
                urls.append(url)
        self.count += count
        self.filtered += sign * filtered

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
