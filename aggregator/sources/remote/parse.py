"""Body -> :class:`~aggregator.sources.remote.raw.RawFeed`: sniff the format, pick the reader.

The body decides, not the ``Content-Type`` header (RELIABILITY #20): servers
send feeds as ``text/html`` or ``application/octet-stream`` and HTML pages as
``application/rss+xml``.  An HTML page is never turned into items.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Literal

from aggregator.errors import SourceError
from aggregator.sources.remote.feedxml import read_xml_feed
from aggregator.sources.remote.jsonfeed import read_json_feed
from aggregator.sources.remote.raw import RawFeed

Kind = Literal["xml", "json", "html", "unknown"]

# The XML declaration, comments, and a non-HTML DOCTYPE, internal subset
# included (``<!DOCTYPE rss [ <!ENTITY ...> ]>``: its ``>`` are inside brackets).
_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!doctype\s+(?!html\b)[^\[>]*(?:\[.*?\]\s*)?>)",
                     re.DOTALL | re.IGNORECASE)
_HTML_DOCTYPE = re.compile(r"<!doctype\s+html\b", re.IGNORECASE)
_ROOT = re.compile(r"<([A-Za-z_][\w:.-]*)")
_HTML_ROOTS = {"html", "head", "body"}
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def sniff(body: bytes) -> Kind:
    """Guess the format from the first few KiB of the body."""
    head = _decode_head(body[:8192]).lstrip("\ufeff \t\r\n")
    if head.startswith(("{", "[")):
        return "json"  # a JSON array is not a JSON Feed, but the JSON reader says so
    if not head.startswith("<"):
        return "unknown"
    while True:  # skip the XML declaration, comments and a non-HTML DOCTYPE
        match = _PROLOG.match(head)
        if match is None:
            break
        head = head[match.end():]
    head = head.lstrip()
    if _HTML_DOCTYPE.match(head):
        return "html"
    root = _ROOT.match(head)
    if root is None:
        return "unknown"
    return "html" if root.group(1).lower() in _HTML_ROOTS else "xml"


def _decode_head(head: bytes) -> str:
    return head.decode(_encoding(head), errors="replace").lstrip("\ufeff")


def _encoding(head: bytes) -> str:
    """The body's encoding as XML (Appendix F) and JSON (RFC 8259, 8.1)
    sniffers tell it: a BOM, else the pattern of zero bytes around the
    first ASCII character (``<`` or ``{``), else UTF-8."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    four = head[:4]
    if len(four) == 4 and four[:3] == b"\x00\x00\x00" and four[3]:
        return "utf-32-be"
    if len(four) == 4 and four[1:] == b"\x00\x00\x00" and four[0]:
        return "utf-32-le"
    if len(four) >= 2 and four[0] == 0 and four[1]:
        return "utf-16-be"
    if len(four) >= 2 and four[1] == 0 and four[0]:
        return "utf-16-le"
    return "utf-8"


def parse_feed(body: bytes, headers: Mapping[str, str]) -> RawFeed:
    """Parse a response body as RSS, Atom or JSON Feed; raise :class:`SourceError` otherwise."""
    kind = sniff(body)
    if kind == "json":
        return read_json_feed(body)
    if kind == "html":
        raise SourceError("not a feed: the server sent an HTML page")
    if kind == "unknown":
        raise SourceError(_unknown(body))
    return read_xml_feed(body, headers)


def _unknown(body: bytes) -> str:
    """The true reason a body is neither XML nor JSON."""
    encoding = _encoding(body[:8])
    text = body[:8192].decode(encoding, errors="replace").lstrip("\ufeff")
    if not text.strip():
        return "empty document: the body holds nothing but white space"
    if text.count("\ufffd") > max(4, len(text) // 10):
        return f"not a feed: the body cannot be decoded as text (tried {encoding})"
    return "not a feed: neither XML nor JSON"


_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json")


class _Alternates(HTMLParser):
    """The ``<link rel="alternate">`` feeds of an HTML page, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in _FEED_TYPES and values.get("href", "").strip():
            self.found.append(values["href"].strip())


def discovered_feed(body: bytes) -> str | None:
    """The first feed an HTML page links to as its alternate (autodiscovery),
    as written (relative or not); ``None`` when it names none."""
    parser = _Alternates()
    text = body[:1 << 20].decode(_encoding(body[:8]), errors="replace")
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError):  # a page too broken for the parser: no feed found
        return parser.found[0] if parser.found else None
    return parser.found[0] if parser.found else None
