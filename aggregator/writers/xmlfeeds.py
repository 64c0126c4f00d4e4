"""RSS 2.0 and Atom 1.0 through feedgen.  Pure: FeedDoc -> bytes.

feedgen is kept behind this one module because of three habits we must
counter: it stamps ``now()`` into ``lastBuildDate``/``updated`` unless told
otherwise (we always pass the newest item's date), it prepends entries by
default (we append, in rank order), and it drops the ``rel`` of Atom entry
links (a shadowed variable), so related and enclosure links are added by
the small extension below instead of ``entry.link()``.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from ..model import Article
from .feed import FeedDoc, categories, item_content, item_updated

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_NS = "http://search.yahoo.com/mrss/"
GENERATOR = ("aggregator", "https://github.com/aggregator/aggregator")


class _Links(BaseEntryExtension):  # type: ignore[misc]
    """Adds an entry's related/enclosure links and media thumbnail."""

    def __init__(self) -> None:
        self.article: Article | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}

    def extend_atom(self, entry: Any) -> Any:
        assert self.article is not None
        image = self.article.image
        if image:
            attrs = {"rel": "enclosure", "href": image.url}
            kind = mimetypes.guess_type(image.url.split("?")[0])[0]
            if kind and kind.startswith("image/"):
                attrs["type"] = kind
            # feedgen's Atom tree spells the namespace as a plain xmlns
            # attribute, so its elements are un-namespaced: match it.
            etree.SubElement(entry, "link", attrs)
        for related in self.article.related:
            etree.SubElement(entry, "link", {"rel": "related", "href": related.url, "title": related.title})
        return entry

    def extend_rss(self, item: Any) -> Any:
        assert self.article is not None
        image = self.article.image
        if image:
            attrs = {"url": image.url}
            if image.width:
                attrs["width"] = str(image.width)
            if image.height:
                attrs["height"] = str(image.height)
            etree.SubElement(item, f"{{{MEDIA_NS}}}thumbnail", attrs)
        for related in self.article.related:
            etree.SubElement(item, f"{{{ATOM_NS}}}link", {"rel": "related", "href": related.url,
                                                           "title": related.title})
        return item


def _generator(doc: FeedDoc, fmt: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(doc.url(fmt))
    fg.title(doc.title)
    fg.author({"name": doc.author})
    fg.language(doc.language)
    fg.generator(GENERATOR[0], uri=GENERATOR[1])
    fg.updated(doc.updated)
    fg.lastBuildDate(doc.updated)
    fg.pubDate(doc.updated)
    fg.description(doc.description or doc.title)
    fg.subtitle(doc.description or doc.title)
    for article in doc.items:
        _entry(fg, article)
    return fg


def _entry(fg: FeedGenerator, article: Article) -> FeedEntry:
    entry = fg.add_entry(order="append")
    entry.register_extension("agg", _Links, atom=True, rss=True)
    entry.agg.article = article
    entry.id(article.id)
    entry.guid(article.id, permalink=False)
    entry.title(article.title)
    entry.link(href=article.url)
    entry.published(article.published)
    entry.updated(item_updated(article))
    # description(isSummary=True) fills RSS <description> and Atom <summary>;
    # Atom <content> is only set from a real body below.
    entry.description(article.summary or article.title, isSummary=True)
    content = item_content(article)
    if content:
        entry.content(content, type="html")
    if article.provider:
        author = {"name": article.provider.name}
        if article.provider.url:
            author["uri"] = article.provider.url
        entry.author(author)
    cats = categories(article)
    if cats:
        entry.category([{"term": c} for c in cats])
    return entry


def render_rss(doc: FeedDoc) -> bytes:
    fg = _generator(doc, "rss")
    fg.link(href=doc.home_url, rel="alternate")
    fg.link(href=doc.url("rss"), rel="self", type="application/rss+xml")
    if doc.hub:
        fg.link(href=doc.hub, rel="hub")
    rss, _doc = fg._create_rss()
    channel = rss.find("channel")
    channel.find("link").text = doc.home_url  # feedgen puts the self URL there
    for item, article in zip(channel.findall("item"), doc.items, strict=True):
        _rss_item_fixups(item, article)
    _archive_links(channel, doc, "rss")
    return _serialize(rss)


def _rss_item_fixups(item: Any, article: Article) -> None:
    # feedgen writes <author> only as an e-mail; RSS readers show
    # dc:creator for a name, and <source> names the provider.
    for author in item.findall("author"):
        item.remove(author)
    if article.provider:
        creator = etree.SubElement(item, "{http://purl.org/dc/elements/1.1/}creator")
        creator.text = article.provider.name
        if article.provider.url:
            source = etree.SubElement(item, "source", {"url": article.provider.url})
            source.text = article.provider.name


def render_atom(doc: FeedDoc) -> bytes:
    fg = _generator(doc, "atom")
    fg.link(href=doc.home_url, rel="alternate", type="text/html")
    fg.link(href=doc.url("atom"), rel="self", type="application/atom+xml")
    if doc.hub:
        fg.link(href=doc.hub, rel="hub")
    feed, _doc = fg._create_atom()
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", doc.language)
    _archive_links(feed, doc, "atom")
    return _serialize(feed)


def _archive_links(parent: Any, doc: FeedDoc, fmt: str) -> None:
    """RFC 5005 archive links: prev-archive on every page that has an
    older one, ``current`` and ``fh:archive`` on archive pages."""
    prev = dict(doc.prev_archive).get(fmt)
    if prev:
        etree.SubElement(parent, _link_tag(fmt), {"rel": "prev-archive", "href": prev})
    if doc.archive:
        current = dict(doc.current).get(fmt)
        if current:
            etree.SubElement(parent, _link_tag(fmt), {"rel": "current", "href": current})
        etree.SubElement(parent, "{http://purl.org/syndication/history/1.0}archive")


_RSS_NAMESPACES = {"atom": ATOM_NS, "media": MEDIA_NS, "dc": "http://purl.org/dc/elements/1.1/",
                   "content": "http://purl.org/rss/1.0/modules/content/",
                   "fh": "http://purl.org/syndication/history/1.0"}


def _link_tag(fmt: str) -> str:
    return f"{{{ATOM_NS}}}link" if fmt == "rss" else "link"


def _serialize(root: Any) -> bytes:
    # Declare every namespace once on the root, not on each element.
    etree.cleanup_namespaces(root, top_nsmap=_RSS_NAMESPACES if root.tag == "rss" else {"fh": _RSS_NAMESPACES["fh"]})
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")  # type: ignore[no-any-return]
