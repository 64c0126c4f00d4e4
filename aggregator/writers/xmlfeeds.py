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
  ``&`` and ``<`` are written ``&amp;`` and ``&lt;``, the forms every parser
  decodes (a widely used one leaves ``&#x26;`` undecoded in links);
- every item names its author in ``dc:creator`` (RSS ``<author>`` must be an
  e-mail address): the byline, else the provider, else the feed's author;
  the provider is the item's ``<source>`` (its feed for a remote item, its
  home page for a local one);
- feed-level links (archive links included) come before the first item or
  entry; an empty feed has no RSS dates (there is no newest item).
"""

from __future__ import annotations

import email.utils
import mimetypes
from datetime import UTC, datetime
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from aggregator.model import Enclosure
from aggregator.writers.feed import Entry, FeedDoc, rfc3339
from aggregator.writers.values import text, uri

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_NS = "http://search.yahoo.com/mrss/"
DC_NS = "http://purl.org/dc/elements/1.1/"
FH_NS = "http://purl.org/syndication/history/1.0"
GENERATOR = "aggregator"


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
            attrs = {"rel": "enclosure", "href": image.url}
            kind = mimetypes.guess_type(image.url.split("?")[0])[0]
            if kind and kind.startswith("image/"):
                attrs["type"] = kind
            # feedgen's Atom tree spells the namespace as a plain xmlns
            # attribute, so its elements are un-namespaced: match it.
            etree.SubElement(entry, "link", attrs)
        for enclosure in _enclosures(self.item):
            attrs = {"rel": "enclosure", "href": enclosure.url, "type": enclosure.type or UNKNOWN_TYPE}
            if enclosure.length is not None:
                attrs["length"] = str(enclosure.length)
            etree.SubElement(entry, "link", attrs)
        for href, title in _related(self.item):
            etree.SubElement(entry, "link", {"rel": "related", "href": href, "title": title})
        if self.item.provider:  # the provider as the entry's source (RFC 4287 4.2.11)
            source = etree.SubElement(entry, "source")
            if self.item.provider_url:
                etree.SubElement(source, "id").text = self.item.provider_url
                etree.SubElement(source, "link", {"href": self.item.provider_url})
            etree.SubElement(source, "title").text = self.item.provider
            # RFC 4287 4.2.11: a source keeps its feed's updated; ours is the item's own.
            etree.SubElement(source, "updated").text = rfc3339(self.item.updated)
        return entry

    def extend_rss(self, item: Any) -> Any:
        assert self.item is not None
        image = self.item.image
        if image:
            attrs = {"url": image.url}
            if image.width:
                attrs["width"] = str(image.width)
            if image.height:
                attrs["height"] = str(image.height)
            content = etree.SubElement(item, f"{{{MEDIA_NS}}}content", {"url": image.url, "medium": "image"})
            content.attrib.update({k: v for k, v in attrs.items() if k != "url"})
            etree.SubElement(item, f"{{{MEDIA_NS}}}thumbnail", attrs)
        for n, enclosure in enumerate(_enclosures(self.item)):
            kind = enclosure.type or UNKNOWN_TYPE
            if n == 0:  # RSS 2.0 has one enclosure per item, with all three attributes
                etree.SubElement(item, "enclosure", {"url": enclosure.url, "length": str(enclosure.length or 0),
                                                     "type": kind})
            else:
                attrs = {"url": enclosure.url, "type": kind}
                if enclosure.length is not None:
                    attrs["fileSize"] = str(enclosure.length)
                etree.SubElement(item, f"{{{MEDIA_NS}}}content", attrs)
        for href, title in _related(self.item):
            etree.SubElement(item, f"{{{ATOM_NS}}}link", {"rel": "related", "href": href, "title": title})
        return item


UNKNOWN_TYPE = "application/octet-stream"


def _enclosures(item: Entry) -> list[Enclosure]:
    """The item's files, but not its image (already linked as one)."""
    image = item.image.url if item.image else None
    return [e for e in item.enclosures if e.url != image]


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
    fg.generator(GENERATOR, uri=uri(doc.generator_url))
    if uri(doc.icon) and fmt == "atom":
        fg.icon(uri(doc.icon))
    if uri(doc.logo):
        fg.logo(uri(doc.logo))  # Atom <logo>, RSS <image>
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
    # RSS <description> is HTML: the image and the summary (some readers
    # show it instead of the content); Atom <summary> stays type="text".
    entry.description(item.teaser if fmt == "rss" else item.synopsis, isSummary=True)
    entry.content(item.html, type="html")
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
    image = channel.find("image")
    if image is not None:  # feedgen links the logo to the self URL: the page is where it leads
        image.find("link").text = _home_url(doc, "rss")
        image.find("title").text = text(doc.title) or doc.slug
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
    return _serialize(rss)


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
    etree.SubElement(item, f"{{{DC_NS}}}creator").text = entry.author
    if entry.provider and entry.provider_url:  # the provider as the item's source
        etree.SubElement(item, "source", {"url": entry.provider_url}).text = entry.provider


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
    older one, next-archive on every archive that has a newer one (so the
    oldest is linked too: validators call an unlinked archive incomplete),
    ``current`` and ``fh:archive`` on archive pages.  Feed metadata must
    precede the first item/entry (Atom requires it)."""
    elements = []
    for rel, links in (("prev-archive", doc.prev_archive), ("next-archive", doc.next_archive)):
        href = uri(dict(links).get(fmt))
        if href:
            elements.append(etree.Element(_link_tag(fmt), {"rel": rel, "href": href}))
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


def _serialize(root: Any) -> bytes:
    # Declare every namespace once on the root, not on each element.
    etree.cleanup_namespaces(root, top_nsmap=_RSS_NAMESPACES if root.tag == "rss" else {"fh": FH_NS})
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")  # type: ignore[no-any-return]
