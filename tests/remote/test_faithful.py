"""Remote feeds read as faithfully as the best readers read them: each class
of loss or damage seen in real feeds, with a fixture of its own, over real
HTTP on 127.0.0.1."""

from __future__ import annotations

import codecs
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import rss, rss_item, send

from aggregator.config import parse_config
from aggregator.errors import ConfigError
from aggregator.sources.remote import FetchSettings, SourceConfig, collect_sources
from aggregator.urls import normalize_url

Source = Callable[..., SourceConfig]
Server = Any  # tests/remote/conftest.py's; reached through the ``site`` fixture (two conftest modules exist)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class Listener(ThreadingHTTPServer):
    daemon_threads = True


def _json(items: list[Any], version: str = "https://jsonfeed.org/version/1.1") -> bytes:
    return json.dumps({"version": version, "title": "J", "home_page_url": "https://j.example/",
                       "items": items}).encode()


STRING_TAGS = _json([
    {"id": "t1", "url": "https://j.example/1", "title": "Tagged wrong", "tags": "news",
     "date_published": "2024-05-30T10:00:00Z"},
    {"id": "t2", "url": "https://j.example/2", "title": 7, "content_text": "still has content",
     "date_published": "2024-05-30T09:00:00Z"},
    {"id": "t3", "title": "no link, but content", "content_html": "<p>body</p>",
     "date_published": "2024-05-30T08:00:00Z"},
    "not an item",
])
BARE_VERSION = _json([{"id": "b1", "url": "https://j.example/b1", "title": "Bare version"}], version="1.1")
BYLINES_JSON = _json([{"id": "a1", "url": "https://j.example/a1", "title": "By Roche",
                       "authors": [{"name": "Elizabeth Roche"}],
                       "attachments": [{"url": "https://cdn.j.example/a1.mp3", "mime_type": "audio/mpeg",
                                        "size_in_bytes": 1234}]}])
DOCTYPE = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n  <!ENTITY pub "The Publisher">\n]>\n'
           b'<rss version="2.0"><channel><title>&pub;</title><link>https://d.example/</link>'
           b"<description>d</description><item><title>From &pub;</title><link>https://d.example/1</link>"
           b"<pubDate>Sat, 01 Jun 2024 10:00:00 GMT</pubDate></item></channel></rss>")
UTF32 = rss(rss_item("https://u.example/1", "Zürich in UTF-32")).replace(b'encoding="utf-8"', b"").decode(
    "utf-8").encode("utf-32-be")
BYLINES_RSS = rss(
    rss_item("https://b.example/1", "Dc creator", extra="<dc:creator>Elizabeth Roche</dc:creator>")
    + rss_item("https://b.example/2", "Author", extra="<author>jane@b.example (Jane Doe)</author>")
    + rss_item("https://b.example/3", "Podcast", extra='<enclosure url="https://cdn.b.example/ep3.mp3" '
                                                      'length="98765" type="audio/mpeg"/>')
    + rss_item("https://b.example/4", "Entity category", extra="<category>Arts &#38; Entertainment</category>"),
    title="Livemint - News").replace(b'<rss version="2.0">',
                                     b'<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">')
TRUNCATED = rss(rss_item("https://t.example/1", "Whole", extra="<author>a@t.example (Ann)</author>")
                + rss_item("https://t.example/2", "Whole too")).split(b"</channel>")[0].replace(
    b"</item></channel>", b"") + b'<item><title>Cut</title><link>https://t.example/3</link>' \
    b"<pubDate>Sat, 01 Jun 2024 10:00:00 GMT</pubDate><author>x@t.example (Bob)</author><description>Half a sen"
TTL = rss(rss_item("https://ttl.example/1", "Hourly")).replace(b"<description>d</description>",
                                                             b"<description>d</description><ttl>60</ttl>")
PAGE = (b'<!doctype html><html><head><title>Blog</title><link rel="alternate" type="application/rss+xml" '
        b'href="/page-feed"></head><body>hello</body></html>')
