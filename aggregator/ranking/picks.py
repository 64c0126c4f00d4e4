"""Reading feeds out of the ranking index: each feed's picks, best first,
one per story and at most ``max_per_provider`` per provider.

A feed's members are read in rank order and only as far as needed: a
member whose story another member already stands for is skipped, so each
story is shown by its best-ranked member in that feed's own ranking.
Archives are not deduplicated: they list every article of their month.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from aggregator.model import Summary
from aggregator.ranking.clusters import Clusters
from aggregator.ranking.rules import Member, Pick, Story, month_of
from aggregator.state import codec


def provider_of(item: Summary) -> str:
    """Who ``max_per_provider`` counts an item against: its provider's name, else its domain."""
    return (item.provider or "").casefold() or item.domain or item.id


class Reader:
    """Reads picks through one connection, one story per cluster."""

    def __init__(self, conn: sqlite3.Connection, clusters: Clusters):
        self.conn = conn
        self.clusters = clusters

    def picks(self, query: str, args: Sequence[Any], limit: int, per_provider: int | None = None) -> tuple[Pick, ...]:
        """The first ``limit`` picks of ``query`` (rows of ``(id, cluster)``
        in rank order, without a LIMIT), one per story.  A URL's state is
        read only when it is taken: in a feed of big stories most rows are
        members of a story already shown (at 100,000 story articles a topic
        read 200 rows for 50 picks, and reading every row's state cost
        three times as much as the rows)."""
        picks: list[Pick] = []
        stories: set[bytes] = set()
        counts: Counter[str] = Counter()
        state = self.conn.cursor()
        for ident, cluster in self.conn.execute(query, args):
            if cluster is not None and cluster in stories:
                continue
            pick = _pick(state.execute("SELECT state FROM urls WHERE id=?", (ident,)).fetchone()[0])
            if per_provider is not None:
                # Before the story is taken: a member over the cap leaves
                # the story to its next member from another provider.
                who = provider_of(pick.item)
                if counts[who] >= per_provider:
                    continue
                counts[who] += 1
            if cluster is not None:
                stories.add(cluster)
            if cluster is not None:
                pick = Pick(pick.item, pick.topic_keys, self.clusters.story(cluster, pick.id))
            picks.append(pick)
            if len(picks) >= limit:
                break
        return tuple(picks)

    def months(self, topic: bytes, shared: dict[bytes, Pick]) -> dict[str, tuple[Pick, ...]]:
        """Every live article of ``topic`` by month, oldest first.  (All of
        them: what an archive needs, and why archives are opt-in.)  ``shared``
        holds the picks already read for other topics: an article listed
        under three topics is one object, not three."""
        picks = []
        for ident, extra in self.conn.execute(
                "SELECT u.id, u.state FROM members m JOIN urls u ON u.id = m.id WHERE m.topic=?", (topic,)):
            pick = shared.get(ident)
            if pick is None:
                full = _pick(extra)
                # What publishing needs of an archived item (as the in-memory
                # ranker keeps without custom feeds): a third of the memory.
                item = full.item
                slim = Summary(id=item.id, origin=item.origin, published=item.published, updated=item.updated,
                               title=item.title, digest=item.digest)
                pick = shared[ident] = Pick(slim, full.topic_keys)
            picks.append(pick)
        picks.sort(key=lambda p: (p.item.published, p.item.id))
        grouped: dict[str, list[Pick]] = {}
        for pick in picks:
            grouped.setdefault(month_of(pick.item.published), []).append(pick)
        return {month: tuple(found) for month, found in sorted(grouped.items())}


def _pick(extra: bytes) -> Pick:
    state = codec.loads(extra)
    return Pick(codec.summary_of(state[6]), tuple(state[2]))


def stored(picks: Iterable[Pick]) -> list[Any]:
    """Picks as the ``topic_results`` table keeps them (JSON)."""
    return [[list(p.item), p.topic_keys, None if p.story is None else [*p.story[:3], [list(m) for m in p.story.members],
                                                                       p.story.digest]] for p in picks]


def from_stored(rows: Iterable[Any]) -> Iterator[Pick]:
    for item, topic_keys, story in rows:
        yield Pick(codec.summary_of(item), tuple(topic_keys), None if story is None else Story(
            story[0], story[1], story[2], tuple(Member._make(m) for m in story[3]), story[4]))


def join_clusters(table: str, where: str) -> str:
    """The rank-ordered query of a feed's members, with their clusters."""
    return (f"SELECT m.id, c.cluster FROM {table} m "  # noqa: S608 - fixed names
            f"LEFT JOIN clusters c ON c.id = m.id WHERE {where} ORDER BY m.r0, m.r1, m.id")


ALL = ("SELECT u.id, c.cluster FROM urls u LEFT JOIN clusters c ON c.id = u.id "
       "WHERE u.live = 1 ORDER BY u.r0, u.r1, u.id")
TOPIC = join_clusters("members", "m.topic=?")
CUSTOM = join_clusters("custom_members", "m.feed=?")
