"""WebSub (https://www.w3.org/TR/websub/): feeds advertise a hub, the hub is
told when a feed changed.

When ``websub.hub`` is configured, every feed carries a ``rel="hub"`` link
to it next to its ``rel="self"`` link (see the writers), and after a build
the hub gets one publish ping per feed file whose bytes changed in that
run: a form-encoded POST of ``hub.mode=publish&hub.url=<the feed's self
URL>``.  A 2xx answer is success; anything else (another status, a
redirect, a refused connection, a timeout) is a ``failed`` problem naming
the hub and the feed: reported, never fatal.

Pings that were not accepted are not lost: they are kept in the state
store (table ``websub_pending``, owned by this module) and sent again on the next run, together with that run's changes.
The changed feeds are recorded there and committed *before* the hub is
contacted, so even a run killed while pinging leaves them pending; a row
is deleted once the hub accepted its ping.  A pending feed that is no
longer published is dropped without a ping.  ``--offline`` runs only
record their changes, for the next run to send.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from aggregator.model import Problem
from aggregator.state.store import Schema
from aggregator.state.store import ensure_schema as state_schema

if TYPE_CHECKING:  # httpx is imported when a ping is sent, not at start-up
    import httpx

    from aggregator.config import Config
    from aggregator.publishing.feeds import PlannedFeed
    from aggregator.report import Report

SCHEMA = "CREATE TABLE IF NOT EXISTS websub_pending (url TEXT PRIMARY KEY)"
_MAX_BODY = 64 * 1024  # a hub's answer is read (to reuse the connection) up to this much


TABLES = Schema("publishing.websub", 1, ("websub_pending",), (SCHEMA,), adopt=True)


def ensure_schema(conn: sqlite3.Connection) -> None:
    state_schema(conn, TABLES)


def pending(conn: sqlite3.Connection) -> list[str]:
    """Feed URLs whose ping the hub has not accepted yet, sorted."""
    ensure_schema(conn)
    return [url for (url,) in conn.execute("SELECT url FROM websub_pending ORDER BY url")]


def ping(hub: str, urls: Sequence[str], *, timeout: float, transport: httpx.BaseTransport | None = None,
         user_agent: str, budget: float | None = None) -> list[Problem]:
    """Send one publish ping per URL to ``hub``; a ``failed`` problem per
    ping not accepted.  After a failure to reach the hub at all (connection
    refused, timeout), or once ``budget`` seconds have passed, the remaining
    URLs are not tried: one more problem says how many, and why."""
    return _ping_all(hub, urls, timeout=timeout, transport=transport, user_agent=user_agent, budget=budget)[1]


def _ping_all(hub: str, urls: Sequence[str], *, timeout: float, transport: httpx.BaseTransport | None,
              user_agent: str, budget: float | None) -> tuple[list[str], list[Problem]]:
    """(URLs the hub accepted, problems)."""
    accepted: list[str] = []
    problems: list[Problem] = []
    tried = 0
    unreached = False  # the last ping found no hub: why the rest were not tried
    deadline = time.monotonic() + budget if budget is not None else None
    for url, why, reached in send_pings(hub, urls, timeout=timeout, transport=transport, user_agent=user_agent,
                                        deadline=deadline):
        tried += 1
        unreached = not reached
        if why is None:
            accepted.append(url)
        else:
            problems.append(Problem(hub, f"WebSub hub ping failed: {why} (feed {url})", "failed"))
    if tried < len(urls):
        why = "the hub could not be reached" if unreached else f"the run's WebSub budget of {budget:g}s was spent"
        problems.append(Problem(hub, f"WebSub hub ping not sent for {len(urls) - tried} more feed(s): {why}",
                                "failed"))
    return accepted, problems


def send_pings(hub: str, urls: Iterable[str], *, timeout: float, transport: httpx.BaseTransport | None = None,
               user_agent: str, deadline: float | None = None) -> Iterator[tuple[str, str | None, bool]]:
    """Ping ``hub`` for each URL in turn; yield ``(url, None, True)`` when
    the hub accepted it, ``(url, reason, reached)`` when not.  Stops after a
    failure to reach the hub (refused, timed out: ``reached`` is false; the
    remaining URLs would only wait for the same timeout), and at
    ``deadline`` (``time.monotonic()``): no ping starts after it."""
    # trust_env=False: no proxy variables (a loopback hub stays loopback);
    # redirects are not followed: a redirected POST loses its body or method.
    import httpx

    with httpx.Client(transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=False,
                      trust_env=False, headers={"User-Agent": user_agent}) as client:
        for url in urls:
            if deadline is not None and time.monotonic() >= deadline:
                return
            why, reached = _send(client, hub, url, timeout, deadline)
            yield url, why, reached
            if not reached:
                return


def _send(client: httpx.Client, hub: str, url: str, timeout: float,
          deadline: float | None = None) -> tuple[str | None, bool]:
    """(None if accepted else why, whether the hub answered at all)."""
    import httpx

    try:
        with client.stream("POST", hub, data={"hub.mode": "publish", "hub.url": url}) as response:
            read = 0
            # Drained, so the connection can be reused; not past the budget
            # (the status is known: a hub dripping its answer is not waited for).
            for chunk in response.iter_raw():
                read += len(chunk)
                if read > _MAX_BODY or (deadline is not None and time.monotonic() > deadline):
                    break
    except httpx.TimeoutException as exc:
        return f"{type(exc).__name__} (timeout {timeout:g}s)", False
    except httpx.TransportError as exc:
        return (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__), False
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # nothing was sent
        return f"{type(exc).__name__}: {exc}", False
    status = response.status_code
    if 200 <= status < 300:
        return None, True
    why = f"HTTP {status} {response.reason_phrase}".rstrip()
    location = response.headers.get("location")
    if 300 <= status < 400 and location:
        why += f" (redirect to {location[:200]} not followed: configure the hub's own URL)"
    return why, True


def self_urls(feeds: Iterable[PlannedFeed]) -> dict[str, str]:
    """Output path -> self URL (as written in the feed) of every feed file."""
    from aggregator.writers.values import uri  # a no-change run imports this module: keep it light

    # The feed files (a page has no self URL and is never pinged).
    return {path: uri(url) or url for feed in feeds for fmt, path in feed.info.files
            if (url := dict(feed.doc.urls).get(fmt))}


def queue(conn: sqlite3.Connection, feeds: Sequence[PlannedFeed], written: Iterable[str]) -> None:
    """Record the feeds to ping: those with a file ``written`` this run; a
    pending feed no longer published is dropped.  The build frame commits
    after this and before :func:`announce`, so a run killed while pinging
    leaves them pending."""
    ensure_schema(conn)
    published = self_urls(feeds)
    changed = {published[path] for path in written if path in published}
    current = set(published.values())
    conn.executemany("INSERT OR IGNORE INTO websub_pending (url) VALUES (?)", ((u,) for u in sorted(changed)))
    gone = [url for url in pending(conn) if url not in current]
    conn.executemany("DELETE FROM websub_pending WHERE url = ?", ((u,) for u in gone))


def announce(config: Config, conn: sqlite3.Connection, report: Report, *,
             offline: bool = False, transport: httpx.BaseTransport | None = None) -> None:
    """Ping the hub for every pending feed (:func:`queue`); a row goes once
    the hub accepted its ping.  Records ``report.pinged`` and
    ``report.pending``; every ping not accepted is a ``failed`` problem."""
    hub = config.websub.hub
    if not hub:
        return
    import httpx

    if transport is not None and not isinstance(transport, httpx.BaseTransport):
        raise TypeError("a WebSub ping needs a sync httpx transport (httpx.MockTransport is both)")
    started = time.perf_counter()
    report.hub = hub
    todo = pending(conn)
    if not offline and todo:
        accepted, problems = _ping_all(hub, todo, timeout=config.websub.timeout, transport=transport,
                                       user_agent=config.fetch.user_agent, budget=config.websub.budget)
        conn.executemany("DELETE FROM websub_pending WHERE url = ?", ((u,) for u in accepted))
        report.pinged.extend(accepted)
        report.problems.extend(problems)
    report.pending = pending(conn)
    report.timings["websub"] = time.perf_counter() - started
