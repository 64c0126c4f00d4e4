"""The three feed writers and the feed page: golden files, parse-back,
determinism, and well-formed output for any text (hypothesis).

Regenerate the golden files after an intended change with
``UPDATE_GOLDEN=1 pytest tests/test_writers.py`` and review the diff.
"""

from __future__ import annotations

import calendar
import html
import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import html5lib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from specs import check_atom, check_json_feed, check_rss

from aggregator.model import Article, Image, Provider, Related
from aggregator.text import clean_text
from aggregator.urls import strip_tracking
from aggregator.writers.feed import FeedDoc, categories, item_updated
from aggregator.writers.formats import FEEDS, FORMATS
from aggregator.writers.values import uri

GOLDEN = Path(__file__).parent / "golden"
BASE = "https://example.org/feeds/"
ATOM = "{http://www.w3.org/2005/Atom}"
CHECKS = {"rss": check_rss, "atom": check_atom, "json": check_json_feed}


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


FULL = Article(
    id="https://example.com/2024/01/caf%C3%A9-k%C3%A4fer",
    url="https://example.com/2024/01/caf%C3%A9-k%C3%A4fer?ref=feed",
    original_url="https://original.example.net/story/42",
    title="Café Käfer — 日本語, עברית & 🐞 <not a tag>",
    summary='Plain text with <b>angle brackets</b>, "quotes" & an ampersand.',
    content_html='<p>Full <a href="https://example.com/a">body</a> with <em>HTML</em> — ünïcödé.</p>',
    featured_html='<iframe src="https://www.youtube.com/embed/abc" width="560" height="315"></iframe>',
    published=_at(2024, 1, 2, 3, 4, 5),
    updated=_at(2024, 1, 3, 8, 0, 0),
    origin="articles/full.md",
    topics=("Computer Vision", "AI"),
    tags=("Käfer", "AI", "open source"),
    category="news",
    kind="video",
    quality=80,
    provider=Provider("Exämple Press", "example.com", "https://example.com/"),
    image=Image("https://example.com/img/photo.jpg", 1200, 630, "A photo"),
    related=(Related("First related", "https://example.org/r/1", _at(2024, 1, 1, 0, 0, 0), "Other Press"),
             Related("Zweiter — verwandt", "https://example.org/r/2?utm_source=x", _at(2024, 1, 2, 0, 0, 0))),
    video_url="https://www.youtube.com/watch?v=abcdefghijk",
)
MINIMAL = Article(
    id="https://example.net/minimal",
    url="https://example.net/minimal",
    title="Minimal article",
    published=_at(2023, 12, 31, 23, 59, 59),
    origin="articles/minimal.md",
    topics=("AI",),
)
REMOTE = Article(
    id="https://blog.example.org/post/7",
    url="https://blog.example.org/post/7",
    title="From a remote feed",
    summary="Only a summary, no body.",
    published=_at(2023, 6, 1, 12, 0, 0),
    origin="https://blog.example.org/feed.xml",
    tags=("remote",),
    provider=Provider("Blog Example"),
    image=Image("https://blog.example.org/cover.png"),
)
ITEMS = (FULL, MINIMAL, REMOTE)


def _stripped(url: str) -> str:
    return strip_tracking(url, ("utm_*", "ref"))


def make_doc(items: tuple[Article, ...] = ITEMS, slug: str = "cafe", **changes: object) -> FeedDoc:
    doc = FeedDoc(
        slug=slug, title="Example News: Café", description="Ranked articles on Café — and more.",
        home_url=f"{BASE}{slug}.html", language="en", author="Example News", items=items,
        urls=tuple((fmt, BASE + slug + f.suffix) for fmt, f in FEEDS.items()), name="Café", site="Example News",
        index_url=BASE + "index.html", icon=BASE + "icon.png", logo=BASE + "logo.png",
        strip_params=("utm_*", "ref"), placeholders=("*/placeholder.*",),
    )
    return replace(doc, **changes)  # type: ignore[arg-type]


