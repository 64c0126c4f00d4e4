"""The discovery page, ``index.html``: every live feed, its newest items,
subscribe links, ``<link rel="alternate">`` tags and a per-day chart.

Pure and byte-stable: same feeds in, same bytes out; dates come from the
articles, never from the clock.  No scripts and no external assets (inline
CSS, inline SVG), so the page works under a strict Content-Security-Policy.
Every string from the outside is stripped of illegal code points and
escaped; article links are kept only for http(s) URLs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from aggregator.model import Article, FeedInfo
from aggregator.text import strip_illegal
from aggregator.writers.feed import rfc3339

__all__ = ["FORMATS", "TOPICS_INLINE", "page_head", "plural", "render_index", "render_topics_page"]

# format name -> (label, media type), in the order links are shown.
FORMATS = {
    "rss": ("RSS", "application/rss+xml"),
    "atom": ("Atom", "application/atom+xml"),
    "json": ("JSON Feed", "application/feed+json"),
}
# Archives are documents to walk back through, not feeds to subscribe to.
_GROUPS = (("all", "All topics"), ("topic", "Topics"), ("custom", "Custom feeds"))
# Noncharacters are legal XML but HTML parse errors; strip_illegal keeps them.
_NONCHARACTERS = re.compile("[\ufdd0-\ufdef\U0001fffe\U0001ffff\U0002fffe\U0002ffff]")
_DAYS = 30
# Up to this many topics are shown on the index itself, each with its newest
# items; more are split into pages of this many, so one change rewrites the
# page of its topic, not an index of thousands.
TOPICS_INLINE = 60
_BAR = 5  # px per day: a 4px bar and a 1px gap
_HEIGHT = 30

_CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1b1f;--muted:#5b5f66;--line:#d8dadf;--card:#f6f7f9;
--accent:#0b57d0;--bar:#1a73e8}
@media (prefers-color-scheme:dark){:root{--bg:#111214;--fg:#e6e6e9;--muted:#a3a7ae;--line:#34373d;
--card:#1b1d21;--accent:#8ab4f8;--bar:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:75rem;padding:1rem;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;overflow-wrap:anywhere}
a{color:var(--accent)}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.25rem;margin:1.5rem 0 .5rem}h3{font-size:1.05rem;margin:0}
.muted,.meta{color:var(--muted)}.meta{font-size:.875rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9375rem}
th,td{padding:.3rem .5rem;border-bottom:1px solid var(--line);text-align:start;vertical-align:top}
.num{text-align:end;font-variant-numeric:tabular-nums;white-space:nowrap}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,21rem),1fr))}
.feed{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.75rem 1rem;min-width:0}
.feed ol{margin:.5rem 0;padding-inline-start:1.25rem}.feed li{margin:.25rem 0}
.chart{display:block;margin:.5rem 0;max-width:100%;height:auto}
.chart path{stroke:var(--bar);stroke-width:4}.chart rect{fill:var(--line)}
.subscribe a{white-space:nowrap}
time,.nowrap{white-space:nowrap}
figure.chart-box{margin:.5rem 0}figure.chart-box figcaption{font-size:.8125rem;color:var(--muted)}
.items{list-style:none;padding:0;margin:1rem 0}
.items>li{display:flex;gap:1rem;align-items:flex-start;padding:.75rem 0;border-bottom:1px solid var(--line)}
.items img{width:8rem;height:auto;max-height:6rem;object-fit:cover;border-radius:.25rem;flex:none}
.items h2{font-size:1.05rem;margin:0}.items p{margin:.25rem 0}
.note{font-size:.875rem;color:var(--muted)}
@media (max-width:40rem){body{padding:.5rem}.wide{display:none}.items img{width:5rem}}
"""


def _clean(text: str) -> str:
    return _NONCHARACTERS.sub("", strip_illegal(text))


def _e(text: str) -> str:
    """Plain text made safe for element content and quoted attributes."""
    return html.escape(_clean(text), quote=True)


def _href(relative: str) -> str:
    """A path in the output folder as an escaped relative href."""
    return _e(quote(relative, safe="/"))


def _day(when: datetime) -> str:
    return rfc3339(when)[:10]


def _time(when: datetime) -> str:
    utc = when.astimezone(UTC)
    return f'<time datetime="{rfc3339(utc)}">{_day(utc)}</time>'


def _listed(feeds: Sequence[FeedInfo]) -> list[tuple[str, list[FeedInfo]]]:
    """Feeds grouped by kind (all, topic, custom), input order kept within a group."""
    groups = [(heading, [f for f in feeds if f.kind == kind]) for kind, heading in _GROUPS]
    return [(heading, members) for heading, members in groups if members]


