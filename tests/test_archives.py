"""Monthly RFC 5005 archives (``feeds: {archives: true}``) through the whole build.

A topic with articles over several months (a month with more articles than
``feeds.max_items``, a month with no eligible article, month and year
boundaries at 23:59:59Z / 00:00:00Z, a date with a UTC offset) must get one
archive document per month holding exactly that month's eligible articles,
oldest first, chained by ``prev-archive`` (RSS/Atom) and ``next_url`` (JSON
Feed) from the live feed back to the first month.  Every output folder is
checked with ``specs.check_output_folder``; RSS and Atom are read back with
feedparser, JSON Feed with strict ``json``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
from lxml import etree
from specs import check_output_folder
from support import Project, article, build_with_report, stamp_old, touched

BASE = "https://example.org/feeds/"
FH = "{http://purl.org/syndication/history/1.0}"
ATOM = "{http://www.w3.org/2005/Atom}"
SUFFIX = {"rss": ".xml", "atom": ".atom", "json": ".json"}
CONFIG = "feeds: {archives: true, max_items: 3}\nfilters: {min_quality: 20}\n"


@dataclass(frozen=True)
class Item:
    name: str
    date: str  # as written in the front matter
    topics: tuple[str, ...] = ("AI",)
    quality: float = 50
    extra: str = ""

    @property
    def url(self) -> str:
        return f"https://example.com/{self.name}"

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.date.replace("Z", "+00:00")).astimezone(UTC)

    def text(self, title: str | None = None) -> str:
        return article(title or f"Story {self.name}", self.url, date=self.date, topics=self.topics,
                       quality=self.quality, extra=self.extra)


CORPUS = [
    # 2024-01: seven eligible AI articles (more than max_items 3), one below filters.min_quality.
    Item("jan-first", "2024-01-01T00:00:00Z"),
    Item("jan-05", "2024-01-05T12:00:00Z"),
    Item("jan-10", "2024-01-10T08:00:00Z", topics=("AI", "Biology")),
    Item("jan-low", "2024-01-12T08:00:00Z", quality=5),
    Item("jan-15", "2024-01-15T08:00:00Z", topics=("ai",)),
    Item("jan-20", "2024-01-20T08:00:00Z", quality=90),
    Item("jan-offset", "2024-02-01T00:30:00+01:00"),  # 2024-01-31T23:30:00Z
    Item("jan-last", "2024-01-31T23:59:59Z"),
    # 2024-02: a withdrawn article does not count.
    Item("feb-first", "2024-02-01T00:00:00Z"),
    Item("feb-14", "2024-02-14T09:00:00Z"),
    Item("feb-removed", "2024-02-20T09:00:00Z", extra="removed: true"),
    # 2024-03: nothing eligible on AI (a gap month); Biology has one.
    Item("mar-low", "2024-03-03T10:00:00Z", quality=1),
    Item("mar-bio", "2024-03-05T10:00:00Z", topics=("Biology",)),
    # 2024-04
    Item("apr-03", "2024-04-03T10:00:00Z"),
    Item("apr-last", "2024-04-30T23:59:59Z"),
    # The year boundary.
    Item("dec-last", "2024-12-31T23:59:59Z"),
    Item("newyear", "2025-01-01T00:00:00Z"),
    Item("jan25", "2025-01-02T10:00:00Z", topics=("ai", "Robots")),
]
AI_MONTHS = ["2024-01", "2024-02", "2024-04", "2024-12", "2025-01"]


def eligible(items: list[Item], topic: str = "ai") -> list[Item]:
    return [i for i in items if topic in {t.casefold() for t in i.topics} and i.quality >= 20
            and "removed" not in i.extra]


def by_month(items: list[Item]) -> dict[str, list[str]]:
    """Month -> urls, oldest first (ties by id, which never happen here)."""
    months: dict[str, list[Item]] = {}
    for item in items:
        months.setdefault(item.moment.strftime("%Y-%m"), []).append(item)
    return {m: [i.url for i in sorted(v, key=lambda i: (i.moment, i.url))] for m, v in sorted(months.items())}


def setup_site(project: Project, items: list[Item] = CORPUS, config: str = CONFIG) -> None:
    for item in items:
        project.add(f"{item.name}.md", item.text())
    project.write_config(config)




def manifest(project: Project) -> dict[str, Any]:
    return dict(json.loads((project.out / "index.json").read_bytes()))


def ids_of(path: Path) -> list[str]:
    """Item ids of a feed file: feedparser for RSS/Atom, strict json for JSON Feed."""
    if path.suffix == ".json":
        return [str(i["id"]) for i in json.loads(path.read_bytes())["items"]]
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    return [str(e.id) for e in parsed.entries]


def links_of(path: Path) -> dict[str, str]:
    """rel -> href of a feed's own links, read by feedparser (JSON Feed: next_url as prev-archive)."""
    if path.suffix == ".json":
        data = json.loads(path.read_bytes())
        return {"self": data["feed_url"], **({"prev-archive": data["next_url"]} if "next_url" in data else {})}
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo
    found: dict[str, str] = {}
    for link in parsed.feed.get("links", []):
        assert link["rel"] not in found or link["rel"] == "alternate", f"{path}: two {link['rel']} links"
        found.setdefault(link["rel"], link["href"])
    return found