GOLDEN_DOCS = {
    "cafe": make_doc(),
    "empty": make_doc((), slug="empty"),
    "archive": make_doc((MINIMAL, REMOTE), slug="archive", hub="https://hub.example.org/",
                        prev_archive=tuple((f, BASE + "archive-2022" + v.suffix) for f, v in FEEDS.items()),
                        archive=True, current=tuple((f, BASE + "cafe" + v.suffix) for f, v in FEEDS.items())),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("name", sorted(GOLDEN_DOCS))
def test_golden(name: str, fmt: str) -> None:
    data = FORMATS[fmt].render(GOLDEN_DOCS[name])
    path = GOLDEN / f"{name}{FORMATS[fmt].suffix}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert data == path.read_bytes(), f"{path.name} differs from the writer's output (UPDATE_GOLDEN=1 to accept)"
    if fmt in CHECKS:
        CHECKS[fmt](data, path.name)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("name", sorted(GOLDEN_DOCS))
def test_deterministic(name: str, fmt: str) -> None:
    doc = GOLDEN_DOCS[name]
    assert FORMATS[fmt].render(doc) == FORMATS[fmt].render(replace(doc))


def _utc(struct: object) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(struct), UTC)  # type: ignore[arg-type]


def _parse(fmt: str) -> feedparser.FeedParserDict:
    data = FEEDS[fmt].render(make_doc())
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(ITEMS)
    return parsed


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_xml_parse_back(fmt: str) -> None:
    parsed = _parse(fmt)
    assert parsed.feed.title == "Example News: Café"
    assert parsed.feed.link == f"{BASE}cafe.html"  # the feed's own page
    assert parsed.feed.get("language") == "en"  # RSS <language>, Atom xml:lang
    assert parsed.feed.get("generator_detail", {}).get("href") is None  # no URI unless configured
    for entry, article in zip(parsed.entries, ITEMS, strict=True):
        assert entry.title == article.title
        assert entry.link == article.url.replace("?ref=feed", "")  # tracking parameters stripped
        assert entry.id == article.id
        assert _utc(entry.published_parsed) == article.published
        assert [t.term for t in entry.get("tags", [])] == list(categories(article))
        content = entry.content[0].value
        if fmt == "atom":
            assert entry.summary == (article.summary or article.title)
        else:  # the RSS description is HTML: the image, then the summary
            assert html.escape(article.summary or article.title, quote=True) in entry.summary
        if article.image:
            assert content.startswith(f'<p><a href="{entry.link}"><img src="{article.image.url}"')
        assert (article.content_html or html.escape(article.summary or article.title, quote=True)) in content
        assert "<iframe" not in content
        assert entry.author == (article.author or (article.provider.name if article.provider else "Example News"))
        related = [(link.href, link.get("title")) for link in entry.links if link.rel == "related"]
        assert related == [(_stripped(r.url), r.title) for r in article.related]
        if fmt == "atom":
            assert _utc(entry.updated_parsed) == item_updated(article)
            enclosures = [link.href for link in entry.links if link.rel == "enclosure"]
            assert enclosures == ([article.image.url] if article.image else [])
        else:
            thumbs = [t["url"] for t in entry.get("media_thumbnail", [])]
            assert thumbs == ([article.image.url] if article.image else [])


def test_hub_is_advertised_in_every_format_next_to_self() -> None:
    doc = make_doc(hub="https://hub.example.org/websub")
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(FORMATS[fmt].render(doc))
        links = [(link.rel, link.href) for link in parsed.feed.links]
        assert ("hub", "https://hub.example.org/websub") in links, fmt
        assert ("self", doc.url(fmt)) in links, fmt
    feed = json.loads(FORMATS["json"].render(doc))
    assert feed["hubs"] == [{"type": "WebSub", "url": "https://hub.example.org/websub"}]
    assert feed["feed_url"] == doc.url("json")
    for fmt in FEEDS:
        data = FEEDS[fmt].render(make_doc())
        assert b'rel="hub"' not in data and b'"hubs"' not in data, fmt