def _formats(feed: FeedInfo) -> list[tuple[str, str, str]]:
    """(label, media type, relative path) of the feed's files in display order."""
    files = dict(feed.files)
    return [(label, media, files[name]) for name, (label, media) in FORMATS.items() if name in files]


def _discovery(feeds: Sequence[FeedInfo], prefix: str = "") -> list[str]:
    links = [
        f'<link rel="alternate" type="{media}" title="{_e(feed.title)} ({label})" href="{_href(prefix + path)}">'
        for feed in feeds
        for label, media, path in _formats(feed)
    ]
    links += [f'<link rel="alternate" type="text/x-opml" title="{_e(title)}" href="{_href(prefix + path)}">'
              for path, title in OPML_FILES]
    return links


OPML_FILES = (("index.opml", "Subscribe (OPML)"), ("topics.opml", "Every topic (OPML)"))


def plural(count: int, one: str, many: str) -> str:
    """``1 item``, ``2 items``, ``1,234 items``."""
    return f"{count:,} {one if count == 1 else many}"


def page_head(title: str, description: str, canonical: str, language: str, icon: str, links: list[str]) -> str:
    """The ``<head>`` of every page: viewport, colour schemes, favicon, discovery links, inline CSS."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{_e(language or "en")}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="color-scheme" content="light dark">',
            f"<title>{_e(title)}</title>",
            f'<meta name="description" content="{_e(description)}">',
            f'<link rel="icon" href="{_e(icon)}">',
            *([f'<link rel="canonical" href="{_e(canonical)}">'] if canonical else []),
            *links,
            f"<style>{_CSS}</style>",
            "</head>",
        ]
    )


def _subscribe(feed: FeedInfo, prefix: str = "") -> str:
    links = " · ".join(f'<a href="{_href(prefix + path)}" type="{media}">{label}</a>'
                       for label, media, path in _formats(feed))
    return links or '<span class="muted">no files</span>'


def _archives(feed: FeedInfo, prefix: str = "") -> str:
    """Links to the newest monthly archive (RFC 5005), from which a client
    walks back through ``prev-archive``."""
    files = dict(feed.archive_files)
    links = [f'<a href="{_href(prefix + files[name])}" type="{media}">{label}</a>'
             for name, (label, media) in FORMATS.items() if name in files]
    return f'<p class="meta">Monthly archives: {" · ".join(links)}</p>' if links else ""


def _newest_day(feed: FeedInfo) -> datetime | None:
    """The day the chart ends on: the feed's newest article, else its ``updated``."""
    dates = [a.published for a in feed.newest]
    return max(dates) if dates else feed.updated


def chart(feed: FeedInfo) -> str:
    """30 bars of articles per day as one SVG path, captioned with what it
    counts and its span (one element keeps the page light)."""
    counts = feed.per_day[-_DAYS:]
    if not counts:
        return ""
    top, total = max(counts), sum(counts)
    end = _newest_day(feed)
    span = f"the {_DAYS} days to {_day(end)}" if end else f"{_DAYS} days"
    label = f"Articles per day over {span}: {plural(total, 'article', 'articles')}, at most {top:,} a day"
    offset = _DAYS - len(counts)  # fewer than 30 counts: right-align, the last bar is the newest day
    bars = []
    for i, count in enumerate(counts):
        height = max(1, round(count * (_HEIGHT - 2) / top)) if count else 0
        if height:
            # A vertical stroke per bar ("M2 29V12", 4px wide via CSS) is a third of a filled rectangle's bytes.
            bars.append(f"M{(offset + i) * _BAR + 2} {_HEIGHT - 1}V{_HEIGHT - 1 - height}")
    width = _DAYS * _BAR
    path = f'<path d="{"".join(bars)}"/>' if bars else ""
    return (
        f'<figure class="chart-box"><svg class="chart" width="{width}" height="{_HEIGHT}" '
        f'viewBox="0 0 {width} {_HEIGHT}" role="img" aria-label="{_e(label)}"><title>{_e(label)}</title>'
        f'<rect x="0" y="{_HEIGHT - 1}" width="{width}" height="1"/>{path}</svg>'
        f"<figcaption>{_e(label)}</figcaption></figure>"
    )


def _item(article: Article) -> str:
    title = _e(article.title) or _e(article.url) or "(untitled)"
    url = _clean(article.url)
    if urlsplit(url).scheme.lower() in ("http", "https"):
        title = f'<a href="{html.escape(url, quote=True)}">{title}</a>'
    meta = [_e(article.provider.name)] if article.provider and article.provider.name else []
    meta.append(_time(article.published))
    return f'<li><span dir="auto">{title}</span> <span class="meta">{" · ".join(meta)}</span></li>'


