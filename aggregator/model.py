"""The one data type that flows collector -> ranker -> writers.

Everything here is stdlib only, frozen and picklable, so articles can cross
process boundaries (the parse pool, Dask workers) and be cached in the state
store unchanged.  Datetimes are always aware and in UTC; collections are
tuples so an ``Article`` is hashable and cannot be mutated by accident.
"""

from __future__ import annotations

import hashlib
import operator
import pickle
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, NamedTuple

from aggregator.tokens import gist, url_hash


class _Compact:
    """Pickles as ``(class, field values)``: 3-4x faster than the
    per-field ``__getstate__``/``__setstate__`` that ``slots=True``
    dataclasses get, which matters for 100,000 cached articles."""

    __slots__ = ()
    _getters: dict[type, Any] = {}  # noqa: RUF012 - a class-level cache, by design

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        cls = type(self)
        getter = _Compact._getters.get(cls)
        if getter is None:
            names: tuple[str, ...] = cls.__slots__
            getter = _Compact._getters[cls] = operator.attrgetter(*names)
        values = getter(self)
        return cls, values if isinstance(values, tuple) else (values,)


@dataclass(frozen=True, slots=True)
class Provider(_Compact):
    """Who published the article (shown as author and source)."""

    name: str
    domain: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Image(_Compact):
    url: str
    width: int | None = None
    height: int | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Enclosure(_Compact):
    """A file published with the item (podcast audio, video): RSS
    ``enclosure``, Atom ``link rel="enclosure"``, JSON Feed ``attachments``."""

    url: str
    type: str | None = None  # its media type
    length: int | None = None  # in bytes


@dataclass(frozen=True, slots=True)
class Related(_Compact):
    """A related article, published as a link (and in the item's "Related
    coverage" list, newest first)."""

    title: str
    url: str
    published: datetime | None = None
    provider: str | None = None  # its provider's name


@dataclass(frozen=True, slots=True)
class Article(_Compact):
    """One article, from a local file or a remote feed item.

    ``id`` is the key copies merge on and the stable item id in every
    output format: the canonical URL (see :func:`aggregator.urls.canonical_url`)
    of a local article, and of a remote item whose link identifies it; a
    remote item whose link other items of its source share keeps its own
    identity (``item_id``: guid, ``tag:`` URI...; see
    :mod:`aggregator.sources.remote.identity`).  ``url`` is the link published to readers.
    ``content_html`` and ``featured_html`` are already sanitised; ``title``
    and ``summary`` are plain text already stripped of XML-illegal characters.
    A local article's body is kept as written in ``body_source`` (text, base
    URL, whether it is Markdown) until it is published:
    :func:`aggregator.sources.local.articles.with_content` renders and sanitises it into
    ``content_html`` then (most parsed articles are never published, and
    rendering a body costs more than parsing its front matter).
    ``quality`` is ``None`` when the input carried none: the ranker applies
    the configured default, so changing that default does not invalidate
    cached articles.  Every text field is plain text (:func:`aggregator.text.plain_text`).
    """

    id: str
    url: str
    title: str
    published: datetime
    origin: str  # file path or source URL; reported in problems, last tie-break
    summary: str = ""
    content_html: str | None = None
    updated: datetime | None = None
    topics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    category: str | None = None
    kind: str | None = None  # the front matter's ``type`` (article, video, ...)
    quality: float | None = None
    heat: float | None = None
    is_published: bool | None = None
    removed: bool = False
    original_url: str | None = None
    provider: Provider | None = None
    image: Image | None = None
    related: tuple[Related, ...] = ()
    featured_html: str | None = None
    body_source: tuple[str, str, bool] | None = None
    author: str | None = None  # the byline, when the input names one (else the provider is shown)
    video_url: str | None = None  # the page to watch the video on (a video article, or an embedded player)
    item_id: str | None = None  # a remote item's identity within its source (sources/remote/identity.py)
    enclosures: tuple[Enclosure, ...] = ()
    # Set when the item stands for a story of several articles (publishing only,
    # never stored): the story's id and size, and its other coverage, newest first.
    story: tuple[str, int] | None = None
    coverage: tuple[Related, ...] = ()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # One flat list of plain values, the datetimes without their
        # tzinfo (always UTC): half the time of pickling the nested objects,
        # and each pickle of an aware datetime pickles ``timezone.utc``
        # again (~3 µs).  A parse worker pickles every article it reads.
        values = list(_ARTICLE_VALUES(self))
        updated, provider, image = values[_UPDATED], values[_PROVIDER], values[_IMAGE]
        values[_PUBLISHED] = _naive(values[_PUBLISHED])
        values[_UPDATED] = _naive(updated) if updated is not None else None
        values[_PROVIDER] = (provider.name, provider.domain, provider.url) if provider is not None else None
        values[_IMAGE] = (image.url, image.width, image.height, image.title) if image is not None else None
        values[_RELATED] = tuple((r.title, r.url, _naive(r.published) if r.published else None, r.provider)
                                 for r in values[_RELATED])
        return _article, (values,)

    def replace(self, **changes: Any) -> Article:
        """``dataclasses.replace``, without its Python loop over the 22
        fields (3x slower): every item of every feed rendered passes here."""
        values = list(_ARTICLE_VALUES(self))
        for name, value in changes.items():
            values[_ARTICLE_INDEX[name]] = value
        return Article(*values)


