"""Dedupe, filter, score and group articles into feeds.  Pure.

Score (mode ``score``): an article of quality ``q`` published at ``t`` has,
at time ``now``, the score ``(1 + q) * 2 ** -((now - t) / half_life)``.
Because every score decays by the same factor as time passes, the *order*
never changes with ``now``; it is the order of the time-free key
``log2(1 + q) + t / half_life``, which is what we sort by.  ``q`` is the
article's quality (or ``ranking.default_quality``) plus
``heat_weight * heat``, floored at 0.  Mode ``latest`` sorts by ``t`` alone.
Ties are broken by the newer date, then the id.

:class:`Ranker` is the in-memory reference: :meth:`Ranker.add` keeps a
small summary per distinct URL (never the article bodies), and
:meth:`Ranker.result` picks the top ``max_items`` per topic.  Builds use
:class:`aggregator.ranking.index.RankIndex`, the same ranking kept in the state
store and updated incrementally (tested to equal this one); it shares the
rules defined here (:func:`copy_choice`, :func:`rank_key_with`, ...).
"""

from __future__ import annotations

import heapq
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aggregator.config import FilterSettings, RankingSettings
from aggregator.config.custom import CustomFeed, Matcher, capped
from aggregator.model import Article, Problem, Summary, summarize
from aggregator.topics import display_name, topic_key

PER_DAY_WINDOW = 30
DAY = 86400

RankKey = tuple[float, float, str]


@dataclass(slots=True)
class _Best:
    """What the ranker remembers about one URL: the winning copy's summary."""

    choice: tuple[float, float, str, str] | None  # smaller wins (see copy_choice); None until a duplicate needs it
    item: Summary | None
    rank: RankKey  # smaller ranks first
    quality: float
    topics: tuple[str, ...]  # canonical keys of every copy, in order of appearance
    removed: bool = False


def copy_choice(item: Summary, quality: float) -> tuple[float, float, str, str]:
    """Which copy of a URL wins: the best quality, then the newest, then the
    first origin and title (so the choice never depends on input order)."""
    return (-quality, -item.published, item.origin, item.title)


@dataclass(frozen=True, slots=True)
class Pick:
    """A winning article: its summary (where to load it from) and its
    topics merged over every copy of its URL."""

    item: Summary
    topic_keys: tuple[str, ...]

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


