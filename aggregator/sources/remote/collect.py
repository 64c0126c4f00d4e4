"""Fetch every due source concurrently within the run budget.

Concurrency is bounded twice: a global semaphore (``concurrency``) and one per
``host:port`` (``per_host``), taken in that order of scarcity (host first) so
a task waiting for a busy host does not hold a global slot.  The run budget
bounds the whole batch: when it runs out, unfinished sources are cancelled and
reported failed ("run budget exhausted"), and the run goes on with what it has.
Parsing runs in a small thread pool after the slots are released, so a large
feed does not stall the event loop's timers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from aggregator.config.sources import FetchSettings, Limits, SourceConfig
from aggregator.errors import SourceError
from aggregator.sources.remote.articles import Built, build_articles
from aggregator.sources.remote.fetch import HttpFailure, Response, Validators, fetch
from aggregator.sources.remote.guard import RedirectGuard, RedirectRefused, Resolver
from aggregator.sources.remote.outcome import Outcome, failure, fresh, not_modified
from aggregator.sources.remote.parse import discovered_feed, parse_feed, sniff
from aggregator.sources.remote.state import SourceState
from aggregator.urls import resolve_url

log = logging.getLogger(__name__)
BUDGET_EXHAUSTED = "run budget exhausted"


@dataclass(frozen=True)
class Job:
    """A source due for fetching, with everything it needs from the store."""

    source: SourceConfig
    limits: Limits
    state: SourceState
    first_seen: Mapping[str, datetime]


class Fetcher:
    """Runs :class:`Job` s for one run; holds the client, the semaphores and the clock."""

    def __init__(self, client: httpx.AsyncClient, settings: FetchSettings, now: datetime, resolver: Resolver,
                 executor: Executor, pins: dict[str, list[str]] | None = None) -> None:
        self.client, self.settings, self.now = client, settings, now
        self.resolver, self.executor, self.pins = resolver, executor, pins
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.hosts: dict[str, asyncio.Semaphore] = {}
        self.started: set[str] = set()

    async def run_all(self, jobs: list[Job]) -> list[Outcome]:
        """One outcome per job, in order; none later than the run budget (plus unwinding)."""
        tasks = [asyncio.create_task(self.run_one(job)) for job in jobs]
        if not tasks:
            return []
        _done, pending = await asyncio.wait(tasks, timeout=self.settings.run_budget)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5.0)  # cancelled httpx streams unwind promptly
        return [self._result(task, job) for task, job in zip(tasks, jobs, strict=True)]

    def _result(self, task: asyncio.Task[Outcome], job: Job) -> Outcome:
        if task.done() and not task.cancelled():
            error = task.exception()
            if error is None:
                return task.result()
            reason = f"internal error: {type(error).__name__}: {error}"  # a BaseException run_one let through
            return failure(job.source, job.state, reason, None, None, self.now, 0.0, self.settings)
        started = job.source.url in self.started
        return failure(job.source, job.state, BUDGET_EXHAUSTED, None, None, self.now, 0.0, self.settings,
                       count=started)

    async def run_one(self, job: Job) -> Outcome:
        """Fetch, parse and judge one source; every ``Exception`` becomes a failed outcome."""
        source, state, started = job.source, job.state, time.monotonic()
        try:
            async with self._host_slot(source.url), self.slots:
                self.started.add(source.url)
                started = time.monotonic()
                guard = RedirectGuard(source.url, self.resolver, job.limits.allow_private_networks, self.pins)
                # Every source that answered before is asked conditionally, with or without items.
                validators = Validators(state.etag, state.last_modified)
                url = state.feed_url or source.url
                response = await fetch(self.client, url, job.limits, validators, guard)
                response, found, feed_url = await self._autodiscover(response, job, guard)
            if response.status == 304:
                return not_modified(source, state, response, self.now, _since(started), job.limits.max_items,
                                    self.settings.max_interval)
            loop = asyncio.get_running_loop()
            built, warning = await loop.run_in_executor(self.executor, _parse, job, response.body,
                                                        response.headers, response.url, self.now)
            if found:
                warning = "; ".join(w for w in (found, warning) if w)
            return fresh(source, state, response, built, warning, self.now, _since(started),
                         self.settings.max_interval, feed_url or state.feed_url)
        except HttpFailure as exc:
            return self._failed(job, str(exc), exc.status, exc.retry_after, started)
        except SourceError as exc:
            return self._failed(job, str(exc), 200, None, started)
        except Exception as exc:  # one source must never crash the run; CancelledError is not an Exception
            log.exception("%s: unexpected error", source.url)
            return self._failed(job, f"internal error: {type(exc).__name__}: {exc}", None, None, started)

    async def _autodiscover(self, response: Response, job: Job,
                            guard: RedirectGuard) -> tuple[Response, str | None, str | None]:
        """An HTML page instead of a feed: the feed it names as its
        ``<link rel="alternate">``, fetched (one hop, through the redirect
        guard: the page chose it), a line saying so, and that feed's URL
        (kept: later runs fetch it directly, conditionally)."""
        if response.status != 200 or sniff(response.body) != "html":
            return response, None, None
        link = discovered_feed(response.body)
        target = resolve_url(link, response.url) if link else None
        if target is None or target == response.url:
            return response, None, None  # parse_feed says "an HTML page"
        try:
            await guard.check(target)
        except RedirectRefused as exc:
            raise HttpFailure(f"autodiscovered feed refused: {exc}") from None
        feed = await fetch(self.client, target, job.limits, Validators(), guard)
        note = f"an HTML page: its feed {target} is used (autodiscovery; list that URL to skip the page)"
        return feed, note, target

    def _failed(self, job: Job, reason: str, status: int | None, retry_after: str | None,
                started: float) -> Outcome:
        # Not logged: the failure is a problem of the run, printed once with the others.
        return failure(job.source, job.state, reason, status, retry_after, self.now, _since(started),
                       self.settings)

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = f"{(parts.hostname or '').lower()}:{port}"
        if key not in self.hosts:
            self.hosts[key] = asyncio.Semaphore(self.settings.per_host)
        return self.hosts[key]


def _parse(job: Job, body: bytes, headers: Mapping[str, str], base_url: str,
           now: datetime) -> tuple[Built, str | None]:
    # Runs in a worker thread: pure work on bytes, no store access.
    feed = parse_feed(body, headers)
    built = build_articles(feed, job.source, base_url, job.limits.max_items, job.first_seen, now)
    return built, feed.warning


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
