"""Story clusters kept in the state store, next to the ranking index.

``clusters`` holds one row per live URL that shares its story with another:
(URL, cluster id).  A URL without a row is a story of its own, so the table
stays small.  A cold build or a settings change clusters every live URL from
buckets of keys (:func:`aggregator.ranking.stories.components`).  An
incremental run re-clusters the neighbourhood of the URLs whose state
changed: their old clusters and everything linked to them, found among the
live URLs published within the window of each (the ``urls_published``
index), and leaves every other cluster alone.  Both ways give the same
clusters: links depend on the two articles alone.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence

from aggregator import memory
from aggregator.model import Summary
from aggregator.ranking.rows import as_bytes, as_text
from aggregator.ranking.rules import MAX_MEMBERS, Member, Story, story_of
from aggregator.ranking.stories import Settings, Sketch, components, linked, similarity, sketch, why
from aggregator.state import codec

TABLES = (
    "CREATE TABLE IF NOT EXISTS clusters (id BLOB PRIMARY KEY, cluster BLOB NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS clusters_cluster ON clusters (cluster)",
)
_CHUNK = 500  # ids per IN (...) query


def _winner(state: bytes) -> Summary:
    return codec.summary_of(codec.loads(state)[6])


# What a story lists of a member, taken out of its ``urls.state`` by SQLite
# (its winning summary is the state's seventh value): the member records of
# the stories a run shows cost a fifth of decoding each member's whole state.
_SHOWN = ", ".join(f"'$[6][{Summary._fields.index(name)}]'" for name in ("id", "link", "title", "provider",
                                                                          "published"))
_MEMBERS = ("SELECT CAST(json_extract(CAST(u.state AS TEXT), " + _SHOWN + ") AS BLOB) "
            "FROM clusters c JOIN urls u ON u.id = c.id WHERE c.cluster=? AND u.live = 1")


def _member(shown: bytes) -> Member:
    ident, link, title, provider, published = codec.loads(shown)
    return Member(ident, link or ident, title, provider, published)


class Clusters:
    """The ``clusters`` table of one connection and the settings it was made with."""

    def __init__(self, conn: sqlite3.Connection, settings: Settings | None):
        self.conn = conn
        self.settings = settings  # None: clustering is off
        self._members: dict[bytes, list[Member]] = {}  # per cluster, newest first (story)

    def rebuild(self) -> None:
        """Cluster every live URL again."""
        self.conn.execute("DELETE FROM clusters")
        self._members = {}
        if self.settings is None:
            return
        # In (published, id) order (r1 is -published; SQLite sorts only the
        # ties), so clustering holds a window of sketches, not all of them.
        # The sketches hold no cycles: the collector stays off while they are
        # made (its passes once cost more than making them: 5.2 s against 1.8 s).
        rows = self.conn.execute("SELECT state FROM urls WHERE live = 1 ORDER BY r1 DESC, id")
        with memory.paused():
            found = components((sketch(_winner(state)) for (state,) in rows), self.settings, in_order=True)
        self.conn.executemany("INSERT INTO clusters VALUES (?, ?)",
                              ((as_bytes(i), as_bytes(c)) for i, c in sorted(found.items())))

    def update(self, changed: Iterable[bytes], restyled: Iterable[bytes] = ()) -> set[bytes]:
        """Re-cluster around the URLs ``changed`` (``restyled``: those of
        them whose :class:`~aggregator.ranking.rules.Member` record, what
        the other members' items show of them, changed too); returns every
        URL whose story now reads differently: the members of every story
        that gained, lost or restyled a member."""
        self._members = {}
        seeds = set(changed)
        if not seeds or self.settings is None:
            return set()
        old = dict(self._rows("SELECT id, cluster FROM clusters WHERE cluster IN "
                              "(SELECT cluster FROM clusters WHERE id IN ({}))", sorted(seeds)))
        seeds.update(old)
        visited = self._reach(seeds)
        for ident, cluster in self._rows("SELECT id, cluster FROM clusters WHERE id IN ({})",
                                         sorted(as_bytes(i) for i in visited if as_bytes(i) not in old)):
            old[ident] = cluster
        found = components(visited.values(), self.settings)
        touched = seeds | {as_bytes(i) for i in visited}
        self.conn.executemany("DELETE FROM clusters WHERE id=?", ((i,) for i in sorted(touched)))
        self.conn.executemany("INSERT INTO clusters VALUES (?, ?)",
                              ((as_bytes(i), as_bytes(c)) for i, c in sorted(found.items())))
        new = {as_bytes(i): as_bytes(c) for i, c in found.items()}
        moved = {i for i in touched if old.get(i) != new.get(i)}
        told = moved | (touched & set(restyled))
        stories = {old[i] for i in told if i in old} | {new[i] for i in told if i in new}
        return {i for i in touched if old.get(i) in stories or new.get(i) in stories}

    def _rows(self, query: str, ids: Sequence[bytes]) -> Iterator[tuple[bytes, bytes]]:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            yield from self.conn.execute(query.format(", ".join("?" * len(chunk))), chunk)

    def _reach(self, seeds: Iterable[bytes]) -> dict[str, Sketch]:
        """The live URLs among ``seeds`` and every live URL linked to them, transitively."""
        settings = self.settings
        assert settings is not None
        near = _Near(self.conn, settings.window)
        visited: dict[str, Sketch] = {}
        queue: list[Sketch] = []
        for ident in sorted(seeds):
            row = self.conn.execute("SELECT state FROM urls WHERE id=? AND live = 1", (ident,)).fetchone()
            if row is not None:
                s = sketch(_winner(row[0]))
                visited[s.id] = s
                queue.append(s)
        while queue:
            here = queue.pop()
            for other in near.around(here.published):
                if other.id not in visited and linked(here, other, settings):
                    visited[other.id] = other
                    queue.append(other)
        return visited

    def cluster_of(self, ident: bytes) -> bytes | None:
        row = self.conn.execute("SELECT cluster FROM clusters WHERE id=?", (ident,)).fetchone()
        return None if row is None else bytes(row[0])

    def story(self, cluster: bytes, shown: str) -> Story | None:
        """The story ``cluster`` as published by its member ``shown``.  Its
        members are read once per run (feeds share stories): call it after
        the run's :meth:`rebuild` or :meth:`update`."""
        members = self._members.get(cluster)
        if members is None:
            found = [_member(shown) for (shown,) in self.conn.execute(_MEMBERS, (cluster,))]
            members = self._members[cluster] = sorted(found, key=lambda m: (-m.published, m.id))
        if len(members) < 2:
            return None
        first = members[-1].published  # the earliest member's, whose id the cluster's is
        others = tuple(m for m in members if m.id != shown)[:MAX_MEMBERS]
        return story_of(as_text(cluster), first, len(members), others)

    def explain(self, ident: bytes) -> list[str]:
        """Why the live URL ``ident`` is in its story, and the nearest
        articles it was not joined with (what ``aggregator explain`` prints)."""
        if self.settings is None:
            return ["  stories: clustering is off (ranking.clusters.enabled)"]
        row = self.conn.execute("SELECT state FROM urls WHERE id=? AND live = 1", (ident,)).fetchone()
        if row is None:
            return ["  stories: not published (withdrawn, filtered out or dated in the future): in no story"]
        me = _winner(row[0])
        own = sketch(me)
        cluster = self.cluster_of(ident)
        lines: list[str] = []
        mates: list[Summary] = []
        if cluster is None:
            lines.append("  story: its own (no other article is linked to it)")
        else:
            mates = [_winner(state) for (state,) in self.conn.execute(
                "SELECT u.state FROM clusters c JOIN urls u ON u.id = c.id WHERE c.cluster=? AND u.live = 1",
                (cluster,))]
            lines.append(f"  story {as_text(cluster)} ({len(mates)} articles; each feed shows its best-ranked "
                         "member, the others under \"Also covered by\"):")
            sketches = {m.id: sketch(m) for m in mates}
            for m in sorted(mates, key=lambda m: (m.published, m.id)):
                links = [o for o in sorted(sketches)
                         if o != m.id and linked(sketches[m.id], sketches[o], self.settings)]
                reason = why(sketches[m.id], sketches[links[0]], self.settings)[1] if links else ""
                lines.append(f"    {m.id}: {m.title!r}" + (f" - linked to {len(links)} ({reason} with {links[0]})"
                                                               if links else ""))
        window = self.settings.window
        near = []
        for (state,) in self.conn.execute("SELECT state FROM urls WHERE live = 1 AND r1 BETWEEN ? AND ?",
                                          (-(me.published + window), -(me.published - window))):
            other = _winner(state)
            if other.id == me.id or any(m.id == other.id for m in mates):
                continue
            s = sketch(other)
            near.append((-similarity(own, s), other.id, other.title, why(own, s, self.settings)[1]))
        if near:
            lines.append("  nearest articles not in its story:")
            lines += [f"    {i}: {title!r} - {reason}" for _score, i, title, reason in sorted(near)[:5]]
        return lines


class _Near:
    """The live URLs by publication time, read from ``urls`` (its
    ``urls_published`` index) as far as asked, each sketched once: a run
    re-clusters a few days of articles, not the archive."""

    def __init__(self, conn: sqlite3.Connection, window: float):
        self.conn, self.window = conn, window
        self.low = self.high = 0.0
        self.loaded = False
        self.times: list[float] = []
        self.items: list[Sketch] = []

    def around(self, moment: float) -> list[Sketch]:
        """The live URLs published within the window of ``moment``."""
        low, high = moment - self.window, moment + self.window
        if not self.loaded:
            self._load(low, high)
            self.low, self.high, self.loaded = low, high, True
        if low < self.low:
            self._load(low, self.low)
            self.low = low
        if high > self.high:
            self._load(self.high, high)
            self.high = high
        return self.items[bisect_left(self.times, low):bisect_right(self.times, high)]

    def _load(self, low: float, high: float) -> None:
        known = {s.id for s in self.items}
        rows = self.conn.execute("SELECT state FROM urls WHERE live = 1 AND r1 BETWEEN ? AND ?", (-high, -low))
        found = [s for (state,) in rows if (s := sketch(_winner(state))).id not in known]
        merged = sorted([*self.items, *found], key=lambda s: (s.published, s.id))
        self.items, self.times = merged, [s.published for s in merged]
