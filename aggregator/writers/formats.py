"""The feed formats: name -> (file suffix, media type, writer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from .feed import FeedDoc
from .jsonfeed import render_json
from .xmlfeeds import render_atom, render_rss


class Format(NamedTuple):
    suffix: str
    media_type: str
    render: Callable[[FeedDoc], bytes]


FORMATS: dict[str, Format] = {
    "rss": Format(".xml", "application/rss+xml", render_rss),
    "atom": Format(".atom", "application/atom+xml", render_atom),
    "json": Format(".json", "application/feed+json", render_json),
}
