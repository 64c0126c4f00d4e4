"""Item identity through the whole build, against feeds served on 127.0.0.1:
a remote item is identified within its source (guid, tag: URI, link,
content), and copies merge across inputs by canonical URL only when that
URL identifies one item."""

from __future__ import annotations

import json
from collections.abc import Iterator

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import Project, article, feed_server

from aggregator.sources.remote.identity import identities, is_absolute_uri, merge_keys
from aggregator.sources.remote.raw import RawItem


def _rss(items: str, title: str = "Feed") -> str:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://show.example/</link><description>d</description>{items}</channel></rss>")


def _episode(n: int) -> str:
    return (f"<item><title>Episode {n}</title><link>https://show.example/</link><guid isPermaLink=\"false\">"
            f"ep-{n}</guid><pubDate>Sat, {n % 28 + 1:02d} Jun 2024 10:00:00 GMT</pubDate>"
            f'<enclosure url="https://cdn.show.example/ep{n}.mp3" type="audio/mpeg" length="1"/></item>')


def _fragment_post(n: int) -> str:
    return (f"<item><title>Note {n}</title><link>https://log.example/notes#n{n}</link>"
            f"<pubDate>Sat, {n % 28 + 1:02d} Jun 2024 09:00:00 GMT</pubDate></item>")


FEEDS = {
    "/podcast.xml": _rss("".join(_episode(n) for n in range(1, 41)), "Show"),
    "/notes.xml": _rss("".join(_fragment_post(n) for n in range(1, 21)), "Notes"),
    # The same article as the local file and as /b.xml; and one entry twice.
    "/a.xml": _rss("<item><title>Shared story</title><link>https://news.example/story?utm_source=a</link>"
                   "<guid>https://a.example/p/1</guid><pubDate>Sat, 01 Jun 2024 08:00:00 GMT</pubDate></item>"
                   "<item><title>Repeated</title><link>https://a.example/r</link><guid>r-1</guid>"
                   "<pubDate>Sat, 01 Jun 2024 07:00:00 GMT</pubDate></item>"
                   "<item><title>Repeated, edited</title><link>https://a.example/r</link><guid>r-1</guid>"
                   "<pubDate>Sat, 01 Jun 2024 07:30:00 GMT</pubDate></item>", "A"),
    "/b.xml": _rss("<item><title>Shared story (B)</title><link>https://news.example/story</link>"
                   "<guid isPermaLink=\"false\">b-77</guid><pubDate>Sat, 01 Jun 2024 08:30:00 GMT</pubDate></item>",
                   "B"),
}


@pytest.fixture
def base() -> Iterator[str]:
    with feed_server(FEEDS) as url:
        yield url


def _configure(project: Project, base: str, *paths: str) -> None:
    sources = "".join(f"  - {{url: '{base}{path}', name: 'S{path[1]}', topics: [T{path[1]}]}}\n" for path in paths)
    project.write_config(f"sources:\n{sources}fetch: {{deadline: 5, run_budget: 20}}\nfeeds: {{max_items: 100}}\n")


