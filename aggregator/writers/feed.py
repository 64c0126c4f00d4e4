"""What every feed writer receives: one frozen description of a feed."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from urllib.parse import quote

from ..model import Article
from ..text import strip_illegal

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

    @cached_property
    def entries(self) -> tuple[Entry, ...]:
        """The items as the writers emit them, worked out once for all
        the formats a document is rendered to."""
        return tuple(entry_of(a) for a in self.items)


@dataclass(frozen=True, slots=True)
class Entry:
    """An item as every format writes it: each string stripped of
    XML-illegal code points (:func:`text`), each URL a valid absolute URI
    or ``None`` (:func:`uri`)."""

    article: Article  # for what needs no cleaning (dates, image size)
    id: str  # :func:`item_id`
    url: str | None
    link: str  # the URL, else the id
    title: str
    summary: str
    content: str | None  # :func:`item_content`, when there is any
    updated: datetime  # :func:`item_updated`
    author: str  # the provider's name, or ""
    author_url: str | None
    categories: tuple[str, ...]  # topics then tags, blank and repeated ones left out
    image: str | None
    related: tuple[tuple[str, str], ...]  # (URL, title) of each related link with a valid URL
    source: str | None  # the remote feed the item came from

    @property
    def synopsis(self) -> str:
        """The item's plain-text summary, else its title, else its link: never empty."""
        return self.summary or self.title or self.link


def entry_of(article: Article) -> Entry:
    ident = item_id(article)
    url = uri(article.url)
    content = item_content(article)
    provider = article.provider
    return Entry(
        article=article, id=ident, url=url, link=url or ident, title=text(article.title),
        summary=text(article.summary), content=text(content) if content else None,
        updated=item_updated(article), author=text(provider.name) if provider else "",
        author_url=uri(provider.url) if provider else None,
        categories=tuple(c for c in dict.fromkeys(text(c).strip() for c in categories(article)) if c),
        image=uri(article.image.url) if article.image else None,
        related=tuple((u, text(r.title)) for r in article.related if (u := uri(r.url))),
        source=uri(article.origin) if article.origin.startswith(("http://", "https://")) else None)


def rfc3339(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC.  Not strftime: glibc does not pad
    years before 1000 (year 1 is .NET's "no date", and real feeds carry it)."""
    t = moment.astimezone(UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def item_updated(article: Article) -> datetime:
    return max(article.updated or article.published, article.published)


def item_content(article: Article) -> str | None:
    """The published HTML of an item: its featured embed, then its body."""
    parts = [p for p in (article.featured_html, article.content_html) if p]
    return "\n".join(parts) if parts else None


# Categories written per item: an article listed under hundreds of topics is
# in hundreds of feeds, and its item in each must not grow with them too.
MAX_CATEGORIES = 50


def categories(article: Article) -> tuple[str, ...]:
    """Topics then tags, without repeats, at most :data:`MAX_CATEGORIES`."""
    return tuple(dict.fromkeys(article.topics + article.tags))[:MAX_CATEGORIES]


# Characters a URI may hold as they are (RFC 3986 reserved + unreserved,
# plus "%" for existing escapes); everything else is percent-encoded.
# Brackets only belong in the authority (IPv6), "#" only once.
_URI_SAFE = "!$%&'()*+,/:;=?@~-._"
_URI_PARTS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:)(//[^/?#]*)?([^#]*)(?:#(.*))?$", re.S)
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A URI that the slow path would return unchanged (the usual case): checked
# in one regex instead of splitting and quoting it, which dominated rendering.
_URI_CHAR = r"(?:[A-Za-z0-9!$&'()*+,/:;=?@~._-]|%[0-9A-Fa-f]{2})"
_PLAIN_URI = re.compile(rf"[a-z][a-z0-9+.-]*://[A-Za-z0-9.-]+(?::[0-9]+)?(?:[/?]{_URI_CHAR}*)?(?:#{_URI_CHAR}*)?")


def text(value: str | None) -> str:
    """A string every writer can emit: XML-illegal code points (controls,
    lone surrogates, U+FFFE/U+FFFF) removed.  Writers strip rather than
    raise, so one bad string never costs a whole feed."""
    return strip_illegal(value) if value else ""


def uri(value: str | None) -> str | None:
    """``value`` as a valid absolute URI (ASCII only: spaces, non-ASCII and
    other characters outside RFC 3986 percent-encoded, stray ``%`` escaped),
    or ``None`` when it is empty or not absolute."""
    if not value:
        return None
    if _PLAIN_URI.fullmatch(value):
        return value
    match = _URI_PARTS.match(_BAD_ESCAPE.sub("%25", strip_illegal(value).strip()))
    if not match:
        return None
    scheme, authority, rest, fragment = match.groups()
    out = scheme.lower() + quote(authority or "", safe=_URI_SAFE + "[]") + quote(rest, safe=_URI_SAFE)
    return out if fragment is None else out + "#" + quote(fragment, safe=_URI_SAFE)


def item_id(article: Article) -> str:
    """The item's id in every format: its canonical URL as a valid URI, or
    a ``urn:`` derived from it when it is not an absolute URI."""
    return uri(article.id) or "urn:sha256:" + hashlib.sha256(article.id.encode("utf-8", "surrogatepass")).hexdigest()
