"""End to end against the loopback server: statuses, limits and budgets (RELIABILITY #1-#12, #16-#20)."""

from __future__ import annotations

import sqlite3
import tracemalloc
from datetime import datetime

import pytest

from aggregator.sources.remote import SourceConfig, SourceReport, SourcesResult, collect_sources

pytestmark = pytest.mark.timeout(30)


def by_url(result: SourcesResult) -> dict[str, SourceReport]:
    return {report.url: report for report in result.reports}


def ids_from(result: SourcesResult, url: str) -> set[str]:
    return {a.id for a in result.articles if a.origin == url}


def test_valid_rss_atom_and_json_feed(site, source, settings, conn, now) -> None:
    rss_source = source("/rss", name="My RSS", topics=("News",), quality=70.0)
    sources = [rss_source, source("/atom"), source("/json")]
    result = collect_sources(sources, settings, conn, now)
    reports = by_url(result)
    assert [r.status for r in reports.values()] == ["fresh"] * 3
    assert reports[sources[0].url].items == 2
    assert reports[sources[2].url].dropped == 2  # javascript: link and wrong types
    first = next(a for a in result.articles if a.url == "https://example.org/rss/1")
    assert first.title == "First RSS" and first.summary == "Hello world"
    assert first.topics == ("News",) and first.tags == ("Python",) and first.quality == 70.0
    assert first.provider is not None and first.provider.name == "My RSS"
    assert first.published == datetime.fromisoformat("2024-06-01T10:00:00+00:00")
    atom = next(a for a in result.articles if a.origin == sources[1].url)
    assert atom.url == "https://atom.example.net/a/1" and atom.content_html == "<p>Atom <i>body</i></p>"
    assert atom.provider is not None and atom.provider.name == "Test Atom"
    assert atom.provider.domain == "atom.example.net" and atom.quality is None
    jf = next(a for a in result.articles if a.origin == sources[2].url)
    assert jf.published == datetime.fromisoformat("2024-05-29T08:00:00+00:00")
    assert jf.image is not None and jf.image.url == "https://json.example.com/img.png"
    assert result.problems and all(p.kind == "warning" for p in result.problems)


def test_user_agent_identifies_us(site, source, settings, conn, now) -> None:
    collect_sources([source("/rss"), source("/chain/1")], settings, conn, now)
    agents = {r["user-agent"] for r in site.requests}
    assert len(site.requests) == 4 and len(agents) == 1
    (agent,) = agents
    assert agent.startswith("aggregator/") and "+https://" in agent and "python-httpx" not in agent


HOSTILE = {
    "/gone": ("failed", "410"),
    "/error": ("failed", "HTTP 500"),
    "/empty": ("failed", "empty response"),
    "/loop": ("failed", "too many redirects"),
    "/to-file": ("failed", "non-http"),
    "/drip": ("failed", "deadline"),
    "/silent": ("failed", "read timeout"),
    "/big": ("failed", "too large"),
    "/endless": ("failed", "too large"),
    "/bomb": ("failed", "too large"),
    "/bomb-deflate": ("failed", "too large"),
    "/bomb-raw-deflate": ("failed", "too large"),
    "/bomb-gzip-gzip": ("failed", "too large"),
    "/brotli": ("failed", "unsupported Content-Encoding 'br'"),
    "/corrupt-gzip": ("failed", "cannot decode the body"),
    "/gzip-x5": ("failed", "5 stacked content codings refused"),
    "/429": ("failed", "429"),
    "/malformed": ("failed", "malformed feed"),
    "/html": ("failed", "not a feed"),
    "/unsolicited-304": ("failed", "unsolicited 304"),
    "/nowhere": ("failed", "404"),
}


def test_hostile_routes_fail_alone_and_in_time(site, source, settings, conn, now, stopwatch) -> None:
    good = [source("/rss"), source("/atom"), source("/json"), source("/gzip"), source("/gzip-gzip"),
            source("/deflate"), source("/raw-deflate"), source("/chain/1")]
    bad = [source(path) for path in HOSTILE]
    with stopwatch() as watch:
        result = collect_sources(bad + good, settings, conn, now)
    # Generous slack for a loaded CI machine: the drip is cut at the deadline, not after len(body) s.
    assert watch.seconds < settings.deadline + 10
    reports = by_url(result)
    for path, (status, reason) in HOSTILE.items():
        report = reports[site.url(path)]
        assert (report.status, reason in (report.error or "")) == (status, True), (path, report)
    for good_source in good:
        assert reports[good_source.url].status == "fresh"
        assert ids_from(result, good_source.url)
    failed = {p.where for p in result.problems if p.kind == "failed"}
    assert failed == {site.url(path) for path in HOSTILE}


