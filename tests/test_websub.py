"""WebSub through the whole build, against a loopback hub stub (a threaded
``http.server`` on 127.0.0.1 that records every ping): every feed file
advertises the hub and itself, the hub is pinged for exactly the feeds
whose bytes changed, and a failing or unreachable hub is reported (exit 1),
never fatal, with its pings kept for the next run."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import feedparser
import pytest
from specs import check_output_folder
from support import NOW, Project, article

from aggregator.publishing.websub import ping

pytestmark = pytest.mark.timeout(120)

BASE = "https://example.org/feeds/"
SUFFIXES = {"rss": ".xml", "atom": ".atom", "json": ".json"}


class Hub:
    """A WebSub hub stub: records each POST (path, headers, parsed form) and
    answers ``status`` (with ``location`` for a redirect)."""

    def __init__(self) -> None:
        self.status = 204
        self.location: str | None = None
        self.answer = threading.Event()  # cleared: requests are recorded, then held unanswered
        self.answer.set()
        self.delay = 0.0  # seconds before each answer
        self.drip = 0  # bytes of answer body, sent one every 0.2 s
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with hub._lock:
                    hub.requests.append({"path": self.path, "headers": dict(self.headers.items()),
                                         "form": parse_qs(body.decode("ascii"), strict_parsing=True)})
                hub.answer.wait(60)
                time.sleep(hub.delay)
                self.send_response(hub.status)
                if hub.location:
                    self.send_header("Location", hub.location)
                self.send_header("Content-Length", str(hub.drip))
                self.end_headers()
                for _ in range(hub.drip):
                    self.wfile.write(b".")
                    self.wfile.flush()
                    time.sleep(0.2)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def pinged(self) -> list[str]:
        """The hub.url of every publish ping received, in order."""
        with self._lock:
            return [url for r in self.requests if r["form"].get("hub.mode") == ["publish"]
                    for url in r["form"]["hub.url"]]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()


@pytest.fixture
def hub() -> Iterator[Hub]:
    stub = Hub()
    stub.thread.start()
    yield stub
    stub.answer.set()
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture
def dead_hub() -> str:
    """A loopback URL nothing listens on (the port was bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hub"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process no socket may connect anywhere but loopback."""
    real = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        assert ipaddress.ip_address(address[0]).is_loopback, f"connection to {address} refused by the test"
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


def setup(project: Project, hub_url: str) -> None:
    project.write_config(f"websub: {{hub: '{hub_url}', timeout: 5}}\n")
    project.add("a.md", article("Alpha", "https://example.org/a", topics=("AI",)))
    project.add("b.md", article("Beta", "https://example.org/b", topics=("Robots",), date="2022-07-11T10:00:00Z"))
    project.add("c.md", article("Gamma", "https://example.org/c", topics=("Space", "Robots"),
                                date="2022-07-10T10:00:00Z"))


def build(project: Project, *args: str) -> tuple[int, str, dict[str, Any]]:
    result = project.run("--report", "report.json", *args)
    return result.returncode, result.stderr, json.loads((project.root / "report.json").read_text("utf-8"))


def feed_urls(project: Project, *slugs: str) -> list[str]:
    """The self URLs of every file of the given feeds (default: every feed)."""
    manifest = json.loads((project.out / "index.json").read_text("utf-8"))
    return sorted(BASE + path for feed in manifest["feeds"] if not slugs or feed["slug"] in slugs
                  for kind, path in feed["files"].items() if kind != "html")  # a page is not pinged


# --- every feed advertises the hub and itself ---------------------------------------------------------------


def test_every_feed_file_advertises_the_hub_and_its_self_url(project: Project, hub: Hub) -> None:
    setup(project, hub.url)
    code, stderr, _report = build(project)
    assert code == 0, stderr
    manifest = check_output_folder(project.out)
    assert {f["slug"] for f in manifest["feeds"]} == {"ai", "all", "robots", "space"}
    for feed in manifest["feeds"]:
        assert set(feed["files"]) == {"rss", "atom", "json", "html"}
        for kind, path in feed["files"].items():
            data = (project.out / path).read_bytes()
            if kind == "html":
                assert hub.url not in data.decode(), path  # a page links no hub
                continue
            if kind == "json":
                parsed = json.loads(data)
                assert parsed["hubs"] == [{"type": "WebSub", "url": hub.url}], path
                assert parsed["feed_url"] == BASE + path
                continue
            parsed = feedparser.parse(data)
            assert not parsed.bozo, (path, parsed.get("bozo_exception"))
            links = [(link.rel, link.href) for link in parsed.feed.links]
            assert [href for rel, href in links if rel == "hub"] == [hub.url], path
            assert [href for rel, href in links if rel == "self"] == [BASE + path], path


def test_no_hub_no_hub_link(project: Project) -> None:
    project.add("a.md", article("Alpha", "https://example.org/a"))
    assert project.run("-q").returncode == 0
    for path in ("all.xml", "all.atom", "all.json"):
        data = (project.out / path).read_bytes()
        assert b'rel="hub"' not in data and b'"hubs"' not in data, path


# --- what is pinged, and when -------------------------------------------------------------------------------


def test_first_build_pings_every_feed_once_and_an_unchanged_build_pings_nothing(project: Project, hub: Hub) -> None:
    setup(project, hub.url)
    code, stderr, report = build(project)
    assert code == 0, stderr
    assert len(feed_urls(project)) >= 12  # 4 feeds x 3 formats (and any archive pages)
    assert Counter(hub.pinged) == Counter(feed_urls(project))  # each exactly once
    for request in hub.requests:
        assert request["path"] == "/hub"
        assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        assert request["headers"]["User-Agent"].startswith("aggregator/")
        assert request["form"]["hub.mode"] == ["publish"] and len(request["form"]["hub.url"]) == 1
        assert set(request["form"]) == {"hub.mode", "hub.url"}
    assert sorted(report["websub"]["pinged"]) == feed_urls(project) and report["websub"]["pending"] == []

    hub.clear()
    code, stderr, report = build(project)
    assert code == 0, stderr
    assert report["outputs"]["written"] == []
    assert hub.requests == [] and report["websub"] == {"pinged": [], "pending": []}


def test_a_changed_article_pings_exactly_the_feeds_that_contain_it(project: Project, hub: Hub) -> None:
    setup(project, hub.url)
    assert build(project)[0] == 0
    hub.clear()
    project.add("c.md", article("Gamma, retitled", "https://example.org/c", topics=("Space", "Robots"),
                                date="2022-07-10T10:00:00Z"))
    code, stderr, _report = build(project)
    assert code == 0, stderr
    assert Counter(hub.pinged) == Counter(feed_urls(project, "space", "robots", "all"))

    hub.clear()
    project.add("a.md", article("Alpha, retitled", "https://example.org/a", topics=("AI",)))
    assert build(project)[0] == 0
    assert Counter(hub.pinged) == Counter(feed_urls(project, "ai", "all"))


def test_check_pings_nothing(project: Project, hub: Hub) -> None:
    setup(project, hub.url)
    result = project.run(command="check")
    assert result.returncode == 0, result.stderr
    assert hub.requests == []


# --- failures: reported, never fatal, retried next run ------------------------------------------------------


def test_a_failing_hub_is_reported_and_its_pings_are_sent_next_run(project: Project, hub: Hub) -> None:
    setup(project, hub.url)
    hub.status = 500
    code, stderr, report = build(project)
    assert code == 1
    assert hub.url in stderr and "HTTP 500" in stderr
    assert Counter(hub.pinged) == Counter(feed_urls(project))  # every one was tried once
    check_output_folder(project.out)  # the feeds are written all the same
    failures = [p for p in report["problems"] if p["kind"] == "failed"]
    assert len(failures) == len(feed_urls(project)) and {p["where"] for p in failures} == {hub.url}
    assert sorted(url for p in failures for url in feed_urls(project) if f"(feed {url})" in p["reason"]) \
        == feed_urls(project)
    assert report["websub"]["pinged"] == [] and report["websub"]["pending"] == feed_urls(project)
    # The summary line tells the hub's failures apart from the article files'.
    summary = project.run().stdout
    assert "3 articles from 3 files (0 skipped, 0 failed)" in summary, summary
    assert f"WebSub: 0 pinged, {len(feed_urls(project))} pending, " in summary and "hub failures" in summary

    hub.status = 204  # healthy again: nothing changed, but the pending pings are sent
    hub.clear()
    code, stderr, report = build(project)
    assert code == 0, stderr
    assert report["outputs"]["written"] == []
    assert Counter(hub.pinged) == Counter(feed_urls(project))
    assert report["websub"]["pending"] == []

    hub.clear()
    assert build(project)[0] == 0
    assert hub.requests == []


def test_pending_pings_go_out_with_the_next_changes(project: Project, hub: Hub) -> None:
    setup(project, hub.url)
    assert build(project)[0] == 0
    project.add("a.md", article("Alpha, retitled", "https://example.org/a", topics=("AI",)))
    hub.status, _ = 503, hub.clear()
    assert build(project)[0] == 1
    assert Counter(hub.pinged) == Counter(feed_urls(project, "ai", "all"))
    project.add("b.md", article("Beta, retitled", "https://example.org/b", topics=("Robots",),
                                date="2022-07-11T10:00:00Z"))
    hub.status, _ = 202, hub.clear()
    code, stderr, _report = build(project)
    assert code == 0, stderr
    assert Counter(hub.pinged) == Counter(feed_urls(project, "ai", "all", "robots"))  # all.* once


def test_an_unreachable_hub_is_reported_not_fatal(project: Project, dead_hub: str) -> None:
    setup(project, dead_hub)
    code, stderr, report = build(project)
    assert code == 1
    assert dead_hub in stderr and "ConnectError" in stderr
    check_output_folder(project.out)
    failures = [p for p in report["problems"] if p["kind"] == "failed"]
    # The first ping fails to connect; the others are not tried (they would fail the same way).
    assert [p["where"] for p in failures] == [dead_hub, dead_hub]
    assert f"not sent for {len(feed_urls(project)) - 1} more feed(s)" in failures[1]["reason"]
    assert report["websub"]["pending"] == feed_urls(project)


def test_pings_stop_at_the_budget_and_the_rest_stay_pending(project: Project, hub: Hub) -> None:
    """A slow hub cannot hold a cron run: no ping starts once websub.budget
    is spent; the rest stay pending and go out with the next run."""
    setup(project, hub.url)
    project.write_config(f"websub: {{hub: '{hub.url}', timeout: 5, budget: 1}}\n")
    hub.delay = 0.4  # 12 feed files: ~5 s of pings without the budget
    code, _stderr, report = build(project)
    assert code == 1
    first = hub.pinged
    assert 1 <= len(first) < len(feed_urls(project))
    assert report["websub"]["pending"] == sorted(set(feed_urls(project)) - set(first))
    failures = [p for p in report["problems"] if p["kind"] == "failed"]
    assert len(failures) == 1 and "the run's WebSub budget of 1s was spent" in failures[0]["reason"]
    assert f"not sent for {len(feed_urls(project)) - len(first)} more feed(s)" in failures[0]["reason"]
    hub.delay, _ = 0.0, hub.clear()
    code, stderr, report = build(project)
    assert code == 0, stderr
    assert report["websub"]["pending"] == [] and sorted(first + hub.pinged) == feed_urls(project)


@pytest.mark.timeout(60)
def test_a_hub_dripping_its_answer_is_not_waited_for_past_the_budget(project: Project, hub: Hub) -> None:
    setup(project, hub.url)
    project.write_config(f"websub: {{hub: '{hub.url}', timeout: 5, budget: 1}}\n")
    hub.status, hub.drip = 200, 1000  # 200 s of answer body (a 204 has none), each byte within the timeout
    started = time.monotonic()
    code, _stderr, report = build(project)
    assert time.monotonic() - started < 30  # the budget (1 s) plus generous slack, not 200 s
    assert code == 1 and hub.pinged == [feed_urls(project)[0]]
    assert report["websub"]["pending"] == feed_urls(project)[1:]  # the first was accepted (200)


def test_a_hub_failure_does_not_block_removing_a_vanished_topic(project: Project, hub: Hub) -> None:
    setup(project, hub.url)
    assert build(project)[0] == 0
    (project.articles / "a.md").unlink()  # topic AI is gone
    hub.status, _ = 500, hub.clear()
    code, _stderr, report = build(project)
    assert code == 1
    assert {"ai.atom", "ai.json", "ai.xml"} <= set(report["outputs"]["removed"])
    assert not (project.out / "ai.xml").exists()
    assert Counter(hub.pinged) == Counter(feed_urls(project, "all"))  # removed feeds are not pinged
    hub.status, _ = 204, hub.clear()
    assert build(project)[0] == 0
    assert Counter(hub.pinged) == Counter(feed_urls(project, "all"))


def test_a_run_killed_while_pinging_loses_no_ping(project: Project, hub: Hub) -> None:
    setup(project, hub.url)
    hub.answer.clear()  # the hub takes the first ping and never answers
    cmd = [sys.executable, "-m", "aggregator", "build", "-q", "-c", str(project.config), "--now", NOW]
    # TMPDIR: a killed run cannot remove its worker pool's socket folder; keep it in the project.
    process = subprocess.Popen(cmd, cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env={**os.environ, "TMPDIR": str(project.root)})
    try:
        deadline = time.monotonic() + 60
        while not hub.requests:
            assert process.poll() is None and time.monotonic() < deadline, "the build never pinged"
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait(30)
        with contextlib.suppress(ProcessLookupError):  # its workers end with it; this is a safety net
            os.killpg(process.pid, signal.SIGKILL)
    assert len(hub.requests) == 1
    hub.answer.set()
    hub.clear()
    code, stderr, report = build(project)
    assert code == 0, stderr
    assert report["outputs"]["written"] == []  # the killed run had written every file
    assert Counter(hub.pinged) == Counter(feed_urls(project))


def test_offline_build_keeps_its_pings_for_the_next_run(project: Project, hub: Hub) -> None:
    setup(project, hub.url)
    code, stderr, report = build(project, "--offline")
    assert code == 0, stderr
    assert hub.requests == [] and report["websub"]["pending"] == feed_urls(project)
    code, stderr, _report = build(project)
    assert code == 0, stderr
    assert Counter(hub.pinged) == Counter(feed_urls(project))


# --- ping() on its own --------------------------------------------------------------------------------------


def test_ping_accepts_2xx_and_reports_anything_else(hub: Hub) -> None:
    urls = [BASE + "ai.xml", BASE + "ai.json"]
    for status in (200, 202, 204):
        hub.status = status
        assert ping(hub.url, urls, timeout=5, user_agent="test-agent") == []
    assert hub.requests[0]["headers"]["User-Agent"] == "test-agent"
    hub.clear()
    hub.status, hub.location = 307, "http://127.0.0.1:1/elsewhere"
    problems = ping(hub.url, urls, timeout=5, user_agent="test-agent")
    assert [p.kind for p in problems] == ["failed", "failed"]
    assert all(p.where == hub.url and "HTTP 307" in p.reason and "not followed" in p.reason for p in problems)
    assert [p.reason.endswith(f"(feed {u})") for p, u in zip(problems, urls, strict=True)] == [True, True]
    assert hub.pinged == urls  # the redirect was not followed
    hub.status, hub.location = 404, None
    assert ["HTTP 404" in p.reason for p in ping(hub.url, urls, timeout=5, user_agent="x")] == [True, True]


def test_ping_stops_at_an_unreachable_hub(dead_hub: str) -> None:
    urls = [BASE + "a.xml", BASE + "b.xml", BASE + "c.xml"]
    problems = ping(dead_hub, urls, timeout=5, user_agent="x")
    assert [p.where for p in problems] == [dead_hub, dead_hub]
    assert "ConnectError" in problems[0].reason and problems[0].reason.endswith(f"(feed {urls[0]})")
    assert "not sent for 2 more feed(s)" in problems[1].reason


def test_hub_config_is_validated(project: Project, tmp_path: Path) -> None:
    project.write_config("websub:\n  hub: 'ftp://hub.example.org/'\n")
    result = project.run()
    assert result.returncode == 2
    assert "config.yaml:6: websub.hub: expected an absolute http(s) URL" in result.stderr
    project.write_config("websub:\n  hub: 'https://hub.example.org/'\n  budget: 0s\n")
    result = project.run()
    assert result.returncode == 2
    assert "websub.budget: must be in the range 1ms to 1d, got '0s'" in result.stderr
