"""Remote sources: RSS, Atom and JSON Feed over HTTP, robust and polite, nothing lost.

The one entry point is :func:`collect_sources`.  It fetches every due source
concurrently within hard limits (see :mod:`aggregator.sources.remote.fetch` and
:class:`FetchSettings`), parses the bodies (:mod:`aggregator.sources.remote.parse`),
turns items into :class:`~aggregator.model.Article` values
(:mod:`aggregator.sources.remote.articles`) and records what happened in the SQLite
state store (:mod:`aggregator.sources.remote.state`), in one transaction.

Expected failures are values: each source gets a :class:`SourceReport`, and a
failure is also a ``Problem(kind="failed")``.  A source that fails, is
deferred (Retry-After, backoff) or is skipped (``offline``) contributes its
last good items; no failure ever empties a source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aggregator.config.sources import FetchSettings, SourceConfig

if TYPE_CHECKING:
    from aggregator.sources.remote.outcome import SourceReport
    from aggregator.sources.remote.sources import SourcesResult, collect_sources, prune_sources

__all__ = [
    "FetchSettings", "SourceConfig", "SourceReport", "SourcesResult", "collect_sources", "prune_sources",
]


def __getattr__(name: str) -> Any:
    # Fetching pulls in httpx, feedparser and asyncio; the config (which
    # needs only the settings) and a build without sources never pay for it.
    if name in ("SourcesResult", "collect_sources", "prune_sources", "SourceReport"):
        from aggregator.sources.remote import sources

        return getattr(sources, name)
    raise AttributeError(name)
