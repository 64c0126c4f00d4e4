"""Load run of the feed server: conditional and plain GETs on 127.0.0.1.

Builds a small output folder (``--topics`` feeds in three formats, each
about ``--size`` bytes), serves it with :func:`aggregator.publishing.serve.make_app`
under uvicorn in a background thread, and drives it from ``--clients``
threads, each with its own keep-alive httpx client.  Four in five requests
are conditional (If-None-Match with the current ETag, as a polling reader
sends) and answered 304; the rest are plain GETs, half of them gzip.
Reports requests/s and p50/p99 latency per kind.  Bounded by ``--requests``
and ``--seconds``, whichever comes first.

    .venv/bin/python bench/serve_bench.py --requests 5000 --clients 4
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from aggregator.publishing.serve import make_app
from aggregator.publishing.server import background_server

FORMATS = (".xml", ".atom", ".json")


@dataclass
class Results:
    """Latencies in seconds per request kind, filled by the worker threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.errors += 0 if ok else 1


def make_site(root: Path, topics: int, size: int) -> list[str]:
    """Write the sample folder; returns the request paths."""
    paths = []
    (root / "feeds").mkdir(parents=True)
    for n in range(topics):
        for suffix in FORMATS:
            name = f"feeds/topic-{n}{suffix}"
            # Repetitive text, like a real feed, so gzip has something to do.
            (root / name).write_bytes((f"<item>article {n} of a topic feed</item>\n" * (size // 40)).encode())
            paths.append("/" + name)
    return paths


def worker(base: str, paths: list[str], count: int, deadline: float, results: Results, seed: int) -> None:
    """One client: ``count`` requests over ``paths``, 4 in 5 conditional."""
    etags: dict[str, str] = {}
    with httpx.Client(base_url=base, timeout=10) as client:
        for i in range(count):
            if time.monotonic() > deadline:
                return
            path = paths[(seed * 7919 + i) % len(paths)]
            conditional = i % 5 != 0 and path in etags
            headers = {"accept-encoding": "gzip" if i % 2 else "identity"}
            if conditional:
                headers["if-none-match"] = etags[path]
            start = time.perf_counter()
            response = client.get(path, headers=headers)
            elapsed = time.perf_counter() - start
            expected = 304 if conditional else 200
            etags[path] = response.headers.get("etag", "")
            kind = "conditional (304)" if conditional else "plain GET (200)"
            results.add(kind, elapsed, response.status_code == expected)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(results: Results, wall: float) -> None:
    total = sum(len(v) for v in results.latencies.values())
    rate = total / wall
    print(f"{total} requests in {wall:.2f}s: {rate:,.0f} requests/s, {results.errors} unexpected statuses")
    everything = [x for v in results.latencies.values() for x in v]
    for kind, values in [*sorted(results.latencies.items()), ("all", everything)]:
        print(
            f"  {kind:18} n={len(values):6}  p50={percentile(values, 0.50) * 1000:6.2f} ms  "
            f"p99={percentile(values, 0.99) * 1000:6.2f} ms  mean={statistics.fmean(values) * 1000:6.2f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=5000, help="total requests (default 5000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default 4)")
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long (default 60)")
    parser.add_argument("--topics", type=int, default=50, help="feeds per format (default 50)")
    parser.add_argument("--size", type=int, default=20_000, help="approximate feed size in bytes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        paths = make_site(Path(folder), args.topics, args.size)
        with background_server(make_app(Path(folder))) as base:
            results = Results()
            deadline = time.monotonic() + args.seconds
            per_client = args.requests // args.clients
            threads = [
                threading.Thread(target=worker, args=(base, paths, per_client, deadline, results, n))
                for n in range(args.clients)
            ]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(args.seconds + 30)
            report(results, time.perf_counter() - start)
    return 1 if results.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