_ARTICLE_FIELDS = tuple(f.name for f in fields(Article))
_ARTICLE_VALUES = operator.attrgetter(*_ARTICLE_FIELDS)
_ARTICLE_INDEX = {name: i for i, name in enumerate(_ARTICLE_FIELDS)}
_PUBLISHED, _UPDATED, _PROVIDER, _IMAGE, _RELATED = (
    _ARTICLE_INDEX[name] for name in ("published", "updated", "provider", "image", "related"))


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo is UTC else moment  # any other zone is kept


def _article(values: list[Any]) -> Article:
    """Unpickles :meth:`Article.__reduce__`."""
    published, updated, provider, image = values[_PUBLISHED], values[_UPDATED], values[_PROVIDER], values[_IMAGE]
    values[_PUBLISHED] = published.replace(tzinfo=UTC) if published.tzinfo is None else published
    if updated is not None and updated.tzinfo is None:
        values[_UPDATED] = updated.replace(tzinfo=UTC)
    values[_PROVIDER] = Provider(*provider) if provider is not None else None
    values[_IMAGE] = Image(*image) if image is not None else None
    values[_RELATED] = tuple(Related(title, link, when.replace(tzinfo=UTC) if when and when.tzinfo is None else when,
                                     provider) for title, link, when, provider in values[_RELATED])
    return Article(*values)


