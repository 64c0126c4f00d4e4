"""Feed items -> :class:`~aggregator.model.Article`: the item rules, pure.

- The link is resolved against the feed's final URL and must be absolute
  http(s) (:func:`~aggregator.urls.resolve_url`); items without one are dropped
  and counted.  Each item's identity and merge key (its id) follow
  :mod:`aggregator.sources.remote.identity`; a repeated entry (same
  identity) is merged into the newest and counted.
- Titles and summaries are plain text; content is allowlist-sanitised with the
  item link as base.  A missing title falls back to the summary, then the URL.
- Dates are aware UTC.  An item without a date, or dated more than a day in
  the future, gets its first-seen time, which the caller persists so it stays
  the same on every later run.
- Topics: the source's topics, plus the item's categories when the source has
  ``category_topics`` (see :mod:`aggregator.config.sources`).
- At most ``max_items`` are kept, newest first, ties broken by id.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from aggregator.config.sources import MAX_TOPICS, TOPIC_MAX, SourceConfig
from aggregator.model import Article, Enclosure, Image, Provider
from aggregator.sources.remote.identity import identities, merge_keys
from aggregator.sources.remote.raw import Drop, RawFeed, RawItem, entries_dropped
from aggregator.text import NAME_MAX, SUMMARY_MAX, TITLE_MAX, html_to_text, plain_text, sanitize_html
from aggregator.urls import normalize_url, resolve_url

FUTURE_SLACK = timedelta(days=1)
MAX_ENCLOSURES = 8
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*")


@dataclass(frozen=True)
class Built:
    """The articles of one feed, how many items were dropped, and first-seen times to store."""

    articles: tuple[Article, ...]
    drops: tuple[Drop, ...]  # entries left out and fields dropped, each with its reason code
    first_seen: dict[str, datetime]
    merged: int = 0  # repeated entries merged into another with the same identity
    cut: int = 0  # items beyond the source's max_items (the oldest)
    ttl: int | None = None  # the feed's RSS <ttl> (minutes)

    @property
    def dropped(self) -> int:
        return entries_dropped(self.drops)


def build_articles(feed: RawFeed, source: SourceConfig, base_url: str, max_items: int,
                   known_first_seen: Mapping[str, datetime], now: datetime) -> Built:
    """Turn a parsed feed into at most ``max_items`` validated articles."""
    provider = _provider(feed, source, base_url)
    home = provider.url or normalize_url(source.url) or base_url
    drops = list(feed.drops)
    usable: list[tuple[RawItem, str | None]] = []
    for item in feed.items:
        link = resolve_url(item.link, base_url) if item.link else None
        if link is None and not (item.content_html or item.content_text or item.summary):
            given = f" ({item.link[:100]!r})" if item.link else ""
            drops.append(Drop("no-link", f"item {item.guid or item.title or '?'}: no usable link{given}, no content"))
            continue
        usable.append((item, link))
    links = [link for _item, link in usable]
    idents = identities([item for item, _link in usable], links, source.url)
    built: list[Article] = []
    first_seen: dict[str, datetime] = {}
    for (item, link), ident, article_id in zip(usable, idents, merge_keys(idents, links), strict=True):
        published = _trusted(item.published, now) or _trusted(item.updated, now)
        if published is None:
            published = first_seen[article_id] = known_first_seen.get(article_id, now)
        # An item with content but no link of its own links to the site.
        built.append(_article(item, source, link or home, article_id, published, provider, now, ident))
    unique = _newest(built)
    kept = unique[:max_items]
    return Built(kept, tuple(drops), first_seen, len(built) - len(unique), len(unique) - len(kept), feed.ttl)


def _trusted(when: datetime | None, now: datetime) -> datetime | None:
    # A date far in the future would pin the item to the top of every feed.
    return when if when is not None and when <= now + FUTURE_SLACK else None


def _newest(articles: list[Article]) -> tuple[Article, ...]:
    ordered = sorted(articles, key=lambda a: (-a.published.timestamp(), a.id))
    kept: dict[str, Article] = {}
    for article in ordered:  # the newest copy of a repeated entry wins
        kept.setdefault(article.item_id or article.id, article)
    return tuple(kept.values())


def _article(item: RawItem, source: SourceConfig, link: str, article_id: str, published: datetime,
             provider: Provider, now: datetime, item_id: str) -> Article:
    summary = _summary(item)
    categories = _unique(plain_text(c, TOPIC_MAX) for c in item.categories)
    topics = _unique((*source.topics, *categories) if source.category_topics else source.topics)
    content = sanitize_html(item.content_html, base_url=link) if item.content_html else None
    image_url = resolve_url(item.image.url, link) if item.image else None
    return Article(
        id=article_id,
        url=link,
        title=_title(item, summary, link),
        published=published,
        origin=source.url,
        summary=summary,
        content_html=content or None,
        updated=_trusted(item.updated, now),
        topics=topics[:MAX_TOPICS],
        tags=categories[:MAX_TOPICS],
        quality=source.quality,
        provider=provider,
        image=Image(image_url, item.image.width, item.image.height) if image_url and item.image else None,
        item_id=item_id,
        author=plain_text(item.author, NAME_MAX) or None if item.author else None,
        enclosures=_enclosures(item, link),
    )


def _enclosures(item: RawItem, base: str) -> tuple[Enclosure, ...]:
    """The item's files with an absolute http(s) URL, each once."""
    found: dict[str, Enclosure] = {}
    for e in item.enclosures:
        url = resolve_url(e.url, base)
        if url is not None and url not in found:
            kind = e.type if e.type and _MEDIA_TYPE.fullmatch(e.type) else None
            found[url] = Enclosure(url, kind, e.length)
    return tuple(found.values())[:MAX_ENCLOSURES]


