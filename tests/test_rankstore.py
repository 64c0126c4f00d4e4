"""The ranking kept in the state store equals the in-memory reference ranker,
built at once or reached through any sequence of changes (files replaced,
added, removed, remote items, the clock moving either way, new settings)."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st
from reference_ranker import Ranker

from aggregator.config import ClusterSettings, FilterSettings, RankingSettings
from aggregator.config.custom import CustomFeed
from aggregator.model import Summary
from aggregator.ranking import index as rankstore
from aggregator.ranking.index import RankIndex
from aggregator.ranking.rows import Copy, Rows, Rules, copy_of
from aggregator.ranking.rules import Ranking
from aggregator.tokens import gist as make_gist
from aggregator.tokens import url_hash

NOW = datetime(2026, 11, 26, tzinfo=UTC)
DAY = 86400.0
CUSTOM = (
    CustomFeed(name="AI picks", topics=("ai",), max_per_provider=1, max_items=3),
    CustomFeed(name="Good", min_quality=60.0, keywords=("model",)),
    CustomFeed(name="Example", domains=("example.org",), types=("video",)),
)

summaries = st.builds(
    lambda n, origin, days, topics, quality, heat, published, removed, provider, kind, title, digest, gist: Summary(
        id=f"https://example.{'org' if n % 2 else 'net'}/{n}", origin=origin,
        published=NOW.timestamp() + days * DAY, updated=NOW.timestamp() + days * DAY, title=title,
        digest=digest, topics=topics, quality=quality, heat=heat, is_published=published, removed=removed,
        kind=kind, provider=provider, domain="example.org" if n % 2 else "example.net", gist=make_gist(title, gist),
        links=(url_hash(f"https://example.org/{n + 1}"),) if n % 3 == 0 else ()),
    st.integers(0, 12),  # few URLs: duplicates are common
    st.just(""),
    st.sampled_from([-400.0, -40.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.5, 3.0, 30.0]),  # some in the future
    st.lists(st.sampled_from(["AI", "ai", "Ai ", "Biology", "biology", "Robots", "  ", "Ünïcode"]), max_size=3)
    .map(tuple),
    st.one_of(st.none(), st.sampled_from([0.0, 10.0, 50.0, 60.0, 99.0])),
    st.one_of(st.none(), st.sampled_from([-1.0, 0.0, 5.0])),
    st.one_of(st.none(), st.booleans()),
    st.sampled_from([False] * 5 + [True]),  # removed: rare
    st.one_of(st.none(), st.sampled_from(["Alpha", "beta", "ALPHA"])),
    st.one_of(st.none(), st.sampled_from(["video", "article"])),
    st.sampled_from(["A model", "Models", "The model-based", "x"]),
    st.sampled_from(["d1", "d2", "d3"]),
    st.sampled_from(["", "model launch", "Acme model launch", "robots"]),  # the excerpt's words (story clustering)
)
files = st.dictionaries(st.sampled_from([f"/a/{c}.md" for c in "abcdefgh"]),
                        st.lists(summaries, max_size=3), max_size=8)
remote_items = st.lists(st.tuples(st.sampled_from(["https://feed.one/rss", "https://feed.two/atom"]), summaries),
                        max_size=4)
rankings = st.sampled_from([RankingSettings(), RankingSettings(mode="latest"),
                            RankingSettings(heat_weight=2.0, default_quality=10.0),
                            RankingSettings(max_per_provider=1, clusters=ClusterSettings(threshold=0.9)),
                            RankingSettings(clusters=ClusterSettings(enabled=False))])
filters = st.sampled_from([FilterSettings(), FilterSettings(published_only=True),
                           FilterSettings(min_quality=50.0, max_future=3 * DAY)])
clocks = st.sampled_from([NOW, NOW + timedelta(days=1), NOW + timedelta(days=40), NOW - timedelta(days=2)])


def with_origin(items: list[Summary], origin: str) -> list[Summary]:
    return [s._replace(origin=origin) for s in items]


def reference(local: dict[str, list[Summary]], remote: list[tuple[str, Summary]], ranking: RankingSettings,
              filter_settings: FilterSettings, now: datetime, max_items: int) -> tuple[Any, ...]:
    """The in-memory ranker fed every copy in the index's order of
    appearance: local files by path, then remote items by source."""
    ranker = Ranker(ranking, filter_settings, now)
    problems = []
    for path in sorted(local):
        for item in with_origin(local[path], path):
            problems.append(ranker.add(item))
    for source in sorted({s for s, _ in remote}):
        for item in with_origin([i for s, i in remote if s == source], source):
            problems.append(ranker.add(item))
    result = ranker.result(max_items, CUSTOM, archives=True)
    future = sorted((p.where, p.reason) for p in problems if p is not None)
    return outcome(result), ranker.filtered, future, ranker.next_due


def outcome(ranking: Ranking) -> dict[str, Any]:
    def ids(picks: Any) -> list[tuple[Any, ...]]:
        return [(p.id, p.origin, p.item.digest, p.topic_keys, story(p.story)) for p in picks]

    def story(found: Any) -> Any:
        return None if found is None else tuple(found)  # every member as shown, and the digest

    return {
        "topics": ranking.topics,
        "feeds": {k: ids(v) for k, v in ranking.feeds.items()},
        "all": ids(ranking.all),
        "per_day": ranking.per_day,
        "eligible": ranking.eligible,
        "custom": [ids(c) for c in ranking.custom],
        "archives": {k: {m: ids(p) for m, p in months.items()} for k, months in ranking.archives.items()},
    }


class File(NamedTuple):
    path: str
    copies: tuple[Copy, ...]
    rows: tuple[Rows, ...] = ()


class Index:
    """A RankIndex over an in-memory database, driven like the pipeline does."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        self.conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def run(self, local: dict[str, list[Summary]], previous: dict[str, list[Summary]] | None,
            remote: list[tuple[str, Summary]], ranking: RankingSettings, filter_settings: FilterSettings,
            now: datetime, max_items: int, version: str = "v1") -> tuple[Any, ...]:
        index = RankIndex(self.conn, Rules(ranking, filter_settings, now, CUSTOM), version)
        derive = index.start_local(previous is None)
        if previous is None:
            assert derive is not None  # as a cold build does: the workers make each copy's rows
            index.apply([File(path, tuple(copy_of(s) for s in with_origin(items, path)),
                              tuple(derive(s) for s in with_origin(items, path))) for path, items in local.items()])
        else:
            assert derive is None
            index.apply([File(path, tuple(copy_of(s) for s in with_origin(items, path)))
                         for path, items in local.items() if previous.get(path) != items])
            index.drop_origins([p for p in previous if p not in local])
        index.set_remote([s._replace(origin=source) for source, s in remote])
        index.update()
        future, due = index.future()
        result = index.result(max_items, archives=True)
        return outcome(result), index.filtered(), sorted((p.where, p.reason) for p in future), due


