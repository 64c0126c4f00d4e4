"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1).  Pure: FeedDoc -> bytes.

Like the XML writers, every string is stripped of code points that strict
consumers reject (lone surrogates cannot even be encoded as UTF-8) and every
URL is made a valid absolute URI; a field left empty by that is omitted.
"""

from __future__ import annotations

import json
from typing import Any

from ..model import Article
from .feed import FeedDoc, categories, item_content, item_id, item_updated, rfc3339, text, uri

VERSION = "https://jsonfeed.org/version/1.1"


def render_json(doc: FeedDoc) -> bytes:
    title = text(doc.title) or doc.slug
    feed: dict[str, Any] = {"version": VERSION, "title": title}
    _put(feed, "home_page_url", uri(doc.home_url))
    _put(feed, "feed_url", uri(doc.url("json")))
    _put(feed, "description", text(doc.description))
    _put(feed, "language", text(doc.language))
    feed["authors"] = [{"name": text(doc.author) or title}]
    hub = uri(doc.hub)
    if hub:
        feed["hubs"] = [{"type": "WebSub", "url": hub}]
    # JSON Feed pages go back in time through next_url (RFC 5005 style).
    _put(feed, "next_url", uri(dict(doc.prev_archive).get("json")))
    if doc.archive:
        feed["expired"] = True
    feed["items"] = [_item(a) for a in doc.items]
    # Compact: the C encoder is used only without indent (5x faster), and
    # services parse rather than read it.
    out = json.dumps(feed, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (out + "\n").encode("utf-8")


def _put(obj: dict[str, Any], key: str, value: str | None) -> None:
    if value:
        obj[key] = value


def _item(article: Article) -> dict[str, Any]:
    url = uri(article.url)
    item: dict[str, Any] = {"id": item_id(article)}
    _put(item, "url", url)
    original = uri(article.original_url)
    if original and original != url:
        item["external_url"] = original
    _put(item, "title", text(article.title))
    content = text(item_content(article))
    if content:
        item["content_html"] = content
    else:
        item["content_text"] = text(article.summary) or text(article.title) or url or item["id"]
    _put(item, "summary", text(article.summary))
    _put(item, "image", uri(article.image.url) if article.image else None)
    item["date_published"] = rfc3339(article.published)
    if item_updated(article) != article.published:
        item["date_modified"] = rfc3339(item_updated(article))
    if article.provider and text(article.provider.name):
        author: dict[str, str] = {"name": text(article.provider.name)}
        _put(author, "url", uri(article.provider.url))
        item["authors"] = [author]
    tags = [t for t in dict.fromkeys(text(c).strip() for c in categories(article)) if t]
    if tags:
        item["tags"] = tags
    related = [{"title": text(r.title), "url": u} for r in article.related if (u := uri(r.url))]
    if related:
        item["_aggregator"] = {"related": related}
    return item
