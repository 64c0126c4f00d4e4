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
    enclosures: tuple[str, ...] = ()  # the URLs of its enclosures / attachments (podcast audio...)


@dataclass(frozen=True)
class RawFeed:
    """A parsed feed: its own title and home page, items, and what the reader rejected."""

    title: str | None
    link: str | None
    items: tuple[RawItem, ...]
    dropped: int = 0  # entries the reader itself rejected (wrong JSON types)
    warning: str | None = None  # a recoverable parse problem (feedparser's bozo reason)
