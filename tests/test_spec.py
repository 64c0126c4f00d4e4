"""Whole builds through the CLI, checked against the specs (tests/specs.py):
the bundled sample, and the real data when it is next to the project.

The real-data test also recomputes, independently of the project's parser
(plain PyYAML), which articles are eligible, and checks each one is in the
feed of every one of its topics unless that feed is full.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pytest
import yaml
from specs import check_atom, check_json_feed, check_output_folder, check_rss

REPO = Path(__file__).resolve().parents[1]
NOW = "2026-11-26T00:00:00Z"
MAX_ITEMS = 50
REALDATA = next((p for p in (Path(__file__).resolve().parents[2] / "shared" / "realdata",
                             Path("/work/shared/realdata")) if p.is_dir()), None)
SECURED = re.compile(r'^secured:\s*"?([^"\n]+)', re.M)
SUFFIXES = {".md", ".markdown", ".txt", ".html"}
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 20x faster


def build(tmp_path: Path, articles: Path) -> Path:
    out = tmp_path / "out"
    config = tmp_path / "config.yaml"
    config.write_text(
        'site: {title: "Spec", base_url: "https://example.org/feeds/"}\n'
        f"articles: [{json.dumps(str(articles))}]\noutput: {json.dumps(str(out))}\n"
        f"state: {json.dumps(str(tmp_path / 'state.db'))}\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "aggregator", "build", "-c", str(config), "--now", NOW, "-q"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode in (0, 1), run.stderr
    return out


def input_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def secured_values(folder: Path) -> list[str]:
    values = []
    for path in input_files(folder):
        text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        values += [m.strip() for m in SECURED.findall(text) if len(m.strip()) >= 8]
    return values


def test_bundled_sample(tmp_path: Path) -> None:
    secrets = secured_values(REPO / "articles")
    manifest = check_output_folder(build(tmp_path, REPO / "articles"), secrets)
    topics = {feed["topic"] for feed in manifest["feeds"]}
    assert {"AI", "Computer Vision"} <= topics


@pytest.mark.skipif(REALDATA is None, reason="no ../shared/realdata next to the project")
@pytest.mark.slow
def test_real_data(tmp_path: Path) -> None:
    assert REALDATA is not None
    secrets = secured_values(REALDATA)
    assert secrets, "the real data carries secured values"
    out = build(tmp_path, REALDATA)
    manifest = check_output_folder(out, secrets)
    feeds = {topic_key(f["topic"]): f for f in manifest["feeds"] if f["kind"] == "topic"}
    missing = []
    for key, articles in eligible_by_topic(REALDATA).items():
        feed = feeds.get(key)
        assert feed is not None, f"no feed for topic {key!r}"
        if feed["items"] >= MAX_ITEMS:
            continue
        published = feed_urls(out / feed["files"]["json"])
        missing += [(key, url) for url in sorted(articles) if url not in published]
    assert not missing, f"{len(missing)} eligible articles missing from their topic feeds: {missing[:5]}"


# -- an independent model of eligibility ---------------------------------------------------------------------


def topic_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def url_key(url: str) -> str:
    """Loose identity of a URL: case of scheme/host, escapes, fragment,
    tracking parameters and a trailing slash do not matter."""
    parts = urlsplit(unquote(url.strip()))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not re.match(r"utm_|fbclid$|gclid$", k)]
    host = parts.hostname or ""
    return urlunsplit((parts.scheme.lower(), host.lower(), parts.path.rstrip("/"), urlencode(query), ""))


def front_matter(path: Path) -> dict[str, object] | None:
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    match = re.match(r"^\ufeff?---\n(.*?)\n---\s*(\n|$)", text, re.S)
    if not match:
        return None
    try:
        data = yaml.load(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", match.group(1)), Loader=SAFE_LOADER)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _valid_date(value: object) -> bool:
    if isinstance(value, datetime):
        return True
    try:
        datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def eligible_by_topic(folder: Path) -> dict[str, set[str]]:
    """topic key -> URL keys of the eligible articles that carry it."""
    topics: dict[str, set[str]] = {}
    withdrawn: set[str] = set()
    for path in input_files(folder):
        data = front_matter(path)
        if data is None:
            continue
        link = next((str(data[k]).strip() for k in ("webUrl", "originalUrl") if data.get(k)), "")
        if not re.match(r"^https?://", link, re.I):
            continue
        if data.get("removed") is True:
            withdrawn.add(url_key(link))
            continue
        if not _valid_date(data.get("publishedDateTime")):
            continue
        for topic in data.get("topics") or []:
            if isinstance(topic, str) and topic.strip():
                topics.setdefault(topic_key(topic), set()).add(url_key(link))
    return {key: urls - withdrawn for key, urls in topics.items() if urls - withdrawn}


def feed_urls(path: Path) -> set[str]:
    """The URLs a feed publishes: its items', and those its story items list
    as their other coverage (``_aggregator.cluster.members``)."""
    items = json.loads(path.read_bytes())["items"]
    found = {url_key(item[k]) for item in items for k in ("url", "external_url", "id") if k in item}
    return found | {url_key(m["url"]) for item in items
                    for m in item.get("_aggregator", {}).get("cluster", {}).get("members", ())}


# -- the checker itself rejects what it should ----------------------------------------------------------------

GOOD_RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>
<link>https://example.org/</link><description>d</description>
<atom:link href="https://example.org/f.xml" rel="self" type="application/rss+xml"/>
<item><title>a</title><guid isPermaLink="false">x1</guid><pubDate>Tue, 02 Jan 2024 03:04:05 +0000</pubDate></item>
<item><title>b</title><link>https://example.org/b</link><guid isPermaLink="false">x2</guid></item>
</channel></rss>"""
GOOD_ATOM = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>https://example.org/f.atom</id><title>t</title>
<updated>2024-01-02T03:04:05Z</updated><author><name>n</name></author>
<link href="https://example.org/f.atom" rel="self" type="application/atom+xml"/>
<entry><id>https://example.org/1</id><title>a</title><updated>2024-01-02T03:04:05Z</updated>
<link href="https://example.org/1"/></entry></feed>"""
GOOD_JSON = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "feed_url": "https://example.org/f.json",'
             b' "items": [{"id": "1", "content_text": "x", "date_published": "2024-01-02T03:04:05Z"}]}')


@pytest.mark.parametrize(("check", "good", "old", "new"), [
    (check_rss, GOOD_RSS, b"x2", b"x1"),  # duplicate guid
    (check_rss, GOOD_RSS, b' rel="self"', b' rel="alternate"'),  # no self link
    (check_rss, GOOD_RSS, b"+0000", b""),  # no zone
    (check_rss, GOOD_RSS, b"https://example.org/b", b"/b"),  # relative URL
    (check_rss, GOOD_RSS, b"https://example.org/b", "https://example.org/ä".encode()),  # IRI
    (check_rss, GOOD_RSS, b"<description>d</description>", b""),  # no channel description
    (check_atom, GOOD_ATOM, b"<author><name>n</name></author>", b""),  # no author
    (check_atom, GOOD_ATOM, b"03:04:05Z</updated>\n<link", b"03:04:05</updated>\n<link"),  # no zone
    (check_atom, GOOD_ATOM, b'<link href="https://example.org/1"/>',
     b'<link href="https://example.org/1"/><link href="https://example.org/2"/>'),  # two alternates
    (check_atom, GOOD_ATOM, b"<link href=\"https://example.org/1\"/></entry>",
     b"</entry><link href=\"https://example.org/1\" rel=\"related\"/>"),  # metadata after entries
    (check_json_feed, GOOD_JSON, b'"x"', b"NaN"),  # NaN
    (check_json_feed, GOOD_JSON, b'"id": "1"', b'"id": 1'),  # numeric id
    (check_json_feed, GOOD_JSON, b'"title": "t",', b'"title": "t", "extra": 1,'),  # unknown key
    (check_json_feed, GOOD_JSON, b"https://example.org/f.json", b"f.json"),  # relative feed_url
    (check_json_feed, GOOD_JSON, b"03:04:05Z", b"03:04"),  # bad date
])
def test_checker_rejects(check: object, good: bytes, old: bytes, new: bytes) -> None:
    check(good)  # type: ignore[operator]
    assert old in good
    with pytest.raises(AssertionError):
        check(good.replace(old, new, 1))  # type: ignore[operator]
