"""RSS 2.0 and Atom 1.0 through feedgen.  Pure: FeedDoc -> bytes.

feedgen is kept behind this one module because of four habits we must
counter: it stamps ``now()`` into ``lastBuildDate``/``updated`` unless told
otherwise (we always pass the newest item's date), it prepends entries by
default (we append, in rank order), it drops the ``rel`` of Atom entry
links (a shadowed variable), so related and enclosure links are added by
the small extension below instead of ``entry.link()``, and its RSS writes
no channel ``atom:link`` but the first ``rel="self"`` one, so the WebSub
``rel="hub"`` link is added to the tree afterwards.

What the W3C Feed Validator and the RSS Advisory Board profile ask for, and
how it is met here:

- every string is stripped of XML-illegal code points and every URL is made
  a valid absolute URI (:func:`.feed.text`, :func:`.feed.uri`), so a writer
  never raises on, or emits, bad input;
- RSS ``<description>`` is HTML, so the plain-text summary is HTML-escaped;
  ``&`` and ``<`` are written as hexadecimal character references;
- RSS ``<source url>`` must be the URL of the feed the item came from, so it
  is only written for items that came from a remote feed (the provider's
  name goes into ``dc:creator``);
- feed-level links (archive links included) come before the first item or
  entry; an empty feed has no RSS dates (there is no newest item).
"""

from __future__ import annotations

import email.utils
import html
import mimetypes
from datetime import UTC, datetime
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from .feed import Entry, FeedDoc, text, uri

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_NS = "http://search.yahoo.com/mrss/"
DC_NS = "http://purl.org/dc/elements/1.1/"
FH_NS = "http://purl.org/syndication/history/1.0"
GENERATOR = ("aggregator", "https://github.com/aggregator/aggregator")


class _Links(BaseEntryExtension):  # type: ignore[misc]
    """Adds an entry's related/enclosure links and media thumbnail."""

    def __init__(self) -> None:
        self.item: Entry | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}

    def extend_atom(self, entry: Any) -> Any:
        assert self.item is not None
        image = self.item.image
        if image:
            attrs = {"rel": "enclosure", "href": image}
            kind = mimetypes.guess_type(image.split("?")[0])[0]
            if kind and kind.startswith("image/"):
                attrs["type"] = kind
            # feedgen's Atom tree spells the namespace as a plain xmlns
            # attribute, so its elements are un-namespaced: match it.
            etree.SubElement(entry, "link", attrs)
        for href, title in _related(self.item):
            etree.SubElement(entry, "link", {"rel": "related", "href": href, "title": title})
        return entry

    def extend_rss(self, item: Any) -> Any:
        assert self.item is not None
        image = self.item.image
        if image:
            attrs = {"url": image}
            size = self.item.article.image
            assert size is not None
            if size.width:
                attrs["width"] = str(size.width)
            if size.height:
                attrs["height"] = str(size.height)
            etree.SubElement(item, f"{{{MEDIA_NS}}}thumbnail", attrs)
        for href, title in _related(self.item):
            etree.SubElement(item, f"{{{ATOM_NS}}}link", {"rel": "related", "href": href, "title": title})
        return item


def _related(item: Entry) -> list[tuple[str, str]]:
    """Related links without repeats (the first title of a URL wins)."""
    links: dict[str, str] = {}
    for href, title in item.related:
        links.setdefault(href, title)
    return list(links.items())


def _generator(doc: FeedDoc, fmt: str) -> FeedGenerator:
    fg = FeedGenerator()
    title = text(doc.title) or doc.slug
    description = text(doc.description) or title
    fg.id(_self_url(doc, fmt))
    fg.title(title)
    fg.author({"name": text(doc.author) or title})
    fg.language(text(doc.language))
    fg.generator(GENERATOR[0], uri=GENERATOR[1])
    fg.updated(doc.updated)
    fg.lastBuildDate(doc.updated)
    fg.pubDate(doc.updated)
    fg.description(description)
    fg.subtitle(description)
    for item in doc.entries:
        _entry(fg, item, fmt)
    return fg


def _self_url(doc: FeedDoc, fmt: str) -> str:
    return uri(doc.url(fmt)) or doc.url(fmt)


def _home_url(doc: FeedDoc, fmt: str) -> str:
    return uri(doc.home_url) or _self_url(doc, fmt)


def _entry(fg: FeedGenerator, item: Entry, fmt: str) -> FeedEntry:
    entry = fg.add_entry(order="append")
    entry.register_extension("agg", _Links, atom=True, rss=True)
    entry.agg.item = item
    link = item.link
    entry.guid(item.id, permalink=False)
    entry.title(item.title or link)
    entry.link(href=link)
    entry.published(item.article.published)
    entry.updated(item.updated)
    summary = item.synopsis
    # RSS <description> is HTML; Atom <summary> stays type="text".
    entry.description(html.escape(summary, quote=False) if fmt == "rss" else summary, isSummary=True)
    if item.content is not None:
        entry.content(item.content, type="html")
    if item.author:
        author = {"name": item.author}
        if item.author_url:
            author["uri"] = item.author_url
        entry.author(author)
    if item.categories:
        entry.category([{"term": c} for c in item.categories])
    return entry


