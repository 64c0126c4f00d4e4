"""From a ranking to the files of the output folder.

Planning (:func:`plan_feeds`) is pure and needs no article: each planned
feed carries its picks and a *digest* of everything its files are rendered
from (the feed's metadata and, per item, the article's digest and merged
topics).  The build renders a feed only when that digest differs from the
one stored for its files, loading its articles then (:func:`load_job`,
:func:`render_job`),
so an unchanged feed costs neither loading nor rendering.

Layout (relative to the output folder): ``<slug>.xml`` (RSS 2.0),
``<slug>.atom`` (Atom 1.0), ``<slug>.json`` (JSON Feed 1.1) per topic and
for the all-topics feed (slug ``all``); ``custom/<slug>.*`` per custom
feed; ``archive/<topic slug>/<YYYY-MM>.*`` per topic and calendar month
(RFC 5005 archives, chained by ``prev-archive`` and JSON Feed's
``next_url``); ``index.json`` (the manifest), ``index.opml`` and
``index.html``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .articles import with_content
from .codeid import code_id
from .config import Config
from .model import Article, FeedInfo, feed_anchor
from .rank import Pick, Ranking
from .topics import slugify, topic_key
from .writers.feed import FeedDoc, rfc3339
from .writers.formats import FORMATS
from .writers.html import render_index
from .writers.opml import render_opml

NEWEST = 5
MANIFEST = "index.json"
Loader = Callable[[str, str], Article | None]  # (origin, id) -> article
# (origin, id) -> the pickled Article, or the pickled ParseResult holding it
RawLoader = Callable[[str, str], bytes | None]


@dataclass(frozen=True)
class PlannedFeed:
    """A feed to publish: its listing, its document without items, the
    picks that become its items and the digest of all of it."""

    info: FeedInfo
    doc: FeedDoc  # items empty until rendered
    picks: tuple[Pick, ...]
    names: tuple[tuple[str, ...], ...]  # per pick: the display names of its merged topics
    digest: str


def plan_feeds(config: Config, ranking: Ranking) -> list[PlannedFeed]:
    """The live feeds ("all", topics, custom; sorted by kind then slug) and
    then every topic's monthly archives (by slug, then month)."""
    site = config.site
    base = site.base_url if site.base_url.endswith("/") else site.base_url + "/"
    hub = config.websub.hub

    def names(pick: Pick) -> tuple[str, ...]:
        return tuple(ranking.topics[k] for k in pick.topic_keys if k in ranking.topics)

    def plan(kind: str, slug: str, stem: str, title: str, description: str, picks: tuple[Pick, ...], *,
             topic: str | None = None, per_day: tuple[int, ...] = (), month: str | None = None,
             prev: str | None = None, current: str | None = None) -> PlannedFeed:
        files = tuple((fmt, stem + f.suffix) for fmt, f in FORMATS.items())
        anchor = feed_anchor(kind, slug)
        doc = FeedDoc(
            slug=slug, title=title, description=description, home_url=f"{base}index.html#{anchor}",
            language=site.language, author=site.author or site.title, items=(),
            urls=tuple((fmt, base + path) for fmt, path in files), hub=hub,
            prev_archive=tuple((fmt, base + prev + f.suffix) for fmt, f in FORMATS.items()) if prev else (),
            archive=month is not None,
            current=tuple((fmt, base + current + f.suffix) for fmt, f in FORMATS.items()) if current else ())
        item_names = tuple(names(p) for p in picks)
        updated = max((p.item.updated for p in picks), default=None)
        info = FeedInfo(kind=kind, slug=slug, title=title, topic=topic, items=len(picks), files=files,
                        updated=datetime.fromtimestamp(updated, UTC) if updated is not None else None,
                        per_day=per_day, month=month, description=description,
                        archive_files=tuple((fmt, prev + f.suffix) for fmt, f in FORMATS.items())
                        if prev and month is None else ())
        return PlannedFeed(info, doc, picks, item_names, _digest(doc, picks, item_names))

    live = [plan("all", "all", "all", f"{site.title}: all topics",
                 site.description or f"Ranked articles on all topics from {site.title}.", ranking.all)]
    archives: list[PlannedFeed] = []
    for key, name in ranking.topics.items():
        slug = slugify(key)
        months = sorted(ranking.archives.get(key, {}).items())
        stems = [f"archive/{slug}/{month}" for month, _picks in months]
        for i, (month, picks) in enumerate(months):
            archives.append(plan(
                "archive", slug, stems[i], f"{site.title}: {name}, {month}",
                f"Every article on the topic {name} published in {month}, oldest first.", picks,
                topic=name, month=month, prev=stems[i - 1] if i else None, current=slug))
        live.append(plan("topic", slug, slug, f"{site.title}: {name}",
                         site.description or f"Ranked articles on the topic {name} from {site.title}.",
                         ranking.feeds[key], topic=name, per_day=ranking.per_day.get(key, ()),
                         prev=stems[-1] if stems else None))
    for feed, picks in zip(config.custom_feeds, ranking.custom, strict=True):
        slug = feed.slug or slugify(topic_key(feed.name))
        live.append(plan("custom", slug, f"custom/{slug}", feed.name,
                         feed.description or f"{feed.name}: a custom feed from {site.title}.", picks))
    order = {"all": 0, "topic": 1, "custom": 2}
    live.sort(key=lambda p: (order[p.info.kind], p.info.slug))
    archives.sort(key=lambda p: (p.info.slug, p.info.month or ""))
    return live + archives


