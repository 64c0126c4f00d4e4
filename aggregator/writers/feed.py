"""What every feed writer receives: one frozen description of a feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..model import Article

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedDoc:
    """A feed to render, in any format.

    ``urls`` maps each format name to the absolute URL its file is served
    at (a feed's self link, and the alternates it lists).  ``home_url`` is
    the feed's human page.  ``updated`` is the newest item's date, never
    the build time, so unchanged content renders to unchanged bytes.
    """

    slug: str
    title: str
    description: str
    home_url: str
    language: str
    author: str
    items: tuple[Article, ...]
    urls: tuple[tuple[str, str], ...]
    hub: str | None = None
    prev_archive: tuple[tuple[str, str], ...] = ()  # format -> URL (RFC 5005)
    archive: bool = False  # this document is an archive page (RFC 5005)
    current: tuple[tuple[str, str], ...] = ()  # for archives: format -> live feed URL

    def url(self, fmt: str) -> str:
        return dict(self.urls)[fmt]

    @property
    def updated(self) -> datetime:
        return max((item_updated(a) for a in self.items), default=EPOCH)


def item_updated(article: Article) -> datetime:
    return max(article.updated or article.published, article.published)


def item_content(article: Article) -> str | None:
    """The published HTML of an item: its featured embed, then its body."""
    parts = [p for p in (article.featured_html, article.content_html) if p]
    return "\n".join(parts) if parts else None


def categories(article: Article) -> tuple[str, ...]:
    """Topics then tags, without repeats."""
    return tuple(dict.fromkeys(article.topics + article.tags))