def test_rss_source_is_the_provider() -> None:
    """A remote item's source is its feed; a local one's its provider's home page."""
    channel = etree.fromstring(FORMATS["rss"].render(make_doc())).find("channel")
    sources = [(item.findtext("guid"), item.find("source")) for item in channel.findall("item")]
    assert [(g, s.get("url"), s.text) for g, s in sources if s is not None] == [
        (FULL.id, "https://example.com/", "Exämple Press"), (REMOTE.id, REMOTE.origin, "Blog Example")]


def test_json_parse_back() -> None:
    feed = json.loads(FORMATS["json"].render(make_doc()), parse_constant=float)
    assert feed["feed_url"] == f"{BASE}cafe.json"
    assert feed["home_page_url"] == f"{BASE}cafe.html"
    assert feed["icon"] == feed["favicon"] == f"{BASE}icon.png"
    for item, article in zip(feed["items"], ITEMS, strict=True):
        assert item["id"] == article.id
        assert item["url"] == article.url.replace("?ref=feed", "")
        assert item["title"] == article.title
        assert item.get("summary") == (article.summary or None)
        assert (article.content_html or html.escape(article.summary or article.title, quote=True)) \
            in item["content_html"]
        assert datetime.fromisoformat(item["date_published"]) == article.published
        assert datetime.fromisoformat(item.get("date_modified", item["date_published"])) == item_updated(article)
        assert item.get("tags", []) == list(categories(article))
        assert item.get("image") == (article.image.url if article.image else None)
        assert [a["name"] for a in item["authors"]] == [article.provider.name if article.provider else "Example News"]
        extension = item.get("_aggregator", {})
        assert [(r["url"], r["title"]) for r in extension.get("related", [])] == [
            (_stripped(r.url), r.title) for r in article.related]
        assert extension.get("source", {}).get("name") == (article.provider.name if article.provider else None)
    assert feed["items"][0]["external_url"] == FULL.original_url


def test_ids_agree_across_formats() -> None:
    doc = make_doc()
    rss = [g.text for g in etree.fromstring(FORMATS["rss"].render(doc)).iter("guid")]
    atom = [e.findtext(f"{ATOM}id") for e in etree.fromstring(FORMATS["atom"].render(doc)).iter(f"{ATOM}entry")]
    jsn = [i["id"] for i in json.loads(FORMATS["json"].render(doc))["items"]]
    assert rss == atom == jsn == [a.id for a in ITEMS]


def test_invalid_uris_are_encoded_or_dropped() -> None:
    odd = replace(FULL, id="https://example.com/ä b", url="https://example.com/ä b",
                  image=Image("https://example.com/ä.jpg"), related=(Related("rel", "/relative"),),
                  provider=Provider("P", None, "not a url"))
    doc = make_doc((odd,))
    for fmt, check in CHECKS.items():
        data = FORMATS[fmt].render(doc)
        check(data, fmt)
        assert b"%C3%A4%20b" in data and b"/relative" not in data and b"not a url" not in data


# -- any text: the writers never emit ill-formed output ------------------------------------------------------

SPECIALS = ["]]>", "</description>", "<![CDATA[", "&amp;", "&#0;", "\x00", "\x0b", "\ud800", "\udfff", "\ufffe",
            "\u202e", "\u200f", "مرحبا", "🐞", "\r\n", "\x85", "\u2028", "&", "<", '"', "'"]
