"""Plain text is plain: after one decode (json, lxml: not feedparser, which
cleans titles itself) no text field of any output holds markup, for the
hostile fixtures (``tests/hostile``) and for remote items whose title,
summary, author and categories carry scripts.  And the independent parsers
(feedparser, lxml, json) agree on every item of every format."""

from __future__ import annotations

import calendar
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.text import plain_text

HOSTILE = Path(__file__).parent / "hostile"
REPO = Path(__file__).resolve().parents[1]
REALDATA = Path("/work/shared/realdata")
ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
# What must not be in a text field once decoded: a tag that runs script or
# loads something, an event handler, a script URL.
MARKUP = re.compile(r"<\s*(script|img|svg|iframe|a\s|b\s|object|embed)|<[^>]*\son[a-z]+\s*=|javascript:", re.I)

EVIL_RSS = b"""<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>&lt;script&gt;alert(1)&lt;/script&gt;Evil feed</title><link>https://evil.example/</link><description>d</description>
<item><title>&lt;img src=x onerror=alert(2)&gt;Evil &amp;lt;script&amp;gt;item</title>
<link>https://evil.example/1?utm_medium=rss</link><guid>https://evil.example/1</guid>
<description>&lt;p onclick="x()"&gt;Hi&lt;script&gt;alert(3)&lt;/script&gt; javascript:alert(4)&lt;/p&gt;</description>
<dc:creator>&lt;b onmouseover=alert(5)&gt;Mallory&lt;/b&gt;</dc:creator>
<category>&lt;svg/onload=alert(6)&gt;Evil &amp;amp; Co</category>
<pubDate>Thu, 02 May 2024 10:00:00 GMT</pubDate></item></channel></rss>"""


class _Evil(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(EVIL_RSS)))
        self.end_headers()
        self.wfile.write(EVIL_RSS)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def evil_source() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Evil)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/evil.xml"
    httpd.shutdown()
    httpd.server_close()


def _build(root: Path, articles: Path, extra: str = "") -> Path:
    (root / "config.yaml").write_text(
        'site: {title: "T", base_url: "https://example.org/feeds/"}\n'
        f"articles: [{json.dumps(str(articles))}]\noutput: out\nstate: state.db\n" + extra, "utf-8")
    result = subprocess.run([sys.executable, "-m", "aggregator", "build", "-c", "config.yaml", "-q",
                             "--now", "2024-06-01T00:00:00Z"], cwd=root, capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), result.stderr
    return root / "out"


@pytest.fixture(scope="module")
def hostile_out(tmp_path_factory: pytest.TempPathFactory, evil_source: str) -> Path:
    root = tmp_path_factory.mktemp("plain")
    articles = root / "articles"
    shutil.copytree(HOSTILE, articles, ignore=shutil.ignore_patterns("README.md", "EXPECTED.json"))
    return _build(root, articles, f"sources:\n  - {{url: '{evil_source}', topics: [Evil], category_topics: true}}\n")


def _text_fields(out: Path) -> Iterator[tuple[str, str]]:
    """(where, value) of every plain-text field of every feed, decoded once."""
    for path in sorted(out.rglob("*.json")):
        if path.name == "index.json":
            continue
        feed = json.loads(path.read_bytes())
        yield f"{path.name}: title", feed.get("title", "")
        for item in feed["items"]:
            where = f"{path.name} {item['id']}"
            for key in ("title", "summary", "content_text"):
                yield f"{where}: {key}", item.get(key, "")
            yield from ((f"{where}: author", a.get("name", "")) for a in item.get("authors", []))
            yield from ((f"{where}: tag", t) for t in item.get("tags", []))
            source = item.get("_aggregator", {}).get("source", {})
            yield f"{where}: source", source.get("name", "")
            yield from ((f"{where}: related", r["title"]) for r in item.get("_aggregator", {}).get("related", []))
    for path in sorted(out.rglob("*.xml")):
        channel = etree.fromstring(path.read_bytes()).find("channel")
        for item in channel.findall("item"):
            where = f"{path.name} {item.findtext('guid')}"
            for name in ("title", f"{DC}creator", "category", "source"):
                for element in item.findall(name):
                    yield f"{where}: {name}", element.text or ""
            for link in item.findall(f"{ATOM}link"):
                yield f"{where}: related title", link.get("title", "")
    for path in sorted(out.rglob("*.atom")):
        for entry in etree.fromstring(path.read_bytes()).findall(f"{ATOM}entry"):
            where = f"{path.name} {entry.findtext(f'{ATOM}id')}"
            for name in (f"{ATOM}title", f"{ATOM}summary", f"{ATOM}author/{ATOM}name", f"{ATOM}source/{ATOM}title"):
                for element in entry.findall(name):
                    yield f"{where}: {name}", element.text or ""
            yield from ((f"{where}: category", c.get("term", "")) for c in entry.findall(f"{ATOM}category"))


