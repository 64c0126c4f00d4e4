"""A feed's own HTML page (``<slug>.html``): what a person who follows the
feed's web link lands on.  Pure: FeedDoc -> bytes, rendered with the feed.

Every item with its image, title, provider, date and summary, the feed's
subscribe links and the way back to the index.  No scripts and no external
assets but the items' images; readable on a phone and in dark mode (the
index's stylesheet).  Links are absolute (from ``site.base_url``).
"""

from __future__ import annotations

import html

from aggregator.media import video_site
from aggregator.writers.feed import Entry, FeedDoc, rfc3339
from aggregator.writers.html import page_head, plural
from aggregator.writers.values import text, uri

_LABELS = {"rss": ("RSS", "application/rss+xml"), "atom": ("Atom", "application/atom+xml"),
           "json": ("JSON Feed", "application/feed+json")}


def _e(value: str) -> str:
    return html.escape(text(value), quote=True)


def _time(entry: Entry) -> str:
    moment = rfc3339(entry.article.published)
    return f'<time datetime="{moment}">{moment[:10]}</time>'


def _item(entry: Entry, doc: FeedDoc) -> str:
    link = _e(entry.link)
    image = entry.image
    picture = ""
    if image:
        size = "".join(f' {k}="{v}"' for k, v in (("width", image.width), ("height", image.height)) if v)
        picture = f'<a href="{link}" tabindex="-1"><img src="{_e(image.url)}" alt="" loading="lazy"{size}></a>'
    meta = [_e(entry.provider)] if entry.provider else []
    if entry.author and entry.author != entry.provider and entry.author != doc.author:
        meta.append(_e(entry.author))
    meta.append(_time(entry))
    watch = ""
    if entry.article.video_url and (video := uri(entry.article.video_url)):
        words = doc.words.watch_on.format(where=video_site(video, entry.provider))
        watch = f'<p><a href="{_e(video)}">{_e(words)}</a></p>'
    summary = f'<p dir="auto">{_e(entry.summary)}</p>' if entry.summary else ""
    return (f'<li>{picture}<div><h2 dir="auto"><a href="{link}">{_e(entry.title or entry.link)}</a></h2>'
            f'<p class="meta">{" · ".join(meta)}</p>{summary}{watch}</div></li>')


def render_page(doc: FeedDoc) -> bytes:
    """The page of the feed ``doc``."""
    urls = dict(doc.urls)
    index = _e(uri(doc.index_url) or "")
    icon = _e(uri(doc.icon) or "")
    links = [f'<link rel="alternate" type="{media}" title="{_e(doc.title)} ({label})" href="{_e(urls[fmt])}">'
             for fmt, (label, media) in _LABELS.items() if fmt in urls]
    subscribe = " · ".join(f'<a href="{_e(urls[fmt])}" type="{media}">{label}</a>'
                           for fmt, (label, media) in _LABELS.items() if fmt in urls)
    entries = doc.entries
    newest = rfc3339(doc.updated)
    updated = f' · updated <time datetime="{newest}">{newest[:10]}</time>' if entries else ""
    archive = dict(doc.prev_archive).get("rss")
    archives = (f'<p class="meta">Monthly archives: <a href="{_e(archive)}" type="application/rss+xml">RSS</a></p>'
                if archive else "")
    name = doc.name or doc.title
    head = page_head(f"{name} · {doc.site}" if doc.site and doc.site != name else name, doc.description,
                     doc.home_url, doc.language, icon, links)
    body = [
        f'<body>\n<header><p><a href="{index}">{_e(doc.site or "Index")}</a></p><h1 dir="auto">{_e(name)}</h1>',
        f'<p class="muted" dir="auto">{_e(doc.description)}</p>' if doc.description else "",
        f'<p class="meta">{plural(len(entries), "item", "items")}{updated}</p>',
        f'<p class="subscribe">Subscribe: {subscribe}</p>{archives}</header>',
        "<main>",
        f'<ol class="items">{"".join(_item(e, doc) for e in entries)}</ol>' if entries
        else '<p class="muted">No items yet.</p>',
        "</main>\n</body>\n</html>\n",
    ]
    return (head + "\n" + "\n".join(part for part in body if part)).encode("utf-8")
