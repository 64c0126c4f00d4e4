"""Settings of the remote sources: the ``fetch:`` section and each ``sources:`` entry.

Both are frozen dataclasses read by the strict loader in :mod:`aggregator.settings`.
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

import math
from dataclasses import dataclass, field
from typing import TypeVar

from .. import __version__
from ..errors import ConfigError
from ..settings import Bytes, Seconds
from ..urls import normalize_url

T = TypeVar("T")
MAX_TOPICS = 20
TOPIC_MAX = 100


DEFAULT_USER_AGENT = f"aggregator/{__version__} (+https://github.com/aggregator/aggregator)"


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True)
class FetchSettings:
    """The ``fetch:`` section: limits and politeness for every remote source."""

    user_agent: str = field(default=DEFAULT_USER_AGENT, metadata=_doc(
        "User-Agent sent with every request (default: aggregator/<version> (+contact URL))"))
    connect_timeout: Seconds = field(default=Seconds(5.0), metadata=_doc(
        "time allowed to open a connection (default 5s)"))
    read_timeout: Seconds = field(default=Seconds(10.0), metadata=_doc(
        "longest silence allowed while reading a response (default 10s)"))
    deadline: Seconds = field(default=Seconds(30.0), metadata=_doc(
        "wall-clock limit for one source's whole exchange, redirects and body included (default 30s)"))
    max_bytes: Bytes = field(default=Bytes(10 * 1024 * 1024), metadata=_doc(
        "largest response body, counted after decompression (default 10MiB)"))
    max_redirects: int = field(default=5, metadata=_doc(
        "redirects followed per source, http/https only (default 5)"))
    run_budget: Seconds = field(default=Seconds(300.0), metadata=_doc(
        "wall-clock budget for fetching all sources; unfinished ones fail (default 5m)"))
    concurrency: int = field(default=10, metadata=_doc("sources fetched at the same time (default 10)"))
    per_host: int = field(default=2, metadata=_doc(
        "sources fetched at the same time from one host:port (default 2)"))
    allow_private_networks: bool = field(default=False, metadata=_doc(
        "follow redirects from public addresses into loopback/private/link-local ranges (default false)"))
    max_items: int = field(default=200, metadata=_doc("items kept per source, newest first (default 200)"))
    backoff_base: Seconds = field(default=Seconds(1800.0), metadata=_doc(
        "wait after the first failure, doubled per further failure (default 30m)"))
    backoff_max: Seconds = field(default=Seconds(7 * 86400.0), metadata=_doc(
        "longest wait between attempts at a failing source (default 7d)"))
    retry_after_min: Seconds = field(default=Seconds(60.0), metadata=_doc(
        "shortest Retry-After honoured (default 60s)"))
    retry_after_max: Seconds = field(default=Seconds(7 * 86400.0), metadata=_doc(
        "longest Retry-After honoured (default 7d)"))

    def validate(self) -> None:
        """Raise :class:`ConfigError` (naming the ``fetch.`` key) for impossible values."""
        for name in ("connect_timeout", "read_timeout", "deadline", "run_budget"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"fetch.{name}: must be greater than 0")
        for name in ("concurrency", "per_host", "max_items", "max_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"fetch.{name}: must be at least 1")
        if self.max_redirects < 0:
            raise ConfigError("fetch.max_redirects: must not be negative")
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

    url: str = field(metadata=_doc("feed URL, http or https (required)"))
    name: str | None = field(default=None, metadata=_doc(
        "provider name shown on its items (default: the feed's own title)"))
    topics: tuple[str, ...] = field(default=(), metadata=_doc(
        "topics given to every item of the source (default none)"))
    quality: float | None = field(default=None, metadata=_doc(
        "quality of the source's items (default: ranking's default quality)"))
    category_topics: bool = field(default=False, metadata=_doc(
        "also use each item's own categories/tags as topics (default false)"))
    max_items: int | None = field(default=None, metadata=_doc(
        "items kept, newest first (default fetch.max_items)"))
    connect_timeout: Seconds | None = field(default=None, metadata=_doc(
        "override of fetch.connect_timeout (default: inherit)"))
    read_timeout: Seconds | None = field(default=None, metadata=_doc(
        "override of fetch.read_timeout (default: inherit)"))
    deadline: Seconds | None = field(default=None, metadata=_doc(
        "override of fetch.deadline (default: inherit)"))
    max_bytes: Bytes | None = field(default=None, metadata=_doc(
        "override of fetch.max_bytes (default: inherit)"))
    max_redirects: int | None = field(default=None, metadata=_doc(
        "override of fetch.max_redirects (default: inherit)"))
    allow_private_networks: bool | None = field(default=None, metadata=_doc(
        "override of fetch.allow_private_networks (default: inherit)"))
    user_agent: str | None = field(default=None, metadata=_doc(
        "override of fetch.user_agent (default: inherit)"))

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a URL that is not absolute http(s) or an impossible value.

        The message starts with the key (``url: ...``); the caller prefixes the
        ``sources[i].`` path and line it knows.
        """
        if normalize_url(self.url) is None:
            raise ConfigError(f"url: expected an absolute http or https URL, got {self.url[:100]!r}")
        if self.quality is not None and not math.isfinite(self.quality):
            raise ConfigError("quality: must be a finite number")
        if self.max_items is not None and self.max_items < 1:
            raise ConfigError("max_items: must be at least 1")
        for name in ("connect_timeout", "read_timeout", "deadline"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name}: must be greater than 0")
        if self.max_bytes is not None and self.max_bytes < 1:
            raise ConfigError("max_bytes: must be at least 1")
        if self.max_redirects is not None and self.max_redirects < 0:
            raise ConfigError("max_redirects: must not be negative")


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
