"""Remote sources through the whole build: published next to local
articles, deduplicated against them, kept when the source later fails."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support import Project, article

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Remote</title><link>http://127.0.0.1/</link>
<description>d</description>
<item><title>Remote one</title><link>https://remote.example/one?utm_source=rss</link>
<pubDate>Tue, 12 Jul 2022 10:00:00 GMT</pubDate>
<description>&lt;p&gt;hi&lt;script&gt;x()&lt;/script&gt;&lt;/p&gt;</description></item>
<item><title>Same as local</title><link>https://example.org/local</link>
<pubDate>Tue, 12 Jul 2022 09:00:00 GMT</pubDate></item>
</channel></rss>"""


class Routes(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        body = RSS.encode()
        self.send_response(Routes.status)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Routes)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Routes.status = 200
    yield f"http://127.0.0.1:{httpd.server_address[1]}/feed.xml"
    httpd.shutdown()
    httpd.server_close()


def _titles(project: Project, slug: str) -> list[str]:
    return [i["title"] for i in json.loads((project.out / f"{slug}.json").read_text())["items"]]


def test_remote_items_are_published_and_survive_a_failure(project: Project, server: str) -> None:
    project.write_config(f"sources:\n  - {{url: '{server}', name: Remote, topics: [Remote], quality: 90}}\n"
                         "fetch: {deadline: 5, run_budget: 20}\n")
    project.add("local.md", article("Local copy", "https://example.org/local", quality=10, topics=("AI",)))
    first = project.run("-v")
    assert first.returncode == 0, first.stderr
    assert sorted(_titles(project, "remote")) == ["Remote one", "Same as local"]
    # One article from two places: one item, topics merged, higher quality (remote) wins.
    assert _titles(project, "ai") == ["Same as local"]
    items = json.loads((project.out / "remote.json").read_text())["items"]
    assert all("<script" not in json.dumps(i) and "x()" not in json.dumps(i) for i in items)
    assert [i["id"] for i in items if i["title"] == "Remote one"] == ["https://remote.example/one"]

    Routes.status = 500
    second = project.run()
    assert second.returncode == 1
    assert server in second.stderr
    # Counted as a failed source, not as a failed article file.
    assert "from 1 files (0 skipped, 0 failed); 1 copy merged; 1 sources (1 failed)" in second.stdout, second.stdout
    assert sorted(_titles(project, "remote")) == ["Remote one", "Same as local"]


def test_offline_uses_cached_items_without_network(project: Project, server: str) -> None:
    project.write_config(f"sources:\n  - {{url: '{server}', topics: [Remote]}}\n")
    assert project.run("-q").returncode == 0
    Routes.status = 500  # would fail if it were asked
    offline = project.run("-q", "--offline")
    assert offline.returncode == 0, offline.stderr
    assert "Remote one" in _titles(project, "remote")
