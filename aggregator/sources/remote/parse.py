"""Body -> :class:`~aggregator.sources.remote.raw.RawFeed`: sniff the format, pick the reader.

The body decides, not the ``Content-Type`` header (RELIABILITY #20): servers
send feeds as ``text/html`` or ``application/octet-stream`` and HTML pages as
``application/rss+xml``.  An HTML page is never turned into items.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from typing import Literal

from aggregator.errors import SourceError
from aggregator.sources.remote.feedxml import read_xml_feed
from aggregator.sources.remote.jsonfeed import read_json_feed
from aggregator.sources.remote.raw import RawFeed

Kind = Literal["xml", "json", "html", "unknown"]

_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!doctype\s+(?!html\b)[^>]*>)", re.DOTALL | re.IGNORECASE)
_HTML_DOCTYPE = re.compile(r"<!doctype\s+html\b", re.IGNORECASE)
_ROOT = re.compile(r"<([A-Za-z_][\w:.-]*)")
_HTML_ROOTS = {"html", "head", "body"}
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def sniff(body: bytes) -> Kind:
    """Guess the format from the first few KiB of the body."""
    head = _decode_head(body[:8192]).lstrip("\ufeff \t\r\n")
    if head.startswith("{"):
        return "json"
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
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, errors="replace")
    if head[:2] in (b"<\x00", b"\x00<"):  # UTF-16 without a BOM
        return head.decode("utf-16-le" if head[0] == 0x3C else "utf-16-be", errors="replace")
    return head.decode("utf-8", errors="replace")


def parse_feed(body: bytes, headers: Mapping[str, str]) -> RawFeed:
    """Parse a response body as RSS, Atom or JSON Feed; raise :class:`SourceError` otherwise."""
    kind = sniff(body)
    if kind == "json":
        return read_json_feed(body)
    if kind == "html":
        raise SourceError("not a feed: the server sent an HTML page")
    if kind == "unknown":
        raise SourceError("not a feed: neither XML nor JSON")
    return read_xml_feed(body, headers)
