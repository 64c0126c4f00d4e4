"""A real HTTP server on 127.0.0.1 with well-behaved and hostile feed routes.

The server is a ``ThreadingHTTPServer`` on port 0 (one per test module), so
timeouts, drips, bombs and redirects are exercised end to end.  Every request
is recorded (path, User-Agent, conditional headers) for assertions.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support import rss, rss_item, send

from aggregator.sources.remote import FetchSettings, SourceConfig

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


RSS = rss(
    rss_item("https://example.org/rss/1", "First RSS", extra="<category>Python</category>"
             "<description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</description>")
    + rss_item("https://example.org/rss/2", "Second RSS", "Fri, 31 May 2024 10:00:00 GMT"))
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Test Atom</title><id>urn:x</id>
<link rel="alternate" href="https://atom.example.net/"/><updated>2024-06-01T00:00:00Z</updated>
<entry><title>Atom entry</title><id>urn:a1</id><link rel="alternate" href="https://atom.example.net/a/1"/>
<updated>2024-05-30T08:00:00Z</updated>
<content type="html">&lt;p&gt;Atom &lt;i&gt;body&lt;/i&gt;&lt;/p&gt;</content>
<category term="Go"/></entry></feed>"""
JSON_FEED = json.dumps({
    "version": "https://jsonfeed.org/version/1.1", "title": "Test JSON", "home_page_url": "https://json.example.com/",
    "items": [
        {"id": "1", "url": "https://json.example.com/j/1", "title": "JSON one", "content_html": "<p>J1</p>",
         "date_published": "2024-05-29T10:00:00+02:00", "tags": ["Rust"], "image": "/img.png"},
        {"id": "2", "url": "javascript:alert(1)", "title": "no link"},
        {"id": 3, "title": 42},
    ],
}).encode()
RELATIVE = rss(rss_item("/posts/rel-1", "Relative") + rss_item("posts/rel-2", "Relative 2"))
UNDATED = rss(rss_item("https://example.org/u/1", "Undated 1", None)
              + rss_item("https://example.org/u/2", "U2", None))
XSS = rss(
    rss_item("https://example.org/x/1", "&lt;script&gt;alert(1)&lt;/script&gt;Evil title", extra=(
        "<description><![CDATA[<p onclick=\"steal()\">hi<script>alert('x')</script>"
        "<img src=\"/a.png\" onerror=\"alert(2)\"><a href=\"javascript:alert(3)\">j</a></p>]]>"
        "</description>"))
    + rss_item("javascript:alert(4)", "Scheme link")
    + rss_item("\tJaVa\nScRiPt:alert(5)", "Obfuscated link"))
XSS_JSON = json.dumps({"version": "https://jsonfeed.org/version/1", "items": [{
    "id": "x", "url": "https://example.org/xj/1", "title": "<b>Bold</b> <script>alert(1)</script>title",
    "content_html": "<p onclick='steal()'>hi<script>alert('x')</script><img src='/a.png' onerror='alert(2)'>"
                    "<a href='javascript:alert(3)'>j</a><iframe src='https://evil.example/'></iframe>"
                    "<svg onload='alert(6)'></svg><form action='/x'><input></form></p>"}]}).encode()
MALFORMED = b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>x</ti<<<&&&'
BOZO_WITH_ITEMS = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>ok</title>'
                   b"<link>https://example.org/bozo/1</link></item><item><title>b</title>"
                   b"<link>https://example.org/bozo/2</link><junk></item></channel></rss>")
HTML = b"<!DOCTYPE html><html><head><title>Blog</title></head><body><p>Not a feed</p></body></html>"


