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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from aggregator.config import Config
from aggregator.model import Article, FeedInfo, Related
from aggregator.ranking.rules import Pick, Ranking, Story
from aggregator.sources.local.articles import with_content
from aggregator.state import codec
from aggregator.topics import slugify, topic_key
from aggregator.version import code_id
from aggregator.writers.feed import FeedDoc
from aggregator.writers.formats import FEEDS, FORMATS
from aggregator.writers.words import words_for

NEWEST = 5
ICON, LOGO = "icon.png", "logo.png"  # generated into the output unless site.icon / site.logo name others
Loader = Callable[[str, str], Article | None]  # (origin, id) -> article
# (origin, id) -> the encoded Article, or the encoded ParseResult holding it (state codec)
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


class Loaders(NamedTuple):
    """How the writers load a published item in full."""

    load: Loader
    load_raw: RawLoader


def plan_feeds(config: Config, ranking: Ranking) -> list[PlannedFeed]:
    """The live feeds ("all", topics, custom; sorted by kind then slug) and
    then every topic's monthly archives (by slug, then month)."""
    site = config.site
    planner = _Planner(config, ranking)
    live = [planner.plan("all", "all", "all", "All topics", f"{site.title}: all topics",
                         site.description or f"Ranked articles on all topics from {site.title}.", ranking.all)]
    archives: list[PlannedFeed] = []
    for key, name in ranking.topics.items():
        topic, months = planner.topic(key, name)
        live.append(topic)
        archives.extend(months)
    for feed, picks in zip(config.custom_feeds, ranking.custom, strict=True):
        slug = feed.slug or slugify(topic_key(feed.name))
        live.append(planner.plan("custom", slug, f"custom/{slug}", feed.name, feed.name,
                                 feed.description or f"{feed.name}: a custom feed from {site.title}.", picks))
    order = {"all": 0, "topic": 1, "custom": 2}
    live.sort(key=lambda p: (order[p.info.kind], p.info.slug))
    archives.sort(key=lambda p: (p.info.slug, p.info.month or ""))
    return _subscriptions(live) + archives


class _Planner:
    """What every feed of one site shares, and how one feed is planned."""

    def __init__(self, config: Config, ranking: Ranking) -> None:
        site = config.site
        self.site, self.ranking = site, ranking
        base = self.base = site.base_url if site.base_url.endswith("/") else site.base_url + "/"
        self.common = FeedDoc(
            slug="", title="", description="", home_url="", language=site.language,
            author=site.author or site.title, items=(), urls=(), hub=config.websub.hub,
            icon=site.icon or base + ICON, logo=site.logo or base + LOGO, generator_url=site.generator_url,
            words=words_for(site.language, site.words.overrides()), strip_params=config.links.strip_params,
            placeholders=config.images.placeholders, site=site.title, index_url=base + "index.html")

    def names(self, pick: Pick) -> tuple[str, ...]:
        return tuple(self.ranking.topics[k] for k in pick.topic_keys if k in self.ranking.topics)

    def topic(self, key: str, name: str) -> tuple[PlannedFeed, list[PlannedFeed]]:
        """A topic's feed, and its monthly archives (linked to each other)."""
        site, slug = self.site, slugify(key)
        months = sorted(self.ranking.archives.get(key, {}).items())
        stems = [f"archive/{slug}/{month}" for month, _picks in months]
        archives = [self.plan(
            "archive", slug, stems[i], f"{name}, {month}", f"{site.title}: {name}, {month}",
            f"Every article on the topic {name} published in {month}, oldest first.", picks,
            topic=name, month=month, prev=stems[i - 1] if i else None, current=slug,
            following=stems[i + 1] if i + 1 < len(stems) else None) for i, (month, picks) in enumerate(months)]
        feed = self.plan("topic", slug, slug, name, f"{site.title}: {name}",
                         site.description or f"Ranked articles on the topic {name} from {site.title}.",
                         self.ranking.feeds[key], topic=name, per_day=self.ranking.per_day.get(key, ()),
                         prev=stems[-1] if stems else None)
        return feed, archives

    def plan(self, kind: str, slug: str, stem: str, name: str, title: str, description: str,
             picks: tuple[Pick, ...], *, topic: str | None = None, per_day: tuple[int, ...] = (),
             month: str | None = None, prev: str | None = None, current: str | None = None,
             following: str | None = None) -> PlannedFeed:
        base = self.base
        formats = FEEDS if month else FORMATS  # archives have no page of their own: their topic's is theirs
        files = tuple((fmt, stem + f.suffix) for fmt, f in formats.items())
        doc = dataclasses.replace(
            self.common, slug=slug, title=title, name=name, description=description,
            home_url=base + (current or stem) + ".html",
            urls=tuple((fmt, base + path) for fmt, path in files if fmt in FEEDS),
            prev_archive=tuple((fmt, base + prev + f.suffix) for fmt, f in FEEDS.items()) if prev else (),
            next_archive=tuple((fmt, base + following + f.suffix) for fmt, f in FEEDS.items() if fmt != "json")
            if following else (),
            archive=month is not None,
            current=tuple((fmt, base + current + f.suffix) for fmt, f in FEEDS.items()) if current else ())
        item_names = tuple(self.names(p) for p in picks)
        updated = max((_updated(p) for p in picks), default=None)
        info = FeedInfo(kind=kind, slug=slug, title=title, topic=topic, items=len(picks), files=files,
                        updated=datetime.fromtimestamp(updated, UTC) if updated is not None else None,
                        per_day=per_day, month=month, description=description, name=name,
                        archive_files=tuple((fmt, prev + f.suffix) for fmt, f in FEEDS.items())
                        if prev and month is None else ())
        return PlannedFeed(info, doc, picks, item_names, _digest(doc, picks, item_names))


