"""A strict, reusable checker for the published feeds (import it from any test).

It encodes what the W3C Feed Validator enforced on our output, plus the
rules of the specs named in the issue, so CI keeps them without the
validator:

- RSS 2.0, RSS Advisory Board profile: channel ``title``/``link``/
  ``description``; ``atom:link rel="self"`` with a ``type``; RFC 822 dates
  with an explicit zone; unique guids (a permalink guid is a URL); items
  with a title or a description; feed-level elements before the items;
- Atom 1.0, RFC 4287: feed ``id``/``title``/``updated``/``author`` and
  ``link rel="self"``; entries with ``id``/``title``/``updated`` (RFC 3339),
  unique ids, at most one alternate link per type and hreflang, an
  alternate link when there is no content, valid text-construct types;
  feed metadata before the entries;
- JSON Feed 1.1: strict JSON (no NaN/Infinity), ``version``, ``title``,
  absolute ``feed_url``, items with unique string ids and
  ``content_html``/``content_text``, RFC 3339 dates, no unknown keys unless
  ``_``-prefixed, author objects;
- everywhere: every URL absolute and a valid URI (ASCII only, no spaces);
  feedparser reads every RSS and Atom file with ``bozo == 0`` (feedparser
  6.0 cannot read JSON Feed: strict ``json.loads`` stands in for it).

``check_rss``/``check_atom``/``check_json_feed`` take bytes and raise
``AssertionError`` with a message naming the rule and the place;
``check_output_folder`` checks a whole build output (feeds, ``index.json``,
``index.opml``, forbidden strings).
"""

from __future__ import annotations

import html
import json
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import feedparser
import html5lib
from lxml import etree

__all__ = ["check_atom", "check_json_feed", "check_output_folder", "check_rss", "check_uri"]

ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"

# RFC 3986 URI characters (reserved, unreserved, "%"): ASCII, no spaces.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HTTP = re.compile(r"^https?://[^/?#\s]+", re.I)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_RFC822_ZONE = re.compile(r"(?:[+-]\d{4}|GMT|UT|[ECMP][SD]T)$")
_LANG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_TEXT_TYPES = {"text", "html", "xhtml"}

_JSON_FEED_KEYS = {"version", "title", "home_page_url", "feed_url", "description", "user_comment", "next_url",
                   "icon", "favicon", "authors", "author", "language", "expired", "hubs", "items"}
_JSON_ITEM_KEYS = {"id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
                   "banner_image", "date_published", "date_modified", "authors", "author", "tags", "language",
                   "attachments"}
_JSON_URL_KEYS = ("home_page_url", "feed_url", "next_url", "icon", "favicon")
_JSON_ITEM_URL_KEYS = ("url", "external_url", "image", "banner_image")


# -- shared rules ---------------------------------------------------------------------------------------------


def check_uri(value: object, where: str, *, http: bool = False) -> str:
    """``value`` is an absolute, valid URI (ASCII, no spaces, well-formed
    escapes, one ``#`` at most); with ``http``, an http(s) URL with a host."""
    assert isinstance(value, str) and value, f"{where}: expected a URI, got {value!r}"
    assert _URI.match(value), f"{where}: not an absolute ASCII URI: {value!r}"
    assert not _BAD_ESCAPE.search(value), f"{where}: bad percent-escape in {value!r}"
    assert value.count("#") <= 1, f"{where}: more than one '#' in {value!r}"
    if http:
        assert _HTTP.match(value), f"{where}: not an http(s) URL: {value!r}"
    return value


def check_rfc3339(value: object, where: str) -> datetime:
    assert isinstance(value, str) and _RFC3339.match(value), f"{where}: not an RFC 3339 date-time: {value!r}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_rfc822(value: str | None, where: str) -> datetime:
    value = (value or "").strip()
    assert _RFC822_ZONE.search(value), f"{where}: RFC 822 date without an explicit zone: {value!r}"
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{where}: not an RFC 822 date: {value!r}") from exc
    assert moment.tzinfo is not None, f"{where}: RFC 822 date without a zone: {value!r}"
    return moment


def check_feedparser(data: bytes, where: str) -> Any:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, f"{where}: feedparser bozo: {parsed.get('bozo_exception')!r}"
    return parsed


def _xml(data: bytes, where: str) -> Any:
    assert isinstance(data, bytes), f"{where}: expected bytes"
    try:
        return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise AssertionError(f"{where}: not well-formed XML: {exc}") from exc


