"""Custom feeds: named feeds defined by a filter in ``config.yaml``.  Pure.

A custom feed takes every eligible article (after the global filters and
deduplication) that passes *all* of its conditions, ranks them like a topic
feed, and optionally caps the items one provider may contribute, so one
prolific site cannot fill the feed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from aggregator.config.settings import check_ranges, doc
from aggregator.errors import ConfigError
from aggregator.model import Summary
from aggregator.topics import topic_key


@dataclass(frozen=True)
class CustomFeed:
    name: str = field(metadata=doc("The feed's name, shown as its title (required)."))
    slug: str | None = field(default=None, metadata=doc("File name stem under `custom/`: `[a-z0-9-]`, unique. Default: made from the name."))
    description: str = field(default="", metadata=doc("The feed's description. Default: built from the name."))
    topics: tuple[str, ...] = field(default=(), metadata=doc("Topics (any spelling); see `topics_match`. Default: any topic."))
    topics_match: Literal["any", "all"] = field(default="any", metadata=doc("`any`: an article needs one of `topics`; `all`: every one. Default `any`."))
    min_quality: float | None = field(default=None, metadata=doc("Minimum quality (the default quality applies to articles without one).", between=(-1e6, 1e6)))
    providers: tuple[str, ...] = field(default=(), metadata=doc("Only these provider names (case-insensitive)."))
    exclude_providers: tuple[str, ...] = field(default=(), metadata=doc("Never these provider names (case-insensitive)."))
    domains: tuple[str, ...] = field(default=(), metadata=doc("Only articles from these domains or their subdomains (the provider's domain, else the link's host)."))
    exclude_domains: tuple[str, ...] = field(default=(), metadata=doc("Never articles from these domains or their subdomains."))
    categories: tuple[str, ...] = field(default=(), metadata=doc("Only these categories (case-insensitive)."))
    types: tuple[str, ...] = field(default=(), metadata=doc("Only these article types (`type` in the front matter; case-insensitive)."))
    published_only: bool = field(default=False, metadata=doc("Only articles with `published: true`. Default false."))
    keywords: tuple[str, ...] = field(default=(), metadata=doc("Only articles whose title contains one of these words or phrases, as whole words (case-insensitive)."))
    max_per_provider: int | None = field(default=None, metadata=doc("At most this many items from one provider (by name, else domain). Default: no cap.", between=(1, 10_000)))
    max_items: int | None = field(default=None, metadata=doc("Items in the feed. Default: `feeds.max_items`.", between=(1, 10_000)))

    def validate(self) -> None:
        """Raise ValueError("key: message") for values no filter can use."""
        if not self.name.strip():
            raise ValueError("name: must not be empty")
        if self.slug is not None and not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", self.slug):
            raise ValueError(f"slug: expected lowercase letters, digits and single dashes, got {self.slug!r}")
        try:
            check_ranges(self)
        except ConfigError as exc:
            raise ValueError(exc.message) from None


@dataclass(frozen=True)
class Matcher:
    """A :class:`CustomFeed`'s conditions, normalised once for fast matching."""

    topics: frozenset[str]
    every_topic: bool
    min_quality: float | None
    providers: frozenset[str]
    exclude_providers: frozenset[str]
    domains: tuple[str, ...]
    exclude_domains: tuple[str, ...]
    categories: frozenset[str]
    types: frozenset[str]
    published_only: bool
    keywords: re.Pattern[str] | None  # whole words or phrases, case-folded

    @classmethod
    def of(cls, feed: CustomFeed) -> Matcher:
        def folded(values: Iterable[str]) -> frozenset[str]:
            return frozenset(v.strip().casefold() for v in values if v.strip())

        return cls(
            topics=frozenset(k for k in (topic_key(t) for t in feed.topics) if k),
            every_topic=feed.topics_match == "all",
            min_quality=feed.min_quality,
            providers=folded(feed.providers),
            exclude_providers=folded(feed.exclude_providers),
            domains=tuple(sorted(folded(d.lstrip(".") for d in feed.domains))),
            exclude_domains=tuple(sorted(folded(d.lstrip(".") for d in feed.exclude_domains))),
            categories=folded(feed.categories),
            types=folded(feed.types),
            published_only=feed.published_only,
            keywords=_words(folded(feed.keywords)),
        )

    def matches(self, item: Summary, topic_keys: Iterable[str], quality: float) -> bool:
        """Does the article pass every condition?  ``topic_keys`` are its
        canonical topic keys (merged over duplicates), ``quality`` its
        effective quality."""
        if self.topics:
            keys = set(topic_keys)
            if not (self.topics <= keys if self.every_topic else self.topics & keys):
                return False
        if self.min_quality is not None and quality < self.min_quality:
            return False
        if self.published_only and item.is_published is not True:
            return False
        provider = (item.provider or "").casefold()
        if self.providers and provider not in self.providers:
            return False
        if provider and provider in self.exclude_providers:
            return False
        domain = item.domain or ""
        if self.domains and not _in_domains(domain, self.domains):
            return False
        if self.exclude_domains and _in_domains(domain, self.exclude_domains):
            return False
        if self.categories and (item.category or "").casefold() not in self.categories:
            return False
        if self.types and (item.kind or "").casefold() not in self.types:
            return False
        return self.keywords is None or self.keywords.search(item.title.casefold()) is not None


def _words(words: frozenset[str]) -> re.Pattern[str] | None:
    """One regex matching any of ``words`` as a whole word or phrase
    ("model" matches "A model" and "model-based", not "remodeled")."""
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _in_domains(domain: str, domains: tuple[str, ...]) -> bool:
    return bool(domain) and any(domain == d or domain.endswith("." + d) for d in domains)