def _subscriptions(live: list[PlannedFeed]) -> list[PlannedFeed]:
    """Which OPML file lists each live feed.  ``index.opml`` subscribes to
    every item once: readers that keep one row per item id (newsboat) would
    otherwise show an article in one of the feeds that share it and leave
    the others empty.  So it lists the combined feed and the custom feeds
    that share no item with a feed listed before them; ``topics.opml`` lists
    the topic feeds and the other custom feeds.  A topic whose items are the
    combined feed's is listed in neither: it would only double it."""
    combined = next(p for p in live if p.info.kind == "all")
    taken = {shown_id(pick) for pick in combined.picks}
    everything = tuple(shown_id(pick) for pick in combined.picks)
    planned = []
    for feed in live:
        ids = [shown_id(pick) for pick in feed.picks]
        same = feed.info.kind == "topic" and tuple(ids) == everything
        if feed.info.kind == "all":
            where = "index.opml"
        elif feed.info.kind == "custom" and ids and taken.isdisjoint(ids):
            where = "index.opml"
            taken.update(ids)
        else:
            where = "" if same else "topics.opml"
        info = dataclasses.replace(feed.info, subscription=where, same_as_all=same)
        planned.append(dataclasses.replace(feed, info=info))
    return planned


def _digest(doc: FeedDoc, picks: Sequence[Pick], names: Sequence[tuple[str, ...]]) -> str:
    """Changes whenever any rendered byte of the feed could: the program
    version, the document's metadata, and per item its article's digest,
    the topics it is listed under and the story it stands for."""
    h = hashlib.sha256(repr((code_id(), doc)).encode("utf-8", "surrogatepass"))
    for pick, item_names in zip(picks, names, strict=True):
        told = None if pick.story is None else pick.story.digest
        h.update(repr((pick.item.digest, item_names, told)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def shown_id(pick: Pick) -> str:
    """The id ``pick`` is published under: its story's, when it stands for one."""
    return pick.id if pick.story is None else pick.story.id


def _updated(pick: Pick) -> float:
    story = pick.story
    return pick.item.updated if story is None or not story.members else max(pick.item.updated,
                                                                          story.members[0].published)


def as_story(article: Article, story: Story | None) -> Article:
    """``article`` as the item of ``story``: the story's fixed id and date
    (a new representative changes the content, not the item readers
    already have), updated when coverage arrives, the others listed."""
    if story is None:
        return article
    coverage = tuple(Related(m.title, m.link, datetime.fromtimestamp(m.published, UTC), m.provider)
                     for m in story.members)
    first = article.published if article.id == story.id else datetime.fromtimestamp(story.first, UTC)
    updated = max(article.updated or article.published, article.published, *(r.published for r in coverage[:1]
                                                                              if r.published is not None))
    return article.replace(id=story.id, published=min(first, article.published), updated=updated,
                           story=(story.id, story.size), coverage=coverage)


def load_items(feed: PlannedFeed, load: Loader, limit: int | None = None) -> tuple[Article, ...]:
    """The feed's first ``limit`` articles (with merged topics), in feed
    order, as the listings show them: bodies are not rendered (listings
    show none).  An article that cannot be loaded any more is left out (it
    vanished mid-run)."""
    found = []
    for pick, names in list(zip(feed.picks, feed.names, strict=True))[:limit]:
        article = load(pick.origin, pick.id)
        if article is not None:
            found.append(as_story(article.replace(topics=names), pick.story))
    return tuple(found)


@dataclass(frozen=True)
class RenderJob:
    """A feed document and the files to render from it: pure data, so jobs
    can run on the executor's workers.  The items travel still encoded, as
    the state store holds them (``raw``): the worker decodes them, so the
    build process neither decodes nor encodes again every article it
    sends (the build process is what the render workers wait on)."""

    doc: FeedDoc  # without items
    files: tuple[tuple[str, str], ...]  # (format, path)
    # per item: encoded Article or ParseResult, id, names, the story it stands for
    raw: tuple[tuple[bytes, str, tuple[str, ...], Story | None], ...] = ()


def render_job(job: RenderJob) -> list[tuple[str, bytes]]:
    """(path, bytes) of each of the job's files."""
    doc = dataclasses.replace(job.doc, items=_items(job.raw, job.doc.strip_params)) if job.raw else job.doc
    return [(path, FORMATS[fmt].render(doc)) for fmt, path in job.files]


def _items(raw: Sequence[tuple[bytes, str, tuple[str, ...], Story | None]],
           strip_params: tuple[str, ...]) -> tuple[Article, ...]:
    found = []
    for blob, article_id, names, story in raw:
        articles = codec.loads_articles(blob)
        article = next((a for a in articles if a.id == article_id), None)
        if article is not None:  # else it vanished mid-run: left out
            found.append(as_story(with_content(article, strip_params, topics=names), story))
    return tuple(found)


def load_job(feed: PlannedFeed, load: RawLoader, formats: Sequence[str] | None = None) -> RenderJob:
    """``feed``'s render job: its items as ``load`` returns them, encoded."""
    raw = tuple((blob, pick.id, names, pick.story) for pick, names in zip(feed.picks, feed.names, strict=True)
                if (blob := load(pick.origin, pick.id)) is not None)
    return RenderJob(feed.doc, tuple((fmt, path) for fmt, path in feed.info.files if formats is None or fmt in formats),
                     raw)


def with_newest(info: FeedInfo, feed: PlannedFeed, load: Loader) -> FeedInfo:
    return dataclasses.replace(info, newest=load_items(feed, load, NEWEST))