@pytest.mark.parametrize("path", ["/bomb", "/bomb-deflate", "/bomb-raw-deflate", "/bomb-gzip-gzip"])
def test_a_compression_bomb_never_takes_much_more_than_the_cap(site, source, settings, conn, now, path) -> None:
    """RELIABILITY #5: the body is decoded a bounded piece at a time, so a
    bomb (128 MiB of zeros; gzip of gzip: a million to one) fails at the
    cap without expanding past it first (one 64 KiB network chunk of gzip'd
    zeros alone is 64 MiB)."""
    tracemalloc.start()
    try:
        result = collect_sources([source(path)], settings, conn, now)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.reports[0].status == "failed" and "too large" in (result.reports[0].error or "")
    assert peak < settings.max_bytes + (8 << 20), f"peak {peak >> 20} MiB for a {settings.max_bytes >> 20} MiB cap"


def test_drip_is_cut_at_the_deadline(site, source, make_settings, conn, now, stopwatch) -> None:
    with stopwatch() as watch:
        result = collect_sources([source("/drip")], make_settings(deadline=1.5), conn, now)
    assert result.reports[0].status == "failed" and "deadline of 1.5s" in (result.reports[0].error or "")
    assert 1.4 < watch.seconds < 10  # the drip would take minutes; slack for a loaded machine


def test_run_budget_abandons_unfinished_sources(site, source, make_settings, conn, now, stopwatch) -> None:
    settings = make_settings(deadline=30.0, read_timeout=30.0, run_budget=1.5, concurrency=3)
    slow = [SourceConfig(url=site.url("/drip") + f"?n={i}") for i in range(6)]
    with stopwatch() as watch:
        result = collect_sources([source("/rss"), *slow], settings, conn, now)
    assert watch.seconds < 1.5 + 8  # six drips would take minutes; slack for a loaded machine
    reports = by_url(result)
    assert reports[site.url("/rss")].status == "fresh"
    outcomes = {(reports[s.url].status, reports[s.url].error) for s in slow}
    assert outcomes == {("failed", "run budget exhausted")}


def test_conditional_get_and_304(site, source, settings, conn, now) -> None:
    src = source("/etag")
    first = collect_sources([src], settings, conn, now)
    second = collect_sources([src], settings, conn, now)
    assert first.reports[0].status == "fresh" and second.reports[0].status == "cached"
    assert second.reports[0].http_status == 304
    assert site.requests[-1].get("if-none-match") == '"v1"' and "if-none-match" not in site.requests[0]
    assert second.articles == first.articles


def test_a_failing_source_keeps_its_items_and_backs_off(site, source, settings, conn, now) -> None:
    src = source("/flaky")
    good = collect_sources([src], settings, conn, now)
    site.flaky_fails = True
    stale = collect_sources([src], settings, conn, now)
    assert stale.reports[0].status == "stale" and stale.articles == good.articles
    assert [p.kind for p in stale.problems] == ["failed"] and "500" in stale.problems[0].reason
    deferred = collect_sources([src], settings, conn, now)  # within the 30 min backoff
    assert deferred.reports[0].status == "deferred" and deferred.articles == good.articles
    assert deferred.problems == () and site.hits["/flaky"] == 2
    later = collect_sources([src], settings, conn, now.replace(minute=31))
    assert later.reports[0].status == "stale" and site.hits["/flaky"] == 3
    row = conn.execute("SELECT consecutive_failures, not_before FROM source_state").fetchone()
    assert row == (2, now.replace(minute=31).replace(hour=13).isoformat())  # 2nd failure: 60 min


