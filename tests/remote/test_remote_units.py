"""Pure parts: settings, scheduling, sniffing, the article codec, the state tables."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.config.sources import effective_limits
from aggregator.errors import ConfigError
from aggregator.model import Article, Image, Provider, Related
from aggregator.sources.remote import FetchSettings, SourceConfig, prune_sources
from aggregator.sources.remote.articles import build_articles
from aggregator.sources.remote.codec import decode_articles, encode_articles
from aggregator.sources.remote.parse import parse_feed, sniff
from aggregator.sources.remote.schedule import backoff_seconds, next_attempt, parse_retry_after
from aggregator.sources.remote.state import SourceState, ensure_schema, load_state, save_first_seen, save_state

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def test_every_setting_is_documented_with_its_default() -> None:
    for cls in (FetchSettings, SourceConfig):
        for field in dataclasses.fields(cls):
            assert field.metadata.get("doc"), field.name
            assert "default" in field.metadata["doc"] or field.name == "url", field.name


def test_source_overrides_and_validation() -> None:
    limits = effective_limits(FetchSettings(), SourceConfig("https://a.example/", deadline=3.0, max_items=5))
    assert (limits.deadline, limits.max_items, limits.read_timeout) == (3.0, 5, 10.0)
    assert FetchSettings().user_agent.startswith("aggregator/")
    for bad in ("file:///etc/passwd", "ftp://a.example/", "javascript:alert(1)", "/relative", "http://"):
        with pytest.raises(ConfigError, match=r"^url:"):
            SourceConfig(bad).validate()
    with pytest.raises(ConfigError, match=r"fetch\.per_host"):
        FetchSettings(per_host=0).validate()
    FetchSettings().validate()


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120.0), ("Sat, 01 Jun 2024 13:00:00 GMT", 3600.0), ("soon", None), (None, None), ("-5", None),
    ("9" * 400, 1e11),
])
def test_retry_after_forms(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_retry_after_is_clamped_and_backoff_grows_to_a_cap() -> None:
    settings = FetchSettings()
    assert next_attempt(NOW, 1, "999999999", settings) == NOW + timedelta(days=7)
    assert next_attempt(NOW, 1, "1", settings) == NOW + timedelta(seconds=60)
    assert next_attempt(NOW, 3, None, settings) == NOW + timedelta(hours=2)
    assert [backoff_seconds(n, settings) / 1800 for n in (0, 1, 2, 3)] == [0, 1, 2, 4]
    assert backoff_seconds(10_000, settings) == 7 * 86400


@pytest.mark.parametrize(("body", "kind"), [
    (b'<?xml version="1.0"?><rss version="2.0"/>', "xml"),
    (b"\xef\xbb\xbf<!-- c --><feed xmlns='http://www.w3.org/2005/Atom'/>", "xml"),
    ('<?xml version="1.0" encoding="utf-16"?><rss/>'.encode("utf-16"), "xml"),
    (b"  {\"version\": 1}", "json"),
    (b"<!DOCTYPE html><html></html>", "html"),
    (b"<?xml version='1.0'?>\n<!-- x --><html xmlns='http://www.w3.org/1999/xhtml'/>", "html"),
    (b"<body>hi</body>", "html"),
    (b"\x89PNG\r\n", "unknown"),
    (b"", "unknown"),
])
def test_sniff_uses_the_body(body: bytes, kind: str) -> None:
    assert sniff(body) == kind


def test_article_codec_round_trips_exactly() -> None:
    full = Article(
        id="https://a.example/x", url="https://a.example/x?utm_source=y#f", title="T ✓", origin="https://a.example/f",
        published=datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC), summary="s", content_html="<p>x</p>",
        updated=datetime(2024, 1, 2, tzinfo=UTC), topics=("a", "B"), tags=("t",), category="c", kind="video",
        quality=0.1 + 0.2, heat=3.0, is_published=True, removed=False, original_url="https://o.example/",
        provider=Provider("P", "a.example", "https://a.example/"),
        image=Image("https://a.example/i.png", 1, 2, "i"),
        related=(Related("R", "https://r.example/"),), featured_html="<b>f</b>")
    minimal = Article(id="https://b.example/", url="https://b.example/", title="", origin="o",
                      published=datetime(1970, 1, 1, tzinfo=UTC))
    articles = (full, minimal)
    assert decode_articles(encode_articles(articles)) == articles


def test_state_round_trip_first_seen_and_pruning() -> None:
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    state = SourceState("https://a.example/f", '"e"', "Sat, 01 Jun 2024 10:00:00 GMT", (), 2, "HTTP 500", 500,
                        NOW, NOW, None)
    save_state(conn, state)
    save_state(conn, SourceState("https://b.example/f"))
    save_first_seen(conn, "https://c.example/f", {"https://c.example/1": NOW})
    assert load_state(conn, "https://a.example/f") == state
    assert load_state(conn, "https://new.example/") == SourceState("https://new.example/")
    assert prune_sources(conn, ["https://a.example/f"]) == 2
    assert conn.execute("SELECT url FROM source_state").fetchall() == [("https://a.example/f",)]
    assert conn.execute("SELECT COUNT(*) FROM source_seen").fetchone() == (0,)


def test_corrupt_stored_items_are_treated_as_none() -> None:
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    conn.execute("INSERT INTO source_state (url, items) VALUES ('u', '{not json')")
    assert load_state(conn, "u").items == ()


@pytest.mark.timeout(30)
def test_item_flood_is_parsed_in_bounded_time_and_capped() -> None:
    items = "".join(f"<item><title>T {i}</title><link>https://e.example/{i}</link><pubDate>"
                    f"Sat, 01 Jun 2024 {i % 24:02d}:00:00 GMT</pubDate></item>" for i in range(10_000))
    body = f'<rss version="2.0"><channel><title>x</title>{items}</channel></rss>'.encode()
    start = time.monotonic()
    feed = parse_feed(body, {})
    built = build_articles(feed, SourceConfig("https://e.example/f"), "https://e.example/f", 200, {}, NOW)
    assert time.monotonic() - start < 10
    assert len(built.articles) == 200 and {a.published.hour for a in built.articles} == {23}  # newest first
    assert [a.id for a in built.articles] == sorted(a.id for a in built.articles)  # ties broken by id