def check(got: tuple[Any, ...], want: tuple[Any, ...]) -> None:
    assert got[0] == want[0]
    assert got[1:3] == want[1:3]
    assert got[3] == want[3] or (math.isinf(got[3]) and math.isinf(want[3]))


@settings(max_examples=150, deadline=None)
@given(files, remote_items, rankings, filters, clocks, st.integers(1, 4), st.sampled_from([1 << 24, 8, 1]))
def test_a_fresh_index_ranks_like_the_reference(local: dict[str, list[Summary]], remote: list[tuple[str, Summary]],
                                                ranking: RankingSettings, filter_settings: FilterSettings,
                                                now: datetime, max_items: int, bits: int) -> None:
    """``bits``: the size of the cold build's bitmap of URLs seen; tiny ones
    make most URLs collide, which must only cost time."""
    with patch.object(rankstore, "_SEEN_BITS", bits):
        got = Index().run(local, None, remote, ranking, filter_settings, now, max_items)
    check(got, reference(local, remote, ranking, filter_settings, now, max_items))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(files, remote_items, rankings, filters, clocks, st.sampled_from([2, 2, 2, 4])),
                min_size=2, max_size=4))
def test_any_sequence_of_changes_ends_where_a_fresh_ranking_does(
        runs: list[tuple[dict[str, list[Summary]], list[tuple[str, Summary]], RankingSettings, FilterSettings,
                         datetime, int]]) -> None:
    """``max_items`` mostly stays (the topics' stored results are reused)
    and sometimes changes (they are not)."""
    index = Index()
    previous: dict[str, list[Summary]] | None = None
    for local, remote, ranking, filter_settings, now, max_items in runs:
        got = index.run(local, previous, remote, ranking, filter_settings, now, max_items)
        check(got, reference(local, remote, ranking, filter_settings, now, max_items))
        previous = local


@settings(max_examples=60, deadline=None)
@given(files, st.lists(st.tuples(st.sampled_from([f"/a/{c}.md" for c in "abcdefgh"]),
                                 st.lists(summaries, max_size=2)), min_size=1, max_size=6), clocks)