@dataclass(frozen=True, slots=True)
class Problem(_Compact):
    """An expected failure, reported instead of raised.

    ``where`` is a file path or URL; ``line`` is set when known.  ``kind``
    says what happened to the input: ``skipped`` (its content was rejected),
    ``failed`` (it could not be read or fetched: an I/O error), or
    ``warning`` (it was used, but something in it was dropped or fixed).
    """

    where: str
    reason: str
    kind: str = "skipped"
    line: int | None = None

    def __str__(self) -> str:
        place = f"{self.where}:{self.line}" if self.line else self.where
        return f"{place}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ParseResult(_Compact):
    """What parsing one input yields: articles and problems, never raises."""

    articles: tuple[Article, ...] = ()
    problems: tuple[Problem, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class FeedInfo(_Compact):
    """One published feed, as listed in the manifest, OPML and index page.

    ``files`` maps a format name (``rss``, ``atom``, ``json``) to the file's
    path relative to the output folder.  ``newest`` holds the first items
    of the feed in feed order; ``per_day`` counts the feed's articles per
    day over the 30 days ending on the day of its newest article (oldest
    first), so pages built from it do not change as time passes.
    """

    kind: str  # "all" | "topic" | "custom" | "archive"
    slug: str
    title: str
    topic: str | None
    items: int
    files: tuple[tuple[str, str], ...]
    updated: datetime | None = None
    newest: tuple[Article, ...] = ()
    per_day: tuple[int, ...] = ()
    month: str | None = None  # archives: "YYYY-MM"
    description: str | None = None
    archive_files: tuple[tuple[str, str], ...] = ()  # live topic feeds: format -> newest month's archive
    name: str = ""  # the short name pages show ("AI", "All topics"); the title is "Site: AI"
    same_as_all: bool = False  # a topic whose items are the combined feed's: listed, not offered twice
    subscription: str = ""  # the OPML file that lists it: "index.opml", "topics.opml" or "" (none)

    @property
    def page(self) -> str | None:
        """The path of the feed's HTML page (live feeds have one)."""
        return dict(self.files).get("html")

    @property
    def anchor(self) -> str:
        return feed_anchor(self.kind, self.slug)

    @property
    def key(self) -> str:
        """Unique among the published feeds (archives share their topic's slug)."""
        return f"{self.kind}:{self.slug}/{self.month}" if self.month else f"{self.kind}:{self.slug}"


class Summary(NamedTuple):
    """What ranking, filtering and change detection need of one article.

    Small and cheap to unpickle: the parse cache keeps one per article next
    to the full :class:`Article`, so a rebuild ranks every article from
    summaries and loads only the articles of feeds that must be rendered.
    ``digest`` changes whenever anything published about the article does.
    Times are POSIX seconds.  A named tuple: 100,000 of them are unpickled
    on every incremental run, and a tuple is the cheapest object to build.
    """

    id: str
    origin: str
    published: float
    updated: float
    title: str
    digest: str
    topics: tuple[str, ...] = ()
    quality: float | None = None
    heat: float | None = None
    is_published: bool | None = None
    removed: bool = False
    category: str | None = None
    kind: str | None = None
    provider: str | None = None  # the provider's name
    domain: str | None = None  # the provider's domain, else the link's host
    link: str | None = None  # the published link, when it is not the id
    gist: str = ""  # its title's and excerpt's content words (story clustering: tokens.gist)
    links: tuple[int, ...] = ()  # hashes of the related links' URLs (story clustering)


# The Summary fields made in summarize(); every other field is the Article
# field of the same name and type, copied as it is (checked below: a field
# added to one and not the other, or retyped in one, fails at import).
_SUMMARY_DERIVED = frozenset({"published", "updated", "digest", "provider", "domain", "link", "gist", "links"})
_SUMMARY_COPIED = tuple(name for name in Summary._fields if name not in _SUMMARY_DERIVED)
_SUMMARY_VALUES = operator.attrgetter(*_SUMMARY_COPIED)


def _check_projection() -> None:
    declared = {f.name: f.type for f in fields(Article)}
    for name in _SUMMARY_COPIED:
        annotation = Summary.__annotations__[name]  # a ForwardRef: a NamedTuple evaluates what it can
        if declared.get(name) != getattr(annotation, "__forward_arg__", annotation):
            raise TypeError(f"Summary.{name} is not Article.{name}: declare it once, or derive it in summarize()")


_check_projection()


def summarize(article: Article, digest: str | None = None) -> Summary:
    """``article``'s summary; ``digest`` defaults to a hash of its pickle."""
    from urllib.parse import urlsplit

    provider = article.provider
    domain = provider.domain if provider and provider.domain else urlsplit(article.url).hostname
    published = article.published.timestamp()
    updated = max(article.updated.timestamp(), published) if article.updated else published
    if digest is None:
        digest = hashlib.blake2b(pickle.dumps(article, protocol=pickle.HIGHEST_PROTOCOL), digest_size=12).hexdigest()
    copied = dict(zip(_SUMMARY_COPIED, _SUMMARY_VALUES(article), strict=True))
    return Summary(**copied, published=published, updated=updated, digest=digest,
                   provider=provider.name if provider else None, domain=(domain or "").lower() or None,
                   link=article.url if article.url != article.id else None, gist=gist(article.title, article.summary),
                   links=tuple(url_hash(r.url) for r in article.related))


def feed_anchor(kind: str, slug: str) -> str:
    """A feed's id on the index page.  Custom slugs are chosen freely, so
    they get a prefix with a dot, which no topic slug contains."""
    return f"custom.{slug}" if kind == "custom" else slug