def render_rss(doc: FeedDoc) -> bytes:
    fg = _generator(doc, "rss")
    fg.link(href=_home_url(doc, "rss"), rel="alternate")
    fg.link(href=_self_url(doc, "rss"), rel="self", type="application/rss+xml")
    rss, _doc = fg._create_rss()
    channel = rss.find("channel")
    channel.find("link").text = _home_url(doc, "rss")  # feedgen puts the self URL there
    hub = uri(doc.hub)
    if hub:  # feedgen's RSS writes no atom:link but rel="self": the hub goes right after it
        self_link = next(e for e in channel.findall(f"{{{ATOM_NS}}}link") if e.get("rel") == "self")
        self_link.addnext(etree.Element(f"{{{ATOM_NS}}}link", {"href": hub, "rel": "hub"}))
    for name in ("lastBuildDate", "pubDate"):
        for element in channel.findall(name):
            if doc.items:
                element.text = rfc822(doc.updated)
            else:  # no newest item, no date (never the build time)
                channel.remove(element)
    for element, item in zip(channel.findall("item"), doc.entries, strict=True):
        _rss_item_fixups(element, item)
    _archive_links(channel, doc, "rss")
    return _hex_references(_serialize(rss))


def rfc822(moment: datetime) -> str:
    """An RFC 822 date as RSS wants it.  feedgen uses strftime, which
    writes year 1 (the "no date" of .NET, found in real feeds) as "1":
    readers then see 2001.  The email module pads years to four digits."""
    return email.utils.format_datetime(moment.astimezone(UTC))


def _rss_item_fixups(item: Any, entry: Entry) -> None:
    # feedgen writes <author> only as an e-mail; RSS readers show
    # dc:creator for a name.  <source url> is the feed the item came from
    # (RSS 2.0), so only items read from a remote feed have one.
    for author in item.findall("author"):
        item.remove(author)
    for date in item.findall("pubDate"):
        date.text = rfc822(entry.article.published)
    name = entry.author
    if name:
        etree.SubElement(item, f"{{{DC_NS}}}creator").text = name
    origin = entry.source
    if origin:
        etree.SubElement(item, "source", {"url": origin}).text = name or origin


def render_atom(doc: FeedDoc) -> bytes:
    fg = _generator(doc, "atom")
    fg.link(href=_home_url(doc, "atom"), rel="alternate", type="text/html")
    fg.link(href=_self_url(doc, "atom"), rel="self", type="application/atom+xml")
    if uri(doc.hub):
        fg.link(href=uri(doc.hub), rel="hub")
    feed, _doc = fg._create_atom()
    if text(doc.language):
        feed.set("{http://www.w3.org/XML/1998/namespace}lang", text(doc.language))
    _archive_links(feed, doc, "atom")
    return _serialize(feed)


def _archive_links(parent: Any, doc: FeedDoc, fmt: str) -> None:
    """RFC 5005 archive links: prev-archive on every page that has an
    older one, ``current`` and ``fh:archive`` on archive pages.  Feed
    metadata must precede the first item/entry (Atom requires it)."""
    elements = []
    prev = uri(dict(doc.prev_archive).get(fmt))
    if prev:
        elements.append(etree.Element(_link_tag(fmt), {"rel": "prev-archive", "href": prev}))
    if doc.archive:
        current = uri(dict(doc.current).get(fmt))
        if current:
            elements.append(etree.Element(_link_tag(fmt), {"rel": "current", "href": current}))
        elements.append(etree.Element(f"{{{FH_NS}}}archive"))
    first = parent.find("item" if fmt == "rss" else "entry")
    for element in elements:
        if first is None:
            parent.append(element)
        else:
            first.addprevious(element)


_RSS_NAMESPACES = {"atom": ATOM_NS, "media": MEDIA_NS, "dc": DC_NS,
                   "content": "http://purl.org/rss/1.0/modules/content/", "fh": FH_NS}


def _link_tag(fmt: str) -> str:
    return f"{{{ATOM_NS}}}link" if fmt == "rss" else "link"


def _hex_references(data: bytes) -> bytes:
    """The RSS profile's advice: write ``&`` and ``<`` in character data as
    hexadecimal character references (same XML, unambiguous to readers)."""
    return data.replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")


def _serialize(root: Any) -> bytes:
    # Declare every namespace once on the root, not on each element.
    etree.cleanup_namespaces(root, top_nsmap=_RSS_NAMESPACES if root.tag == "rss" else {"fh": FH_NS})
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")  # type: ignore[no-any-return]
