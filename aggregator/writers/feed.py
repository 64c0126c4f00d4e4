"""What every feed writer receives: one frozen description of a feed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property

from aggregator.media import is_placeholder, video_thumbnail
from aggregator.model import Article, Enclosure, Image
from aggregator.writers.itemhtml import item_html, teaser
from aggregator.writers.values import link_uri, text, uri
from aggregator.writers.words import Words

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedDoc:
    """A feed to render, in any format.

    ``urls`` maps each format name to the absolute URL its file is served
    at (a feed's self link, and the alternates it lists).  ``home_url`` is
    the feed's human page.  ``updated`` is the newest item's date, never
    the build time, so unchanged content renders to unchanged bytes.
    ``author`` is the feed's author, and the author of every item that
    names neither a byline nor a provider.  ``icon`` and ``logo`` are
    absolute URLs; ``words`` what the writers add to items in the feed's
    language; ``strip_params`` the query parameters removed from published
    links; ``placeholders`` the image URLs never published.
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
    next_archive: tuple[tuple[str, str], ...] = ()  # archives but the newest: format -> the next month's URL
    archive: bool = False  # this document is an archive page (RFC 5005)
    current: tuple[tuple[str, str], ...] = ()  # for archives: format -> live feed URL
    icon: str | None = None
    logo: str | None = None
    generator_url: str | None = None
    words: Words = field(default_factory=Words)
    strip_params: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()
    name: str = ""  # the short name its page shows ("AI"); the title is "Site: AI"
    site: str = ""  # the site's title
    index_url: str = ""  # the site's index page

    def url(self, fmt: str) -> str:
        return dict(self.urls)[fmt]

    @property
    def updated(self) -> datetime:
        return max((item_updated(a) for a in self.items), default=EPOCH)

    @cached_property
    def entries(self) -> tuple[Entry, ...]:
        """The items as the writers emit them, worked out once for all
        the formats a document is rendered to."""
        return tuple(entry_of(a, self) for a in self.items)


@dataclass(frozen=True, slots=True)
class Entry:
    """An item as every format writes it: each string stripped of
    XML-illegal code points (:func:`text`), each URL a valid absolute URI
    or ``None`` (:func:`uri`), links without tracking parameters."""

    article: Article  # for what needs no cleaning (dates)
    id: str  # :func:`item_id`
    url: str | None
    link: str  # the URL, else the id
    title: str
    summary: str
    html: str  # the item's HTML (:func:`aggregator.writers.itemhtml.item_html`): never empty
    teaser: str  # a short HTML: its image and summary (RSS <description>)
    updated: datetime  # :func:`item_updated`
    author: str  # the byline, else the provider's name, else the feed's author: never empty
    author_url: str | None
    provider: str | None  # the item's source: the provider's name
    provider_url: str | None  # its home page, or the remote feed the item came from
    categories: tuple[str, ...]  # topics then tags, blank and repeated ones left out
    image: Image | None  # a usable image (no placeholder), its URL a valid URI
    related: tuple[tuple[str, str], ...]  # (URL, title) of each related link with a valid URL
    source: str | None  # the remote feed the item came from
    enclosures: tuple[Enclosure, ...] = ()  # its files (podcast audio...), each URL a valid URI
    # The story's other coverage, newest first: (URL, title, provider, published), each URL valid.
    coverage: tuple[tuple[str, str, str | None, datetime | None], ...] = ()

    @property
    def synopsis(self) -> str:
        """The item's plain-text summary, else its title, else its link: never empty."""
        return self.summary or self.title or self.link


def entry_of(article: Article, doc: FeedDoc) -> Entry:
    ident = item_id(article)
    url = link_uri(article.url, doc.strip_params)
    provider = article.provider
    image = _image(article, doc.placeholders)
    origin = uri(article.origin) if article.origin.startswith(("http://", "https://")) else None
    provider_name = text(provider.name).strip() if provider else ""
    author = text(article.author).strip() or provider_name or text(doc.author).strip()
    entry = Entry(
        article=article, id=ident, url=url, link=url or ident, title=text(article.title),
        summary=text(article.summary), html="", teaser="", updated=item_updated(article),
        author=author or text(doc.title) or doc.slug,
        author_url=uri(provider.url) if provider and not article.author else None,
        provider=provider_name or None,
        provider_url=origin or (uri(provider.url) if provider else None),
        categories=tuple(c for c in dict.fromkeys(text(c).strip() for c in categories(article)) if c),
        image=image,
        related=tuple((u, text(r.title)) for r in article.related if (u := link_uri(r.url, doc.strip_params))),
        source=origin,
        enclosures=tuple(replace(e, url=u, type=text(e.type) or None) for e in article.enclosures
                         if (u := uri(e.url))),
        coverage=tuple((u, text(r.title), text(r.provider) or None if r.provider else None, r.published)
                       for r in article.coverage if (u := link_uri(r.url, doc.strip_params))))
    return replace(entry, html=item_html(entry, doc), teaser=teaser(entry))


def _image(article: Article, placeholders: tuple[str, ...]) -> Image | None:
    image = article.image
    if image is None or is_placeholder(image.url, placeholders):
        image = video_thumbnail(article.video_url or article.url)
    url = uri(image.url) if image else None
    return replace(image, url=url) if image and url else None


def rfc3339(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC.  Not strftime: glibc does not pad
    years before 1000 (year 1 is .NET's "no date", and real feeds carry it)."""
    t = moment.astimezone(UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def item_updated(article: Article) -> datetime:
    return max(article.updated or article.published, article.published)


# Categories written per item: an article listed under hundreds of topics is
# in hundreds of feeds, and its item in each must not grow with them too.
MAX_CATEGORIES = 50


def categories(article: Article) -> tuple[str, ...]:
    """Topics then tags, without repeats, at most :data:`MAX_CATEGORIES`."""
    return tuple(dict.fromkeys(article.topics + article.tags))[:MAX_CATEGORIES]


def item_id(article: Article) -> str:
    """The item's id in every format: its canonical URL as a valid URI, or
    a ``urn:`` derived from it when it is not an absolute URI."""
    return uri(article.id) or "urn:sha256:" + hashlib.sha256(article.id.encode("utf-8", "surrogatepass")).hexdigest()
