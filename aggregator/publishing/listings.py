"""The listings of the output folder: what lists the feeds rather than
being one.  Planned like the feeds (each file with the digest of what it
shows, rendered only when that changed), rendered in the build process
after the feeds, so a reader of a listing never meets a feed not written yet.

- ``index.html``: the combined and custom feeds and, for up to
  :data:`~aggregator.writers.html.TOPICS_INLINE` topics, every topic with its
  newest items; with more topics, pages of them (``topics/<n>.html``), so a
  change rewrites the page of its topic, not an index of thousands;
- ``index.opml`` (subscribe once, every item once) and ``topics.opml``
  (every topic and custom feed, grouped): see :func:`aggregator.publishing.feeds.plan_feeds`;
- ``index.json``, the manifest (every feed, archives included);
- ``icon.png`` and ``logo.png``, unless ``site.icon`` / ``site.logo`` name others.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from aggregator.config import Config
from aggregator.model import FeedInfo
from aggregator.publishing.feeds import ICON, LOGO, PlannedFeed
from aggregator.version import code_id
from aggregator.writers.feed import rfc3339
from aggregator.writers.formats import FEEDS, FORMATS
from aggregator.writers.html import TOPICS_INLINE, render_index, render_topics_page
from aggregator.writers.icons import asset
from aggregator.writers.opml import render_opml

MANIFEST = "index.json"
TOPIC_PAGES = "topics/"


@dataclass(frozen=True)
class Listing:
    """One listing file: its path, the digest of everything it is rendered
    from, the feeds whose newest items it shows (by :attr:`FeedInfo.key`)
    and how to render it from their infos, newest items loaded."""

    path: str
    digest: str
    shows: tuple[str, ...]
    render: Callable[[Mapping[str, FeedInfo]], bytes]


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr((code_id(), *parts)).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def plan_listings(config: Config, feeds: Sequence[PlannedFeed], kept: Sequence[dict[str, Any]]) -> list[Listing]:
    """Every listing file, manifest last."""
    site = config.site
    live = [f for f in feeds if f.info.kind != "archive"]
    topics = [f for f in live if f.info.kind == "topic"]
    front = [f for f in live if f.info.kind != "topic"]
    chunks = [] if len(topics) <= TOPICS_INLINE else [
        topics[i:i + TOPICS_INLINE] for i in range(0, len(topics), TOPICS_INLINE)]
    pages = [(f"{TOPIC_PAGES}{n + 1}.html", f"{chunk[0].info.name} to {chunk[-1].info.name}")
             for n, chunk in enumerate(chunks)]
    shown = front if chunks else live
    listings: list[Listing] = []
    for name, configured in ((ICON, site.icon), (LOGO, site.logo)):
        if configured is None:
            listings.append(Listing(name, _digest(name), (), partial(_asset, name)))
    listings.append(Listing("index.html", _digest(site, pages, [(f.info, f.digest) for f in shown]), _keys(shown),
                            partial(_index, config, _keys(shown), pages)))
    for (path, label), chunk in zip(pages, chunks, strict=True):
        listings.append(Listing(path, _digest(site.title, site.language, label, [(f.info, f.digest) for f in chunk]),
                                _keys(chunk), partial(_topics_page, config, label, _keys(chunk))))
    for path, grouped in (("index.opml", False), ("topics.opml", True)):
        members = tuple(f.info for f in live if f.info.subscription == path)
        listed = [(i.title, i.files, i.kind) + (() if grouped else (i.updated,)) for i in members]
        listings.append(Listing(path, _digest(site.title, site.base_url, listed), (),
                                partial(_opml, config, members, grouped)))
    infos = [f.info for f in feeds]
    listings.append(Listing(MANIFEST, _digest(site.title, site.base_url, kept, infos), (),
                            partial(_manifest, config, infos, list(kept))))
    return listings


def _asset(name: str, _infos: Mapping[str, FeedInfo]) -> bytes:
    return asset(name)


def _index(config: Config, keys: tuple[str, ...], pages: list[tuple[str, str]],
           infos: Mapping[str, FeedInfo]) -> bytes:
    site = config.site
    return render_index(site.title, site.description, site.base_url, site.language, [infos[k] for k in keys],
                        topic_pages=pages)


def _topics_page(config: Config, label: str, keys: tuple[str, ...], infos: Mapping[str, FeedInfo]) -> bytes:
    return render_topics_page(config.site.title, config.site.language, label, [infos[k] for k in keys])


def _opml(config: Config, members: tuple[FeedInfo, ...], grouped: bool, _infos: Mapping[str, FeedInfo]) -> bytes:
    return render_opml(config.site.title, config.site.base_url, members, grouped=grouped)


def _manifest(config: Config, infos: list[FeedInfo], kept: list[dict[str, Any]],
              _infos: Mapping[str, FeedInfo]) -> bytes:
    return render_manifest(config, infos, kept)


def _keys(feeds: Sequence[PlannedFeed]) -> tuple[str, ...]:
    return tuple(f.info.key for f in feeds)


def is_listing(path: str) -> bool:
    """Whether ``path`` names a listing file (one that may go when it is no longer planned)."""
    return path.startswith(TOPIC_PAGES) or path in (ICON, LOGO, "index.html", "index.opml", "topics.opml", MANIFEST)


def manifest_entry(info: FeedInfo) -> dict[str, Any]:
    entry = {"kind": info.kind, "topic": info.topic, "title": info.title, "slug": info.slug, "items": info.items,
             "updated": rfc3339(info.updated) if info.updated else None,
             "files": dict(info.files)}
    if info.month:
        entry["month"] = info.month
    return entry


_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,199}")
_MONTH = re.compile(r"\d{4}-\d{2}")


def read_manifest(out: Path) -> dict[str, dict[str, Any]]:
    """Key -> manifest entry of every feed listed in ``out``'s manifest, as
    :meth:`Store.published` returns them: what a state file that was lost or
    rebuilt no longer knows, so the files of feeds that vanished meanwhile
    are still removed.  Only entries that name exactly the files this
    program writes for them are taken: a foreign or damaged manifest can
    never make a run remove anything else."""
    try:
        data = json.loads((out / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return {}
    entries = data.get("feeds") if isinstance(data, dict) and data.get("version") == 1 else None
    found: dict[str, dict[str, Any]] = {}
    for entry in entries if isinstance(entries, list) else ():
        stem = _manifest_stem(entry)
        formats = FEEDS if entry.get("kind") == "archive" else FORMATS
        if stem is None or entry["files"] not in ({fmt: stem + f.suffix for fmt, f in formats.items()},
                                                  {fmt: stem + f.suffix for fmt, f in FEEDS.items()}):
            continue
        month = entry.get("month")
        found[f"{entry['kind']}:{entry['slug']}/{month}" if month else f"{entry['kind']}:{entry['slug']}"] = entry
    return found


def _manifest_stem(entry: object) -> str | None:
    """The file stem an entry's files must have, or ``None`` if it is not one of ours."""
    if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict):
        return None
    kind, slug, month = entry.get("kind"), entry.get("slug"), entry.get("month")
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        return None
    if kind == "archive":
        return f"archive/{slug}/{month}" if isinstance(month, str) and _MONTH.fullmatch(month) else None
    if month is not None:
        return None
    return {"all": slug if slug == "all" else None, "topic": slug, "custom": f"custom/{slug}"}.get(str(kind))


def render_manifest(config: Config, infos: list[FeedInfo], kept: list[dict[str, Any]]) -> bytes:
    entries = [manifest_entry(i) for i in infos] + kept
    order = {"all": 0, "topic": 1, "custom": 2, "archive": 3}
    entries.sort(key=lambda e: (order.get(e["kind"], 9), e["slug"], e.get("month") or ""))
    manifest = {"version": 1, "title": config.site.title, "base_url": config.site.base_url,
                "opml": "index.opml", "html": "index.html", "feeds": entries}
    return (json.dumps(manifest, ensure_ascii=False, allow_nan=False, indent=2) + "\n").encode("utf-8")