def _gzip_bomb(expanded: int, wbits: int = 31) -> bytes:
    """Zeros compressed chunk by chunk, so the expanded size is never held in
    memory.  ``wbits``: 31 gzip, 15 zlib (HTTP's deflate), -15 raw deflate."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(1 << 20)
    parts = [packer.compress(zeros) for _ in range(expanded >> 20)]
    return b"".join(parts) + packer.flush()


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


class Server:
    """The running server: ``url(path)``, request log and switches."""

    def __init__(self, httpd: ThreadingHTTPServer) -> None:
        self.httpd = httpd
        self.hits: Counter[str] = Counter()
        self.requests: list[dict[str, str]] = []
        self.flaky_fails = False
        self.stop = threading.Event()
        self.bomb = _gzip_bomb(128 << 20)
        self.bombs = {"deflate": _gzip_bomb(128 << 20, 15), "raw-deflate": _gzip_bomb(128 << 20, -15),
                      "gzip, gzip": gzip.compress(_gzip_bomb(128 << 20))}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # http.server's naming
        site: Server = self.server.site
        path = self.path.split("?")[0]
        site.hits[path] += 1
        site.requests.append({"path": path, **{k.lower(): v for k, v in self.headers.items()}})
        route = ROUTES.get(path)
        if route is None:
            self.send(404, b"not found", "text/plain")
        else:
            route(self, site)

    def send(self, status: int, body: bytes = b"", ctype: str = "application/rss+xml",
             headers: dict[str, str] | None = None) -> None:
        send(self, status, body, ctype, headers)


def _etag(h: Handler, site: Server) -> None:
    if h.headers.get("If-None-Match") == '"v1"':
        h.send(304, headers={"ETag": '"v1"'})
    else:
        h.send(200, rss(rss_item("https://example.org/etag/1", "Etag item")), headers={"ETag": '"v1"'})


def _drip(h: Handler, site: Server) -> None:
    body = RSS
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    for i in range(len(body)):
        if site.stop.wait(0.4):  # well inside read_timeout (1 s): only the deadline may cut it
            return
        try:
            h.wfile.write(body[i:i + 1])
            h.wfile.flush()
        except OSError:
            return


def _silent(h: Handler, site: Server) -> None:
    site.stop.wait(30)  # accept, then say nothing: the read timeout must fire


def _endless(h: Handler, site: Server) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Connection", "close")
    h.end_headers()
    chunk = b"<!-- " + b"x" * 65536 + b" -->"
    h.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
    try:
        while not site.stop.is_set():
            h.wfile.write(chunk)
    except OSError:
        return


def _big(h: Handler, site: Server) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Content-Length", str(50 << 20))  # announced, never sent: must be refused up front
    h.end_headers()
    h.wfile.write(b"<rss>")


def _bomb(h: Handler, site: Server) -> None:
    h.send(200, site.bomb, headers={"Content-Encoding": "gzip"})


def _flaky(h: Handler, site: Server) -> None:
    if site.flaky_fails:
        h.send(500, b"boom", "text/plain")
    else:
        h.send(200, rss(rss_item("https://example.org/flaky/1", "Flaky item")))


def _redirect(target: str) -> Callable[[Handler, Server], None]:
    return lambda h, site: h.send(302, b"", headers={"Location": target})


def _static(body: bytes, status: int = 200, ctype: str = "application/rss+xml",
            headers: dict[str, str] | None = None) -> Callable[[Handler, Server], None]:
    return lambda h, site: h.send(status, body, ctype, headers)


ROUTES: dict[str, Callable[[Handler, Server], None]] = {
    "/rss": _static(RSS),
    "/atom": _static(ATOM, ctype="text/html"),  # wrong type on purpose: the body decides
    "/json": _static(JSON_FEED, ctype="application/rss+xml"),
    "/etag": _etag,
    "/gone": _static(b"gone", 410, "text/plain"),
    "/error": _static(b"boom", 500, "text/plain"),
    "/empty": _static(b"", 200),
    "/loop": _redirect("/loop"),
    "/chain/1": _redirect("/chain/2"),
    "/chain/2": _redirect("/rss"),
    "/to-file": _redirect("file:///etc/passwd"),
    "/drip": _drip,
    "/silent": _silent,
    "/big": _big,
    "/endless": _endless,
    "/bomb": _bomb,
    "/gzip": lambda h, site: h.send(200, gzip.compress(RSS), headers={"Content-Encoding": "gzip"}),
    "/gzip-gzip": lambda h, site: h.send(200, gzip.compress(gzip.compress(RSS)),
                                         headers={"Content-Encoding": "gzip, gzip"}),
    "/deflate": lambda h, site: h.send(200, zlib.compress(RSS), headers={"Content-Encoding": "deflate"}),
    "/raw-deflate": lambda h, site: h.send(200, _raw_deflate(RSS),
                                           headers={"Content-Encoding": "deflate"}),
    "/brotli": lambda h, site: h.send(200, RSS, headers={"Content-Encoding": "br"}),
    "/corrupt-gzip": lambda h, site: h.send(200, gzip.compress(RSS)[:20] + b"\xff" * 200,
                                            headers={"Content-Encoding": "gzip"}),
    "/gzip-x5": lambda h, site: h.send(200, RSS, headers={"Content-Encoding": "gzip, gzip, gzip, gzip, gzip"}),
    "/bomb-deflate": lambda h, site: h.send(200, site.bombs["deflate"], headers={"Content-Encoding": "deflate"}),
    "/bomb-raw-deflate": lambda h, site: h.send(200, site.bombs["raw-deflate"],
                                                headers={"Content-Encoding": "deflate"}),
    "/bomb-gzip-gzip": lambda h, site: h.send(200, site.bombs["gzip, gzip"],
                                              headers={"Content-Encoding": "gzip, gzip"}),
    "/429": _static(b"slow down", 429, "text/plain", {"Retry-After": "3600"}),
    "/503-date": _static(b"later", 503, "text/plain", {"Retry-After": "Sat, 01 Jun 2024 14:00:00 GMT"}),
    "/429-garbage": _static(b"slow down", 429, "text/plain", {"Retry-After": "soon-ish"}),
    "/malformed": _static(MALFORMED),
    "/bozo": _static(BOZO_WITH_ITEMS),
    "/html": _static(HTML),
    "/xss": _static(XSS),
    "/xss-json": _static(XSS_JSON, ctype="application/feed+json"),
    "/relative": _static(RELATIVE),
    "/undated": _static(UNDATED),
    "/flaky": _flaky,
    "/unsolicited-304": _static(b"", 304),
}


class Listener(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog of 5 drops SYNs when a test opens 20 connections at once
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client the test made give up (a deadline, a cap) resets its connection: expected, not
        # a server error worth a traceback in the test output.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    httpd = Listener(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    site = Server(httpd)
    httpd.site = site  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield site
    site.stop.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def site(server: Server) -> Server:
    """The module's server with a clean request log."""
    server.hits.clear()
    server.requests.clear()
    server.flaky_fails = False
    return server


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    yield db
    db.close()


def small_settings(**overrides: Any) -> FetchSettings:
    """Limits small enough for tests; a test may widen one."""
    values: dict[str, Any] = {"connect_timeout": 1.0, "read_timeout": 1.0, "deadline": 2.0,
                              "max_bytes": 1 << 20, "run_budget": 10.0, "concurrency": 10, "per_host": 10}
    values.update(overrides)
    return FetchSettings(**values)


@pytest.fixture
def settings() -> FetchSettings:
    return small_settings()


@pytest.fixture
def make_settings() -> Callable[..., FetchSettings]:
    return small_settings


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def source(site: Server) -> Callable[..., SourceConfig]:
    def make(path: str, **kwargs: Any) -> SourceConfig:
        return SourceConfig(url=site.url(path), **kwargs)
    return make


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.start


@pytest.fixture
def stopwatch() -> Callable[[], Stopwatch]:
    return Stopwatch