def _name(feed: FeedInfo) -> str:
    return feed.name or feed.title


def _section(feed: FeedInfo, newest: int, anchor: bool, prefix: str = "") -> str:
    ident = f' id="{_e(feed.anchor)}"' if anchor else ""
    updated = f" · updated {_time(feed.updated)}" if feed.updated else ""
    name = _e(_name(feed))
    if feed.page:
        name = f'<a href="{_href(prefix + feed.page)}">{name}</a>'
    if feed.same_as_all:
        listing = '<p class="note">The same items as All topics: subscribe to that one.</p>'
    else:
        items = [_item(a) for a in feed.newest[:newest]]
        listing = f"<ol>{''.join(items)}</ol>" if items else '<p class="muted">No items yet.</p>'
    more = (f'<p class="meta"><a href="{_href(prefix + feed.page)}">All {plural(feed.items, "item", "items")}</a></p>'
            if feed.page and feed.items > newest and not feed.same_as_all else "")
    return (
        f'<section class="feed"{ident}><h3 dir="auto">{name}</h3>'
        f'<p class="meta">{plural(feed.items, "item", "items")}{updated}</p>{chart(feed)}{listing}{more}'
        f'<p class="subscribe">Subscribe: {_subscribe(feed, prefix)}</p>{_archives(feed, prefix)}</section>'
    )


_SUBSCRIBING = (
    '<p class="note">Feed readers: <a href="index.opml" type="text/x-opml">index.opml</a> subscribes to every '
    "item once (the combined feed, and the custom feeds that share no item with it); "
    '<a href="topics.opml" type="text/x-opml">topics.opml</a> lists every topic and custom feed, grouped. '
    "An article listed under several topics is one item with one id in all of them, and readers that keep "
    "one copy per id (newsboat does) show it in one feed only: subscribe to topics.opml in a reader that "
    "keeps a copy per feed.</p>"
)


def _cards(members: Sequence[FeedInfo], newest: int, seen: set[str], prefix: str = "") -> list[str]:
    parts = ['<div class="grid">']
    for feed in members:
        # Duplicate ids are invalid; the first feed with a slug owns the anchor.
        parts.append(_section(feed, newest, feed.anchor not in seen, prefix))
        seen.add(feed.anchor)
    parts.append("</div>")
    return parts


def render_index(
    site_title: str,
    description: str,
    base_url: str,
    language: str,
    feeds: Sequence[FeedInfo],
    *,
    newest: int = 3,
    icon: str = "icon.png",
    topic_pages: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The ``index.html`` page: the combined and custom feeds with their
    newest items, and the topics: each with its newest items when they are
    ``feeds``, else (many topics) the ``topic_pages`` listing them,
    (relative path, label) each.  ``base_url`` becomes the canonical link;
    every other link is relative, so the folder can be served from anywhere.
    """
    groups = _listed(feeds)
    listed = [feed for _heading, members in groups for feed in members]
    head = page_head(site_title, description, base_url, language, icon, _discovery(listed))
    parts = [f"<body>\n<header><h1>{_e(site_title)}</h1>"]
    if description:
        parts.append(f'<p class="muted">{_e(description)}</p>')
    parts.append(_SUBSCRIBING)
    parts.append("</header>\n<main>")
    seen: set[str] = set()
    for heading, members in groups:
        parts.append(f"<h2>{_e(heading)}</h2>")
        parts += _cards(members, newest, seen)
    if topic_pages:
        parts.append("<h2>Topics</h2>")
        parts.append("<ul>" + "".join(f'<li><a href="{_href(path)}">{_e(label)}</a></li>'
                                      for path, label in topic_pages) + "</ul>")
    parts.append("</main>\n</body>\n</html>\n")
    return (head + "\n" + "\n".join(parts)).encode("utf-8")


def render_topics_page(site_title: str, language: str, label: str, feeds: Sequence[FeedInfo], *,
                       newest: int = 3) -> bytes:
    """One page of the topic directory (``topics/<n>.html``) of a site with
    many topics: ``feeds`` with their newest items."""
    prefix = "../"
    head = page_head(f"{label} · {site_title}", f"Topics {label} of {site_title}", "", language,
                     prefix + "icon.png", _discovery(feeds, prefix))
    parts = [f'<body>\n<header><p><a href="../index.html">{_e(site_title)}</a></p><h1>Topics {_e(label)}</h1>'
             "</header>\n<main>", *_cards(feeds, newest, set(), prefix), "</main>\n</body>\n</html>\n"]
    return (head + "\n" + "\n".join(parts)).encode("utf-8")