def test_no_text_field_holds_markup_after_one_decode(hostile_out: Path) -> None:
    fields = list(_text_fields(hostile_out))
    values = [v for _w, v in fields]
    assert any("Markup" in v for v in values) and any("Evil" in v for v in values)  # the fixtures were published
    assert [(where, value) for where, value in fields if MARKUP.search(value)] == []
    assert "Vector<int>" in values  # text that is no HTML element stays
    assert any("We're fine" in v for v in values)  # an excerpt escaped twice reads as text
    assert any(v == "Evil & Co" for v in values)  # a remote category decoded once, markup gone


def test_bodies_lose_liquid_and_scripts_but_keep_raw_content(hostile_out: Path) -> None:
    item = next(i for i in json.loads((hostile_out / "all.json").read_bytes())["items"]
                if i["id"].startswith("https://example.com/markup/1"))
    html = item["content_html"]
    assert "Kept {{ literally }}" in html and "{%" not in html and "include" not in html
    body = html.split("Related coverage")[0]
    assert "<script" not in html and "alert" not in body  # the script goes with its content
    assert "utm_source" not in item["url"] and "id=7" in item["url"]  # tracking parameters go, others stay
    assert item["authors"] == [{"name": "Eve"}]  # the byline, not the provider


def _items(out: Path, stem: str) -> dict[str, list[tuple[str, str, str, datetime]]]:
    """Per format: (id, link, title, published) of every item, by an independent parser each."""
    data = {fmt: (out / f"{stem}{suffix}").read_bytes() for fmt, suffix in (("rss", ".xml"), ("atom", ".atom"),
                                                                            ("json", ".json"))}
    found: dict[str, list[tuple[str, str, str, datetime]]] = {}
    channel = etree.fromstring(data["rss"]).find("channel")
    found["lxml rss"] = [(i.findtext("guid"), i.findtext("link"), i.findtext("title") or "",
                          datetime.strptime(i.findtext("pubDate"), "%a, %d %b %Y %H:%M:%S %z"))
                         for i in channel.findall("item")]
    found["lxml atom"] = [(e.findtext(f"{ATOM}id"), e.find(f"{ATOM}link").get("href"), e.findtext(f"{ATOM}title"),
                           datetime.fromisoformat(e.findtext(f"{ATOM}published").replace("Z", "+00:00")))
                          for e in etree.fromstring(data["atom"]).findall(f"{ATOM}entry")]
    found["json"] = [(i["id"], i.get("url", i["id"]), i.get("title", ""),
                      datetime.fromisoformat(i["date_published"].replace("Z", "+00:00")))
                     for i in json.loads(data["json"])["items"]]
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(data[fmt], sanitize_html=False)
        found[f"feedparser {fmt}"] = [
            (e.id, e.link, e.title, datetime.fromtimestamp(calendar.timegm(e.published_parsed), UTC))
            for e in parsed.entries]
    return found


@pytest.mark.parametrize("corpus", ["sample", "realdata"])
def test_independent_parsers_agree_on_every_item(tmp_path: Path, corpus: str) -> None:
    if corpus == "realdata" and not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present")
    out = _build(tmp_path, REPO / "articles" if corpus == "sample" else REALDATA)
    manifest = json.loads((out / "index.json").read_bytes())
    for feed in manifest["feeds"]:
        stem = feed["files"]["rss"].removesuffix(".xml")
        views = _items(out, stem)
        reference = views.pop("json")
        assert len(reference) == feed["items"]
        for name, items in views.items():
            assert [(i, link, title) for i, link, title, _ in items] == [r[:3] for r in reference], (stem, name)
            assert [when.timestamp() for *_, when in items] == [r[3].timestamp() for r in reference], (stem, name)


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list("<>&;#/=\"' abcdiumgscrptonlx:{}%!-")) | st.characters(), max_size=80))
def test_plain_text_never_leaves_markup(text: str) -> None:
    clean = plain_text(text)
    assert not MARKUP.search(clean), (text, clean)
    assert "\n" not in clean and not any(ord(c) < 0x20 for c in clean)