def _text(element: Any) -> str:
    return (element.text or "").strip() if element is not None else ""


def _unique(values: Iterable[str], what: str, where: str) -> None:
    repeated = [v for v, n in Counter(values).items() if n > 1]
    assert not repeated, f"{where}: duplicate {what}: {repeated[:3]!r}"


def _before_items(parent: Any, item_tag: str, where: str) -> None:
    """Feed-level elements precede the first item/entry."""
    seen_item = False
    for child in parent:
        if not isinstance(child.tag, str):
            continue
        if child.tag == item_tag:
            seen_item = True
        else:
            assert not seen_item, f"{where}: <{child.tag}> after the first <{item_tag}>"


# -- RSS 2.0 --------------------------------------------------------------------------------------------------


def check_rss(data: bytes, where: str = "rss") -> None:
    """Raise AssertionError unless ``data`` is a strict RSS 2.0 feed."""
    root = _xml(data, where)
    assert root.tag == "rss" and root.get("version") == "2.0", f"{where}: root is not <rss version='2.0'>"
    channels = root.findall("channel")
    assert len(channels) == 1, f"{where}: expected one <channel>, found {len(channels)}"
    channel = channels[0]
    for name in ("title", "link", "description"):
        assert _text(channel.find(name)), f"{where}: channel <{name}> missing or empty"
    check_uri(_text(channel.find("link")), f"{where}: channel <link>", http=True)
    selfs = [e for e in channel.findall(f"{ATOM}link") if e.get("rel") == "self"]
    assert len(selfs) == 1, f"{where}: expected one atom:link rel='self', found {len(selfs)}"
    assert selfs[0].get("type") == "application/rss+xml", f"{where}: atom:link rel='self' needs type"
    for link in channel.findall(f"{ATOM}link"):
        check_uri(link.get("href"), f"{where}: channel atom:link rel={link.get('rel')!r}")
    for name in ("pubDate", "lastBuildDate"):
        for element in channel.findall(name):
            check_rfc822(element.text, f"{where}: channel <{name}>")
    lang = channel.find("language")
    if lang is not None:
        assert _LANG.match(_text(lang)), f"{where}: bad <language> {_text(lang)!r}"
    _before_items(channel, "item", where)
    guids = [_check_rss_item(item, f"{where}: item {n}") for n, item in enumerate(channel.findall("item"), 1)]
    _unique([g for g in guids if g], "guids", where)
    check_feedparser(data, where)


def _check_rss_item(item: Any, where: str) -> str | None:
    assert _text(item.find("title")) or _text(item.find("description")), f"{where}: no title and no description"
    for name in ("link", "comments"):
        if item.find(name) is not None:
            check_uri(_text(item.find(name)), f"{where}: <{name}>", http=True)
    for element in item.findall("pubDate"):
        check_rfc822(element.text, f"{where}: <pubDate>")
    for tag, attr in (("source", "url"), ("enclosure", "url"), (f"{MEDIA}thumbnail", "url"),
                      (f"{MEDIA}content", "url"), (f"{ATOM}link", "href")):
        for element in item.iter(tag):
            check_uri(element.get(attr), f"{where}: <{tag}> {attr}")
    for category in item.findall("category"):
        assert _text(category), f"{where}: empty <category>"
    guid = item.find("guid")
    if guid is None:
        return None
    value = _text(guid)
    assert value, f"{where}: empty <guid>"
    if guid.get("isPermaLink", "true") == "true":
        check_uri(value, f"{where}: permalink <guid>", http=True)
    return value


# -- Atom 1.0 -------------------------------------------------------------------------------------------------


def check_atom(data: bytes, where: str = "atom") -> None:
    """Raise AssertionError unless ``data`` is a strict Atom 1.0 feed."""
    feed = _xml(data, where)
    assert feed.tag == f"{ATOM}feed", f"{where}: root is not atom:feed"
    check_uri(_text(feed.find(f"{ATOM}id")), f"{where}: feed <id>")
    _check_text_construct(feed, "title", where, required=True)
    _check_text_construct(feed, "subtitle", where)
    check_rfc3339(_text(feed.find(f"{ATOM}updated")), f"{where}: feed <updated>")
    lang = feed.get(XML_LANG)
    if lang is not None:
        assert _LANG.match(lang), f"{where}: bad xml:lang {lang!r}"
    feed_author = _check_persons(feed, where)
    links = _check_links(feed, where)
    selfs = [link for link in links if link.get("rel") == "self"]
    assert len(selfs) == 1, f"{where}: expected one link rel='self', found {len(selfs)}"
    assert selfs[0].get("type") == "application/atom+xml", f"{where}: link rel='self' needs type"
    _before_items(feed, f"{ATOM}entry", where)
    ids = [_check_entry(entry, f"{where}: entry {n}", feed_author)
           for n, entry in enumerate(feed.findall(f"{ATOM}entry"), 1)]
    _unique(ids, "entry ids", where)
    check_feedparser(data, where)


