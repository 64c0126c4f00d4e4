"""A strict reader for JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1).

The top level must be an object with a ``version`` URL of JSON Feed 1.x and an
``items`` list, or the whole body is rejected with :class:`JsonFeedError`.  An
item with a field of the wrong type is dropped and counted, never coerced
(RELIABILITY #35, #36).  The body size is already capped by the fetcher; deep
nesting raises ``RecursionError`` inside :func:`json.loads`, caught here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aggregator.errors import SourceError
from aggregator.sources.remote.raw import RawFeed, RawImage, RawItem

_VERSIONS = ("https://jsonfeed.org/version/1", "http://jsonfeed.org/version/1")
_STRING_FIELDS = ("url", "external_url", "title", "content_html", "content_text", "summary", "image",
                  "banner_image", "date_published", "date_modified")


class JsonFeedError(SourceError):
    """The body is not a usable JSON Feed."""


def read_json_feed(body: bytes) -> RawFeed:
    """Parse a JSON Feed body; raise :class:`JsonFeedError` when it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise JsonFeedError(f"malformed feed: invalid JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise JsonFeedError("malformed feed: a JSON Feed must be an object")
    version = data.get("version")
    if not isinstance(version, str) or not version.startswith(_VERSIONS):
        raise JsonFeedError("not a feed: JSON without a JSON Feed version")
    entries = data.get("items")
    if not isinstance(entries, list):
        raise JsonFeedError("malformed feed: JSON Feed 'items' must be a list")
    title, link = data.get("title"), data.get("home_page_url")
    items = [item for item in map(_item, entries) if item is not None]
    return RawFeed(
        title=title if isinstance(title, str) else None,
        link=link if isinstance(link, str) else None,
        items=tuple(items),
        dropped=len(entries) - len(items),
    )


def _item(entry: object) -> RawItem | None:
    """One item, or ``None`` when any known field has the wrong type."""
    if not isinstance(entry, dict):
        return None
    fields: dict[str, str | None] = {}
    for name in _STRING_FIELDS:
        value = entry.get(name)
        if value is not None and not isinstance(value, str):
            return None
        fields[name] = value
    guid = _guid(entry.get("id"))
    tags = entry.get("tags", [])
    if guid is None or not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return None
    image = fields["image"] or fields["banner_image"]
    return RawItem(
        link=fields["url"] or fields["external_url"],
        guid=guid,
        title=fields["title"],
        summary=fields["summary"],
        summary_is_html=False,  # JSON Feed's summary is plain text
        content_html=fields["content_html"],
        content_text=fields["content_text"],
        published=parse_date(fields["date_published"]),
        updated=parse_date(fields["date_modified"]),
        categories=tuple(tags),
        image=RawImage(image) if image else None,
        enclosures=_attachments(entry.get("attachments")),
    )


def _attachments(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(a["url"] for a in value if isinstance(a, dict) and isinstance(a.get("url"), str) and a["url"])


def _guid(value: Any) -> str | None:
    # 1.1 requires a string; 1.0 feeds in the wild use numbers, which are unambiguous.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def parse_date(value: str | None) -> datetime | None:
    """An RFC 3339 date as aware UTC; naive means UTC; unparseable is ``None``."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 with a positive offset, year 9999 with a negative one
        return None
