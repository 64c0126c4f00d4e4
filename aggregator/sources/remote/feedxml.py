"""RSS 0.9x/1.0/2.0 and Atom through feedparser (RELIABILITY #14, #15, #18, #19).

feedparser gets the raw bytes in a ``BytesIO`` plus the response headers, never
a string (a string may be taken as a URL or a path and fetched).  It sniffs the
encoding itself, strips unsafe DOCTYPE entities and never loads external ones.
A "bozo" parse is accepted when it still yields entries (they are validated
later like any other); with no entries it is a failure naming the reason.
"""

from __future__ import annotations

import calendar
import dataclasses
import html
import io
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from aggregator.errors import SourceError
from aggregator.sources.remote.raw import Drop, RawEnclosure, RawFeed, RawImage, RawItem

# Bozo reasons that mean "parsed fine, but the headers lied about the encoding".
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def read_xml_feed(body: bytes, headers: Mapping[str, str]) -> RawFeed:
    """Parse an XML feed; raise :class:`SourceError` when nothing usable came out."""
    parsed = feedparser.parse(io.BytesIO(body), response_headers=dict(headers))
    entries = parsed.get("entries") or []
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if problem is not None and isinstance(problem, _HARMLESS):
        problem = None
    if not entries and problem is not None:
        raise SourceError(f"malformed feed: {_reason(problem)}")
    if not entries and not parsed.get("version"):
        raise SourceError("not a feed: unrecognised XML format")
    channel = parsed.get("feed") or {}
    items = [_item(entry) for entry in entries]
    drops: list[Drop] = []
    if problem is not None:
        items = _recovered(items, body, drops)
    return RawFeed(
        title=_str(channel.get("title")),
        link=_str(channel.get("link")),
        items=tuple(items),
        drops=tuple(drops),
        warning=f"malformed feed, usable items kept: {_reason(problem)}" if problem is not None else None,
        ttl=_int(_str(channel.get("ttl"))),
    )


_CLOSED = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")


def _recovered(items: list[RawItem], body: bytes, drops: list[Drop]) -> list[RawItem]:
    """The items of a malformed feed, keeping only what parsed cleanly.

    feedparser's lenient parser recovers the entries it saw; an entry whose
    closing tag never came (a truncated download, broken markup after it)
    may have swallowed the text of what followed into its last field (a
    byline made of the elements after it).  Such an entry keeps its
    identity, link, title and dates; its byline, summary, content and
    enclosures are dropped with a warning.  (A body in an encoding where
    tags are not ASCII bytes counts no closing tag: every entry is
    treated as open, the cautious side.)"""
    closed = len(_CLOSED.findall(body))
    kept = items[:closed]
    for item in items[closed:]:
        doubtful = [name for name, value in (("author", item.author), ("summary", item.summary),
                                             ("content", item.content_html), ("enclosures", item.enclosures))
                    if value]
        if doubtful:
            what = f"item {item.guid or item.link or item.title or '?'}"
            drops.append(Drop("truncated", f"{what}: {', '.join(doubtful)} dropped (its element never closed)"))
        kept.append(dataclasses.replace(item, author=None, summary=None, content_html=None, enclosures=()))
    return kept


def _reason(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:200]


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _item(entry: Mapping[str, Any]) -> RawItem:
    summary_detail = entry.get("summary_detail") or {}
    guid = _str(entry.get("id"))
    return RawItem(
        link=_str(entry.get("link")) or (guid if entry.get("guidislink") else None),
        guid=guid,
        title=_str(entry.get("title")),
        summary=_str(entry.get("summary")),
        summary_is_html=summary_detail.get("type", "text/html") in _HTML_TYPES,
        content_html=_content(entry.get("content")),
        published=to_utc(entry.get("published_parsed") or entry.get("created_parsed")),
        updated=to_utc(entry.get("updated_parsed")),
        categories=tuple(t for t in (_str(tag.get("term")) for tag in entry.get("tags") or []) if t),
        image=_image(entry),
        enclosures=tuple(RawEnclosure(href, _str(e.get("type")), _int(_str(e.get("length"))))
                         for e in entry.get("enclosures") or [] if (href := _str(e.get("href")))),
        author=_author(entry),
    )


_MAIL_NAME = re.compile(r"\s*[^\s@()<>]+@[^\s()<>]+\s*\((?P<name>[^()]+)\)\s*")  # RSS: "mail (Name)"
_NAME_MAIL = re.compile(r"\s*(?P<name>[^<>]+?)\s*<[^\s@<>]+@[^\s<>]+>\s*")  # "Name <mail>"


def _author(entry: Mapping[str, Any]) -> str | None:
    """The byline: the author's name, never an e-mail address.  Parsed
    here from the raw value: feedparser's ``author_detail`` cuts names out
    of "mail (Name)" at the wrong places."""
    raw = _str(entry.get("author")) or _str((entry.get("author_detail") or {}).get("name"))
    if raw is None:
        return None
    match = _MAIL_NAME.fullmatch(raw) or _NAME_MAIL.fullmatch(raw)
    if match:
        return match.group("name").strip() or None
    return None if "@" in raw and " " not in raw.strip() else raw


def _content(contents: object) -> str | None:
    """The first HTML content of an entry; plain-text content escaped into HTML."""
    if not isinstance(contents, list) or not contents:
        return None
    html_parts = [c for c in contents if c.get("type") in _HTML_TYPES]
    chosen = html_parts[0] if html_parts else contents[0]
    value = _str(chosen.get("value"))
    if value is None:
        return None
    if chosen.get("type") in _HTML_TYPES:
        return value
    return f"<p>{html.escape(value)}</p>"


def _image(entry: Mapping[str, Any]) -> RawImage | None:
    for thumb in entry.get("media_thumbnail") or []:
        if _str(thumb.get("url")):
            return RawImage(thumb["url"], _int(thumb.get("width")), _int(thumb.get("height")))
    for media in entry.get("media_content") or []:
        if _str(media.get("url")) and (media.get("medium") == "image"
                                       or str(media.get("type", "")).startswith("image/")):
            return RawImage(media["url"], _int(media.get("width")), _int(media.get("height")))
    for enclosure in entry.get("enclosures") or []:
        if _str(enclosure.get("href")) and str(enclosure.get("type", "")).startswith("image/"):
            return RawImage(enclosure["href"])
    return None


def _int(value: object) -> int | None:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 13:
        return int(value.strip())
    return None


def to_utc(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC ``struct_time``) as an aware UTC datetime."""
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None