def _check_entry(entry: Any, where: str, feed_author: bool) -> str:
    entry_id = check_uri(_text(entry.find(f"{ATOM}id")), f"{where}: <id>")
    _check_text_construct(entry, "title", where, required=True)
    _check_text_construct(entry, "summary", where)
    _check_text_construct(entry, "rights", where)
    for name in ("updated", "published"):
        if entry.find(f"{ATOM}{name}") is not None or name == "updated":
            check_rfc3339(_text(entry.find(f"{ATOM}{name}")), f"{where}: <{name}>")
    assert _check_persons(entry, where) or feed_author, f"{where}: no author (and none on the feed)"
    links = _check_links(entry, where)
    content = entry.find(f"{ATOM}content")
    if content is None:
        assert any(link.get("rel", "alternate") == "alternate" for link in links), \
            f"{where}: no <content> and no alternate link"
    else:
        kind = content.get("type", "text")
        assert kind in _TEXT_TYPES or re.match(r"^[\w.+-]+/[\w.+-]+$", kind), \
            f"{where}: bad content type {kind!r}"
        if content.get("src") is not None:
            check_uri(content.get("src"), f"{where}: content src")
    for category in entry.findall(f"{ATOM}category"):
        assert category.get("term"), f"{where}: category without a term"
    return entry_id


def _check_text_construct(parent: Any, name: str, where: str, *, required: bool = False) -> None:
    elements = parent.findall(f"{ATOM}{name}")
    assert len(elements) <= 1, f"{where}: more than one <{name}>"
    if not elements:
        assert not required, f"{where}: <{name}> missing"
        return
    kind = elements[0].get("type", "text")
    assert kind in _TEXT_TYPES, f"{where}: <{name}> has type {kind!r}"
    if required:
        assert "".join(elements[0].itertext()).strip(), f"{where}: <{name}> is empty"


def _check_persons(parent: Any, where: str) -> bool:
    authors = parent.findall(f"{ATOM}author")
    for person in authors + parent.findall(f"{ATOM}contributor"):
        assert _text(person.find(f"{ATOM}name")), f"{where}: author/contributor without a name"
        if person.find(f"{ATOM}uri") is not None:
            check_uri(_text(person.find(f"{ATOM}uri")), f"{where}: person <uri>")
    return bool(authors)


def _check_links(parent: Any, where: str) -> list[Any]:
    links = parent.findall(f"{ATOM}link")
    for link in links:
        check_uri(link.get("href"), f"{where}: link rel={link.get('rel')!r}")
    alternates = [(link.get("type"), link.get("hreflang")) for link in links
                  if link.get("rel", "alternate") == "alternate"]
    _unique([f"{t}|{h}" for t, h in alternates], "alternate links (same type and hreflang)", where)
    return links


# -- JSON Feed 1.1 --------------------------------------------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise AssertionError(f"JSON constant {name} is not allowed")


def check_json_feed(data: bytes, where: str = "json") -> None:
    """Raise AssertionError unless ``data`` is a strict JSON Feed 1.1 document."""
    try:
        feed = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AssertionError(f"{where}: not strict UTF-8 JSON: {exc}") from exc
    assert isinstance(feed, dict), f"{where}: top level is not an object"
    assert feed.get("version") == JSON_FEED_VERSION, f"{where}: version is {feed.get('version')!r}"
    assert isinstance(feed.get("title"), str) and feed["title"].strip(), f"{where}: title missing or empty"
    _known_keys(feed, _JSON_FEED_KEYS, where)
    assert "feed_url" in feed, f"{where}: feed_url missing"
    for key in _JSON_URL_KEYS:
        if key in feed:
            check_uri(feed[key], f"{where}: {key}", http=True)
    for key in ("description", "language"):
        if key in feed:
            assert isinstance(feed[key], str), f"{where}: {key} is not a string"
    if "expired" in feed:
        assert isinstance(feed["expired"], bool), f"{where}: expired is not a boolean"
    _check_authors(feed, where)
    for n, hub in enumerate(feed.get("hubs", [])):
        assert isinstance(hub, dict) and isinstance(hub.get("type"), str), f"{where}: hub {n} needs a type"
        check_uri(hub.get("url"), f"{where}: hub {n} url")
    items = feed.get("items")
    assert isinstance(items, list), f"{where}: items is not a list"
    ids = [_check_json_item(item, f"{where}: item {n}") for n, item in enumerate(items, 1)]
    _unique(ids, "item ids", where)
    # feedparser 6.0 has no JSON Feed support: strict json.loads is the parse.


