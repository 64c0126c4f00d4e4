"""A strict reader for JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1).

The top level must be an object with a ``version`` of JSON Feed 1.x (its URL;
a bare ``"1"`` or ``"1.1"`` is accepted with a warning) and an ``items`` list,
or the whole body is rejected with :class:`JsonFeedError`.  A field of the
wrong type is dropped with a report line naming the field and the item, never
coerced (RELIABILITY #35, #36); the item is kept.  The body size is already capped by the fetcher; deep
nesting raises ``RecursionError`` inside :func:`json.loads`, caught here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aggregator.errors import SourceError
from aggregator.sources.remote.raw import Drop, RawEnclosure, RawFeed, RawImage, RawItem

_VERSIONS = ("https://jsonfeed.org/version/1", "http://jsonfeed.org/version/1")  # covers …/1.1
_BARE_VERSIONS = ("1", "1.0", "1.1")
_STRING_FIELDS = ("url", "external_url", "title", "content_html", "content_text", "summary", "image",
                  "banner_image", "date_published", "date_modified")


class JsonFeedError(SourceError):
    """The body is not a usable JSON Feed."""


def read_json_feed(body: bytes) -> RawFeed:
    """Parse a JSON Feed body; raise :class:`JsonFeedError` when it is not one."""
    try:
        data = json.loads(body)  # bytes: UTF-8, -16 or -32, with or without a BOM (RFC 8259, 8.1)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise JsonFeedError(f"malformed feed: invalid JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise JsonFeedError("malformed feed: a JSON Feed must be an object")
    version = data.get("version")
    warning = None
    if isinstance(version, str) and version.strip() in _BARE_VERSIONS:
        # Not the spec's URL, but unambiguous; other readers accept it too.
        warning = f"JSON Feed version given as {version.strip()!r}, not as https://jsonfeed.org/version/…"
    elif not isinstance(version, str) or not version.startswith(_VERSIONS):
        raise JsonFeedError("not a feed: JSON without a JSON Feed version")
    entries = data.get("items")
    if not isinstance(entries, list):
        raise JsonFeedError("malformed feed: JSON Feed 'items' must be a list")
    title, link = data.get("title"), data.get("home_page_url")
    items: list[RawItem] = []
    drops: list[Drop] = []
    for position, entry in enumerate(entries):
        item = _item(entry, position, drops)
        if item is not None:
            items.append(item)
    return RawFeed(
        title=title if isinstance(title, str) else None,
        link=link if isinstance(link, str) else None,
        items=tuple(items),
        drops=tuple(drops),
        warning=warning,
    )


def _item(entry: object, position: int, drops: list[Drop]) -> RawItem | None:
    """One item, with every field of a wrong type dropped (and reported);
    ``None`` when the entry is not an object."""
    if not isinstance(entry, dict):
        drops.append(Drop("not-an-item", f"items[{position}] is {type(entry).__name__}, not an object"))
        return None
    guid = _guid(entry.get("id"))
    name = f"item {guid!r}" if guid is not None else f"items[{position}]"

    def bad(field: str, value: object, expected: str) -> None:
        drops.append(Drop("bad-field", f"{name}: '{field}' dropped ({type(value).__name__}, expected {expected})"))

    if entry.get("id") is not None and guid is None:
        bad("id", entry["id"], "a string")
    fields: dict[str, str | None] = {}
    for key in _STRING_FIELDS:
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            bad(key, value, "a string")
            value = None
        fields[key] = value
    tags = entry.get("tags", [])
    if not isinstance(tags, list):
        bad("tags", tags, "a list of strings")
        tags = []
    elif not all(isinstance(t, str) for t in tags):
        drops.append(Drop("bad-field", f"{name}: {sum(not isinstance(t, str) for t in tags)} tag(s) that are "
                                       "not strings dropped"))
        tags = [t for t in tags if isinstance(t, str)]
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
        enclosures=_attachments(entry.get("attachments"), name, drops),
        author=_author(entry, name, drops),
    )


def _author(entry: dict[str, Any], name: str, drops: list[Drop]) -> str | None:
    """The first author's name: 1.1 ``authors`` (a list), else 1.0 ``author``."""
    authors = entry.get("authors")
    if authors is None and entry.get("author") is not None:
        authors = [entry["author"]]
    if authors is None:
        return None
    if not isinstance(authors, list):
        drops.append(Drop("bad-field", f"{name}: 'authors' dropped ({type(authors).__name__}, expected a list)"))
        return None
    names = [a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str) and a["name"].strip()]
    return ", ".join(names) or None


def _attachments(value: Any, name: str, drops: list[Drop]) -> tuple[RawEnclosure, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        drops.append(Drop("bad-field", f"{name}: 'attachments' dropped ({type(value).__name__}, expected a list)"))
        return ()
    found = []
    for a in value:
        if isinstance(a, dict) and isinstance(a.get("url"), str) and a["url"].strip():
            size = a.get("size_in_bytes")
            kind = a.get("mime_type")
            found.append(RawEnclosure(a["url"], kind if isinstance(kind, str) else None,
                                      size if isinstance(size, int) and not isinstance(size, bool) and size >= 0
                                      else None))
        else:
            drops.append(Drop("bad-field", f"{name}: an attachment without a URL dropped"))
    return tuple(found)


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