class Ranker:
    """Streaming dedupe + ranking (see module docstring)."""

    def __init__(self, ranking: RankingSettings, filters: FilterSettings, now: datetime, *, details: bool = True):
        """``details=False`` keeps of each article only what ranking and
        publishing need (~40% less memory per article), which is enough
        unless custom feeds must filter on provider, domain, category or type."""
        self.details = details
        self.ranking = ranking
        self.filters = filters
        self.latest_allowed = (now.astimezone(UTC) + timedelta(seconds=filters.max_future)).timestamp()
        self.best: dict[str, _Best] = {}
        self._names: dict[str, int] = {}  # topic spelling -> articles using it
        self._keys: dict[str, str] = {}  # topic spelling -> canonical key (memo)
        self.filtered = 0
        # When the earliest article skipped as "in the future" becomes
        # eligible: until then, the same inputs give the same output.
        self.next_due = math.inf

    def add(self, article: Article | Summary) -> Problem | None:
        """Take one article; returns a problem when it is not eligible."""
        item = article if isinstance(article, Summary) else summarize(article)
        if item.removed:
            self._withdraw(item)
            return None
        if item.published > self.latest_allowed:
            self.next_due = min(self.next_due, item.published - self.filters.max_future)
            when = datetime.fromtimestamp(item.published, UTC).isoformat()
            return Problem(item.origin, f"publishedDateTime {when} is in the future")
        quality = effective_quality(item, self.ranking)
        if not self._wanted(item, quality):
            self.filtered += 1  # left out by configuration: not a problem
            return None
        keys: list[str] = []
        for name in item.topics:
            key = self._keys.get(name)
            if key is None:
                key = self._keys[name] = topic_key(name)
            if key:
                self._names[name] = self._names.get(name, 0) + 1
                if key not in keys:
                    keys.append(key)
        if not self.details:
            item = Summary(item.id, item.origin, item.published, item.updated, item.title, item.digest,
                           quality=item.quality, heat=item.heat, is_published=item.is_published)
        best = self.best.get(item.id)
        if best is None:
            # The common case (a URL seen once): no tie-break tuple needed.
            self.best[item.id] = _Best(None, item, rank_key_with(item, quality, self.ranking), quality, tuple(keys))
            return None
        choice = copy_choice(item, quality)
        if best.item is None or choice < (best.choice or copy_choice(best.item, best.quality)):
            best.choice, best.item, best.quality = choice, item, quality
            best.rank = rank_key_with(item, quality, self.ranking)
        best.topics += tuple(k for k in keys if k not in best.topics)
        return None

    def _withdraw(self, item: Summary) -> None:
        best = self.best.get(item.id)
        if best is None:
            best = self.best[item.id] = _Best(None, None, (0.0, 0.0, ""), 0.0, ())
        best.removed = True

    def _wanted(self, item: Summary, quality: float) -> bool:
        if self.filters.published_only and item.is_published is not True:
            return False
        minimum = self.filters.min_quality
        return minimum is None or quality >= minimum

    def result(self, max_items: int, custom: Sequence[CustomFeed] = (), *, archives: bool = False) -> Ranking:
        """The top ``max_items`` per topic and overall (and per custom feed;
        every article by topic and month when ``archives``)."""
        per_topic: dict[str, list[tuple[RankKey, str]]] = {}
        days: dict[str, Counter[int]] = {}
        months: dict[str, dict[str, list[tuple[float, str]]]] = {}
        overall: list[tuple[RankKey, str]] = []
        if custom and not self.details:
            raise ValueError("custom feeds need a Ranker made with details=True")
        matchers = [Matcher.of(c) for c in custom]
        chosen: list[list[tuple[RankKey, str]]] = [[] for _ in custom]
        for article_id, best in self.best.items():
            item = best.item
            if best.removed or item is None:
                continue
            entry = (best.rank, article_id)
            overall.append(entry)
            day = int(item.published // DAY)
            month = month_of(item.published) if archives else ""
            for key in best.topics:
                members = per_topic.get(key)
                if members is None:
                    members = per_topic[key] = []
                    days[key] = Counter()
                members.append(entry)
                days[key][day] += 1
                if archives:
                    months.setdefault(key, {}).setdefault(month, []).append((item.published, article_id))
            for matcher, found in zip(matchers, chosen, strict=True):
                if matcher.matches(item, best.topics, best.quality):
                    found.append(entry)
        feeds = {key: self._picks(heapq.nsmallest(max_items, entries)) for key, entries in per_topic.items()}
        spellings: dict[str, Counter[str]] = {}
        for name, count in self._names.items():
            spellings.setdefault(self._keys[name], Counter())[name] += count
        custom_picks = []
        for feed, found in zip(custom, chosen, strict=True):
            limit = feed.max_items or max_items
            ranked = ((i, self._item(i)) for _rank, i in sorted(found))
            custom_picks.append(self._picks_of(capped(ranked, limit, feed.max_per_provider)))
        return Ranking(
            topics={key: display_name(spellings[key]) for key in feeds},
            feeds=feeds,
            all=self._picks(heapq.nsmallest(max_items, overall)),
            per_day={key: day_window(counter) for key, counter in days.items()},
            eligible=len(overall),
            custom=tuple(custom_picks),
            archives={key: {m: self._picks_of([i for _t, i in sorted(entries)])
                            for m, entries in sorted(by_month.items())}
                      for key, by_month in months.items()},
        )

    def _item(self, article_id: str) -> Summary:
        item = self.best[article_id].item
        assert item is not None
        return item

    def _picks(self, entries: list[tuple[RankKey, str]]) -> tuple[Pick, ...]:
        return self._picks_of([i for _rank, i in entries])

    def _picks_of(self, ids: list[str]) -> tuple[Pick, ...]:
        return tuple(Pick(self._item(i), self.best[i].topics) for i in ids)


def month_of(seconds: float) -> str:
    """"YYYY-MM" in UTC, zero-padded (strftime does not pad years < 1000)."""
    t = time.gmtime(seconds)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}"


def day_window(counter: Counter[int]) -> tuple[int, ...]:
    newest = max(counter)
    return tuple(counter.get(newest - n, 0) for n in range(PER_DAY_WINDOW - 1, -1, -1))
