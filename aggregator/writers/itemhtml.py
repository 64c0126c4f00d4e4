"""The HTML of an item, as every reader renders it.  Pure.

Readers differ in what they show (``content:encoded`` or ``description``,
Atom ``content``, JSON ``content_html``), and most of them ignore
``media:thumbnail``, enclosures and ``rel="related"`` links and strip
iframes.  So the HTML itself carries what a subscriber should see:

1. the item's image, sized, with its title as ``alt``, linked to the article;
2. for a video, a "Watch on YouTube" link (the player is an iframe: dropped);
3. the body, else the featured content, else the summary;
4. "Related coverage": up to five related articles, newest first;
5. "Also covered by": when the item stands for a story several providers
   covered, the others (at most 8, newest first), never repeated in 4.

Every piece is already safe: bodies were sanitised when the article was
published, plain text is escaped here, URLs are valid URIs.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from aggregator.media import video_site
from aggregator.ranking.rules import MAX_COVERAGE
from aggregator.urls import canonical_url
from aggregator.writers.values import link_uri, text

if TYPE_CHECKING:
    from aggregator.model import Related
    from aggregator.writers.feed import Entry, FeedDoc

MAX_RELATED = 5


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def item_html(entry: Entry, doc: FeedDoc) -> str:
    """The whole HTML of ``entry``: image, video link, body, related coverage."""
    article = entry.article
    parts = [_image(entry)] if entry.image else []
    if article.video_url:
        watch = link_uri(article.video_url, doc.strip_params)
        if watch:
            where = video_site(watch, entry.provider)
            parts.append(f'<p><a href="{_e(watch)}">{_e(doc.words.watch_on.format(where=where))}</a></p>')
    body = article.content_html or article.featured_html
    if body:
        parts.append(body)
    if not article.content_html and entry.synopsis and (not body or entry.summary):
        parts.append(f"<p>{_e(entry.synopsis)}</p>")
    others = _others(entry, doc)
    coverage = _coverage(entry, doc, {canonical_url(url) for url, *_rest in entry.coverage[:MAX_COVERAGE]})
    if coverage:
        parts.append(coverage)
    if others:
        parts.append(others)
    return "\n".join(parts)


def teaser(entry: Entry) -> str:
    """A short HTML of the item: its image and its summary (RSS
    ``<description>``, which some readers show instead of the content)."""
    parts = [_image(entry)] if entry.image else []
    parts.append(f"<p>{_e(entry.synopsis)}</p>")
    return "\n".join(parts)


def _image(entry: Entry) -> str:
    image = entry.image
    assert image is not None
    size = "".join(f' {name}="{value}"' for name, value in (("width", image.width), ("height", image.height))
                   if value)
    alt = _e(image.title or entry.title)
    return f'<p><a href="{_e(entry.link)}"><img src="{_e(image.url)}" alt="{alt}"{size}></a></p>'


def _others(entry: Entry, doc: FeedDoc) -> str:
    """The story's other coverage: provider, title and link of each."""
    rows = []
    for url, title, provider, _published in entry.coverage[:MAX_COVERAGE]:
        who = f"{_e(provider)}: " if provider else ""
        rows.append(f'<li>{who}<a href="{_e(url)}">{_e(title)}</a></li>')
    if not rows:
        return ""
    return f"<p><strong>{_e(doc.words.also_covered_by)}</strong></p>\n<ul>{''.join(rows)}</ul>"


def _coverage(entry: Entry, doc: FeedDoc, listed: set[str]) -> str:
    own = canonical_url(entry.article.url)
    seen = {own, *listed}
    rows = []
    for related in _newest_first(entry.article.related):
        url = link_uri(related.url, doc.strip_params)
        key = canonical_url(related.url)
        if url is None or key in seen:
            continue
        seen.add(key)
        provider = f" · {_e(text(related.provider))}" if related.provider else ""
        rows.append(f'<li><a href="{_e(url)}">{_e(text(related.title))}</a>{provider}</li>')
        if len(rows) == MAX_RELATED:
            break
    if not rows:
        return ""
    return f"<p><strong>{_e(doc.words.related_coverage)}</strong></p>\n<ul>{''.join(rows)}</ul>"


def _newest_first(related: tuple[Related, ...]) -> list[Related]:
    """Newest first; undated ones after, in their order."""
    dated = sorted((r for r in related if r.published), key=lambda r: r.published, reverse=True)  # type: ignore[arg-type, return-value]
    return dated + [r for r in related if not r.published]
