"""What a feed reader extracts from a body before any validation.

Both readers (feedparser for XML, our own for JSON Feed) produce these plain
values; :mod:`aggregator.sources.remote.articles` alone turns them into
:class:`~aggregator.model.Article` values, so the item rules live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RawImage:
    url: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class RawEnclosure:
    """A file attached to an item (podcast audio, video): RSS ``enclosure``,
    Atom ``link rel="enclosure"``, a JSON Feed attachment."""

    url: str
    type: str | None = None
    length: int | None = None


# Why an entry or a field of it was not used: one code per class, in the report.
DROP_REASONS = {
    "not-an-item": "entry is not an item object",
    "no-link": "item without a usable link or content",
    "bad-field": "field dropped: wrong type or unusable value",
    "truncated": "field dropped from an item recovered from a malformed feed",
}


ENTRY_DROPS = frozenset({"not-an-item", "no-link"})  # the codes that leave a whole entry out


def entries_dropped(drops: tuple[Drop, ...]) -> int:
    """Entries left out (a dropped field does not count: its item is kept)."""
    return sum(1 for d in drops if d.code in ENTRY_DROPS)


@dataclass(frozen=True)
class Drop:
    """An entry (or one of its fields) left out, with its reason code (:data:`DROP_REASONS`)."""

    code: str
    detail: str


@dataclass(frozen=True)
class RawItem:
    """One entry as the feed states it: strings unvalidated, links possibly relative."""

    link: str | None = None
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    summary_is_html: bool = True
    content_html: str | None = None
    content_text: str | None = None
    published: datetime | None = None  # aware UTC or None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    image: RawImage | None = None
    enclosures: tuple[RawEnclosure, ...] = ()
    author: str | None = None  # the byline (RSS author/dc:creator, Atom author, JSON authors)


@dataclass(frozen=True)
class RawFeed:
    """A parsed feed: its own title and home page, items, and what the reader rejected."""

    title: str | None
    link: str | None
    items: tuple[RawItem, ...]
    drops: tuple[Drop, ...] = ()  # entries the reader left out, and fields dropped from kept ones
    warning: str | None = None  # a recoverable parse problem (feedparser's bozo reason, a bare JSON version)
    ttl: int | None = None  # RSS <ttl>: minutes the feed may be cached

    @property
    def dropped(self) -> int:
        return entries_dropped(self.drops)
