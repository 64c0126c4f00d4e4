"""The clock is input, and cannot poison the state: a build with ``--now``
far ahead stores no retry or first-seen time after the real clock, and the
normal runs after it behave as if it had not happened."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support import Project, article

UNDATED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Undated</title>'
           b"<link>https://undated.example/</link><description>d</description>"
           b"<item><title>No date</title><link>https://undated.example/1</link></item></channel></rss>")
HITS: Counter[str] = Counter()


class Routes(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        HITS[self.path] += 1
        if self.path == "/fails.xml":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(UNDATED)))
        self.end_headers()
        self.wfile.write(UNDATED)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Routes)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    HITS.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _stored_times(state: Path) -> list[datetime]:
    """The failing source's retry time, then every attempt and first-seen time."""
    conn = sqlite3.connect(state)
    try:
        rows = [r[0] for r in conn.execute("SELECT not_before FROM source_state WHERE not_before IS NOT NULL")]
        rows += [r[0] for r in conn.execute("SELECT last_attempt FROM source_state")]
        rows += [r[0] for r in conn.execute("SELECT first_seen FROM source_seen")]
    finally:
        conn.close()
    return [datetime.fromisoformat(r) for r in rows]


def test_a_build_in_2100_does_not_poison_the_next_normal_build(tmp_path: Path, server: str) -> None:
    project = Project(tmp_path)
    project.write_config(f"sources:\n  - {{url: '{server}/undated.xml', topics: [Remote]}}\n"
                         f"  - {{url: '{server}/fails.xml', topics: [Remote]}}\n"
                         "fetch: {backoff_base: 30m}\n")
    project.add("now.md", article("Today", "https://example.com/today", topics=("Local",),
                                  date=datetime.now(UTC).isoformat()))
    project.add("ahead.md", article("Dated 2099", "https://example.com/2099", topics=("Local",),
                                    date="2099-06-01T00:00:00Z"))
    far = project.run("--now", "2100-01-01T00:00:00Z", "-q")
    assert far.returncode == 1  # the failing source
    assert "Dated 2099" in (project.out / "local.json").read_text("utf-8")
    before = datetime.now(UTC)
    retry, *seen = _stored_times(project.root / "state" / "state.db")
    assert retry <= before + timedelta(minutes=30) and seen and all(when <= before for when in seen)

    normal = project.run("--now", datetime.now(UTC).isoformat(), "--report", "report.json")
    after = datetime.now(UTC)
    report = json.loads((project.root / "report.json").read_text("utf-8"))
    statuses = {s["url"].rsplit("/", 1)[1]: s for s in report["sources"]}
    # The undated source is fetched again; the failing one waits its first
    # backoff (30 minutes from the real time it failed), not until 2100.
    assert HITS["/undated.xml"] == 2 and statuses["undated.xml"]["status"] == "fresh"
    assert statuses["fails.xml"]["status"] == "deferred"
    until = datetime.fromisoformat(statuses["fails.xml"]["next_attempt"])
    assert until <= after + timedelta(minutes=30)
    # The undated item was first seen at a real time: published, not "in the future".
    remote = json.loads((project.out / "remote.json").read_text("utf-8"))
    assert [i["title"] for i in remote["items"]] == ["No date"]
    assert datetime.fromisoformat(remote["items"][0]["date_published"]) <= after
    assert not [p for p in report["problems"] if "future" in p["reason"] and "undated" in p["where"]]
    # Local articles: as if the 2100 run had not happened.
    local = json.loads((project.out / "local.json").read_text("utf-8"))
    assert [i["title"] for i in local["items"]] == ["Today"]
    assert normal.returncode == 1  # 2099 is in the future again (reported), and nothing else failed


def test_a_state_poisoned_by_an_earlier_version_heals(tmp_path: Path, server: str) -> None:
    """Times an older version stored from a clock far ahead: a retry time
    past the longest wait is brought back to it, a first-seen time after
    now to now."""
    project = Project(tmp_path)
    project.write_config(f"sources:\n  - {{url: '{server}/fails.xml'}}\n  - {{url: '{server}/undated.xml'}}\n"
                         "fetch: {backoff_max: 2d, retry_after_max: 1d}\n")
    assert project.run("-q").returncode == 1
    conn = sqlite3.connect(project.root / "state" / "state.db")
    with conn:
        conn.execute("UPDATE source_state SET not_before = '2100-01-01T00:00:00+00:00' WHERE url LIKE '%fails%'")
        conn.execute("UPDATE source_seen SET first_seen = '2100-01-01T00:00:00+00:00'")
    conn.close()
    now = datetime.now(UTC)
    assert project.run("--now", now.isoformat(), "--report", "r.json").returncode == 0
    fails, undated = json.loads((project.root / "r.json").read_text("utf-8"))["sources"]
    assert fails["status"] == "deferred"
    assert datetime.fromisoformat(fails["next_attempt"]) <= now + timedelta(days=2)
    assert undated["status"] == "fresh"
    item, = json.loads((project.out / "all.json").read_text("utf-8"))["items"]
    assert datetime.fromisoformat(item["date_published"]) <= datetime.now(UTC)
