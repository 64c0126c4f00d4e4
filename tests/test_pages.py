"""The discovery pages: OPML parsed back, index.html parsed strictly, and
the page loaded in a real headless browser (Debian's Chromium, which
.ci/run installs: without it the test fails)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from aggregator.model import Article, FeedInfo, Provider
from aggregator.publishing.serve import ASGIApp, Message, Receive, Scope, Send, make_app
from aggregator.publishing.server import background_server
from aggregator.writers.html import render_index
from aggregator.writers.icons import asset
from aggregator.writers.opml import render_opml

BASE = "https://news.example.org/"
NEWEST = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
HOSTILE = (
    "<script>alert(1)</script>",
    "]]> & \"quoted\" 'single'",
    "Emoji 🚀🦀 and a bell\x07 and a nonchar \ufdd0",
    "עברית: חדשות היום",
)


def _article(n: int, title: str, topic: str) -> Article:
    return Article(
        id=f"https://example.com/{topic}/{n}",
        url=f"https://example.com/{topic}/{n}?a=1&b=<2>",
        title=title,
        published=NEWEST - timedelta(hours=n * 7),
        origin="test",
        topics=(topic,),
        provider=Provider(name=f"Provider <{n}> & co", domain="example.com"),
    )


def _feed(kind: str, slug: str, title: str, topic: str | None, titles: tuple[str, ...]) -> FeedInfo:
    articles = tuple(_article(i, t, slug) for i, t in enumerate(titles))
    files = (("rss", f"feeds/{slug}.xml"), ("atom", f"feeds/{slug}.atom"), ("json", f"feeds/{slug}.json"))
    return FeedInfo(
        kind=kind,
        slug=slug,
        title=title,
        topic=topic,
        items=len(titles) * 10,
        files=files,
        updated=NEWEST if titles else None,
        newest=articles,
        per_day=tuple((i * 7) % 5 for i in range(30)) if titles else (),
    )


FEEDS = (
    _feed("all", "all", "All topics", None, (*HOSTILE, "plain")),
    _feed("topic", "python", "Python <& friends>", "python", HOSTILE[:2]),
    _feed("topic", "rtl", "חדשות", "rtl", HOSTILE[3:]),
    _feed("topic", "empty", "Nothing yet ]]>", "empty", ()),
    _feed("custom", "best", 'Best of "all"', None, ("one", "two")),
    FeedInfo(
        kind="archive",
        slug="python-2024-04",
        title="Python archive April",
        topic="python",
        items=3,
        files=(("rss", "feeds/archive/python-2024-04.xml"),),
    ),
)
LISTED = [f for f in FEEDS if f.kind != "archive"]


# --- OPML -------------------------------------------------------------------------------------------


def test_opml_parses_back_with_one_outline_per_live_feed() -> None:
    root = ET.fromstring(render_opml("News <&> \x01 site", BASE, FEEDS))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "News <&>  site"
    assert root.findtext("head/dateModified") == "Wed, 01 May 2024 12:30:00 GMT"
    outlines = root.findall("body/outline")
    assert [o.get("title") for o in outlines] == [f.title for f in LISTED]
    for outline, feed in zip(outlines, LISTED, strict=True):
        assert outline.get("text") == feed.title
        assert outline.get("type") == "rss"
        assert outline.get("xmlUrl") == f"{BASE}feeds/{feed.slug}.xml"
        assert outline.get("htmlUrl") == f"{BASE}index.html#{feed.anchor}"


def test_opml_is_deterministic_and_needs_no_dates() -> None:
    assert render_opml("S", BASE, FEEDS) == render_opml("S", BASE, FEEDS)
    undated = ET.fromstring(render_opml("S", BASE.rstrip("/"), [FEEDS[3]]))
    assert undated.find("head/dateModified") is None
    assert undated.find("body/outline").get("xmlUrl") == f"{BASE}feeds/empty.xml"  # type: ignore[union-attr]


# --- index.html --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page() -> bytes:
    return render_index("News <b>site</b>", "Feeds & more </style>", BASE, "en", FEEDS)


class _Collector(HTMLParser):
    """Tags and attributes, to check links and anchors without regular expressions."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: bytes) -> list[tuple[str, dict[str, str | None]]]:
    collector = _Collector()
    collector.feed(page.decode("utf-8"))
    return collector.tags


def test_index_parses_without_errors_in_a_strict_html5_parser(page: bytes) -> None:
    html5lib = pytest.importorskip("html5lib")
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    document = parser.parse(page)  # raises ParseError on the first error
    assert parser.errors == []
    assert document.find("body") is not None


def test_index_escapes_everything_and_has_no_script(page: bytes) -> None:
    text = page.decode("utf-8")
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "]]&gt; &amp; &quot;quoted&quot;" in text
    assert "🚀🦀" in text and "עברית" in text and "\x07" not in text and "\ufdd0" not in text
    assert "News &lt;b&gt;site&lt;/b&gt;" in text
    assert "Feeds &amp; more &lt;/style&gt;" in text
    assert "Python archive" not in text  # archives are not subscribable feeds


