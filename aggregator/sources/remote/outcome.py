"""What one source yields in a run: its report, articles, problems and new state.

Pure functions from (source, stored state, what happened) to an
:class:`Outcome`.  The one rule every branch keeps: a source that does not
deliver fresh items falls back to its last good items; nothing here ever
empties a source.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from aggregator.config.sources import FetchSettings, SourceConfig
from aggregator.model import Article, Problem
from aggregator.sources.remote.articles import Built, reapply
from aggregator.sources.remote.fetch import Response
from aggregator.sources.remote.raw import DROP_REASONS, Drop
from aggregator.sources.remote.schedule import min_interval, next_attempt
from aggregator.sources.remote.state import SourceState

Status = Literal["fresh", "cached", "stale", "deferred", "failed", "offline", "not-due"]
STATUSES: tuple[Status, ...] = ("fresh", "cached", "not-due", "deferred", "stale", "failed", "offline")


@dataclass(frozen=True)
class SourceReport:
    """How one source fared in a run.

    ``status``: ``fresh`` (fetched and parsed now), ``cached`` (304 Not
    Modified, stored items reused), ``not-due`` (not contacted: inside the
    feed's own minimum interval, Cache-Control/Expires/``<ttl>``),
    ``deferred`` (not contacted: Retry-After or backoff after failures still
    running; not a failure of this run), ``stale`` (failed now, last good
    items used), ``failed`` (failed and nothing stored), ``offline`` (not
    contacted: offline run).  ``items`` counts the articles used, ``dropped``
    the items rejected in this fetch (no usable link, wrong types).  ``error``
    is the failure reason, or for ``deferred`` until when and why.
    """

    url: str
    name: str | None
    status: Status
    items: int
    dropped: int = 0
    error: str | None = None
    http_status: int | None = None
    seconds: float = 0.0
    merged: int = 0  # repeated entries (same identity) merged into the newest
    cut: int = 0  # items beyond ``max_items`` (the oldest), left out
    drops: tuple[tuple[str, int], ...] = ()  # per reason code (raw.DROP_REASONS): entries or fields left out
    failing_since: datetime | None = None  # the first failure of its current run of failures
    next_attempt: datetime | None = None  # when a failing or deferred source is tried again

    @property
    def failed(self) -> bool:
        """Whether this source counts as a failure for the run's exit code."""
        return self.status in ("stale", "failed")


@dataclass(frozen=True)
class Outcome:
    report: SourceReport
    articles: tuple[Article, ...]
    state: SourceState | None = None  # None: nothing to store
    first_seen: dict[str, datetime] | None = None  # None: leave the stored times alone
    problems: tuple[Problem, ...] = field(default_factory=tuple)


def fresh(source: SourceConfig, old: SourceState, response: Response, built: Built, warning: str | None,
          now: datetime, seconds: float, max_interval: float, feed_url: str | None = None) -> Outcome:
    """A 200 with a feed parsed into ``built``."""
    problems = drop_problems(source.url, built.drops)
    if warning:
        problems.append(Problem(source.url, warning, "warning"))
    articles = built.articles
    if not articles and old.items:
        # An empty answer is more often a glitch than a feed that really emptied itself.
        reason = f"feed has no usable items; keeping {len(old.items)} earlier ones"
        problems.append(Problem(source.url, reason, "warning"))
        articles = old.items
    wait = min_interval(response.headers, built.ttl, now, max_interval)
    state = SourceState(source.url, response.validators.etag, response.validators.last_modified, articles,
                        0, None, response.status, None, now, now, now + timedelta(seconds=wait) if wait else None,
                        None, feed_url)
    report = SourceReport(source.url, source.name, "fresh", len(articles), built.dropped, None,
                          response.status, seconds, built.merged, built.cut, _counts(built.drops))
    return Outcome(report, articles, state, built.first_seen, tuple(problems))


def drop_problems(where: str, drops: tuple[Drop, ...]) -> list[Problem]:
    """One warning per reason code: how many, the code, and the first few cases."""
    problems = []
    for code, count in _counts(drops):
        details = [d.detail for d in drops if d.code == code]
        shown = "; ".join(details[:3]) + (f"; and {len(details) - 3} more" if len(details) > 3 else "")
        problems.append(Problem(where, f"{count} × {DROP_REASONS[code]} [{code}]: {shown}", "warning"))
    return problems


def _counts(drops: tuple[Drop, ...]) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for d in drops:
        counts[d.code] = counts.get(d.code, 0) + 1
    return tuple(sorted(counts.items()))


def not_modified(source: SourceConfig, old: SourceState, response: Response, now: datetime,
                 seconds: float, max_items: int, max_interval: float) -> Outcome:
    """A 304 answer to our conditional GET: the stored items are current."""
    articles = reapply(old.items, source, max_items)
    wait = min_interval(response.headers, None, now, max_interval)  # a 304 carries no <ttl>: headers only
    state = dataclasses.replace(old, consecutive_failures=0, last_error=None, last_status=304,
                                not_before=None, last_attempt=now, last_success=now, failing_since=None,
                                fresh_until=now + timedelta(seconds=wait) if wait else None)
    report = SourceReport(source.url, source.name, "cached", len(articles), 0, None, 304, seconds)
    return Outcome(report, articles, state)


def failure(source: SourceConfig, old: SourceState, reason: str, status: int | None, retry_after: str | None,
            now: datetime, seconds: float, settings: FetchSettings, *, count: bool = True) -> Outcome:
    """Any failure: keep the last good items (``stale``) and schedule the next attempt.

    ``count=False`` records the error without growing the backoff (the source
    was never contacted, e.g. the run budget ran out while it waited).
    """
    max_items = settings.max_items if source.max_items is None else source.max_items
    articles = reapply(old.items, source, max_items)
    failures = old.consecutive_failures + 1 if count else old.consecutive_failures
    honoured = retry_after if status in (429, 503) else None
    not_before = next_attempt(now, failures, honoured, settings) if count else old.not_before
    state = dataclasses.replace(old, consecutive_failures=failures, last_error=reason, last_status=status,
                                not_before=not_before, last_attempt=now if count else old.last_attempt,
                                failing_since=old.failing_since or (now if count else None),
                                # A discovered feed that is gone: the page is asked again next time.
                                feed_url=None if status in (404, 410) else old.feed_url)
    status_word: Status = "stale" if articles else "failed"
    report = SourceReport(source.url, source.name, status_word, len(articles), 0, reason, status, seconds,
                          failing_since=state.failing_since, next_attempt=not_before)
    when = []
    if state.failing_since is not None and failures > 1:
        when.append(f"failing since {state.failing_since.isoformat()} ({failures} attempts)")
    if not_before is not None:
        when.append(f"next attempt {not_before.isoformat()}")
    detail = f"{reason} ({'; '.join(when)})" if when else reason
    return Outcome(report, articles, state, None, (Problem(source.url, detail, "failed"),))


def untouched(source: SourceConfig, old: SourceState, status: Literal["deferred", "offline", "not-due"],
              max_items: int) -> Outcome:
    """A source not contacted this run: its stored items, no state change."""
    articles = reapply(old.items, source, max_items)
    note = None
    if status == "deferred" and old.not_before is not None:
        since = f"failing since {old.failing_since.isoformat()}, " if old.failing_since else ""
        note = f"{since}next attempt {old.not_before.isoformat()}"
        note += f"; last error: {old.last_error}" if old.last_error else ""
    elif status == "not-due" and old.fresh_until is not None:
        note = f"not due before {old.fresh_until.isoformat()} (the feed's own minimum interval)"
    report = SourceReport(source.url, source.name, status, len(articles), 0, note, None, 0.0,
                          failing_since=old.failing_since if status == "deferred" else None,
                          next_attempt=old.not_before if status == "deferred" else old.fresh_until)
    return Outcome(report, articles)
