"""The in-memory reference ranker: what the ranking index
(:class:`aggregator.ranking.index.RankIndex`) must always equal, however it
got there (tests/test_rankstore.py).  :meth:`Ranker.add` keeps a small
summary per distinct URL, :meth:`Ranker.result` picks the top ``max_items``
per topic.  It shares the rules of :mod:`aggregator.ranking.rules`; what it
does differently is everything the index optimises (incremental updates,
SQL ranges, solo rows)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aggregator.config import FilterSettings, RankingSettings
from aggregator.config.custom import CustomFeed, Matcher
from aggregator.model import Article, Problem, Summary, summarize
from aggregator.ranking import stories
from aggregator.ranking.picks import provider_of
from aggregator.ranking.rules import (
    DAY,
    MAX_MEMBERS,
    Pick,
    Ranking,
    RankKey,
    copy_choice,
    day_window,
    effective_quality,
    member_of,
    month_of,
    rank_key_with,
    story_of,
    wanted,
)
from aggregator.topics import display_name, topic_key


@dataclass(slots=True)
class _Best:
    """What the ranker remembers about one URL: the winning copy's summary."""

    choice: tuple[float, float, str, str] | None  # smaller wins (see copy_choice); None until a duplicate needs it
    item: Summary | None
    rank: RankKey  # smaller ranks first
    quality: float
    topics: tuple[str, ...]  # canonical keys of every copy, in order of appearance
    removed: bool = False


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
        if not wanted(item, quality, self.filters):
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
            item = Summary(id=item.id, origin=item.origin, published=item.published, updated=item.updated,
                           title=item.title, digest=item.digest, topics=item.topics,
                           quality=item.quality, heat=item.heat, is_published=item.is_published,
                           provider=item.provider, domain=item.domain, link=item.link, gist=item.gist,
                           links=item.links)
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
        self._cluster()
        per_provider = self.ranking.max_per_provider
        feeds = {key: self._story_picks(sorted(entries), max_items, per_provider) for key, entries in per_topic.items()}
        spellings: dict[str, Counter[str]] = {}
        for name, count in self._names.items():
            spellings.setdefault(self._keys[name], Counter())[name] += count
        custom_picks = [self._story_picks(sorted(found), feed.max_items or max_items, feed.max_per_provider)
                        for feed, found in zip(custom, chosen, strict=True)]
        return Ranking(
            topics={key: display_name(spellings[key]) for key in feeds},
            feeds=feeds,
            all=self._story_picks(sorted(overall), max_items, per_provider),
            per_day={key: day_window(counter) for key, counter in days.items()},
            eligible=len(overall),
            custom=tuple(custom_picks),
            archives={key: {m: self._picks_of([i for _t, i in sorted(entries)])
                            for m, entries in sorted(by_month.items())}
                      for key, by_month in months.items()},
        )

    def _cluster(self) -> None:
        """Every live article's story, clustered at once (the index does it incrementally)."""
        live = [b.item for b in self.best.values() if not b.removed and b.item is not None]
        found = self.ranking.clusters
        self.cluster = stories.components([stories.sketch(i) for i in live],
                                          stories.Settings(found.threshold, found.window)) if found.enabled else {}
        self.members: dict[str, list[Summary]] = {}
        for item in live:
            if item.id in self.cluster:
                self.members.setdefault(self.cluster[item.id], []).append(item)

    def _story_picks(self, entries: list[tuple[RankKey, str]], limit: int,
                     per_provider: int | None) -> tuple[Pick, ...]:
        """The first ``limit`` of ``entries`` (best first), one per story, at
        most ``per_provider`` per provider, each with its story."""
        picks: list[Pick] = []
        taken: set[str] = set()
        counts: Counter[str] = Counter()
        for _rank, article_id in entries:
            story = self.cluster.get(article_id)
            if story is not None and story in taken:
                continue
            item = self._item(article_id)
            if per_provider is not None:
                if counts[provider_of(item)] >= per_provider:
                    continue
                counts[provider_of(item)] += 1
            told = None
            if story is not None:
                taken.add(story)
                members = self.members[story]
                others = sorted((m for m in members if m.id != article_id), key=lambda m: (-m.published, m.id))
                told = story_of(story, min(m.published for m in members), len(members),
                                tuple(member_of(m) for m in others[:MAX_MEMBERS]))
            picks.append(Pick(item, self.best[article_id].topics, told))
            if len(picks) >= limit:
                break
        return tuple(picks)

    def _item(self, article_id: str) -> Summary:
        item = self.best[article_id].item
        assert item is not None
        return item

    def _picks(self, entries: list[tuple[RankKey, str]]) -> tuple[Pick, ...]:
        return self._picks_of([i for _rank, i in entries])

    def _picks_of(self, ids: list[str]) -> tuple[Pick, ...]:
        return tuple(Pick(self._item(i), self.best[i].topics) for i in ids)