def test_index_has_discovery_links_for_every_feed_and_format(page: bytes) -> None:
    alternates = {(a["type"], a["href"]) for tag, a in _tags(page) if tag == "link" and a.get("rel") == "alternate"}
    media = {"rss": "application/rss+xml", "atom": "application/atom+xml", "json": "application/feed+json"}
    for feed in LISTED:
        for name, path in feed.files:
            assert (media[name], path) in alternates
    assert ("text/x-opml", "index.opml") in alternates


def test_index_anchors_resolve_the_opml_fragments(page: bytes) -> None:
    ids = [a["id"] or "" for _tag, a in _tags(page) if "id" in a]
    assert sorted(ids) == sorted(f.anchor for f in LISTED)
    opml = ET.fromstring(render_opml("S", BASE, FEEDS))
    for outline in opml.findall("body/outline"):
        assert outline.get("htmlUrl", "").split("#")[1] in ids


def test_index_shows_newest_items_and_a_chart_per_feed(page: bytes) -> None:
    text = page.decode("utf-8")
    assert text.count("<svg") == sum(1 for f in LISTED if f.per_day)
    # Labelled: what it counts and its span, as a caption a reader sees too.
    assert text.count("<title>Articles per day over the 30 days to 2024-05-01") == text.count("<svg")
    assert text.count("<figcaption>Articles per day over the 30 days to 2024-05-01") == text.count("<svg")
    # At most three items per feed, each linked with its escaped URL, provider and date.
    assert text.count("<li>") == sum(min(3, len(f.newest)) for f in LISTED)
    assert 'href="https://example.com/python/0?a=1&amp;b=&lt;2&gt;"' in text
    assert "Provider &lt;0&gt; &amp; co" in text
    assert '<time datetime="2024-05-01T12:30:00Z">2024-05-01</time>' in text


def test_index_is_deterministic_and_responsive(page: bytes) -> None:
    assert render_index("News <b>site</b>", "Feeds & more </style>", BASE, "en", FEEDS) == page
    text = page.decode("utf-8")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "prefers-color-scheme:dark" in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//(?!example\.com/|news\.example\.org/)""", text)


# --- a real browser ---------------------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _write_site(root: Path, page: bytes) -> None:
    (root / "index.html").write_bytes(page)
    (root / "index.opml").write_bytes(render_opml("S", BASE, FEEDS))
    (root / "topics.opml").write_bytes(render_opml("S", BASE, FEEDS, grouped=True))
    (root / "icon.png").write_bytes(asset("icon.png"))
    for feed in LISTED:
        for _name, path in feed.files:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(f"feed {feed.slug}\n", encoding="utf-8")


def _console_errors(stderr: str) -> list[str]:
    """Console messages Chromium logged for the page (``...:INFO:CONSOLE:1] "..."``).

    The page has no scripts, so any console message at all -- an uncaught
    error, a CSP violation -- is a fault.
    """
    return [line for line in stderr.splitlines() if re.search(r":CONSOLE[:(]|Uncaught", line)]


class _Recorder:
    """ASGI middleware remembering (path, status) of every response, so the
    test sees a subresource the browser failed to load (Chromium does not log those)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.responses: list[tuple[str, int]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.responses.append((scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, recording_send)


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("window", "flags"),
    [("1280,2000", ()), ("390,1600", ()), ("1280,2000", ("--force-dark-mode",))],
    ids=["desktop", "phone", "dark"],
)
def test_index_in_a_headless_browser(page: bytes, tmp_path: Path, window: str, flags: tuple[str, ...]) -> None:
    browser = _chromium()
    assert browser is not None, "chromium is not installed: .ci/run installs it (apt-get install chromium)"
    site = tmp_path / "site"
    site.mkdir()
    _write_site(site, page)
    shot = tmp_path / "shot.png"
    recorder = _Recorder(make_app(site))
    with background_server(recorder) as base, httpx.Client(base_url=base, timeout=10) as client:
        result = _run_chromium(browser, f"{base}index.html", tmp_path, shot, (f"--window-size={window}", *flags))
        loaded = list(recorder.responses)
        hrefs = {a["href"] for tag, a in _tags(page) if tag in ("a", "link") and a.get("type")}
        for href in sorted(h for h in hrefs if h):
            assert client.get(href).status_code == 200, href
    assert shot.exists() and shot.stat().st_size > 1000, result.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert _console_errors(result.stderr) == []
    assert ("/index.html", 200) in loaded
    assert [r for r in loaded if r[1] >= 400] == []


def _run_chromium(
    browser: str, url: str, tmp_path: Path, shot: Path, extra: tuple[str, ...]
) -> subprocess.CompletedProcess[str]:
    """Load ``url`` once and screenshot it; stderr carries the page's console log."""
    profile = tmp_path / "profile"
    args = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--mute-audio",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
        *extra,
        f"--screenshot={shot}",
        url,
    ]
    # HOME inside tmp_path keeps Chromium's caches and crash dumps out of the user's folders.
    env = {**os.environ, "HOME": str(tmp_path)}
    return subprocess.run(args, capture_output=True, text=True, timeout=90, env=env, check=False)
