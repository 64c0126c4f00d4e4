"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1).  Pure: FeedDoc -> bytes.

Like the XML writers, every string is stripped of code points that strict
consumers reject (lone surrogates cannot even be encoded as UTF-8) and every
URL is made a valid absolute URI; a field left empty by that is omitted.
"""

from __future__ import annotations

import json
from typing import Any

from aggregator.model import Enclosure
from aggregator.writers.feed import Entry, FeedDoc, rfc3339
from aggregator.writers.values import text, uri

VERSION = "https://jsonfeed.org/version/1.1"


def render_json(doc: FeedDoc) -> bytes:
    title = text(doc.title) or doc.slug
    feed: dict[str, Any] = {"version": VERSION, "title": title}
    _put(feed, "home_page_url", uri(doc.home_url))
    _put(feed, "feed_url", uri(doc.url("json")))
    _put(feed, "description", text(doc.description))
    _put(feed, "icon", uri(doc.icon))
    _put(feed, "favicon", uri(doc.icon))
    _put(feed, "language", text(doc.language))
    feed["authors"] = [{"name": text(doc.author) or title}]
    hub = uri(doc.hub)
    if hub:
        feed["hubs"] = [{"type": "WebSub", "url": hub}]
    # JSON Feed pages go back in time through next_url (RFC 5005 style).
    _put(feed, "next_url", uri(dict(doc.prev_archive).get("json")))
    if doc.archive:
        feed["expired"] = True
    feed["items"] = [_item(e) for e in doc.entries]
    # Compact: the C encoder is used only without indent (5x faster), and
    # services parse rather than read it.
    out = json.dumps(feed, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (out + "\n").encode("utf-8")


def _put(obj: dict[str, Any], key: str, value: str | None) -> None:
    if value:
        obj[key] = value


def _attachment(enclosure: Enclosure) -> dict[str, Any]:
    found: dict[str, Any] = {"url": enclosure.url, "mime_type": enclosure.type or "application/octet-stream"}
    if enclosure.length is not None:
        found["size_in_bytes"] = enclosure.length
    return found


def _cluster(entry: Entry) -> dict[str, Any]:
    """The story the item stands for: its id, how many articles it has, and
    the others, newest first (at most 100; the item's HTML lists the first 8)."""
    story = entry.article.story
    assert story is not None
    members = []
    for url, title, provider, published in entry.coverage:
        member: dict[str, Any] = {"url": url, "title": title}
        if provider:
            member["provider"] = provider
        if published is not None:
            member["date_published"] = rfc3339(published)
        members.append(member)
    return {"id": text(story[0]), "size": story[1], "members": members}


def _item(entry: Entry) -> dict[str, Any]:
    article = entry.article
    url = entry.url
    item: dict[str, Any] = {"id": entry.id}
    _put(item, "url", url)
    original = uri(article.original_url)
    if original and original != url:
        item["external_url"] = original
    _put(item, "title", entry.title)
    item["content_html"] = entry.html
    _put(item, "summary", entry.summary)
    image = entry.image
    if image:
        item["image"] = image.url
        if image.width and image.height and image.width >= 2 * image.height:
            item["banner_image"] = image.url  # a wide one: what JSON Feed shows as a banner
    item["date_published"] = rfc3339(article.published)
    if entry.updated != article.published:
        item["date_modified"] = rfc3339(entry.updated)
    author: dict[str, str] = {"name": entry.author}
    _put(author, "url", entry.author_url)
    item["authors"] = [author]
    if entry.categories:
        item["tags"] = list(entry.categories)
    if entry.enclosures:
        item["attachments"] = [_attachment(e) for e in entry.enclosures]
    extension: dict[str, Any] = {}
    if entry.provider:
        extension["source"] = {"name": entry.provider}
        _put(extension["source"], "url", entry.provider_url)
    if entry.related:
        extension["related"] = [{"title": title, "url": href} for href, title in entry.related]
    if article.story is not None:
        extension["cluster"] = _cluster(entry)
    if extension:
        item["_aggregator"] = extension
    return item