PAGE_FEED = rss(rss_item("https://page.example/1", "Found by autodiscovery"))


def _no_items_etag(h: Any, site: Server) -> None:
    if h.headers.get("If-None-Match") == '"empty-1"':
        h.send(304, headers={"ETag": '"empty-1"'})
    else:
        h.send(200, rss(""), headers={"ETag": '"empty-1"'})


ROUTES = {
    "/string-tags": lambda h, site: h.send(200, STRING_TAGS, "application/feed+json"),
    "/bare-version": lambda h, site: h.send(200, BARE_VERSION, "application/feed+json"),
    "/bylines-json": lambda h, site: h.send(200, BYLINES_JSON, "application/feed+json"),
    "/doctype": lambda h, site: h.send(200, DOCTYPE),
    "/utf32": lambda h, site: h.send(200, UTF32, "application/xml"),
    "/bylines": lambda h, site: h.send(200, BYLINES_RSS),
    "/truncated": lambda h, site: h.send(200, TRUNCATED),
    "/ttl": lambda h, site: h.send(200, TTL),
    "/max-age": lambda h, site: h.send(200, rss(rss_item("https://ma.example/1", "Cached")),
                                       headers={"Cache-Control": "public, max-age=3600"}),
    "/no-items": _no_items_etag,
    "/whitespace": lambda h, site: h.send(200, "\ufeff   \n".encode("utf-16-le"), "application/xml"),
    "/page": lambda h, site: h.send(200, PAGE, "text/html"),
    "/page-feed": lambda h, site: h.send(200, PAGE_FEED),
}


@pytest.fixture(autouse=True)
def routes(site: Server) -> None:
    """This module's routes, added to the conftest server's table."""
    type(site).url.__globals__["ROUTES"].update(ROUTES)


def _collect(sources: list[SourceConfig], conn: sqlite3.Connection, settings: FetchSettings, **kw: Any) -> Any:
    return collect_sources(sources, settings, conn, kw.pop("now", NOW), **kw)


def _warnings(result: Any) -> list[str]:
    return [p.reason for p in result.problems if p.kind == "warning"]


def test_a_wrong_typed_optional_field_drops_the_field_not_the_item(site: Server, source: Source,
                                                                   conn: sqlite3.Connection,
                                                                   settings: FetchSettings) -> None:
    result = _collect([source("/string-tags")], conn, settings)
    titles = sorted(a.title for a in result.articles)
    assert titles == ["Tagged wrong", "no link, but content", "still has content"]
    warnings = " | ".join(_warnings(result))
    assert "item 't1': 'tags' dropped (str, expected a list of strings)" in warnings
    assert "item 't2': 'title' dropped (int, expected a string)" in warnings
    assert "[bad-field]" in warnings and "[not-an-item]" in warnings
    linkless = next(a for a in result.articles if a.title == "no link, but content")
    assert linkless.url == "https://j.example/"  # the site: an item with content but no link of its own
    (report,) = result.reports
    assert dict(report.drops) == {"bad-field": 2, "not-an-item": 1} and report.dropped == 1


def test_a_doctype_with_an_internal_subset_is_read_with_its_entities(site: Server, source: Source,
                                                                    conn: sqlite3.Connection,
                                                                    settings: FetchSettings) -> None:
    result = _collect([source("/doctype")], conn, settings)
    assert [a.title for a in result.articles] == ["From The Publisher"]
    assert feedparser.parse(DOCTYPE).entries[0].title == "From The Publisher"  # as feedparser reads it


def test_a_bare_json_feed_version_is_read_with_a_warning(site: Server, source: Source, conn: sqlite3.Connection,
                                                        settings: FetchSettings) -> None:
    result = _collect([source("/bare-version")], conn, settings)
    assert [a.title for a in result.articles] == ["Bare version"]
    assert any("JSON Feed version given as '1.1'" in w for w in _warnings(result))