def _check_json_item(item: Any, where: str) -> str:
    assert isinstance(item, dict), f"{where}: not an object"
    _known_keys(item, _JSON_ITEM_KEYS, where)
    assert isinstance(item.get("id"), str) and item["id"], f"{where}: id is not a non-empty string"
    assert any(isinstance(item.get(k), str) for k in ("content_html", "content_text")), \
        f"{where}: neither content_html nor content_text"
    for key in ("title", "content_html", "content_text", "summary", "language"):
        if key in item:
            assert isinstance(item[key], str), f"{where}: {key} is not a string"
    for key in _JSON_ITEM_URL_KEYS:
        if key in item:
            check_uri(item[key], f"{where}: {key}", http=True)
    for key in ("date_published", "date_modified"):
        if key in item:
            check_rfc3339(item[key], f"{where}: {key}")
    if "tags" in item:
        assert isinstance(item["tags"], list) and all(isinstance(t, str) and t for t in item["tags"]), \
            f"{where}: tags is not a list of strings"
    _check_authors(item, where)
    for n, attachment in enumerate(item.get("attachments", [])):
        assert isinstance(attachment, dict) and isinstance(attachment.get("mime_type"), str), \
            f"{where}: attachment {n} needs a mime_type"
        check_uri(attachment.get("url"), f"{where}: attachment {n} url")
    return str(item["id"])


def _known_keys(obj: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(k for k in obj if k not in known and not k.startswith("_"))
    assert not unknown, f"{where}: unknown keys without a '_' prefix: {unknown}"


def _check_authors(obj: dict[str, Any], where: str) -> None:
    if "authors" not in obj:
        return
    authors = obj["authors"]
    assert isinstance(authors, list), f"{where}: authors is not a list"
    for n, author in enumerate(authors):
        assert isinstance(author, dict), f"{where}: author {n} is not an object"
        assert any(isinstance(author.get(k), str) and author[k] for k in ("name", "url", "avatar")), \
            f"{where}: author {n} has no name, url or avatar"
        for key in ("url", "avatar"):
            if key in author:
                check_uri(author[key], f"{where}: author {n} {key}")


# -- a whole output folder ------------------------------------------------------------------------------------

CHECKERS = {"rss": check_rss, "atom": check_atom, "json": check_json_feed}


def count_items(kind: str, data: bytes) -> int:
    if kind == "json":
        return len(json.loads(data)["items"])
    root = etree.fromstring(data)
    return len(root.findall("channel/item") if kind == "rss" else root.findall(f"{ATOM}entry"))


def self_link(kind: str, data: bytes) -> str:
    if kind == "json":
        return str(json.loads(data)["feed_url"])
    root = etree.fromstring(data)
    parent = root.find("channel") if kind == "rss" else root
    return next(str(e.get("href")) for e in parent.findall(f"{ATOM}link") if e.get("rel") == "self")


def check_output_folder(path: str | Path, forbidden: Iterable[str] = ()) -> dict[str, Any]:
    """Check every file of a build's output folder; return the manifest.

    Every feed the manifest lists exists, passes its strict checker, has as
    many items as the manifest says and links to itself at ``base_url`` +
    its path; every feed file in the folder is listed; ``index.opml``
    parses and its ``xmlUrl``s are files of the folder under ``base_url``;
    no file contains any of the ``forbidden`` strings.
    """
    root = Path(path)
    manifest_path = root / "index.json"
    assert manifest_path.is_file(), f"{root}: no index.json"
    manifest = json.loads(manifest_path.read_bytes(), parse_constant=_reject_constant)
    base_url = check_uri(manifest.get("base_url"), "index.json: base_url", http=True)
    listed = _check_manifest_feeds(root, manifest, base_url)
    suffixes = {Path(p).suffix for p in listed}
    listings = {"index.json", "index.html"} | {p.relative_to(root).as_posix() for p in root.glob("topics/*.html")}
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix in suffixes}
    unlisted = sorted(on_disk - listed - listings)
    assert not unlisted, f"{root}: feed files not in index.json: {unlisted[:5]}"
    _check_opml(root, base_url)
    _check_links_between_feeds(root, base_url, {p for p in listed if Path(p).suffix in FEED_SUFFIXES})
    for page in sorted(listings - {"index.json"}) + sorted(p for p in listed if p.endswith(".html")):
        _check_html_page(root, base_url, page)
    _check_forbidden(root, [s for s in forbidden if s])
    return dict(manifest)