def test_one_file_at_a_time(local: dict[str, list[Summary]], edits: list[tuple[str, list[Summary]]],
                            now: datetime) -> None:
    """The cron case: the same settings and clock, a file changed per run."""
    index = Index()
    index.run(local, None, [], RankingSettings(), FilterSettings(), now, 3)
    for path, items in edits:
        before = dict(local)
        local = {**local, path: items}
        if not items:
            del local[path]
        got = index.run(local, before, [], RankingSettings(), FilterSettings(), now, 3)
        check(got, reference(local, [], RankingSettings(), FilterSettings(), now, 3))


def test_a_lone_surrogate_in_a_topic_or_url_does_not_fail() -> None:
    item = Summary(id="https://example.org/\ud800", origin="", published=NOW.timestamp(), updated=NOW.timestamp(),
                   title="t", digest="d", topics=("bad \udcff topic",))
    local = {"/a/x.md": [item]}
    got = Index().run(local, None, [], RankingSettings(), FilterSettings(), NOW, 5)
    check(got, reference(local, [], RankingSettings(), FilterSettings(), NOW, 5))
    assert got[0]["all"][0][0] == "https://example.org/\ud800"


@settings(max_examples=100, deadline=None)
@given(files, remote_items, st.lists(st.tuples(rankings, filters, clocks), min_size=2, max_size=5))
def test_the_clock_and_the_settings_move_over_the_same_files(
        local: dict[str, list[Summary]], remote: list[tuple[str, Summary]],
        runs: list[tuple[RankingSettings, FilterSettings, datetime]]) -> None:
    """Nothing changes but the clock (future copies becoming eligible, or
    no longer: an earlier --now) and the settings (a rebuild)."""
    index = Index()
    previous: dict[str, list[Summary]] | None = None
    for ranking, filter_settings, now in runs:
        got = index.run(local, previous, remote, ranking, filter_settings, now, 3)
        check(got, reference(local, remote, ranking, filter_settings, now, 3))
        previous = local


def test_what_other_members_show_of_an_article_follows_its_edits() -> None:
    """A member's new title is what the items of its story in other feeds
    list under "Also covered by": their topics' kept results must not keep
    the old one.  An edit those items do not show (the article's digest:
    its excerpt or body) leaves them alone."""

    def item(n: int, title: str, topic: str, digest: str = "d1") -> Summary:
        return Summary(id=f"https://example.org/{n}", origin="", published=NOW.timestamp() - n * 3600,
                       updated=NOW.timestamp() - n * 3600, title=title, digest=digest, topics=(topic,),
                       quality=50.0, provider=f"Provider {n}", domain="example.org",
                       gist=make_gist(title, "Acme launches the Zorblax model to customers in europe"))

    index = Index()
    local = {"/a/a.md": [item(1, "Acme launches the Zorblax model", "AI")],
             "/a/b.md": [item(2, "Zorblax model launched by Acme", "Biology")]}
    got = index.run(local, None, [], RankingSettings(), FilterSettings(), NOW, 3)
    check(got, reference(local, [], RankingSettings(), FilterSettings(), NOW, 3))
    biology = got[0]["feeds"]["biology"][0][4]
    assert biology is not None and biology[2] == 2, "the two articles are one story"
    for edited in (item(1, "Acme launches the Zorblax model", "AI", digest="d2"),
                   item(1, "Acme launches the Zorblax model today", "AI", digest="d3")):
        before, local = local, {**local, "/a/a.md": [edited]}
        got = index.run(local, before, [], RankingSettings(), FilterSettings(), NOW, 3)
        check(got, reference(local, [], RankingSettings(), FilterSettings(), NOW, 3))
    assert got[0]["feeds"]["biology"][0][4][3][0].title == "Acme launches the Zorblax model today"


def test_story_members_keep_any_text_exactly() -> None:
    """The members a story lists are read out of the stored state by SQLite:
    non-ASCII text, quotes and a lone surrogate (from a YAML escape) come
    back as they went in."""
    titles = ("Zorblax \"model\" launched by Acme: café \\ \udcff", "Acme launches the Zorblax model ü")
    local = {f"/a/{n}.md": [Summary(
        id=f"https://example.org/{n}/é\ud800", origin="", published=NOW.timestamp() - n * 3600,
        updated=NOW.timestamp() - n * 3600, title=title, digest="d", topics=("AI",), provider=f"Prövider {n}",
        link=f"https://example.org/{n}/ü" if n else None,
        gist=make_gist(title, "Acme launches the Zorblax model to customers in europe"))]
        for n, title in enumerate(titles)}
    got = Index().run(local, None, [], RankingSettings(), FilterSettings(), NOW, 3)
    check(got, reference(local, [], RankingSettings(), FilterSettings(), NOW, 3))
    (shown,) = got[0]["feeds"]["ai"]
    assert shown[4][2] == 2 and shown[4][3][0].title in titles