def test_utf32_without_a_bom_and_empty_bodies_get_their_true_reason(site: Server, source: Source,
                                                                   conn: sqlite3.Connection,
                                                                   settings: FetchSettings) -> None:
    assert not UTF32.startswith((codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE))
    result = _collect([source("/utf32"), source("/whitespace")], conn, settings)
    assert [a.title for a in result.articles] == ["Zürich in UTF-32"]
    failed = {p.where.rsplit("/", 1)[1]: p.reason for p in result.problems if p.kind == "failed"}
    assert failed["whitespace"].startswith("empty document")


def test_bylines_stay_authors_and_the_feed_is_the_source(site: Server, source: Source, conn: sqlite3.Connection,
                                                        settings: FetchSettings) -> None:
    result = _collect([source("/bylines", category_topics=True), source("/bylines-json")], conn, settings)
    by_title = {a.title: a for a in result.articles}
    assert by_title["Dc creator"].author == "Elizabeth Roche"
    assert by_title["Author"].author == "Jane Doe"  # never the e-mail address
    assert by_title["By Roche"].author == "Elizabeth Roche"
    assert by_title["Dc creator"].provider is not None and by_title["Dc creator"].provider.name == "Livemint - News"
    podcast = by_title["Podcast"].enclosures
    assert [(e.url, e.type, e.length) for e in podcast] == [("https://cdn.b.example/ep3.mp3", "audio/mpeg", 98765)]
    assert [(e.url, e.length) for e in by_title["By Roche"].enclosures] == [("https://cdn.j.example/a1.mp3", 1234)]
    assert "Arts & Entertainment" in by_title["Entity category"].topics  # decoded once: no "&amp;"


def test_a_host_only_url_with_a_query_gets_its_slash_before_the_query() -> None:
    assert normalize_url("http://example.org?foo=1:2") == "http://example.org/?foo=1:2"
    assert normalize_url("http://example.org#top") == "http://example.org/#top"
    assert normalize_url("http://example.org?x=/a") == "http://example.org/?x=/a"


_hosts = st.from_regex(r"[a-z][a-z0-9]{0,8}(\.[a-z][a-z0-9]{0,5}){1,2}", fullmatch=True)
_paths = st.sampled_from(["", "/", "/a", "/a/b/", "/%C3%A9"])
_queries = st.sampled_from(["", "?", "?x=1", "?x=/a:b", "?a=1&b=2"])
_fragments = st.sampled_from(["", "#", "#f", "#a/b?c"])


@given(st.sampled_from(["http", "https"]), _hosts, _paths, _queries, _fragments)
def test_normalisation_follows_rfc3986(scheme: str, host: str, path: str, query: str, fragment: str) -> None:
    """RFC 3986 6.2.3 (and the WHATWG URL standard): an http(s) URL with an
    empty path has the path "/"; nothing else moves; normalising twice
    changes nothing."""
    url = f"{scheme}://{host}{path}{query}{fragment}"
    normal = normalize_url(url)
    assert normal == f"{scheme}://{host}{path or '/'}{query}{fragment}"
    assert normalize_url(normal) == normal


def test_a_source_without_items_is_still_fetched_conditionally(site: Server, source: Source,
                                                              conn: sqlite3.Connection,
                                                              settings: FetchSettings) -> None:
    first = _collect([source("/no-items")], conn, settings)
    second = _collect([source("/no-items")], conn, settings, now=NOW + timedelta(hours=1))
    assert first.reports[0].status == "fresh" and second.reports[0].status == "cached"
    assert [r.get("if-none-match") for r in site.requests] == [None, '"empty-1"']


@pytest.mark.parametrize("path", ["/ttl", "/max-age"])
def test_a_feed_asking_for_an_interval_is_not_fetched_before_it(site: Server, source: Source,
                                                               conn: sqlite3.Connection,
                                                               make_settings: Callable[..., FetchSettings],
                                                               path: str) -> None:
    settings = make_settings(max_interval=7200.0)
    assert _collect([source(path)], conn, settings).reports[0].status == "fresh"
    soon = _collect([source(path)], conn, settings, now=NOW + timedelta(minutes=30))
    assert soon.reports[0].status == "not-due" and [a.title for a in soon.articles]  # items kept
    later = _collect([source(path)], conn, settings, now=NOW + timedelta(minutes=61))
    assert later.reports[0].status == "fresh"
    assert site.hits[path] == 2
    capped = make_settings(max_interval=600.0)  # the cap wins over the feed's hour
    _collect([source(path)], conn, capped, now=NOW + timedelta(hours=3))
    assert _collect([source(path)], conn, capped, now=NOW + timedelta(hours=3, minutes=11)).reports[0].status \
        == "fresh"


