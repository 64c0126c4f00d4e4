"""Which remote items are one item: the identity rule, pure.

A remote item is identified within its source by, in this order: its
guid/id when that is an absolute URI; else a ``tag:`` URI (RFC 4151) made
from the source URL and the guid; else its link (fragment kept); else a
digest of its content.  Two items of one source are therefore never one
item because they share a link (131 podcast episodes linking to the show's
home page) or differ only in a fragment (``/log#2024-05-01``); a guid-less
item whose link another guid-less item of the source shares is identified
by its content instead, so only a truly repeated entry merges.

Across sources and local files, copies of an article merge by canonical URL
(:func:`aggregator.urls.canonical_url`), but only when that URL identifies
one item: a link shared by two or more items of one source is no one
item's identity.  :func:`merge_keys` gives each item the key the ranking
merges on (and every output format publishes as its id): the canonical
URL of its link when that identifies it, else its own identity.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from aggregator.sources.remote.raw import RawItem
from aggregator.urls import canonical_url

# RFC 3986 section 3.1: a scheme, then anything without white space.
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+\Z")
_TAG_DATE = "2026"  # fixed forever: the ids must never change
_SAFE = "/:@!$&'()*+,;=-._~"


def is_absolute_uri(text: str) -> bool:
    return _ABSOLUTE_URI.match(text) is not None


def tag_uri(source_url: str, specific: str) -> str:
    """A ``tag:`` URI for ``specific`` within the source ``source_url``."""
    host = (urlsplit(source_url).hostname or "localhost").rstrip(".")
    return f"tag:{host},{_TAG_DATE}:{quote(source_url, safe=_SAFE)}#{quote(specific, safe=_SAFE)}"


def content_digest(item: RawItem) -> str:
    h = hashlib.sha256()
    for part in (item.title, item.summary, item.content_html, item.content_text, *(e.url for e in item.enclosures)):
        h.update((part or "").encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()[:32]


def identities(items: Sequence[RawItem], links: Sequence[str | None], source_url: str) -> list[str]:
    """Each item's identity within the source ``source_url`` (``links``:
    the items' resolved links, ``None`` where unusable)."""
    found: list[str] = []
    for item, link in zip(items, links, strict=True):
        guid = (item.guid or "").strip()
        if guid:
            found.append(guid if is_absolute_uri(guid) else tag_uri(source_url, guid))
        elif link:
            found.append(link)
        else:
            found.append(tag_uri(source_url, "sha256:" + content_digest(item)))
    # Guid-less items sharing a link: each is told apart by its content.
    by_link = Counter(ident for item, ident in zip(items, found, strict=True) if not (item.guid or "").strip())
    return [tag_uri(source_url, f"{ident} sha256:{content_digest(item)}")
            if by_link.get(ident, 0) > 1 and not (item.guid or "").strip() and ident == link else ident
            for item, ident, link in zip(items, found, links, strict=True)]


def merge_keys(identities: Sequence[str], links: Sequence[str | None]) -> list[str]:
    """Each item's merge key: the canonical URL of its link when no other
    item of the source (with another identity) shares it, else its identity."""
    canonical = [canonical_url(link) if link else None for link in links]
    owners: dict[str, set[str]] = {}
    for ident, url in zip(identities, canonical, strict=True):
        if url is not None:
            owners.setdefault(url, set()).add(ident)
    return [url if url is not None and len(owners[url]) == 1 else ident
            for ident, url in zip(identities, canonical, strict=True)]
