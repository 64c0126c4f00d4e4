"""``aggregator explain URL``: why the copies of an article were merged
into one item, or kept apart, as the last build decided (read from the
state file; nothing is fetched or parsed)."""

from __future__ import annotations

import sqlite3
from collections import Counter

from aggregator.build.lock import run_lock
from aggregator.config import Config
from aggregator.model import Article
from aggregator.ranking.clusters import Clusters
from aggregator.ranking.stories import Settings
from aggregator.sources.remote.state import ensure_schema, load_state
from aggregator.state import codec
from aggregator.state.store import Store
from aggregator.urls import canonical_url, normalize_url


def explain(config: Config, url: str, *, wait: float = 0.0) -> list[str]:
    """Lines saying which inputs hold ``url`` (a link or an item id) and
    which of them are published as one item."""
    normalized = normalize_url(url)
    key = canonical_url(normalized) if normalized else url.strip()
    if not config.state_path.exists():  # not made here: explaining must not create state
        return [f"{key}:", f"  no state file yet ({config.state_path}): run aggregator build first"]
    with run_lock(config.state_path, wait):
        store = Store(config.state_path, wait=wait)
        try:
            copies = _copies(store, key)
            apart = _kept_apart(store, config, key)
            story = _story(store, config, key) if copies else []
        finally:
            store.close()
    lines = [f"{key}:"]
    if not copies and not apart:
        return [*lines, "  no input of the last build holds this URL or id"]
    if copies:
        how = "merged by canonical URL into one item" if len(copies) > 1 else "one item, from one input"
        lines.append(f"  published as {key} ({how}; the best copy is shown):")
        lines += [f"    {where}: {title!r}" for where, title in copies]
    if apart:
        lines.append("  kept apart: their link is shared by several items of their source, so it identifies "
                     "none of them; each is its own item:")
        lines += [f"    source {a.origin}: {a.title!r} as {a.id}" for a in apart]
    return lines + story


def _story(store: Store, config: Config, key: str) -> list[str]:
    found = config.ranking.clusters
    clusters = Clusters(store.conn, Settings(found.threshold, found.window) if found.enabled else None)
    try:
        return clusters.explain(key.encode("utf-8", "surrogatepass"))
    except sqlite3.OperationalError:  # a state file of an older version: no clusters table yet
        return ["  story: unknown until the next build"]


def _copies(store: Store, key: str) -> list[tuple[str, str]]:
    found = []
    rows = store.conn.execute("SELECT remote, origin, summary FROM copies WHERE id=? ORDER BY remote, origin, pos",
                              (key.encode("utf-8", "surrogatepass"),)).fetchall()
    for remote, origin, blob in rows:
        summary = codec.loads_summary(blob)
        where = "source" if remote else "file"
        found.append((f"{where} {bytes(origin).decode('utf-8', 'surrogatepass')}", summary.title))
    return found


def _kept_apart(store: Store, config: Config, key: str) -> list[Article]:
    ensure_schema(store.conn)
    apart = []
    for source in config.sources:
        items = load_state(store.conn, source.url).items
        sharing = [a for a in items if canonical_url(a.url) == key and a.id != key]
        if sharing:
            counts = Counter(a.id for a in sharing)
            apart += sorted(sharing, key=lambda a: (counts[a.id], a.id))
    return apart