def test_a_recovered_item_keeps_only_what_parsed_cleanly(site: Server, source: Source, conn: sqlite3.Connection,
                                                        settings: FetchSettings) -> None:
    result = _collect([source("/truncated")], conn, settings)
    by_title = {a.title: a for a in result.articles}
    assert by_title["Whole"].author == "Ann"
    assert "Cut" in by_title and by_title["Cut"].author is None and not by_title["Cut"].summary
    assert any("[truncated]" in w and "author" in w for w in _warnings(result))


def test_an_html_page_is_resolved_through_its_alternate_feed(site: Server, source: Source,
                                                            conn: sqlite3.Connection,
                                                            settings: FetchSettings) -> None:
    result = _collect([source("/page")], conn, settings)
    assert [a.title for a in result.articles] == ["Found by autodiscovery"]
    assert any("autodiscovery" in w and "/page-feed" in w for w in _warnings(result))
    again = _collect([source("/page")], conn, settings, now=NOW + timedelta(hours=1))
    assert [a.title for a in again.articles] == ["Found by autodiscovery"] and not _warnings(again)
    assert (site.hits["/page"], site.hits["/page-feed"]) == (1, 2)  # resolved once: the feed is asked directly


# -- the connection goes to the address the guard checked ---------------------------

class _Named(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        if self.path == "/start":
            send(self, 302, headers={"Location": f"http://feed.test:{self.server.server_address[1]}/feed"})
        else:
            send(self, 200, self.server.body)  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def two_servers() -> Iterator[tuple[Listener, Listener]]:
    """The same port on 127.0.0.1 (allowed) and 127.0.0.2 (where a rebinding name points next)."""
    for _attempt in range(20):
        first = Listener(("127.0.0.1", 0), _Named)
        try:
            second = Listener(("127.0.0.2", first.server_address[1]), _Named)
            break
        except OSError:
            first.server_close()
    else:
        pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")
    for httpd, title in ((first, "checked"), (second, "rebound")):
        httpd.hits = []  # type: ignore[attr-defined]
        httpd.body = rss(rss_item(f"https://{title}.example/1", title))  # type: ignore[attr-defined]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield first, second
    for httpd in (first, second):
        httpd.shutdown()
        httpd.server_close()


def test_the_connection_goes_to_the_address_the_guard_checked(two_servers: tuple[Listener, Listener],
                                                              conn: sqlite3.Connection,
                                                              settings: FetchSettings) -> None:
    first, second = two_servers
    answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]])
    asked: list[str] = []

    def rebinding(host: str) -> list[str]:
        asked.append(host)
        return next(answers)

    url = f"http://127.0.0.1:{first.server_address[1]}/start"
    result = collect_sources([SourceConfig(url=url)], settings, conn, NOW, resolver=rebinding)
    assert [a.title for a in result.articles] == ["checked"]
    assert first.hits == ["/start", "/feed"] and second.hits == []  # type: ignore[attr-defined]
    assert asked == ["feed.test"]  # resolved once, for the check; the connection used that answer


# -- subscription lists -------------------------------------------------------------

OPML = """<?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>
<outline text="Tech">
  <outline text="Blog A" title="Blog A" type="rss" xmlUrl="https://a.example/feed" category="/Tech/Python,News"/>
  <outline text="Blog B" type="rss" xmlUrl="https://b.example/rss"/>
</outline></body></opml>"""