def _check_manifest_feeds(root: Path, manifest: dict[str, Any], base_url: str) -> set[str]:
    feeds = manifest.get("feeds")
    assert isinstance(feeds, list) and feeds, "index.json: feeds missing or empty"
    assert all(feed.get("kind") in KIND_ORDER for feed in feeds), "index.json: unknown feed kind"
    keys = [(KIND_ORDER[feed["kind"]], feed.get("slug"), feed.get("month") or "") for feed in feeds]
    assert keys == sorted(keys), "index.json: feeds not sorted by kind, slug and month"
    _unique(keys, "kind/slug/month", "index.json")
    listed: set[str] = set()
    for feed in feeds:
        where = f"index.json: feed {feed.get('slug')!r}"
        month = feed.get("month")
        assert (feed["kind"] == "archive") == (month is not None), f"{where}: only archives have a month"
        assert month is None or re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month), f"{where}: bad month {month!r}"
        assert isinstance(feed.get("slug"), str) and _SLUG.match(feed["slug"]), f"{where}: bad slug"
        assert feed.get("kind") != "all" or (feed["slug"] == "all" and feed.get("topic") is None), \
            f"{where}: the all-topics feed is slug 'all' with topic null"
        assert isinstance(feed.get("items"), int), f"{where}: items is not an integer"
        for kind, rel in feed["files"].items():
            file = root / rel
            assert not Path(rel).is_absolute() and ".." not in Path(rel).parts, f"{where}: path {rel!r} escapes"
            assert file.is_file(), f"{where}: {rel} does not exist"
            data = file.read_bytes()
            if kind == "html":
                assert feed["kind"] != "archive", f"{where}: an archive has no page"
                assert rel == feed["files"]["rss"].removesuffix(".xml") + ".html", f"{where}: page {rel}"
            if kind in CHECKERS:
                CHECKERS[kind](data, rel)
                count = count_items(kind, data)
                assert count == feed["items"], f"{where}: {rel} has {count} items, index.json says {feed['items']}"
                assert self_link(kind, data) == base_url + rel, f"{rel}: self link is not {base_url + rel}"
            listed.add(rel)
    return listed


KIND_ORDER = {"all": 0, "topic": 1, "custom": 2, "archive": 3}
FEED_SUFFIXES = {".xml", ".atom", ".json"}


def feed_links(kind: str, data: bytes) -> dict[str, str]:
    """rel -> href of a feed's own links (RSS atom:link, Atom link; JSON
    Feed's feed_url/next_url/home_page_url as self/prev-archive/alternate)."""
    if kind == "json":
        feed = json.loads(data)
        names = {"feed_url": "self", "next_url": "prev-archive", "home_page_url": "alternate"}
        return {rel: feed[key] for key, rel in names.items() if key in feed}
    root = etree.fromstring(data)
    parent = root.find("channel") if kind == "rss" else root
    return {str(e.get("rel") or "alternate"): str(e.get("href")) for e in parent.findall(f"{ATOM}link")}


def _check_links_between_feeds(root: Path, base_url: str, listed: set[str]) -> None:
    """Every link from a feed to the output folder (self, alternate page,
    RFC 5005 prev-archive/current, JSON next_url) names a file that exists,
    and a prev-archive chain only goes back in time, in the same format."""
    for rel in sorted(listed):
        kind = {".xml": "rss", ".atom": "atom", ".json": "json"}[Path(rel).suffix]
        links = feed_links(kind, (root / rel).read_bytes())
        for name, href in links.items():
            if name == "hub" or not href.startswith(base_url):
                continue
            target = href[len(base_url):].split("#", 1)[0]
            assert (root / target).is_file(), f"{rel}: {name} link {href} does not resolve to a file"
            if name in ("prev-archive", "current"):
                assert Path(target).suffix == Path(rel).suffix, f"{rel}: {name} link changes format"
            if name == "prev-archive":
                assert target.startswith("archive/") and target in listed, f"{rel}: prev-archive {target} unlisted"
                if rel.startswith("archive/"):
                    assert target < rel, f"{rel}: prev-archive {target} is not older"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        for name in ("href", "src"):
            if found.get(name) and tag in ("a", "link", "img", "script", "iframe"):
                self.hrefs.append(str(found[name]))


