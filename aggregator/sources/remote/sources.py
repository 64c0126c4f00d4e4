"""Fetching every configured source: the body of :func:`collect_sources`."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from aggregator.config.sources import FetchSettings, SourceConfig, effective_limits
from aggregator.model import Article, Problem
from aggregator.sources.remote.collect import Fetcher, Job
from aggregator.sources.remote.guard import Resolver, pinned_transport, system_resolver
from aggregator.sources.remote.outcome import Outcome, SourceReport, untouched
from aggregator.sources.remote.state import (
    SourceState,
    ensure_schema,
    load_first_seen,
    load_state,
    prune_sources,
    save_first_seen,
    save_state,
    transaction,
)

__all__ = [
    "FetchSettings", "SourceConfig", "SourceReport", "SourcesResult", "collect_sources", "prune_sources",
]


@dataclass(frozen=True)
class SourcesResult:
    """Everything the remote sources contribute to a run (reports in config order)."""

    articles: tuple[Article, ...]
    reports: tuple[SourceReport, ...]
    problems: tuple[Problem, ...]


def collect_sources(
    sources: Sequence[SourceConfig],
    settings: FetchSettings,
    conn: sqlite3.Connection,
    now: datetime,
    *,
    offline: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Callable[[str], Sequence[str]] | None = None,
) -> SourcesResult:
    """Fetch (or reuse) every source and return its articles, reports and problems.

    ``now`` (aware UTC) is the run's clock for state times and first-seen
    dates, never later than the real clock: a stored time beyond what a
    run at ``now`` could have stored (a retry time past the longest wait, a
    first-seen date after ``now``, written by a run whose clock was ahead)
    is brought back to that bound.  ``offline`` uses stored items only and opens no connection;
    ``transport`` and ``resolver`` replace httpx's network transport and the
    redirect guard's DNS lookups (tests).  Never raises for a source's failure.
    """
    ensure_schema(conn)
    unique, problems = _unique(sources)
    outcomes: dict[str, Outcome] = {}
    jobs: list[Job] = []
    for source in unique:
        limits, state = effective_limits(settings, source), _bounded(load_state(conn, source.url), now, settings)
        if offline:
            outcomes[source.url] = untouched(source, state, "offline", limits.max_items)
        elif state.not_before is not None and now < state.not_before:
            outcomes[source.url] = untouched(source, state, "deferred", limits.max_items)
        elif state.fresh_until is not None and now < state.fresh_until:
            outcomes[source.url] = untouched(source, state, "not-due", limits.max_items)
        else:
            seen = {item: min(when, now) for item, when in load_first_seen(conn, source.url).items()}
            jobs.append(Job(source, limits, state, seen))
    if jobs:
        fetched = _run(jobs, settings, now, transport, resolver or system_resolver)
        outcomes.update((job.source.url, outcome) for job, outcome in zip(jobs, fetched, strict=True))
    ordered = [outcomes[source.url] for source in unique]
    _store(conn, ordered)
    return SourcesResult(
        articles=tuple(article for outcome in ordered for article in outcome.articles),
        reports=tuple(outcome.report for outcome in ordered),
        problems=tuple(problems) + tuple(p for outcome in ordered for p in outcome.problems),
    )


def _bounded(state: SourceState, now: datetime, settings: FetchSettings) -> SourceState:
    """``state`` with its retry time no later than the longest wait from ``now``."""
    latest = now + timedelta(seconds=max(settings.backoff_max, settings.retry_after_max))
    if state.not_before is not None and state.not_before > latest:
        return dataclasses.replace(state, not_before=latest)
    return state


def _unique(sources: Sequence[SourceConfig]) -> tuple[list[SourceConfig], list[Problem]]:
    seen: dict[str, SourceConfig] = {}
    problems = []
    for source in sources:
        if source.url in seen:
            problems.append(Problem(source.url, "source listed twice; the first entry is used", "warning"))
        else:
            seen[source.url] = source
    return list(seen.values()), problems


def _store(conn: sqlite3.Connection, outcomes: list[Outcome]) -> None:
    with transaction(conn):
        for outcome in outcomes:
            if outcome.state is not None:
                save_state(conn, outcome.state)
            if outcome.first_seen is not None:
                save_first_seen(conn, outcome.report.url, outcome.first_seen)


def _run(jobs: list[Job], settings: FetchSettings, now: datetime, transport: httpx.AsyncBaseTransport | None,
         resolver: Resolver) -> list[Outcome]:
    """Run the fetches on a private event loop.

    Not ``asyncio.run``: it joins the default executor on exit, so one DNS
    lookup hanging in a thread would hold the run past its budget.  Here the
    pools are shut down without waiting.
    """
    parse_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="aggregator-parse")
    dns_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="aggregator-dns")
    loop = asyncio.new_event_loop()
    loop.set_default_executor(dns_pool)  # asyncio.to_thread, used by the redirect guard
    try:
        return loop.run_until_complete(_fetch_all(jobs, settings, now, transport, resolver, parse_pool))
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=5.0))
        parse_pool.shutdown(wait=False, cancel_futures=True)
        dns_pool.shutdown(wait=False, cancel_futures=True)
        loop.close()


async def _fetch_all(jobs: list[Job], settings: FetchSettings, now: datetime,
                     transport: httpx.AsyncBaseTransport | None, resolver: Resolver,
                     parse_pool: ThreadPoolExecutor) -> list[Outcome]:
    pool = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
    # trust_env=False: proxy variables would otherwise take precedence over ``transport`` and
    # could route a loopback source through a proxy; proxies are not supported.
    pins: dict[str, list[str]] = {}  # redirect targets' approved addresses (guard.PinnedBackend)
    if transport is None:
        transport = pinned_transport(resolver, pins, pool)
    async with httpx.AsyncClient(transport=transport, follow_redirects=False, limits=pool,
                                 trust_env=False) as client:
        return await Fetcher(client, settings, now, resolver, parse_pool, pins).run_all(jobs)