def test_sources_may_name_an_opml_file(tmp_path: Path) -> None:
    (tmp_path / "subs.opml").write_text(OPML, "utf-8")
    config = parse_config('site: {title: T, base_url: "https://example.org/"}\n'
                          "sources:\n  - {opml: subs.opml, topics: [Mine], quality: 5}\n"
                          "  - {url: 'https://c.example/feed'}\n", root=tmp_path)
    assert [(s.url, s.name, s.topics, s.quality) for s in config.sources] == [
        ("https://a.example/feed", "Blog A", ("Mine", "Python", "News"), 5.0),
        ("https://b.example/rss", "Blog B", ("Mine",), 5.0),
        ("https://c.example/feed", None, (), None)]


def test_an_unreadable_opml_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\]\.opml: cannot read .*missing\.opml"):
        parse_config('site: {title: T, base_url: "https://example.org/"}\nsources:\n  - {opml: missing.opml}\n',
                     root=tmp_path)


# -- accounting: every entry ends somewhere said ------------------------------------

MIXED = {"/string-tags": STRING_TAGS, "/doctype": DOCTYPE, "/bare-version": BARE_VERSION, "/utf32": UTF32,
         "/bylines": BYLINES_RSS, "/bylines-json": BYLINES_JSON, "/truncated": TRUNCATED, "/ttl": TTL}


def _entries(body: bytes) -> int:
    """How many entries an independent reader sees: feedparser, or the JSON Feed spec's ``items``."""
    try:
        return len(json.loads(body)["items"])
    except ValueError:
        return len(feedparser.parse(body).entries)


def test_every_entry_is_published_cut_merged_or_reported(site: Server, source: Source, conn: sqlite3.Connection,
                                                         make_settings: Callable[..., FetchSettings]) -> None:
    type(site).url.__globals__["ROUTES"]["/repeats"] = lambda h, s: h.send(200, REPEATS)
    sources = [source(path) for path in [*MIXED, "/repeats"]]
    result = collect_sources(sources, make_settings(max_items=3), conn, NOW)
    published: dict[str, int] = {}
    for article in result.articles:
        published[article.origin] = published.get(article.origin, 0) + 1
    for report, (path, body) in zip(result.reports, [*MIXED.items(), ("/repeats", REPEATS)], strict=True):
        entries = _entries(body)
        assert report.status == "fresh", (path, report)
        accounted = published.get(report.url, 0) + report.cut + report.merged + report.dropped
        assert accounted == entries, (path, published.get(report.url, 0), report)
    repeats = result.reports[-1]
    assert (repeats.cut, repeats.merged) == (1, 1)  # 5 entries: 3 kept, one repeat merged, the oldest cut


REPEATS = rss("".join(rss_item(f"https://r.example/{n}", f"R{n}", f"Sat, 0{n} Jun 2024 10:00:00 GMT",
                               extra=f"<guid>r-{n}</guid>") for n in range(1, 5))
              + rss_item("https://r.example/4", "R4 again", "Sat, 04 Jun 2024 11:00:00 GMT", extra="<guid>r-4</guid>"))


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                    st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=3),
                    st.dictionaries(st.sampled_from(["name", "url"]), st.text(max_size=3), max_size=2))
_json_items = st.one_of(st.dictionaries(st.sampled_from(["id", "url", "title", "tags", "content_html", "summary",
                                                         "authors", "attachments", "date_published", "image"]),
                                        _values, max_size=6),
                        _values)


@given(st.lists(_json_items, max_size=8))
def test_any_json_item_is_kept_or_reported_never_lost(items: list[Any]) -> None:
    from aggregator.sources.remote.jsonfeed import read_json_feed

    feed = read_json_feed(_json(items))
    assert len(feed.items) + feed.dropped == len(items)
    assert feed.dropped == sum(not isinstance(i, dict) for i in items)
    for item in feed.items:  # whatever survived has the types the rest of the code expects
        assert all(isinstance(v, str) for v in (item.link, item.title, item.summary) if v is not None)
        assert all(isinstance(c, str) for c in item.categories)
        assert item.author is None or isinstance(item.author, str)
