"""RSS 0.9x/1.0/2.0 and Atom through feedparser (RELIABILITY #14, #15, #18, #19).

feedparser gets the raw bytes in a ``BytesIO`` plus the response headers, never
a string (a string may be taken as a URL or a path and fetched).  It sniffs the
encoding itself, strips unsafe DOCTYPE entities and never loads external ones.
A "bozo" parse is accepted when it still yields entries (they are validated
later like any other); with no entries it is a failure naming the reason.
"""

from __future__ import annotations

import calendar
import html
import io
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from aggregator.errors import SourceError
from aggregator.sources.remote.raw import RawFeed, RawImage, RawItem

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
    return RawFeed(
        title=_str(channel.get("title")),
        link=_str(channel.get("link")),
        items=tuple(_item(entry) for entry in entries),
        warning=f"malformed feed, usable items kept: {_reason(problem)}" if problem is not None else None,
    )


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
        enclosures=tuple(href for e in entry.get("enclosures") or [] if (href := _str(e.get("href")))),
    )


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
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 7:
        return int(value)
    return None


def to_utc(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC ``struct_time``) as an aware UTC datetime."""
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None