@pytest.mark.parametrize(("path", "not_before"), [
    ("/429", "2024-06-01T13:00:00+00:00"),
    ("/503-date", "2024-06-01T14:00:00+00:00"),
    ("/429-garbage", "2024-06-01T12:30:00+00:00"),  # default backoff
])
def test_retry_after_is_honoured_across_runs(site, source, settings, conn, now, path, not_before) -> None:
    src = source(path)
    first = collect_sources([src], settings, conn, now)
    assert first.reports[0].status == "failed" and first.reports[0].http_status in (429, 503)
    stored = conn.execute("SELECT not_before FROM source_state").fetchone()[0]
    assert stored == not_before
    second = collect_sources([src], settings, conn, now.replace(minute=20))
    assert second.reports[0].status == "deferred" and not second.reports[0].failed
    assert site.hits[path] == 1


def test_items_without_dates_keep_their_first_seen_time(site, source, settings, conn, now) -> None:
    first = collect_sources([source("/undated")], settings, conn, now)
    second = collect_sources([source("/undated")], settings, conn, now.replace(hour=18))
    assert {a.published for a in first.articles} == {now}
    assert [(a.id, a.published) for a in second.articles] == [(a.id, a.published) for a in first.articles]


def test_scripts_and_dangerous_links_do_not_survive(site, source, settings, conn, now) -> None:
    result = collect_sources([source("/xss"), source("/xss-json")], settings, conn, now)
    assert result.reports[0].items == 1 and result.reports[0].dropped == 2
    rss_item, json_item = result.articles
    hostile = ("<script", "onerror", "onclick", "onload", "javascript:", "alert(", "<iframe", "<form", "<svg")
    for bad in hostile:
        assert bad not in repr(result.articles).lower()
    assert rss_item.title == "Evil title" and json_item.title == "Bold title"
    assert json_item.content_html is not None and 'src="https://example.org/a.png"' in json_item.content_html


def test_relative_links_resolve_against_the_feed_url(site, source, settings, conn, now) -> None:
    result = collect_sources([source("/relative")], settings, conn, now)
    assert sorted(a.url for a in result.articles) == [site.url("/posts/rel-1"), site.url("/posts/rel-2")]


def test_bozo_feed_keeps_valid_items_with_a_warning(site, source, settings, conn, now) -> None:
    result = collect_sources([source("/bozo")], settings, conn, now)
    assert result.reports[0].status == "fresh" and result.reports[0].items >= 1
    assert any(p.kind == "warning" and "malformed" in p.reason for p in result.problems)


def test_category_topics_and_item_cap(site, source, settings, conn, now) -> None:
    result = collect_sources([source("/rss", topics=("News",), category_topics=True, max_items=1)],
                             settings, conn, now)
    (article,) = result.articles  # newest only
    assert article.url == "https://example.org/rss/1" and article.topics == ("News", "Python")


def test_offline_uses_cached_items_without_requests(site, source, settings, conn, now) -> None:
    sources = [source("/rss"), source("/json"), source("/never-fetched")]
    online = collect_sources(sources[:2], settings, conn, now)
    hits = sum(site.hits.values())
    offline = collect_sources(sources, settings, conn, now, offline=True)
    assert [r.status for r in offline.reports] == ["offline"] * 3
    assert offline.articles == online.articles and offline.problems == ()
    assert sum(site.hits.values()) == hits


def test_cached_items_follow_config_changes(site, source, settings, conn, now) -> None:
    collect_sources([source("/rss", topics=("Old",))], settings, conn, now)
    edited = source("/rss", topics=("New",), quality=5.0)
    result = collect_sources([edited], settings, conn, now, offline=True)
    assert {a.topics for a in result.articles} == {("New",)} and {a.quality for a in result.articles} == {5.0}


def test_state_survives_a_reopened_database(site, source, settings, tmp_path, now) -> None:
    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    first = collect_sources([source("/json")], settings, db, now)
    # Only the build frame commits: a killed run leaves the state as it was.
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT COUNT(*) FROM source_state").fetchone() == (0,)
    db.commit()
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT COUNT(*) FROM source_state").fetchone() == (1,)
    db.close()
    db = sqlite3.connect(path)
    again = collect_sources([source("/json")], settings, db, now, offline=True)
    db.close()
    assert again.articles == first.articles


def test_duplicate_source_urls_are_fetched_once(site, source, settings, conn, now) -> None:
    result = collect_sources([source("/rss"), source("/rss", name="again")], settings, conn, now)
    assert len(result.reports) == 1 and site.hits["/rss"] == 1
    assert [p.kind for p in result.problems] == ["warning"]