ANY_TEXT = st.lists(st.one_of(st.text(st.characters(exclude_categories=()), max_size=12),
                              st.text(st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp"]), max_size=4),
                              st.sampled_from(SPECIALS)), max_size=5).map("".join)


def _assert_well_formed(doc: FeedDoc) -> dict[str, bytes]:
    out = {fmt: f.render(doc) for fmt, f in FORMATS.items()}
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(out["html"])
    etree.fromstring(out["rss"])
    etree.fromstring(out["atom"])
    json.loads(out["json"].decode("utf-8"), parse_constant=lambda c: pytest.fail(f"JSON constant {c}"))
    return out


def _doc_from(title: str, summary: str, provider: str, topic: str, tag: str) -> FeedDoc:
    article = replace(FULL, title=title, summary=summary, provider=Provider(provider, None, None),
                      topics=(topic,), tags=(tag,), related=(Related(title, "https://example.org/r"),))
    return make_doc((article, MINIMAL), title=topic, description=summary, author=provider)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT)
def test_raw_text_never_breaks_a_writer(title: str, summary: str, provider: str, topic: str, tag: str) -> None:
    _assert_well_formed(_doc_from(title, summary, provider, topic, tag))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT)
def test_cleaned_text_round_trips(title: str, summary: str, provider: str, topic: str, tag: str) -> None:
    title, summary, provider, topic, tag = (clean_text(s) for s in (title, summary, provider, topic, tag))
    out = _assert_well_formed(_doc_from(title, summary, provider, topic, tag))
    titles = [e.findtext("title") for e in etree.fromstring(out["rss"]).iter("item")]
    entries = etree.fromstring(out["atom"]).findall(f"{ATOM}entry")
    items = json.loads(out["json"])["items"]
    expected = title or _stripped(FULL.url)
    assert titles[0] == entries[0].findtext(f"{ATOM}title") == expected
    assert items[0].get("title", _stripped(FULL.url)) == expected
    assert items[0].get("summary", "") == summary
    assert entries[0].findtext(f"{ATOM}summary") == (summary or expected)
    assert [t for t in items[0].get("tags", [])] == [t for t in dict.fromkeys((topic, tag)) if t.strip()]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(ANY_TEXT, ANY_TEXT.map(lambda s: "https://hub.example.org/" + s)))
def test_any_hub_value_never_breaks_a_writer(hub: str) -> None:
    out = _assert_well_formed(make_doc(hub=hub))
    href = uri(hub)
    rss = [e.get("href") for e in etree.fromstring(out["rss"]).find("channel").findall(f"{ATOM}link")
           if e.get("rel") == "hub"]
    atom = [e.get("href") for e in etree.fromstring(out["atom"]).findall(f"{ATOM}link") if e.get("rel") == "hub"]
    hubs = [h["url"] for h in json.loads(out["json"]).get("hubs", [])]
    assert rss == atom == hubs == ([href] if href else [])
    if href:
        CHECKS["rss"](out["rss"], "rss")
        CHECKS["atom"](out["atom"], "atom")
        CHECKS["json"](out["json"], "json")


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_years_before_1000_keep_four_digits(fmt: str) -> None:
    # Year 1 is .NET's "no date", and real feeds carry it; "1" (strftime's
    # rendering) reads as 2001 in feedparser.
    ancient = replace(ITEMS[0], published=datetime(1, 1, 1, tzinfo=UTC), updated=None)
    data = FORMATS[fmt].render(make_doc(items=(ancient,)))
    if fmt == "json":
        assert json.loads(data)["items"][0]["date_published"] == "0001-01-01T00:00:00Z"
        return
    entry = feedparser.parse(data).entries[0]
    assert entry.published_parsed.tm_year == 1


def test_the_shipped_icons_are_what_the_generator_draws() -> None:
    from aggregator.writers.icons import ICON_SIZE, LOGO_SIZE, asset, png

    assert asset("icon.png") == png(ICON_SIZE)
    assert asset("logo.png") == png(LOGO_SIZE)
    assert asset("icon.png").startswith(b"\x89PNG\r\n\x1a\n")
