"""Settings of the remote sources: the ``fetch:`` section and each ``sources:`` entry.

Both are frozen dataclasses read by the strict loader in :mod:`aggregator.config.settings`.
Every fetch limit in :class:`FetchSettings` can be overridden per source by the
field of the same name in :class:`SourceConfig`; :func:`effective_limits` merges the two.

**Categories and topics.**  Every item of a source gets the source's ``topics``.
When ``category_topics`` is true, the item's own categories (RSS ``<category>``,
Atom ``<category term>``, JSON Feed ``tags``) are added as topics too, after the
source topics, cleaned to plain text, duplicates removed, at most
:data:`MAX_TOPICS` in all.  Item categories are always kept as the article's
``tags`` whether or not they become topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from aggregator.config.settings import Bytes, Seconds, check_ranges, doc
from aggregator.errors import ConfigError
from aggregator.urls import normalize_url
from aggregator.version import __version__

T = TypeVar("T")
MAX_TOPICS = 20
TOPIC_MAX = 100


DEFAULT_USER_AGENT = f"aggregator/{__version__} (+https://github.com/aggregator/aggregator)"


# The ranges of the fetch limits, shared by ``fetch:`` and each source's overrides.
TIMEOUT = (0.001, 3600.0)
DEADLINE = (0.001, 86400.0)
MAX_BYTES = (1, 1024**3)
MAX_REDIRECTS = (0, 20)
MAX_ITEMS = (1, 100_000)
WAIT = (0.0, 365 * 86400.0)


@dataclass(frozen=True)
class FetchSettings:
    """The ``fetch:`` section: limits and politeness for every remote source."""

    user_agent: str = field(default=DEFAULT_USER_AGENT, metadata=doc(
        "User-Agent sent with every request (default: aggregator/<version> (+contact URL))"))
    connect_timeout: Seconds = field(default=Seconds(5.0), metadata=doc(
        "time allowed to open a connection (default 5s)", between=TIMEOUT))
    read_timeout: Seconds = field(default=Seconds(10.0), metadata=doc(
        "longest silence allowed while reading a response (default 10s)", between=TIMEOUT))
    deadline: Seconds = field(default=Seconds(30.0), metadata=doc(
        "wall-clock limit for one source's whole exchange, redirects and body included (default 30s)",
        between=DEADLINE))
    max_bytes: Bytes = field(default=Bytes(10 * 1024 * 1024), metadata=doc(
        "largest response body, counted after decompression (default 10MiB)", between=MAX_BYTES))
    max_redirects: int = field(default=5, metadata=doc(
        "redirects followed per source, http/https only (default 5)", between=MAX_REDIRECTS))
    run_budget: Seconds = field(default=Seconds(300.0), metadata=doc(
        "wall-clock budget for fetching all sources; unfinished ones fail (default 5m)", between=DEADLINE))
    concurrency: int = field(default=10, metadata=doc("sources fetched at the same time (default 10)",
                                                      between=(1, 1000)))
    per_host: int = field(default=2, metadata=doc(
        "sources fetched at the same time from one host:port (default 2)", between=(1, 100)))
    allow_private_networks: bool = field(default=False, metadata=doc(
        "follow redirects from public addresses into loopback/private/link-local ranges (default false)"))
    max_items: int = field(default=200, metadata=doc("items kept per source, newest first (default 200)",
                                                     between=MAX_ITEMS))
    backoff_base: Seconds = field(default=Seconds(1800.0), metadata=doc(
        "wait after the first failure, doubled per further failure (default 30m)", between=WAIT))
    backoff_max: Seconds = field(default=Seconds(7 * 86400.0), metadata=doc(
        "longest wait between attempts at a failing source (default 7d)", between=WAIT))
    retry_after_min: Seconds = field(default=Seconds(60.0), metadata=doc(
        "shortest Retry-After honoured (default 60s)", between=WAIT))
    retry_after_max: Seconds = field(default=Seconds(7 * 86400.0), metadata=doc(
        "longest Retry-After honoured (default 7d)", between=WAIT))
    max_interval: Seconds = field(default=Seconds(86400.0), metadata=doc(
        "longest wait a feed may ask for between fetches (Cache-Control max-age, Expires, RSS ttl; "
        "default 24h)", between=WAIT))

    def validate(self) -> None:
        """Raise :class:`ConfigError` (naming the ``fetch.`` key) for values
        out of range or that do not fit together."""
        check_ranges(self, "fetch.")
        if self.retry_after_min > self.retry_after_max:
            raise ConfigError("fetch.retry_after_min: must not exceed retry_after_max")
        if self.backoff_base > self.backoff_max:
            raise ConfigError("fetch.backoff_base: must not exceed backoff_max")
        if not self.user_agent.strip():
            raise ConfigError("fetch.user_agent: must not be empty")


@dataclass(frozen=True)
class SourceConfig:
    """One entry of ``sources:``: a remote RSS, Atom or JSON Feed.

    Fields left ``None`` take their value from :class:`FetchSettings`.
    """

    url: str = field(metadata=doc("feed URL, http or https (required)"))
    name: str | None = field(default=None, metadata=doc(
        "provider name shown on its items (default: the feed's own title)"))
    topics: tuple[str, ...] = field(default=(), metadata=doc(
        "topics given to every item of the source (default none)"))
    quality: float | None = field(default=None, metadata=doc(
        "quality of the source's items (default: ranking's default quality)", between=(-1e6, 1e6)))
    category_topics: bool = field(default=False, metadata=doc(
        "also use each item's own categories/tags as topics (default false)"))
    max_items: int | None = field(default=None, metadata=doc(
        "items kept, newest first (default fetch.max_items)", between=MAX_ITEMS))
    connect_timeout: Seconds | None = field(default=None, metadata=doc(
        "override of fetch.connect_timeout (default: inherit)", between=TIMEOUT))
    read_timeout: Seconds | None = field(default=None, metadata=doc(
        "override of fetch.read_timeout (default: inherit)", between=TIMEOUT))
    deadline: Seconds | None = field(default=None, metadata=doc(
        "override of fetch.deadline (default: inherit)", between=DEADLINE))
    max_bytes: Bytes | None = field(default=None, metadata=doc(
        "override of fetch.max_bytes (default: inherit)", between=MAX_BYTES))
    max_redirects: int | None = field(default=None, metadata=doc(
        "override of fetch.max_redirects (default: inherit)", between=MAX_REDIRECTS))
    allow_private_networks: bool | None = field(default=None, metadata=doc(
        "override of fetch.allow_private_networks (default: inherit)"))
    user_agent: str | None = field(default=None, metadata=doc(
        "override of fetch.user_agent (default: inherit)"))

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a URL that is not absolute http(s).

        The message starts with the key (``url: ...``); the caller prefixes the
        ``sources[i].`` path and line it knows.
        """
        if normalize_url(self.url) is None:
            raise ConfigError(f"url: expected an absolute http or https URL, got {self.url[:100]!r}")
        check_ranges(self)


@dataclass(frozen=True)
class Limits:
    """The limits that apply to one source: fetch settings with its overrides applied."""

    user_agent: str
    connect_timeout: float
    read_timeout: float
    deadline: float
    max_bytes: int
    max_redirects: int
    allow_private_networks: bool
    max_items: int


def _or(own: T | None, default: T) -> T:
    return default if own is None else own


def effective_limits(settings: FetchSettings, source: SourceConfig) -> Limits:
    """Merge a source's overrides over the global fetch settings."""
    return Limits(
        user_agent=_or(source.user_agent, settings.user_agent),
        connect_timeout=float(_or(source.connect_timeout, settings.connect_timeout)),
        read_timeout=float(_or(source.read_timeout, settings.read_timeout)),
        deadline=float(_or(source.deadline, settings.deadline)),
        max_bytes=int(_or(source.max_bytes, settings.max_bytes)),
        max_redirects=_or(source.max_redirects, settings.max_redirects),
        allow_private_networks=_or(source.allow_private_networks, settings.allow_private_networks),
        max_items=_or(source.max_items, settings.max_items),
    )
