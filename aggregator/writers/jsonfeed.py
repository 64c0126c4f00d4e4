"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1).  Pure: FeedDoc -> bytes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..model import Article
from .feed import FeedDoc, categories, item_content

VERSION = "https://jsonfeed.org/version/1.1"


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def render_json(doc: FeedDoc) -> bytes:
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": doc.title,
        "home_page_url": doc.home_url,
        "feed_url": doc.url("json"),
        "description": doc.description,
        "language": doc.language,
        "authors": [{"name": doc.author}],
    }
    if doc.hub:
        feed["hubs"] = [{"type": "WebSub", "url": doc.hub}]
    prev = dict(doc.prev_archive).get("json")
    if prev:
        # JSON Feed pages go back in time through next_url (RFC 5005 style).
        feed["next_url"] = prev
    if doc.archive:
        feed["expired"] = True
    feed["items"] = [_item(a) for a in doc.items]
    text = json.dumps(feed, ensure_ascii=False, allow_nan=False, indent=2)
    return (text + "\n").encode("utf-8")


def _item(article: Article) -> dict[str, Any]:
    item: dict[str, Any] = {"id": article.id, "url": article.url}
    if article.original_url and article.original_url != article.url:
        item["external_url"] = article.original_url
    item["title"] = article.title
    content = item_content(article)
    if content:
        item["content_html"] = content
    else:
        item["content_text"] = article.summary or article.title
    if article.summary:
        item["summary"] = article.summary
    if article.image:
        item["image"] = article.image.url
    item["date_published"] = rfc3339(article.published)
    if article.updated and article.updated != article.published:
        item["date_modified"] = rfc3339(article.updated)
    if article.provider:
        author: dict[str, str] = {"name": article.provider.name}
        if article.provider.url:
            author["url"] = article.provider.url
        item["authors"] = [author]
    tags = categories(article)
    if tags:
        item["tags"] = list(tags)
    if article.related:
        item["_aggregator"] = {"related": [{"title": r.title, "url": r.url} for r in article.related]}
    return item