def local(project: Project, url: str) -> Path:
    assert url.startswith(BASE), url
    return project.out / url[len(BASE):]


def walk(project: Project, fmt: str, topic_slug: str = "ai") -> list[tuple[str, list[str]]]:
    """Follow prev-archive (next_url) from the live feed back to the first
    month: (archive path, its item ids) per document visited."""
    visited: list[tuple[str, list[str]]] = []
    path = project.out / f"{topic_slug}{SUFFIX[fmt]}"
    while "prev-archive" in (links := links_of(path)):
        path = local(project, links["prev-archive"])
        relative = path.relative_to(project.out).as_posix()
        assert relative not in [v for v, _ in visited], f"{relative} visited twice"
        visited.append((relative, ids_of(path)))
        assert len(visited) <= 100
    return visited


def files_of(*stems: str) -> set[str]:
    """The files of feeds: an archive month's three formats, a live feed's and its page."""
    return {stem + suffix for stem in stems
            for suffix in (*SUFFIX.values(), *(() if stem.startswith("archive/") else (".html",)))}


# -- content ------------------------------------------------------------------------------------------------------


def test_each_month_holds_exactly_its_eligible_articles_oldest_first(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    expected = by_month(eligible(CORPUS))
    assert list(expected) == AI_MONTHS
    assert len(expected["2024-01"]) == 7  # more than feeds.max_items
    assert "https://example.com/jan-offset" in expected["2024-01"]
    assert expected["2024-02"][0] == "https://example.com/feb-first"
    assert sorted(p.name for p in (project.out / "archive" / "ai").iterdir()) == \
        sorted(f"{m}{s}" for m in AI_MONTHS for s in SUFFIX.values())
    for month, urls in expected.items():
        for suffix in SUFFIX.values():
            assert ids_of(project.out / "archive" / "ai" / f"{month}{suffix}") == urls, (month, suffix)
    # Another topic's archive holds only its own articles.
    assert by_month(eligible(CORPUS, "biology")) == {"2024-01": ["https://example.com/jan-10"],
                                                     "2024-03": ["https://example.com/mar-bio"]}
    for month, urls in by_month(eligible(CORPUS, "biology")).items():
        assert ids_of(project.out / "archive" / "biology" / f"{month}.json") == urls
    # The live feed keeps its top max_items only.
    assert len(ids_of(project.out / "ai.xml")) == 3


def test_manifest_lists_archives_and_listings_do_not(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    archives = [f for f in manifest(project)["feeds"] if f["kind"] == "archive"]
    ai = [f for f in archives if f["slug"] == "ai"]
    assert [f["month"] for f in ai] == AI_MONTHS
    expected = by_month(eligible(CORPUS))
    for entry in ai:
        month = entry["month"]
        assert entry["topic"] == "AI"
        assert entry["items"] == len(expected[month])
        assert entry["files"] == {fmt: f"archive/ai/{month}{suffix}" for fmt, suffix in SUFFIX.items()}
        newest = max(i.moment for i in eligible(CORPUS) if i.moment.strftime("%Y-%m") == month)
        assert entry["updated"] == newest.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {(f["slug"], f["month"]) for f in archives if f["slug"] != "ai"} == \
        {("biology", "2024-01"), ("biology", "2024-03"), ("robots", "2025-01")}
    # Not feeds to subscribe to: not in the OPML, not in the page's discovery tags.
    opml = ET.fromstring((project.out / "index.opml").read_bytes())
    urls = [o.get("xmlUrl") for o in opml.iter("outline") if o.get("xmlUrl")]
    assert urls and not [u for u in urls if "/archive/" in str(u)]
    page = _Links()
    page.feed((project.out / "index.html").read_text("utf-8"))
    assert page.alternates and not [h for h in page.alternates if "archive/" in h]
    # The page may link where a walk back starts (each topic's newest month), nothing else.
    newest = {f"archive/{slug}/{month}{suffix}" for slug, month in
              (("ai", "2025-01"), ("biology", "2024-03"), ("robots", "2025-01")) for suffix in SUFFIX.values()}
    assert {h for h in page.anchors if "archive/" in h} <= newest


class _Links(HTMLParser):
    """hrefs of <link rel="alternate"> (feed discovery) and of <a> in an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.alternates: list[str] = []
        self.anchors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        href = attributes.get("href")
        if href and tag == "link" and attributes.get("rel") == "alternate":
            self.alternates.append(href)
        elif href and tag == "a":
            self.anchors.append(href)


# -- RFC 5005 links -----------------------------------------------------------------------------------------------


def test_rss_and_atom_archive_links(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    for fmt in ("rss", "atom"):
        suffix = SUFFIX[fmt]
        live = links_of(project.out / f"ai{suffix}")
        assert live["prev-archive"] == f"{BASE}archive/ai/2025-01{suffix}"
        assert "current" not in live
        assert "fh_archive" not in feedparser.parse((project.out / f"ai{suffix}").read_bytes()).feed
        for i, month in enumerate(AI_MONTHS):
            path = project.out / "archive" / "ai" / f"{month}{suffix}"
            links = links_of(path)
            assert links["self"] == f"{BASE}archive/ai/{month}{suffix}"
            assert links["current"] == f"{BASE}ai{suffix}"
            if i == 0:
                assert "prev-archive" not in links
            else:  # the month before that has articles: 2024-03 is skipped
                assert links["prev-archive"] == f"{BASE}archive/ai/{AI_MONTHS[i - 1]}{suffix}"
            assert "fh_archive" in feedparser.parse(path.read_bytes()).feed
            # fh:archive in its namespace, on the feed element (RFC 5005 section 4).
            root = etree.fromstring(path.read_bytes())
            parent = root.find("channel") if fmt == "rss" else root
            assert parent is not None and len(parent.findall(f"{FH}archive")) == 1
    # The other topic's archives point at their own live feed.
    assert links_of(project.out / "archive" / "biology" / "2024-03.atom")["current"] == f"{BASE}biology.atom"
    assert links_of(project.out / "archive" / "biology" / "2024-03.atom")["prev-archive"] == \
        f"{BASE}archive/biology/2024-01.atom"


def test_json_feed_chain_through_next_url(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    live = json.loads((project.out / "ai.json").read_bytes())
    assert live["next_url"] == f"{BASE}archive/ai/2025-01.json"
    assert "expired" not in live
    for i, month in enumerate(AI_MONTHS):
        data = json.loads((project.out / "archive" / "ai" / f"{month}.json").read_bytes())
        assert data["expired"] is True
        assert data["feed_url"] == f"{BASE}archive/ai/{month}.json"
        assert data.get("next_url") == (f"{BASE}archive/ai/{AI_MONTHS[i - 1]}.json" if i else None)


def test_walking_back_from_the_live_feed_collects_every_article_once(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    every = {i.url for i in eligible(CORPUS)}
    for fmt in SUFFIX:
        visited = walk(project, fmt)
        assert [path for path, _ids in visited] == [f"archive/ai/{m}{SUFFIX[fmt]}" for m in reversed(AI_MONTHS)]
        collected = [u for _path, ids in visited for u in ids]
        assert len(collected) == len(set(collected)) == len(every)
        assert set(collected) == every
        assert set(ids_of(project.out / f"ai{SUFFIX[fmt]}")) <= every


def test_archives_are_off_by_default(project: Project) -> None:
    setup_site(project, config="feeds: {max_items: 3}\n")
    build_with_report(project)
    assert not (project.out / "archive").exists()
    assert not [f for f in manifest(project)["feeds"] if f["kind"] == "archive"]
    for suffix in SUFFIX.values():
        assert "prev-archive" not in links_of(project.out / f"ai{suffix}")


def test_turning_archives_off_removes_them(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    project.write_config("feeds: {max_items: 3}\n")
    report = build_with_report(project)
    assert sorted(report["outputs"]["removed"]) == sorted(
        f"archive/{slug}/{m}{s}" for slug, months in (("ai", AI_MONTHS), ("biology", ["2024-01", "2024-03"]),
                                                      ("robots", ["2025-01"]))
        for m in months for s in SUFFIX.values())
    assert not (project.out / "archive").exists()  # no empty folders left behind either
    assert "prev-archive" not in links_of(project.out / "ai.atom")  # the live feed was relinked


# -- incremental --------------------------------------------------------------------------------------------------


def feeds_containing(project: Project, url: str) -> set[str]:
    """Every file (3 formats) of every manifest feed whose JSON Feed lists ``url``."""
    found: set[str] = set()
    for entry in manifest(project)["feeds"]:
        if url in ids_of(project.out / entry["files"]["json"]):
            found |= set(entry["files"].values())
    return found


def listings(project: Project) -> dict[str, bytes]:
    return {name: (project.out / name).read_bytes() for name in ("index.json", "index.opml", "index.html")}


def test_changing_an_old_article_rewrites_only_its_month(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    target = next(i for i in CORPUS if i.name == "feb-14")
    assert feeds_containing(project, target.url) == files_of("archive/ai/2024-02")  # not in a live feed
    old_listings = listings(project)
    before = stamp_old(project.out)
    project.add(f"{target.name}.md", target.text("A new title for February"))
    report = build_with_report(project)
    changed = {name for name, data in listings(project).items() if old_listings[name] != data}
    assert changed == set()  # nothing listed shows this article
    assert set(report["outputs"]["written"]) == files_of("archive/ai/2024-02")
    assert touched(project.out, before) == files_of("archive/ai/2024-02")
    titles = [e.title for e in feedparser.parse((project.out / "archive/ai/2024-02.atom").read_bytes()).entries]
    assert titles == ["Story feb-first", "A new title for February"]


def test_changing_a_recent_article_rewrites_its_month_and_live_feeds(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    target = next(i for i in CORPUS if i.name == "jan25")
    containing = feeds_containing(project, target.url)
    assert containing == files_of("archive/ai/2025-01", "archive/robots/2025-01", "ai", "robots", "all")
    old_listings = listings(project)
    before = stamp_old(project.out)
    project.add(f"{target.name}.md", target.text("Retitled"))
    report = build_with_report(project)
    changed = {name for name, data in listings(project).items() if old_listings[name] != data}
    assert "index.html" in changed  # it shows the newest titles
    assert set(report["outputs"]["written"]) == containing | changed
    assert touched(project.out, before) == containing | changed


def added_after_a_build(project: Project, item: Item) -> tuple[dict[str, tuple[int, int]], dict[str, Any]]:
    """Build the site, stamp its files old, add ``item`` and build again:
    (the stamps, the second build's report)."""
    setup_site(project)
    build_with_report(project)
    before = stamp_old(project.out)
    project.add(f"{item.name}.md", item.text())
    return before, build_with_report(project)


def test_a_new_newest_month_moves_the_live_feeds_prev_archive(project: Project) -> None:
    new = Item("feb25", "2025-02-01T00:00:00Z")
    before, report = added_after_a_build(project, new)
    written = set(report["outputs"]["written"])
    assert files_of("archive/ai/2025-02", "ai", "all") <= written
    # January's RSS and Atom gain a next-archive link to February (JSON Feed only walks back).
    assert {"archive/ai/2025-01.xml", "archive/ai/2025-01.atom"} <= written
    assert written - files_of("archive/ai/2025-02", "ai", "all") - {
        "archive/ai/2025-01.xml", "archive/ai/2025-01.atom"} <= {"index.json", "index.html", "index.opml"}
    assert touched(project.out, before) == written
    for fmt, suffix in SUFFIX.items():
        assert links_of(project.out / f"ai{suffix}")["prev-archive"] == f"{BASE}archive/ai/2025-02{suffix}"
        assert links_of(project.out / f"archive/ai/2025-02{suffix}")["prev-archive"] == \
            f"{BASE}archive/ai/2025-01{suffix}"
        assert [p for p, _ids in walk(project, fmt)][:2] == [f"archive/ai/2025-02{suffix}",
                                                             f"archive/ai/2025-01{suffix}"]
    assert ids_of(project.out / "archive/ai/2025-02.xml") == [new.url]
    assert [f["month"] for f in manifest(project)["feeds"] if f["slug"] == "ai" and f["kind"] == "archive"] == \
        AI_MONTHS + ["2025-02"]


def test_emptying_a_month_removes_it_and_relinks_the_chain(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    before = stamp_old(project.out)
    for name in ("feb-first", "feb-14", "feb-removed"):
        (project.articles / f"{name}.md").unlink()
    report = build_with_report(project)
    gone = files_of("archive/ai/2024-02")
    assert set(report["outputs"]["removed"]) == gone
    assert not any((project.out / p).exists() for p in gone)
    # Only April (whose prev-archive moves to January), January's RSS and Atom (whose next-archive
    # moves to April) and the manifest are rewritten.
    rewritten = files_of("archive/ai/2024-04") | {"archive/ai/2024-01.xml", "archive/ai/2024-01.atom", "index.json"}
    assert set(report["outputs"]["written"]) == rewritten
    assert touched(project.out, before) == rewritten
    months = [m for m in AI_MONTHS if m != "2024-02"]
    for fmt, suffix in SUFFIX.items():
        assert links_of(project.out / f"archive/ai/2024-04{suffix}")["prev-archive"] == \
            f"{BASE}archive/ai/2024-01{suffix}"
        assert [p for p, _ids in walk(project, fmt)] == [f"archive/ai/{m}{suffix}" for m in reversed(months)]
    assert [f["month"] for f in manifest(project)["feeds"] if f["slug"] == "ai" and f["kind"] == "archive"] == months


def test_emptying_the_newest_month_relinks_the_live_feed(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    for name in ("newyear", "jan25"):
        (project.articles / f"{name}.md").unlink()
    report = build_with_report(project)
    assert files_of("archive/ai/2025-01", "archive/robots/2025-01") <= set(report["outputs"]["removed"])
    for fmt, suffix in SUFFIX.items():
        assert links_of(project.out / f"ai{suffix}")["prev-archive"] == f"{BASE}archive/ai/2024-12{suffix}"
        assert next(p for p, _ids in walk(project, fmt)) == f"archive/ai/2024-12{suffix}"
    assert not (project.out / "robots.xml").exists()  # Robots had no other article


def test_filling_a_gap_month_rewrites_only_the_month_after_it(project: Project) -> None:
    march = Item("mar-ai", "2024-03-15T12:00:00Z")
    before, report = added_after_a_build(project, march)
    # The new month, April (its prev-archive moves to March), February's RSS and Atom (next-archive)
    # and the manifest; no live feed shows March.
    expected = files_of("archive/ai/2024-03", "archive/ai/2024-04") | {
        "archive/ai/2024-02.xml", "archive/ai/2024-02.atom", "index.json"}
    assert set(report["outputs"]["written"]) == expected
    assert touched(project.out, before) == expected
    assert links_of(project.out / "archive/ai/2024-04.xml")["prev-archive"] == f"{BASE}archive/ai/2024-03.xml"
    assert links_of(project.out / "archive/ai/2024-03.xml")["prev-archive"] == f"{BASE}archive/ai/2024-02.xml"
    assert ids_of(project.out / "archive/ai/2024-03.atom") == [march.url]
    assert links_of(project.out / "archive/ai/2024-02.atom")["next-archive"] == f"{BASE}archive/ai/2024-03.atom"
    assert "next-archive" not in links_of(project.out / "archive/ai/2025-01.atom")  # the newest has none


def test_a_duplicate_url_is_archived_once_in_the_winning_copys_month(project: Project) -> None:
    items = [Item("jan-a", "2024-01-03T00:00:00Z"), Item("apr-a", "2024-04-03T00:00:00Z")]
    setup_site(project, items)
    # The same URL twice: the higher-quality copy (February) wins and carries both copies' topics.
    project.add("dup-feb.md", article("Dup", "https://example.com/dup", date="2024-02-10T00:00:00Z",
                                      topics=("AI",), quality=70))
    project.add("dup-mar.md", article("Dup", "https://example.com/dup?utm_source=x", date="2024-03-10T00:00:00Z",
                                      topics=("Robots",), quality=40))
    build_with_report(project)
    assert [f["month"] for f in manifest(project)["feeds"] if f["kind"] == "archive" and f["slug"] == "ai"] == \
        ["2024-01", "2024-02", "2024-04"]
    assert ids_of(project.out / "archive/ai/2024-02.json") == ["https://example.com/dup"]
    assert ids_of(project.out / "archive/robots/2024-02.json") == ["https://example.com/dup"]
    assert not (project.out / "archive/robots/2024-03.json").exists()
    for fmt in SUFFIX:
        collected = [u for _path, ids in walk(project, fmt) for u in ids]
        assert sorted(collected) == sorted([items[0].url, items[1].url, "https://example.com/dup"])


# -- dates before the year 1000 (e.g. .NET's 0001-01-01 "no date") ---------------------------------------------


def test_a_year_before_1000_gets_a_four_digit_month(project: Project) -> None:
    items = [Item("y1", "0001-01-01T00:00:00Z"), Item("y999", "0999-12-31T23:59:59Z"),
             Item("y2024", "2024-05-01T00:00:00Z")]
    setup_site(project, items)
    result = project.run("-q")
    assert result.returncode == 0, result.stderr
    # Not check_output_folder: JSON Feed dates of these years are broken too (see the next test).
    months = [f["month"] for f in manifest(project)["feeds"] if f["kind"] == "archive"]
    assert months == ["0001-01", "0999-12", "2024-05"]
    for month, item in zip(months, items, strict=True):
        assert ids_of(project.out / "archive" / "ai" / f"{month}.atom") == [item.url]
    # Walking back goes back in time: 2024-05, then 0999-12, then 0001-01.
    assert [p for p, _ids in walk(project, "atom")] == [f"archive/ai/{m}.atom" for m in reversed(months)]


def test_a_year_before_1000_is_written_as_an_rfc3339_date(project: Project) -> None:
    items = [Item("y1", "0001-01-01T00:00:00Z")]
    setup_site(project, items, config="feeds: {max_items: 3}\n")
    result = project.run("-q")
    assert result.returncode == 0, result.stderr
    live = json.loads((project.out / "ai.json").read_bytes())
    assert [i["date_published"] for i in live["items"]] == ["0001-01-01T00:00:00Z"]
    assert {f["updated"] for f in manifest(project)["feeds"]} == {"0001-01-01T00:00:00Z"}
    check_output_folder(project.out)


def test_moving_an_article_to_another_month_rewrites_both_months(project: Project) -> None:
    setup_site(project)
    build_with_report(project)
    before = stamp_old(project.out)
    moved = Item("jan-05", "2024-04-10T12:00:00Z")  # from January to April
    project.add(f"{moved.name}.md", moved.text())
    report = build_with_report(project)
    expected = files_of("archive/ai/2024-01", "archive/ai/2024-04") | {"index.json"}  # item counts change
    assert set(report["outputs"]["written"]) == expected
    assert touched(project.out, before) == expected
    items = [i for i in CORPUS if i.name != "jan-05"] + [moved]
    for month in ("2024-01", "2024-04"):
        assert ids_of(project.out / f"archive/ai/{month}.xml") == by_month(eligible(items))[month]
