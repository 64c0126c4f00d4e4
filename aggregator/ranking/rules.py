"""Dedupe, filter, score and group articles into feeds.  Pure.

Score (mode ``score``): an article of quality ``q`` published at ``t`` has,
at time ``now``, the score ``(1 + q) * 2 ** -((now - t) / half_life)``.
Because every score decays by the same factor as time passes, the *order*
never changes with ``now``; it is the order of the time-free key
``log2(1 + q) + t / half_life``, which is what we sort by.  ``q`` is the
article's quality (or ``ranking.default_quality``) plus
``heat_weight * heat``, floored at 0.  Mode ``latest`` sorts by ``t`` alone.
Ties are broken by the newer date, then the id.

The rules live here once (:func:`copy_choice`, :func:`rank_key_with`,
:func:`wanted`...); :class:`aggregator.ranking.index.RankIndex` applies them
incrementally, kept in the state store.  The tests hold an in-memory
reference ranker built on the same rules (tests/reference_ranker.py) and
check that the index always ranks as it does.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from aggregator.config import FilterSettings, RankingSettings
from aggregator.model import Article, Summary, summarize

PER_DAY_WINDOW = 30
DAY = 86400

RankKey = tuple[float, float, str]


def copy_choice(item: Summary, quality: float) -> tuple[float, float, str, str]:
    """Which copy of a URL wins: the best quality, then the newest, then the
    first origin and title (so the choice never depends on input order)."""
    return (-quality, -item.published, item.origin, item.title)


class Member(NamedTuple):
    """What an item shows of another member of its story ("Also covered by",
    ``_aggregator.cluster.members``): nothing else, so an edit a reader of
    the other members' feeds cannot see (an excerpt, a body) leaves their
    stories, and their stored results, as they are.  Small: stored results
    carry many of them."""

    id: str
    link: str  # the published link
    title: str
    provider: str | None
    published: float  # POSIX seconds


def member_of(item: Summary) -> Member:
    return Member(item.id, item.link or item.id, item.title, item.provider, item.published)


class Story(NamedTuple):
    """The cluster a published item stands for (:mod:`aggregator.ranking.stories`):
    its fixed id (the earliest member's id) and date (that member's), how
    many articles it has, the others to list, newest first, and a digest of
    all of it (what a feed's digest takes of it: hashing up to a hundred
    members per item and feed on every run cost more than the clustering)."""

    id: str
    first: float  # the earliest member's publication time (POSIX seconds)
    size: int
    members: tuple[Member, ...]  # the other members, newest first, at most MAX_MEMBERS
    digest: str


def story_of(ident: str, first: float, size: int, members: tuple[Member, ...]) -> Story:
    told = repr((ident, first, size, members)).encode("utf-8", "surrogatepass")
    return Story(ident, first, size, members, hashlib.blake2b(told, digest_size=12).hexdigest())


MAX_COVERAGE = 8  # listed in an item's HTML ("Also covered by")
MAX_MEMBERS = 100  # listed in its JSON Feed extension (``_aggregator.cluster.members``)


@dataclass(frozen=True, slots=True)
class Pick:
    """A winning article: its summary (where to load it from), its
    topics merged over every copy of its URL and, when it stands for a story
    of several articles, that story."""

    item: Summary
    topic_keys: tuple[str, ...]
    story: Story | None = None

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def origin(self) -> str:
        return self.item.origin


@dataclass(frozen=True)
class Ranking:
    """Per feed, the picks in feed order.  ``topics`` maps canonical key to
    display name; ``all`` is the all-topics feed; ``custom`` holds one
    tuple per configured custom feed, in config order; ``per_day`` counts
    each topic's eligible articles per day over the 30 days up to its
    newest; ``archives`` maps topic key -> month ("YYYY-MM") -> every
    eligible article of the topic published that month, oldest first
    (empty unless asked for)."""

    topics: dict[str, str]
    feeds: dict[str, tuple[Pick, ...]]
    all: tuple[Pick, ...]
    per_day: dict[str, tuple[int, ...]]
    eligible: int
    custom: tuple[tuple[Pick, ...], ...] = ()
    archives: dict[str, dict[str, tuple[Pick, ...]]] = field(default_factory=dict)


def rank_key(item: Article | Summary, ranking: RankingSettings) -> RankKey:
    """The sort key of an article: smaller sorts first (see module doc)."""
    summary = item if isinstance(item, Summary) else summarize(item)
    return rank_key_with(summary, effective_quality(summary, ranking), ranking)


def rank_key_with(item: Summary, quality: float, ranking: RankingSettings) -> RankKey:
    seconds = item.published
    if ranking.mode == "latest":
        return (-seconds, -seconds, item.id)
    return (-(math.log2(1.0 + quality) + seconds / ranking.half_life), -seconds, item.id)


def effective_quality(item: Article | Summary, ranking: RankingSettings) -> float:
    quality = ranking.default_quality if item.quality is None else item.quality
    if item.heat is not None:
        quality += ranking.heat_weight * item.heat
    return quality if quality > 0.0 else 0.0  # not max(): this runs 100,000 times a build


def wanted(item: Summary, quality: float, filters: FilterSettings) -> bool:
    """Whether the filters keep ``item`` (of effective ``quality``); one
    left out is counted as filtered, not reported."""
    if filters.published_only and item.is_published is not True:
        return False
    minimum = filters.min_quality
    return minimum is None or quality >= minimum


def month_of(seconds: float) -> str:
    """"YYYY-MM" in UTC, zero-padded (strftime does not pad years < 1000)."""
    t = time.gmtime(seconds)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}"


def day_window(counter: Counter[int]) -> tuple[int, ...]:
    newest = max(counter)
    return tuple(counter.get(newest - n, 0) for n in range(PER_DAY_WINDOW - 1, -1, -1))
