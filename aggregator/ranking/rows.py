"""What the ranking knows of one URL, computed from its copies: pure
functions, shared by the state-kept index (:mod:`aggregator.ranking.index`)
and the parse workers (a cold build computes each article's rows there).

Text that comes from input (URLs, paths, topic names) is stored as UTF-8
with ``surrogatepass``: a lone surrogate from a YAML escape must not fail
the build, and the byte order of UTF-8 is the code point order Python
sorts by, so ties break the same way in SQL and in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from aggregator.config import FilterSettings, RankingSettings
from aggregator.config.custom import CustomFeed, Matcher
from aggregator.model import Summary
from aggregator.ranking.rules import (
    DAY,
    RankKey,
    copy_choice,
    effective_quality,
    rank_key_with,
    wanted,
)
from aggregator.state import codec
from aggregator.topics import topic_key


def as_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def as_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


class Copy(NamedTuple):
    """One copy of an article as the ranking stores it."""

    id: str
    published: float
    summary: bytes  # its Summary (state codec)


def copy_of(item: Summary) -> Copy:
    return Copy(item.id, item.published, codec.dumps_summary(item))


class LocalFile(Protocol):
    """A parsed article file as the ranking reads it (what the local
    sources produce, :class:`aggregator.sources.local.collect.ParsedFile`)."""

    @property
    def path(self) -> str: ...
    @property
    def copies(self) -> tuple[Copy, ...]: ...
    @property
    def rows(self) -> tuple[Rows, ...]: ...  # per copy, when asked for (a complete set)


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
    decisions as the reference ranker of the tests (removed, future, filtered,
    winner), by the same rules."""
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
        if not wanted(item, quality, filters):
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
    url = (as_bytes(article_id), int(state.live), rank[0] if rank else None, rank[1] if rank else None, extra)
    live = state.live and rank is not None
    return Rows(url, tuple(as_bytes(t) for t in state.topics) if live else (), state.day, state.custom if live else (),
                tuple((as_bytes(rules.topic_key(n)), as_bytes(n)) for n in state.names), state.filtered)


def decode(row: Sequence[Any]) -> UrlState:
    """The state of a ``urls`` row (its columns in table order)."""
    ident, live, r0, r1, extra = row
    day, quality, topics, names, filtered, custom, item = codec.loads(extra)
    rank = (r0, r1, as_text(ident)) if r0 is not None else None
    return UrlState(bool(live), rank, codec.summary_of(item) if item is not None else None, day, quality,
                    tuple(topics), tuple(names), filtered, tuple(custom))


def solo_rows(item: Summary, rules: Rules) -> Rows:
    """The :class:`Rows` of a URL whose one copy is ``item`` (the usual case)."""
    rules = _shared(rules)
    return encode(aggregate((item,), rules), item.id, rules)


_RULES: dict[str, Rules] = {}


def _shared(rules: Rules) -> Rules:
    """One Rules per settings in a worker process, so its memo of topic
    keys outlives the batch each copy of it arrived with."""
    key = rules.key()
    if (shared := _RULES.get(key)) is None or shared.latest_allowed != rules.latest_allowed:
        shared = _RULES[key] = rules
    return shared
