"""What subscribers see, in real clients.

The bundled sample and ``../shared/realdata`` are each built with
``site.base_url`` on a port of 127.0.0.1 and served by ``aggregator serve``
there; then real readers subscribe:

- newsboat (Debian's) imports ``index.opml``, reloads headlessly, and its
  SQLite cache holds every item of every listed feed, no feed empty;
- rss2email (Debian's, with a sendmail stub writing files) mails every item
  of every feed with a real From and a body, videos included;
- feedparser, sanitising as readers do, finds text, an ``<img>`` where the
  item has an image, and an author in every item;
- Chromium, with every host but 127.0.0.1 unresolvable, renders a topic page
  with its items.

``.ci/run`` installs the clients; a missing client fails here rather than
skipping, so CI cannot quietly stop looking.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path("/work/shared/realdata")
FEEDS = ("rss", "atom", "json")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _need(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: .ci/run installs it (apt-get install {name})"
    return found


class Site:
    """A corpus built for, and served by ``aggregator serve`` on, a loopback port."""

    def __init__(self, root: Path, articles: Path, extra: str = "") -> None:
        self.root = root
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.out = root / "out"
        (root / "config.yaml").write_text(
            f'site: {{title: "Client Test", base_url: "{self.base}"}}\n'
            f"articles: [{json.dumps(str(articles))}]\noutput: out\nstate: state.db\n" + extra, "utf-8")
        result = subprocess.run([sys.executable, "-m", "aggregator", "build", "-c", "config.yaml", "-q",
                                 "--now", "2026-11-26T00:00:00Z"], cwd=root, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode in (0, 1), result.stderr  # realdata has skipped files
        self.server = subprocess.Popen([sys.executable, "-m", "aggregator", "serve", "-c", "config.yaml",
                                        "--port", str(self.port)], cwd=root, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.base + "index.json", timeout=2, trust_env=False).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and self.server.poll() is None, "aggregator serve did not start"
                time.sleep(0.1)
        self.manifest = json.loads((self.out / "index.json").read_text("utf-8"))

    def close(self) -> None:
        self.server.terminate()
        self.server.wait(timeout=30)

    def live(self) -> list[dict[str, Any]]:
        return [f for f in self.manifest["feeds"] if f["kind"] != "archive"]

    def json_items(self, feed: dict[str, Any]) -> list[dict[str, Any]]:
        return list(json.loads((self.out / feed["files"]["json"]).read_bytes())["items"])

    def opml_feeds(self, name: str) -> list[str]:
        tree = ET.fromstring(httpx.get(self.base + name, trust_env=False).content)
        return [str(o.get("xmlUrl")) for o in tree.iter("outline") if o.get("xmlUrl")]

    def feed_at(self, url: str) -> dict[str, Any]:
        path = url[len(self.base):]
        return next(f for f in self.manifest["feeds"] if path in f["files"].values())


def _corpora() -> list[Any]:
    found = [pytest.param((REPO / "articles", "feeds: {archives: true}\n"), id="sample")]
    found.append(pytest.param((REALDATA, ""), id="realdata", marks=pytest.mark.skipif(
        not REALDATA.is_dir(), reason="../shared/realdata is not present")))
    return found


@pytest.fixture(scope="module", params=_corpora())
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    articles, extra = request.param
    built = Site(tmp_path_factory.mktemp("site"), articles, extra)
    yield built
    built.close()


def test_newsboat_shows_every_item_of_the_subscribed_feeds(site: Site, tmp_path: Path) -> None:
    newsboat = _need("newsboat")
    opml = tmp_path / "index.opml"
    opml.write_bytes(httpx.get(site.base + "index.opml", trust_env=False).content)
    env = {**os.environ, "HOME": str(tmp_path)}
    files = ["-u", str(tmp_path / "urls"), "-c", str(tmp_path / "cache.db"), "-C", "/dev/null"]
    subprocess.run([newsboat, "-i", str(opml), *files], env=env, check=True, capture_output=True, timeout=60)
    subprocess.run([newsboat, *files, "-x", "reload"], env=env, check=True, capture_output=True, timeout=300)
    conn = sqlite3.connect(tmp_path / "cache.db")
    cached = {url: set() for url in site.opml_feeds("index.opml")}
    for feedurl, guid in conn.execute("SELECT feedurl, guid FROM rss_item"):
        cached.setdefault(feedurl, set()).add(guid)
    conn.close()
    assert cached and all(cached.values()), {url: len(g) for url, g in cached.items()}  # no feed empty
    for url, guids in cached.items():
        expected = {item["id"] for item in site.json_items(site.feed_at(url))}
        assert guids == expected, url  # every item, each in its feed


def test_rss2email_mails_every_item_with_a_sender_and_a_body(site: Site, tmp_path: Path) -> None:
    r2e = _need("r2e")
    mails = tmp_path / "mail"
    mails.mkdir()
    stub = tmp_path / "sendmail"
    stub.write_text(f'#!/bin/sh\ncat > "{mails}/$(date +%s%N)-$$.eml"\n')
    stub.chmod(0o755)
    env = {**os.environ, "HOME": str(tmp_path)}
    base = [r2e, "-c", str(tmp_path / "r2e.cfg"), "-d", str(tmp_path / "r2e.json")]
    subprocess.run([*base, "new", "reader@example.org"], env=env, check=True, capture_output=True)
    config = (tmp_path / "r2e.cfg").read_text()
    config = re.sub(r"(?m)^sendmail = .*$", f"sendmail = {stub}", config)
    (tmp_path / "r2e.cfg").write_text(re.sub(r"(?m)^email-protocol = .*$", "email-protocol = sendmail", config))
    urls = site.opml_feeds("index.opml") + site.opml_feeds("topics.opml")
    for n, url in enumerate(urls):
        subprocess.run([*base, "add", f"f{n}", url], env=env, check=True, capture_output=True)
    subprocess.run([*base, "run"], env=env, check=True, capture_output=True, timeout=600)
    expected = sum(len(site.json_items(site.feed_at(url))) for url in urls)
    received = sorted(mails.iterdir())
    assert len(received) == expected
    videos = 0
    for path in received:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        name, address = email.utils.parseaddr(str(message["From"]))
        assert name.strip() and "<" not in name and address, message["From"]  # a real From, no literal <author>
        body = message.get_body(("plain", "html"))
        text = body.get_content() if body is not None else ""
        content = text.split("\nURL: ")[0]
        assert content.strip(), f"{message['Subject']}: empty body"
        videos += "Watch on YouTube" in text
    assert videos > 0  # video items carry their link


def _visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_feedparser_finds_text_images_and_authors(site: Site) -> None:
    for feed in site.live():
        images = {item["id"]: "image" in item for item in site.json_items(feed)}
        for fmt in ("rss", "atom"):
            parsed = feedparser.parse(httpx.get(site.base + feed["files"][fmt], trust_env=False).content)
            assert not parsed.bozo, (feed["files"][fmt], parsed.get("bozo_exception"))
            assert len(parsed.entries) == feed["items"]
            for entry in parsed.entries:
                where = (feed["files"][fmt], entry.get("id"))
                html = entry.content[0].value if entry.get("content") else entry.get("summary", "")
                assert _visible(html), where
                assert "<img" in html or not images[entry.id], where  # a usable image is shown
                assert entry.get("author", "").strip(), where


def test_chromium_renders_a_topic_page_with_its_items(site: Site, tmp_path: Path) -> None:
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    assert chromium, "chromium is not installed: .ci/run installs it"
    topic = max((f for f in site.live() if f["kind"] == "topic"), key=lambda f: (f["items"], f["slug"]))
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", site.base + topic["files"]["html"]],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    dom = result.stdout
    assert "<h1" in dom, result.stderr[-2000:]
    items = site.json_items(topic)
    rendered = re.findall(r'<li><(?:a|div)', dom)
    assert len(rendered) == len(items)
    for item in items[:10]:
        assert item["url"].replace("&", "&amp;") in dom, item["url"]


# Real clients / big hostile corpora: tens of seconds in all (left out of `pytest -m "not slow"`).
pytestmark = pytest.mark.slow