def _items(project: Project, slug: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = json.loads((project.out / f"{slug}.json").read_text("utf-8"))["items"]
    return items


def test_a_podcast_whose_episodes_share_one_link_publishes_every_episode(project: Project, base: str) -> None:
    _configure(project, base, "/podcast.xml")
    result = project.run("--now", "2024-07-01T00:00:00Z")
    assert result.returncode == 0, result.stderr
    items = _items(project, "tp")
    assert sorted(str(i["title"]) for i in items) == sorted(f"Episode {n}" for n in range(1, 41))
    assert len({i["id"] for i in items}) == 40
    rss = feedparser.parse((project.out / "tp.xml").read_bytes())
    assert len({e.id for e in rss.entries}) == 40  # one row per episode in a reader keyed on guid
    assert all(str(i["id"]).startswith("tag:127.0.0.1,2026:") for i in items)  # a relative guid, made absolute
    # Every episode's audio is published, as every format spells an enclosure.
    want = {f"https://cdn.show.example/ep{n}.mp3" for n in range(1, 41)}
    assert {a["url"] for i in items for a in i["attachments"]} == want  # type: ignore[attr-defined]
    for fmt in ("xml", "atom"):
        parsed = feedparser.parse((project.out / f"tp.{fmt}").read_bytes())
        assert {e.enclosures[0].href for e in parsed.entries} == want, fmt
        assert {e.enclosures[0].type for e in parsed.entries} == {"audio/mpeg"}, fmt


def test_permalinks_that_differ_only_in_their_fragment_stay_distinct(project: Project, base: str) -> None:
    _configure(project, base, "/notes.xml")
    assert project.run("--now", "2024-07-01T00:00:00Z").returncode == 0
    items = _items(project, "tn")
    assert len(items) == 20
    assert {i["url"] for i in items} == {f"https://log.example/notes#n{n}" for n in range(1, 21)}


def test_one_article_from_two_sources_and_a_file_is_published_once(project: Project, base: str) -> None:
    _configure(project, base, "/a.xml", "/b.xml")
    project.add("story.md", article("Shared story (local)", "https://news.example/story", topics=("Ta", "Tb")))
    result = project.run("--now", "2024-07-01T00:00:00Z", "--report", "report.json")
    assert result.returncode == 0, result.stderr
    everything = _items(project, "all")
    assert [i["id"] for i in everything].count("https://news.example/story") == 1
    assert sum("Shared story" in str(i["title"]) for i in everything) == 1
    report = json.loads((project.root / "report.json").read_text("utf-8"))
    # Two copies merged into the local file's item; one repeated entry merged in /a.xml.
    assert report["inputs"]["merged"] == 3
    assert "3 copies merged" in result.stdout
    explained = project.run("https://news.example/story?utm_source=x", command="explain")
    assert explained.returncode == 0, explained.stderr
    assert "merged by canonical URL" in explained.stdout
    assert explained.stdout.count("Shared story") == 3 and "file story.md" in explained.stdout.replace(
        str(project.articles) + "/", "")


def test_a_repeated_entry_is_merged_into_its_newest_copy(project: Project, base: str) -> None:
    _configure(project, base, "/a.xml")
    result = project.run("--now", "2024-07-01T00:00:00Z", "--report", "report.json")
    assert result.returncode == 0, result.stderr
    titles = [i["title"] for i in _items(project, "ta")]
    assert titles.count("Repeated, edited") == 1 and "Repeated" not in titles
    assert json.loads((project.root / "report.json").read_text("utf-8"))["inputs"]["merged"] == 1


def test_explain_says_why_items_sharing_a_link_were_kept_apart(project: Project, base: str) -> None:
    _configure(project, base, "/podcast.xml")
    before = project.run("https://show.example/", command="explain")
    assert before.returncode == 0 and "run aggregator build first" in before.stdout
    assert not (project.root / "state").exists()  # explaining creates no state
    assert project.run("--now", "2024-07-01T00:00:00Z").returncode == 0
    explained = project.run("https://show.example/", command="explain")
    assert explained.returncode == 0, explained.stderr
    assert "kept apart" in explained.stdout and explained.stdout.count("Episode ") == 40


# -- the rule itself ------------------------------------------------------------

_guids = st.one_of(st.none(), st.sampled_from(["1", "ep-1", "urn:uuid:1", "https://x.example/p", " "]))
_links = st.one_of(st.none(), st.sampled_from(["https://x.example/", "https://x.example/a#1",
                                               "https://x.example/a#2", "https://x.example/b"]))


@given(st.lists(st.tuples(_guids, _links, st.sampled_from(["t1", "t2"])), max_size=8))
def test_items_merge_only_when_they_are_the_same_entry(rows: list[tuple[str | None, str | None, str]]) -> None:
    items = [RawItem(link=link, guid=guid, title=title) for guid, link, title in rows]
    links = [item.link for item in items]
    idents = identities(items, links, "https://feed.example/rss")
    keys = merge_keys(idents, links)
    for i, a in enumerate(items):
        for j, b in enumerate(items[:i]):
            same_entry = ((a.guid or "").strip() == (b.guid or "").strip() != "") or (
                not (a.guid or "").strip() and not (b.guid or "").strip() and a.link == b.link
                and a.title == b.title)
            assert (idents[i] == idents[j]) == same_entry, (a, b)
            if idents[i] != idents[j]:
                assert keys[i] != keys[j]  # a shared link never merges two entries
    assert all(is_absolute_uri(ident) for ident in idents)
