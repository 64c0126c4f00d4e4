"""From a ranking to the files of the output folder.  Pure but for the
``load`` callback that fetches winning articles.

Layout (relative to the output folder): ``<slug>.xml`` (RSS 2.0),
``<slug>.atom`` (Atom 1.0), ``<slug>.json`` (JSON Feed 1.1) per topic and
for the all-topics feed (slug ``all``); ``index.json`` (the manifest),
``index.opml`` and ``index.html``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import Config
from .model import Article, FeedInfo
from .rank import Pick, Ranking
from .topics import slugify
from .writers.feed import FeedDoc
from .writers.formats import FORMATS
from .writers.html import render_index
from .writers.opml import render_opml

NEWEST = 5
MANIFEST = "index.json"


@dataclass(frozen=True)
class PlannedFeed:
    info: FeedInfo
    doc: FeedDoc


def plan_feeds(config: Config, ranking: Ranking, load: Callable[[str, str], Article | None]) -> list[PlannedFeed]:
    """One planned feed for "all" and one per topic, sorted by slug."""
    loaded: dict[str, Article] = {}

    def articles(picks: tuple[Pick, ...]) -> tuple[Article, ...]:
        found = []
        for pick in picks:
            if pick.id not in loaded:
                article = load(pick.origin, pick.id)
                if article is None:
                    continue
                names = tuple(ranking.topics[k] for k in pick.topic_keys if k in ranking.topics)
                loaded[pick.id] = dataclasses.replace(article, topics=names)
            found.append(loaded[pick.id])
        return tuple(found)

    site = config.site
    planned = [_plan(config, "all", "all", None, f"{site.title}: all topics", articles(ranking.all), ())]
    for key, name in ranking.topics.items():
        planned.append(_plan(config, "topic", slugify(key), name, f"{site.title}: {name}",
                             articles(ranking.feeds[key]), ranking.per_day.get(key, ())))
    return sorted(planned, key=lambda p: p.info.slug)


def _plan(config: Config, kind: str, slug: str, topic: str | None, title: str, items: tuple[Article, ...],
          per_day: tuple[int, ...]) -> PlannedFeed:
    site = config.site
    base = site.base_url if site.base_url.endswith("/") else site.base_url + "/"
    files = tuple((fmt, slug + f.suffix) for fmt, f in FORMATS.items())
    what = f"the topic {topic}" if topic else "all topics"
    doc = FeedDoc(
        slug=slug,
        title=title,
        description=site.description or f"Ranked articles on {what} from {site.title}.",
        home_url=f"{base}index.html#{slug}",
        language=site.language,
        author=site.author or site.title,
        items=items,
        urls=tuple((fmt, base + path) for fmt, path in files),
        hub=config.websub.hub,
    )
    info = FeedInfo(kind=kind, slug=slug, title=title, topic=topic, items=len(items), files=files,
                    updated=doc.updated if items else None, newest=items[:NEWEST], per_day=per_day)
    return PlannedFeed(info, doc)


def render_site(config: Config, feeds: list[PlannedFeed], kept: list[dict[str, Any]] | None = None) -> dict[str, bytes]:
    """Every output file, feeds first and the listings last (so a reader of
    the manifest never meets a feed that is not written yet)."""
    out: dict[str, bytes] = {}
    for feed in feeds:
        for fmt, path in feed.info.files:
            out[path] = FORMATS[fmt].render(feed.doc)
    infos = [f.info for f in feeds]
    site = config.site
    out["index.opml"] = render_opml(site.title, site.base_url, infos)
    out["index.html"] = render_index(site.title, site.description, site.base_url, site.language, infos)
    out[MANIFEST] = render_manifest(config, infos, kept or [])
    return out


def manifest_entry(info: FeedInfo) -> dict[str, Any]:
    return {"kind": info.kind, "topic": info.topic, "title": info.title, "slug": info.slug, "items": info.items,
            "updated": info.updated.strftime("%Y-%m-%dT%H:%M:%SZ") if info.updated else None,
            "files": dict(info.files)}


def render_manifest(config: Config, infos: list[FeedInfo], kept: list[dict[str, Any]]) -> bytes:
    entries = [manifest_entry(i) for i in infos] + kept
    entries.sort(key=lambda e: e["slug"])
    manifest = {"version": 1, "title": config.site.title, "base_url": config.site.base_url,
                "opml": "index.opml", "html": "index.html", "feeds": entries}
    return (json.dumps(manifest, ensure_ascii=False, allow_nan=False, indent=2) + "\n").encode("utf-8")
