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

from ..model import Article, FeedInfo
from ..text import strip_illegal
from .feed import rfc3339

__all__ = ["FORMATS", "render_index"]

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
@media (max-width:40rem){body{padding:.5rem}.wide{display:none}}
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


def _discovery(feeds: Sequence[FeedInfo], opml: str | None) -> list[str]:
    links = [
        f'<link rel="alternate" type="{media}" title="{_e(feed.title)} ({label})" href="{_href(path)}">'
        for feed in feeds
        for label, media, path in _formats(feed)
    ]
    if opml:
        links.append(f'<link rel="alternate" type="text/x-opml" title="All feeds (OPML)" href="{_href(opml)}">')
    return links


def _head(site_title: str, description: str, base_url: str, language: str, links: list[str]) -> str:
    canonical = f'<link rel="canonical" href="{_e(base_url)}">' if base_url else ""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{_e(language or "en")}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="color-scheme" content="light dark">',
            f"<title>{_e(site_title)}</title>",
            f'<meta name="description" content="{_e(description)}">',
            '<link rel="icon" href="data:,">',  # no favicon request, so no 404 in the console
            *([canonical] if canonical else []),
            *links,
            f"<style>{_CSS}</style>",
            "</head>",
        ]
    )


def _subscribe(feed: FeedInfo) -> str:
    links = " · ".join(f'<a href="{_href(path)}" type="{media}">{label}</a>' for label, media, path in _formats(feed))
    return links or '<span class="muted">no files</span>'


def _archives(feed: FeedInfo) -> str:
    """Links to the newest monthly archive (RFC 5005), from which a client
    walks back through ``prev-archive``."""
    files = dict(feed.archive_files)
    links = [f'<a href="{_href(files[name])}" type="{media}">{label}</a>'
             for name, (label, media) in FORMATS.items() if name in files]
    return f'<p class="meta">Monthly archives: {" · ".join(links)}</p>' if links else ""


def _toc(groups: list[tuple[str, list[FeedInfo]]]) -> str:
    """A compact table of every feed: stays light with hundreds of topics."""
    rows = [
        f'<tr><td><a href="#{_e(quote(feed.anchor, safe=""))}">{_e(feed.title)}</a></td>'
        f'<td class="num">{feed.items:,}</td>'
        f'<td class="num wide">{_day(feed.updated) if feed.updated else ""}</td>'
        f'<td class="subscribe">{_subscribe(feed)}</td></tr>'
        for _heading, members in groups
        for feed in members
    ]
    return "\n".join(
        [
            '<nav aria-label="Feeds"><div class="scroll"><table>',
            (
                '<thead><tr><th scope="col">Feed</th><th scope="col" class="num">Items</th>'
                '<th scope="col" class="num wide">Updated</th><th scope="col">Subscribe</th></tr></thead>'
            ),
            "<tbody>",
            *rows,
            "</tbody></table></div></nav>",
        ]
    )


def _newest_day(feed: FeedInfo) -> datetime | None:
    """The day the chart ends on: the feed's newest article, else its ``updated``."""
    dates = [a.published for a in feed.newest]
    return max(dates) if dates else feed.updated


def _chart(feed: FeedInfo) -> str:
    """30 bars of articles per day as one SVG path (one element keeps the page light)."""
    counts = feed.per_day[-_DAYS:]
    if not counts:
        return ""
    top, total = max(counts), sum(counts)
    end = _newest_day(feed)
    until = f" up to {_day(end)}" if end else ""
    label = f"Articles per day over the {_DAYS} days{until}: {total} in all, at most {top} a day"
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
        f'<svg class="chart" width="{width}" height="{_HEIGHT}" viewBox="0 0 {width} {_HEIGHT}" role="img">'
        f'<title>{_e(label)}</title><rect x="0" y="{_HEIGHT - 1}" width="{width}" height="1"/>{path}</svg>'
    )


def _item(article: Article) -> str:
    title = _e(article.title) or _e(article.url) or "(untitled)"
    url = _clean(article.url)
    if urlsplit(url).scheme.lower() in ("http", "https"):
        title = f'<a href="{html.escape(url, quote=True)}">{title}</a>'
    meta = [_e(article.provider.name)] if article.provider and article.provider.name else []
    meta.append(_time(article.published))
    return f'<li><span dir="auto">{title}</span> <span class="meta">{" · ".join(meta)}</span></li>'


def _section(feed: FeedInfo, newest: int, anchor: bool) -> str:
    ident = f' id="{_e(feed.anchor)}"' if anchor else ""
    updated = f" · updated {_time(feed.updated)}" if feed.updated else ""
    items = [_item(a) for a in feed.newest[:newest]]
    listing = f"<ol>{''.join(items)}</ol>" if items else '<p class="muted">No items yet.</p>'
    return (
        f'<section class="feed"{ident}><h3 dir="auto">{_e(feed.title)}</h3>'
        f'<p class="meta">{feed.items:,} items{updated}</p>{_chart(feed)}{listing}'
        f'<p class="subscribe">Subscribe: {_subscribe(feed)}</p>{_archives(feed)}</section>'
    )


def _body(
    site_title: str, description: str, groups: list[tuple[str, list[FeedInfo]]], newest: int, opml: str | None
) -> str:
    parts = [f"<body>\n<header><h1>{_e(site_title)}</h1>"]
    if description:
        parts.append(f'<p class="muted">{_e(description)}</p>')
    parts.append("</header>\n<main>")
    parts.append(_toc(groups))
    seen: set[str] = set()
    for heading, members in groups:
        parts.append(f'<h2>{_e(heading)}</h2>\n<div class="grid">')
        for feed in members:
            # Duplicate ids are invalid; the first feed with a slug owns the anchor.
            parts.append(_section(feed, newest, feed.anchor not in seen))
            seen.add(feed.anchor)
        parts.append("</div>")
    parts.append("</main>")
    if opml:
        parts.append(
            f'<footer><p>Subscribe to every feed at once: <a href="{_href(opml)}" '
            'type="text/x-opml">OPML</a></p></footer>'
        )
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


def render_index(
    site_title: str,
    description: str,
    base_url: str,
    language: str,
    feeds: Sequence[FeedInfo],
    *,
    newest: int = 3,
    opml: str | None = "index.opml",
) -> bytes:
    """The ``index.html`` page listing the "all", topic and custom feeds.

    ``newest`` caps the items shown per feed; ``opml`` is the relative path
    of the OPML file to link (``None`` for no link).  ``base_url`` becomes
    the canonical link; every other link is relative, so the folder can be
    served from anywhere.
    """
    groups = _listed(feeds)
    listed = [feed for _heading, members in groups for feed in members]
    head = _head(site_title, description, base_url, language, _discovery(listed, opml))
    return (head + "\n" + _body(site_title, description, groups, newest, opml)).encode("utf-8")