def _digest(doc: FeedDoc, picks: Sequence[Pick], names: Sequence[tuple[str, ...]]) -> str:
    """Changes whenever any rendered byte of the feed could: the program
    version, the document's metadata, and per item its article's digest
    and the topics it is listed under."""
    h = hashlib.sha256(repr((code_id(), doc)).encode("utf-8", "surrogatepass"))
    for pick, item_names in zip(picks, names, strict=True):
        h.update(repr((pick.item.digest, item_names)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def load_items(feed: PlannedFeed, load: Loader, limit: int | None = None) -> tuple[Article, ...]:
    """The feed's first ``limit`` articles (with merged topics), in feed
    order, as the listings show them: bodies are not rendered (listings
    show none).  An article that cannot be loaded any more is left out (it
    vanished mid-run)."""
    found = []
    for pick, names in list(zip(feed.picks, feed.names, strict=True))[:limit]:
        article = load(pick.origin, pick.id)
        if article is not None:
            found.append(article.replace(topics=names))
    return tuple(found)


@dataclass(frozen=True)
class RenderJob:
    """A feed document and the files to render from it: pure data, so jobs
    can run on the executor's workers.  The items travel still pickled, as
    the state store holds them (``raw``): the worker unpickles them, so the
    build process neither unpickles nor pickles again every article it
    sends (the build process is what the render workers wait on)."""

    doc: FeedDoc  # without items
    files: tuple[tuple[str, str], ...]  # (format, path)
    raw: tuple[tuple[bytes, str, tuple[str, ...]], ...] = ()  # per item: pickled Article or ParseResult, id, names


def render_job(job: RenderJob) -> list[tuple[str, bytes]]:
    """(path, bytes) of each of the job's files."""
    doc = dataclasses.replace(job.doc, items=_items(job.raw)) if job.raw else job.doc
    return [(path, FORMATS[fmt].render(doc)) for fmt, path in job.files]


def _items(raw: Sequence[tuple[bytes, str, tuple[str, ...]]]) -> tuple[Article, ...]:
    found = []
    for blob, article_id, names in raw:
        loaded = pickle.loads(blob)  # noqa: S301 - from our own state store or this run's fetch
        articles = (loaded,) if isinstance(loaded, Article) else loaded.articles
        article = next((a for a in articles if a.id == article_id), None)
        if article is not None:  # else it vanished mid-run: left out
            found.append(with_content(article, topics=names))
    return tuple(found)


def load_job(feed: PlannedFeed, load: RawLoader, formats: Sequence[str] | None = None) -> RenderJob:
    """``feed``'s render job: its items as ``load`` returns them, pickled."""
    raw = tuple((blob, pick.id, names) for pick, names in zip(feed.picks, feed.names, strict=True)
                if (blob := load(pick.origin, pick.id)) is not None)
    return RenderJob(feed.doc, tuple((fmt, path) for fmt, path in feed.info.files if formats is None or fmt in formats),
                     raw)


def with_newest(info: FeedInfo, feed: PlannedFeed, load: Loader) -> FeedInfo:
    return dataclasses.replace(info, newest=load_items(feed, load, NEWEST))


LISTINGS = ("index.opml", "index.html", MANIFEST)


def listings_digest(config: Config, feeds: Sequence[PlannedFeed], kept: Sequence[dict[str, Any]]) -> str:
    """Changes whenever any byte of the listings (:func:`render_listings`)
    could: the program version, the site settings, every feed's listing
    and digest (which covers its newest items) and the entries kept."""
    h = hashlib.sha256(repr((code_id(), config.site, kept)).encode("utf-8", "surrogatepass"))
    for feed in feeds:
        h.update(repr((feed.info, feed.digest)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def render_listings(config: Config, infos: list[FeedInfo],
                    kept: list[dict[str, Any]] | None = None) -> dict[str, bytes]:
    """The OPML, the HTML index and the manifest (written after the feeds,
    so a reader of the manifest never meets a feed that is not written yet).
    ``infos`` of live feeds carry their newest articles."""
    site = config.site
    live = [i for i in infos if i.kind != "archive"]
    return {
        "index.opml": render_opml(site.title, site.base_url, live),
        "index.html": render_index(site.title, site.description, site.base_url, site.language, live),
        MANIFEST: render_manifest(config, infos, kept or []),
    }


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
        if stem is None or entry["files"] != {fmt: stem + f.suffix for fmt, f in FORMATS.items()}:
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