def _check_html_page(root: Path, base_url: str, name: str) -> None:
    """A page (index.html, a topic-directory page, a feed's page) parses
    without a single error in a strict HTML5 parser, has no script, its ids
    are unique, and every link into the output folder (relative to the
    page, or absolute under ``base_url``) names an existing file and, with a
    fragment into the page itself, an existing id."""
    page = root / name
    assert page.is_file(), f"{root}: no {name}"
    data = page.read_bytes()
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    parser.parse(data)  # raises ParseError on the first error
    assert b"<script" not in data.lower(), f"{name}: has a script"
    links = _Links()
    links.feed(data.decode("utf-8"))
    _unique(links.ids, "ids", name)
    folder = Path(name).parent
    for href in links.hrefs:
        absolute = href.startswith(base_url)
        target = href[len(base_url):] if absolute else href
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//", target):
            continue  # an article's own link, elsewhere on the web
        path, _, fragment = target.partition("#")
        path = unquote(path.split("?", 1)[0]) or name
        resolved = Path(path) if absolute else Path(os.path.normpath(folder / path))
        assert (root / resolved).is_file(), f"{name}: link {href!r} does not resolve to a file"
        if fragment and resolved.as_posix() == name:
            assert unquote(fragment) in links.ids, f"{name}: link {href!r} names no id on the page"


def _check_opml(root: Path, base_url: str) -> None:
    """index.opml and topics.opml parse; every ``xmlUrl`` and ``htmlUrl`` is
    a file of the output under ``base_url``; index.opml lists a feed
    (the combined one at least), and no feed is in both."""
    listed: dict[str, list[str]] = {}
    for name in ("index.opml", "topics.opml"):
        opml = root / name
        assert opml.is_file(), f"{root}: no {name}"
        try:
            tree = ET.fromstring(opml.read_bytes())
        except ET.ParseError as exc:
            raise AssertionError(f"{name}: not well-formed: {exc}") from exc
        assert tree.tag == "opml", f"{name}: root is not <opml>"
        listed[name] = [str(o.get("xmlUrl")) for o in tree.iter("outline") if o.get("xmlUrl") is not None]
        for outline in tree.iter("outline"):
            for attr in ("xmlUrl", "htmlUrl"):
                url = outline.get(attr)
                if url is None:
                    continue
                check_uri(url, f"{name}: {attr}", http=True)
                assert url.startswith(base_url), f"{name}: {attr} {url} is not under {base_url}"
                path = unquote(url[len(base_url):].partition("#")[0]) or "index.html"
                assert (root / path).is_file(), f"{name}: {attr} {url} is not a file of the output"
    assert listed["index.opml"], "index.opml: no outline with an xmlUrl"
    assert not set(listed["index.opml"]) & set(listed["topics.opml"]), "a feed is in both OPML files"


_TOKEN = re.compile(r"[A-Za-z0-9+/=;_-]{12,}")


def _check_forbidden(root: Path, forbidden: list[str]) -> None:
    """No file holds a forbidden string, raw or escaped.  Opaque tokens
    (the usual case: base64 blobs) are found through a prefix index, so
    thousands of them cost one pass per file; other strings are searched
    directly."""
    others = [s for s in forbidden if not _TOKEN.fullmatch(s)]
    by_prefix: dict[str, list[str]] = {}
    for secret in forbidden:
        if _TOKEN.fullmatch(secret):
            by_prefix.setdefault(secret[:12], []).append(secret)
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = file.read_bytes().decode("utf-8", "replace")
        for view in dict.fromkeys((raw, html.unescape(raw), raw.replace("\\/", "/"))):
            found = [s for s in others if s in view]
            if by_prefix:
                for run in _TOKEN.findall(view):
                    found += [s for i in range(len(run) - 11) for s in by_prefix.get(run[i:i + 12], ()) if s in run]
            assert not found, f"{file.relative_to(root)}: contains a forbidden string ({found[0][:12]}…)"
