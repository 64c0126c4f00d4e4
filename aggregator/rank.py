"""Dedupe, filter, score and group articles into feeds.  Pure.

Score (mode ``score``): an article of quality ``q`` published at ``t`` has,
at time ``now``, the score ``(1 + q) * 2 ** -((now - t) / half_life)``.
Because every score decays by the same factor as time passes, the *order*
never changes with ``now``; it is the order of the time-free key
``log2(1 + q) + t / half_life``, which is what we sort by.  ``q`` is the
article's quality (or ``ranking.default_quality``) plus
``heat_weight * heat``, floored at 0.  Mode ``latest`` sorts by ``t`` alone.
Ties are broken by the newer date, then the id.

The ranker streams: :meth:`Ranker.add` keeps a small summary per distinct
URL (never the article bodies), and :meth:`Ranker.result` picks the top
``max_items`` per topic.  The caller loads the winning articles by
``(origin, id)``; this keeps memory flat however large the archive is.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .config import FilterSettings, RankingSettings
from .model import Article, Problem
from .topics import display_name, topic_key

PER_DAY_WINDOW = 30


@dataclass(slots=True)
class _Best:
    """What the ranker remembers about one URL."""

    choice: tuple[float, float, str, str]  # smaller wins: (-quality, -time, origin, title)
    origin: str
    rank: tuple[float, float, str]  # smaller ranks first
    published: datetime
    topics: dict[str, None] = field(default_factory=dict)  # canonical keys, ordered
    removed: bool = False


@dataclass(frozen=True, slots=True)
class Pick:
    """A winning article: where to load it from and its merged topics."""

    id: str
    origin: str
    topic_keys: tuple[str, ...]


@dataclass(frozen=True)
class Ranking:
    """Per feed, the picks in feed order.  ``topics`` maps canonical key to
    display name; ``all`` is the all-topics feed; ``per_day`` counts each
    topic's eligible articles per day over the 30 days up to its newest."""

    topics: dict[str, str]
    feeds: dict[str, tuple[Pick, ...]]
    all: tuple[Pick, ...]
    per_day: dict[str, tuple[int, ...]]
    eligible: int


def rank_key(article: Article, ranking: RankingSettings) -> tuple[float, float, str]:
    """The sort key of an article: smaller sorts first (see module doc)."""
    seconds = article.published.timestamp()
    if ranking.mode == "latest":
        return (-seconds, -seconds, article.id)
    quality = effective_quality(article, ranking)
    return (-(math.log2(1.0 + quality) + seconds / ranking.half_life), -seconds, article.id)


def effective_quality(article: Article, ranking: RankingSettings) -> float:
    quality = ranking.default_quality if article.quality is None else article.quality
    if article.heat is not None:
        quality += ranking.heat_weight * article.heat
    return max(quality, 0.0)


class Ranker:
    """Streaming dedupe + ranking (see module docstring)."""

    def __init__(self, ranking: RankingSettings, filters: FilterSettings, now: datetime):
        self.ranking = ranking
        self.filters = filters
        self.latest_allowed = now.astimezone(UTC) + timedelta(seconds=filters.max_future)
        self.best: dict[str, _Best] = {}
        self.spellings: dict[str, Counter[str]] = {}
        self.filtered = 0

    def add(self, article: Article) -> Problem | None:
        """Take one article; returns a problem when it is not eligible."""
        if article.removed:
            self._withdraw(article)
            return None
        if article.published > self.latest_allowed:
            return Problem(article.origin, f"publishedDateTime {article.published.isoformat()} is in the future")
        if not self._wanted(article):
            self.filtered += 1  # left out by configuration: not a problem
            return None
        keys = []
        for name in article.topics:
            key = topic_key(name)
            if key:
                self.spellings.setdefault(key, Counter())[name] += 1
                keys.append(key)
        choice = (-effective_quality(article, self.ranking), -article.published.timestamp(),
                  article.origin, article.title)
        best = self.best.get(article.id)
        if best is None:
            best = self.best[article.id] = _Best(choice, article.origin, rank_key(article, self.ranking),
                                                 article.published)
        elif choice < best.choice:
            best.choice, best.origin = choice, article.origin
            best.rank, best.published = rank_key(article, self.ranking), article.published
        best.topics.update(dict.fromkeys(keys))
        return None

    def _withdraw(self, article: Article) -> None:
        best = self.best.setdefault(article.id, _Best((0.0, 0.0, "", ""), "", (0.0, 0.0, ""), article.published))
        best.removed = True

    def _wanted(self, article: Article) -> bool:
        if self.filters.published_only and article.is_published is not True:
            return False
        minimum = self.filters.min_quality
        return minimum is None or effective_quality(article, self.ranking) >= minimum

    def result(self, max_items: int) -> Ranking:
        """The top ``max_items`` per topic and overall."""
        per_topic: dict[str, list[tuple[tuple[float, float, str], str]]] = {}
        days: dict[str, Counter[datetime]] = {}
        overall: list[tuple[tuple[float, float, str], str]] = []
        for article_id, best in self.best.items():
            if best.removed or not best.origin:
                continue
            entry = (best.rank, article_id)
            overall.append(entry)
            day = best.published.replace(hour=0, minute=0, second=0, microsecond=0)
            for key in best.topics:
                per_topic.setdefault(key, []).append(entry)
                days.setdefault(key, Counter())[day] += 1
        feeds = {key: self._picks(heapq.nsmallest(max_items, entries)) for key, entries in per_topic.items()}
        return Ranking(
            topics={key: display_name(self.spellings[key]) for key in feeds},
            feeds=feeds,
            all=self._picks(heapq.nsmallest(max_items, overall)),
            per_day={key: _window(counter) for key, counter in days.items()},
            eligible=len(overall),
        )

    def _picks(self, entries: list[tuple[tuple[float, float, str], str]]) -> tuple[Pick, ...]:
        return tuple(Pick(i, self.best[i].origin, tuple(self.best[i].topics)) for _rank, i in entries)


def _window(counter: Counter[datetime]) -> tuple[int, ...]:
    newest = max(counter)
    return tuple(counter.get(newest - timedelta(days=n), 0) for n in range(PER_DAY_WINDOW - 1, -1, -1))
