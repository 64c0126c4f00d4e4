"""OPML 2.0 subscription list: every live feed, so a reader imports them at once.

Pure and byte-stable: no build timestamp; ``dateModified`` is the newest
``updated`` of the listed feeds, and outlines follow the input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

from aggregator.model import FeedInfo
from aggregator.text import strip_illegal

__all__ = ["LISTED_KINDS", "feed_url", "render_opml"]

# Archives are documents to walk back through, not feeds to subscribe to.
LISTED_KINDS = ("all", "topic", "custom")
# Not xml.sax.saxutils.escape: importing it imports urllib.request and
# http.client, ~10 ms of every run's start-up.
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Attribute values: besides quotes, newlines and tabs must be escaped or an
# XML parser normalises them to spaces (XML 1.0, 3.3.3).
_ATTRIBUTE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;",
                            "\t": "&#9;"})


def _attr(value: str) -> str:
    return strip_illegal(value).translate(_ATTRIBUTE)


def _text(value: str) -> str:
    return strip_illegal(value).translate(_TEXT)


def feed_url(base_url: str, relative: str) -> str:
    """``relative`` (a path in the output folder, or ``""``) made absolute against ``base_url``."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return base + quote(relative, safe="/")


def _outline(base_url: str, feed: FeedInfo, indent: str = "    ") -> str | None:
    files = dict(feed.files)
    if "rss" not in files:
        return None  # type="rss" needs an xmlUrl; a feed without RSS cannot be listed
    page = feed_url(base_url, feed.page) if feed.page else (
        feed_url(base_url, "index.html") + "#" + quote(feed.anchor, safe=""))
    return (
        f'{indent}<outline text="{_attr(feed.title)}" title="{_attr(feed.title)}" type="rss"'
        f' xmlUrl="{_attr(feed_url(base_url, files["rss"]))}" htmlUrl="{_attr(page)}"/>'
    )


def _newest(feeds: Sequence[FeedInfo]) -> datetime | None:
    # format_datetime(usegmt=True) insists on the timezone.utc object itself.
    dates = [f.updated.astimezone(UTC) for f in feeds if f.updated is not None]
    return max(dates) if dates else None


def render_opml(site_title: str, base_url: str, feeds: Sequence[FeedInfo], *, grouped: bool = False) -> bytes:
    """An OPML 2.0 document listing ``feeds`` (archives never: they are
    documents to walk back through).  ``grouped``: in one outline per kind
    ("Topics", "Custom feeds"), without ``dateModified``, so the file
    changes only when the list does."""
    listed = [f for f in feeds if f.kind in LISTED_KINDS]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{_text(site_title)}</title>",
    ]
    newest = _newest(listed)
    if newest is not None and not grouped:
        lines.append(f"    <dateModified>{format_datetime(newest, usegmt=True)}</dateModified>")
    lines += ["    <docs>http://opml.org/spec2.opml</docs>", "  </head>", "  <body>"]
    if grouped:
        for kind, heading in (("topic", "Topics"), ("custom", "Custom feeds"), ("all", "All topics")):
            members = [o for o in (_outline(base_url, f, "      ") for f in listed if f.kind == kind) if o]
            if members:
                lines += [f'    <outline text="{heading}" title="{heading}">', *members, "    </outline>"]
    else:
        lines += [o for o in (_outline(base_url, f) for f in listed) if o is not None]
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")
