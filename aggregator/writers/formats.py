"""What a feed is rendered to: name -> (file suffix, media type, writer).
Archives are rendered to the feed formats only; live feeds get a page too."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from aggregator.writers.feed import FeedDoc
from aggregator.writers.jsonfeed import render_json
from aggregator.writers.pages import render_page
from aggregator.writers.xmlfeeds import render_atom, render_rss


class Format(NamedTuple):
    suffix: str
    media_type: str
    render: Callable[[FeedDoc], bytes]


# The feed formats, in the order readers are offered them.
FEEDS: dict[str, Format] = {
    "rss": Format(".xml", "application/rss+xml", render_rss),
    "atom": Format(".atom", "application/atom+xml", render_atom),
    "json": Format(".json", "application/feed+json", render_json),
}
# Every file a live feed is rendered to: its formats and its page.
FORMATS: dict[str, Format] = {**FEEDS, "html": Format(".html", "text/html", render_page)}
