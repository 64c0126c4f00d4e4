"""Fetch benchmark: sequential vs concurrent fetching of many local sources.

Starts ``--servers`` HTTP servers on 127.0.0.1 (different ports), each answering
every request with a small RSS feed after ``--delay`` seconds, and spreads
``--sources`` sources over them.  Each repetition fetches all sources twice in
the same process: once with ``concurrency=1`` (sequential) and once with the
default limits (``concurrency=10``, ``per_host=2``), each with a fresh state
database so no conditional GET short-cuts the work.  Prints the median wall
times and their ratio, which should approach the concurrency limit.

    .venv/bin/python bench/fetch_bench.py [--sources 200] [--servers 20] [--delay 0.1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.sources.remote import FetchSettings, SourceConfig, collect_sources

NOW = datetime(2024, 6, 1, tzinfo=UTC)


class Listener(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True
    delay = 0.1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    server: Listener

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        time.sleep(self.server.delay)
        path = self.path
        body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{path}</title>'
                f"<item><title>Item {path}</title><link>https://bench.example{path}</link>"
                "<pubDate>Sat, 01 Jun 2024 10:00:00 GMT</pubDate></item></channel></rss>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start_servers(count: int, delay: float) -> list[Listener]:
    servers = []
    for _ in range(count):
        server = Listener(("127.0.0.1", 0), Handler)
        server.delay = delay
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
    return servers


def timed_run(sources: list[SourceConfig], settings: FetchSettings) -> float:
    conn = sqlite3.connect(":memory:")
    start = time.perf_counter()
    result = collect_sources(sources, settings, conn, NOW)
    seconds = time.perf_counter() - start
    conn.close()
    bad = [r for r in result.reports if r.status != "fresh"]
    if bad or len(result.articles) != len(sources):
        raise SystemExit(f"benchmark run failed: {bad[:3]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    servers = start_servers(args.servers, args.delay)
    sources = [SourceConfig(url=f"http://127.0.0.1:{servers[i % len(servers)].server_address[1]}/feed/{i}")
               for i in range(args.sources)]
    sequential_settings = FetchSettings(concurrency=1, per_host=1, run_budget=3600.0)
    concurrent_settings = FetchSettings(run_budget=3600.0)
    sequential, concurrent = [], []
    for rep in range(args.repeat):
        sequential.append(timed_run(sources, sequential_settings))
        concurrent.append(timed_run(sources, concurrent_settings))
        print(f"rep {rep + 1}: sequential {sequential[-1]:.2f}s concurrent {concurrent[-1]:.2f}s", flush=True)
    seq, conc = statistics.median(sequential), statistics.median(concurrent)
    print(f"{args.sources} sources on {args.servers} ports, {args.delay * 1000:.0f} ms each; "
          f"concurrency={concurrent_settings.concurrency} per_host={concurrent_settings.per_host}")
    print(f"median sequential {seq:.2f}s  median concurrent {conc:.2f}s  ratio {seq / conc:.1f}x "
          f"(ideal {min(concurrent_settings.concurrency, 2 * args.servers)}x)")
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