def reapply(articles: tuple[Article, ...], source: SourceConfig, max_items: int) -> tuple[Article, ...]:
    """Cached articles brought up to the source's current config (topics, quality, name, cap).

    A source can answer 304 for weeks; an edited ``topics`` or ``quality`` must
    still apply to its items.  Item categories survive in ``tags``.
    """
    result = []
    for article in articles[:max_items]:
        topics = _unique((*source.topics, *article.tags) if source.category_topics else source.topics)
        provider = article.provider
        if source.name and provider is not None:
            provider = dataclasses.replace(provider, name=plain_text(source.name, NAME_MAX))
        result.append(dataclasses.replace(article, topics=topics[:MAX_TOPICS], quality=source.quality,
                                          provider=provider))
    return tuple(result)


def _summary(item: RawItem) -> str:
    if item.summary:
        if item.summary_is_html:
            return html_to_text(item.summary, SUMMARY_MAX)
        return plain_text(item.summary, SUMMARY_MAX)
    if item.content_html:
        return html_to_text(item.content_html, SUMMARY_MAX)
    return plain_text(item.content_text or "", SUMMARY_MAX)


def _title(item: RawItem, summary: str, link: str) -> str:
    # Always strip tags: RSS titles are nominally text, but escaped markup in them is common.
    title = html_to_text(item.title, TITLE_MAX) if item.title else ""
    return title or plain_text(summary, TITLE_MAX) or link[:TITLE_MAX]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for value in values:
        if value:
            seen.setdefault(value.casefold(), value)
    return tuple(seen.values())


def _provider(feed: RawFeed, source: SourceConfig, base_url: str) -> Provider:
    home = resolve_url(feed.link, base_url) if feed.link else None
    domain = urlsplit(home or normalize_url(source.url) or base_url).hostname
    name = plain_text(source.name or "", NAME_MAX) or plain_text(feed.title or "", NAME_MAX)
    name = name or domain or source.url
    return Provider(name=name, domain=domain, url=home)
