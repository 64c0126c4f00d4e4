"""Incremental builds: the parse cache and the digest-based skipping of feeds.

A rebuild must write exactly the files whose bytes change (checked against
the ``--report`` JSON ``outputs.written`` / ``Report.written`` and against
the files' inode and mtime_ns), re-read exactly the article files that
changed, and still restore an output file deleted by hand.  The expected
set of rewritten files is computed from the manifest: every feed whose items
include the changed article (three files each) plus the listings whose bytes
changed.  Every output folder is checked with ``specs.check_output_folder``.
The process-pool and Dask executors are covered in test_executors.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from specs import check_output_folder
from support import NOW, Project, article, build_with_report, stamp_old, touched

import aggregator
from aggregator import load_config
from aggregator.build import write
from aggregator.build.frame import build
from aggregator.report import Report
from aggregator.writers import formats

NOW_DT = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
LISTINGS = ("index.json", "index.opml", "topics.opml", "index.html", "icon.png", "logo.png")
CONFIG = ("feeds: {max_items: 3}\n"
          "custom_feeds:\n  - {name: Robots and AI, slug: robo-ai, topics: [robots, ai], topics_match: all}\n")

# name -> (topics, quality, date).  AI has more articles than max_items, so
# an AI article can be out of the AI feed while it is in the Robots feed.
CORPUS: dict[str, tuple[tuple[str, ...], float, str]] = {
    "ai-1": (("AI",), 90, "2026-11-20T10:00:00Z"),
    "ai-2": (("AI",), 85, "2026-11-21T10:00:00Z"),
    "ai-3": (("ai", "Space"), 80, "2026-11-22T10:00:00Z"),
    "ai-4": (("AI",), 75, "2026-11-23T10:00:00Z"),
    "robo-old": (("AI", "Robots"), 10, "2026-10-01T10:00:00Z"),
    "robo-1": (("Robots",), 60, "2026-11-24T10:00:00Z"),
    "space-1": (("Space",), 50, "2026-11-18T10:00:00Z"),
    "space-2": (("Space",), 40, "2026-11-10T10:00:00Z"),
}


def url(name: str) -> str:
    return f"https://example.com/{name}"


def text(name: str, title: str | None = None) -> str:
    topics, quality, date = CORPUS[name]
    return article(title or f"Story {name}", url(name), date=date, topics=topics, quality=quality,
                   extra='provider: {name: "Example", domain: "example.com"}', body=f"Body of {name}.\n")


def setup_site(project: Project, config: str = CONFIG) -> None:
    for name in CORPUS:
        project.add(f"{name}.md", text(name))
    project.write_config(config)




def run_api(project: Project) -> Report:
    report = build(load_config(project.config), now=NOW_DT)
    assert report.exit_code == 0, [str(p) for p in report.problems]
    check_output_folder(project.out)
    return report


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def manifest(project: Project) -> dict[str, Any]:
    return dict(json.loads((project.out / "index.json").read_bytes()))


def feed_files(project: Project) -> set[str]:
    return {path for entry in manifest(project)["feeds"] for path in entry["files"].values()}


def feeds_containing(project: Project, article_url: str) -> dict[str, set[str]]:
    """slug-key -> files of every manifest feed whose items include ``article_url``."""
    found: dict[str, set[str]] = {}
    for entry in manifest(project)["feeds"]:
        data = json.loads((project.out / entry["files"]["json"]).read_bytes())
        if article_url in [item["id"] for item in data["items"]]:
            found[f"{entry['kind']}:{entry['slug']}"] = set(entry["files"].values())
    return found


def test_second_build_writes_nothing_and_reports_timings(project: Project) -> None:
    setup_site(project)
    first = build_with_report(project)
    assert set(first["outputs"]["written"]) == feed_files(project) | set(LISTINGS)
    files = snapshot(project.out)
    before = stamp_old(project.out)
    second = build_with_report(project)
    assert second["outputs"]["written"] == []
    assert second["outputs"]["removed"] == []
    assert second["outputs"]["unchanged"] == len(files)
    assert second["inputs"]["parsed"] == 0 and second["inputs"]["files"] == len(CORPUS)
    for report in (first, second):
        timings = report["timings"]
        assert "total" in timings and all(isinstance(v, float | int) and v >= 0 for v in timings.values())
    # The full run times each stage; the second may be replayed (no stage ran), its total is still timed.
    assert {"collect", "rank", "write"} <= set(first["timings"])
    assert first["timings"]["total"] >= max(first["timings"][k] for k in ("collect", "rank", "write"))
    assert touched(project.out, before) == set()
    assert snapshot(project.out) == files


def test_touching_an_article_rereads_it_and_rewrites_nothing(project: Project) -> None:
    setup_site(project)
    run_api(project)
    before = stamp_old(project.out)
    path = project.articles / "ai-3.md"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    report = run_api(project)
    assert report.parsed == 1  # its mtime changed: read again
    assert report.written == []
    assert touched(project.out, before) == set()


def test_renaming_an_article_rereads_it_and_rewrites_nothing(project: Project) -> None:
    setup_site(project)
    run_api(project)
    files = snapshot(project.out)
    before = stamp_old(project.out)
    (project.articles / "ai-3.md").rename(project.articles / "renamed.md")
    report = run_api(project)
    assert report.parsed == 1
    assert report.written == []  # local paths are not published: same bytes
    assert touched(project.out, before) == set()
    assert snapshot(project.out) == files


def test_the_listings_are_rendered_only_when_a_feed_changes(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    setup_site(project)
    run_api(project)
    files = snapshot(project.out)
    calls: list[str] = []  # the listings rendered
    real = write.plan_listings

    def counting(*args: Any) -> list[Any]:
        return [dataclasses.replace(listing, render=lambda infos, listing=listing: calls.append(listing.path)
                                    or listing.render(infos)) for listing in real(*args)]

    monkeypatch.setattr(write, "plan_listings", counting)
    path = project.articles / "ai-3.md"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    report = run_api(project)
    assert report.parsed == 1 and calls == []  # read again, same article: no feed and no listing changed
    project.add("space-2.md", text("space-2", "A brand new title"))
    report = run_api(project)
    assert calls == ["index.html"] and "index.html" in report.written  # a newest item of a feed changed
    (project.out / "index.html").unlink()
    report = run_api(project)
    assert calls == ["index.html"] * 2 and report.written == ["index.html"]
    assert snapshot(project.out).keys() == files.keys()


@pytest.mark.parametrize("name", ["robo-old", "ai-4", "space-2"])
def test_changing_one_article_rewrites_only_the_feeds_it_is_in(project: Project, name: str) -> None:
    setup_site(project)
    run_api(project)
    containing = feeds_containing(project, url(name))
    listings = {n: (project.out / n).read_bytes() for n in LISTINGS}
    if name == "robo-old":
        # Low quality and old: out of the AI and "all" feeds, in the Robots and custom feeds.
        assert set(containing) == {"topic:robots", "custom:robo-ai"}
    if name == "ai-4":
        assert {"topic:ai", "all:all"} <= set(containing)
    before = stamp_old(project.out)
    project.add(f"{name}.md", text(name, "A brand new title"))
    report = run_api(project)
    assert report.parsed == 1
    assert feeds_containing(project, url(name)) == containing  # a title does not move it
    changed = {n for n in LISTINGS if (project.out / n).read_bytes() != listings[n]}
    expected = set().union(*containing.values()) | changed
    assert set(report.written) == expected
    assert touched(project.out, before) == expected
    for path in set().union(*containing.values()):
        if path.endswith(".atom"):
            titles = [e.title for e in feedparser.parse((project.out / path).read_bytes()).entries]
            assert "A brand new title" in titles, path


def test_a_deleted_output_file_is_restored(project: Project) -> None:
    setup_site(project)
    run_api(project)
    files = snapshot(project.out)
    before = stamp_old(project.out)
    for relative in ("ai.atom", "custom/robo-ai.json", "index.opml"):
        (project.out / relative).unlink()
    report = run_api(project)
    assert set(report.written) == {"ai.atom", "custom/robo-ai.json", "index.opml"}
    assert touched(project.out, before) == {"ai.atom", "custom/robo-ai.json", "index.opml"}
    assert snapshot(project.out) == files
    # And once restored, nothing more to do.
    assert run_api(project).written == []


def test_a_deleted_output_folder_is_rebuilt(project: Project) -> None:
    setup_site(project)
    run_api(project)
    files = snapshot(project.out)
    for path in sorted(project.out.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    report = run_api(project)
    assert report.parsed == 0  # the parse cache still holds every article
    assert set(report.written) == set(files)
    assert snapshot(project.out) == files


def test_changing_the_site_title_rewrites_every_feed(project: Project) -> None:
    setup_site(project)
    run_api(project)
    old = snapshot(project.out)
    before = stamp_old(project.out)
    project.config.write_text(project.config.read_text("utf-8").replace('"Test News"', '"Other News"'), "utf-8")
    report = run_api(project)
    assert report.parsed == 0  # the site title does not change how articles parse
    everything = feed_files(project) | set(LISTINGS) - {"icon.png", "logo.png"}  # the images name no site
    assert set(report.written) == everything == set(old) - {"icon.png", "logo.png"}
    assert touched(project.out, before) == everything
    for path in feed_files(project):
        data = (project.out / path).read_bytes()
        assert data != old[path] and b"Other News" in data, path


@pytest.mark.parametrize("change", ["parse: {max_file_bytes: 8MiB}", "feeds: {max_items: 3, max_topics: 5}"])
def test_a_parse_setting_change_rereads_every_article(project: Project, change: str) -> None:
    setup_site(project)
    run_api(project)
    files = snapshot(project.out)
    project.write_config(CONFIG.replace("feeds: {max_items: 3}\n", "") + change + "\n"
                         + ("feeds: {max_items: 3}\n" if "max_items" not in change else ""))
    report = run_api(project)
    assert report.parsed == len(CORPUS)
    assert report.written == []  # same articles, same bytes
    assert snapshot(project.out) == files


def _count_renders(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count every feed rendering (each format's writer is looked up in FORMATS)."""
    calls: Counter[str] = Counter()
    for name, fmt in list(formats.FORMATS.items()):
        def counting(doc: Any, _render: Any = fmt.render, _name: str = name) -> bytes:
            calls[_name] += 1
            return bytes(_render(doc))

        monkeypatch.setitem(formats.FORMATS, name, fmt._replace(render=counting))
    return calls


def _clear_caches() -> None:
    """Forget what the package memoised about its own code (the code id the
    caches are keyed on is computed once per process)."""
    for name, module in list(sys.modules.items()):
        if name == "aggregator" or name.startswith("aggregator."):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)) and \
                        getattr(value, "__module__", "").startswith("aggregator"):
                    value.cache_clear()


@pytest.fixture
def set_version(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """A program upgrade: ``aggregator.__version__`` and every module of the
    package that imported the name (``from . import __version__`` binds it
    at import time, so patching the package attribute alone changes nothing),
    then the memoised code id is forgotten."""
    original = aggregator.__version__

    def set_to(version: str) -> None:
        for name, module in list(sys.modules.items()):
            if (name == "aggregator" or name.startswith("aggregator.")) and \
                    getattr(module, "__version__", None) == original:
                monkeypatch.setattr(module, "__version__", version)
        _clear_caches()

    yield set_to
    monkeypatch.undo()
    _clear_caches()


def test_a_program_version_change_reparses_and_rerenders_same_bytes(
        project: Project, monkeypatch: pytest.MonkeyPatch, set_version: Callable[[str], None]) -> None:
    setup_site(project)
    run_api(project)
    files = snapshot(project.out)
    feeds = len(manifest(project)["feeds"])
    before = stamp_old(project.out)
    renders = _count_renders(monkeypatch)

    assert run_api(project).parsed == 0 and sum(renders.values()) == 0  # same version: nothing to do

    set_version(aggregator.__version__ + ".post1")
    report = run_api(project)
    assert report.parsed == len(CORPUS)  # the parse cache is invalid for another version
    pages = sum(1 for f in manifest(project)["feeds"] if "html" in f["files"])
    assert renders == Counter({"rss": feeds, "atom": feeds, "json": feeds, "html": pages})  # every feed re-rendered
    assert report.written == []  # ... to the same bytes: the version is not published
    assert touched(project.out, before) == set()
    assert snapshot(project.out) == files

    renders.clear()
    again = run_api(project)
    assert again.parsed == 0 and sum(renders.values()) == 0 and again.written == []


def test_an_earlier_now_builds_what_a_fresh_build_would(make_project: Callable[[str], Project]) -> None:
    # Reproducible builds: the same inputs and --now give the same output, whatever ran before.
    later = "2026-12-10T00:00:00Z"
    projects = []
    for name in ("rerun", "fresh"):
        project = make_project(name)
        project.add("now.md", article("Now", "https://example.org/now", date="2026-11-20T00:00:00Z"))
        project.add("soon.md", article("Soon", "https://example.org/soon", date=later))
        projects.append(project)
    rerun, fresh = projects
    assert rerun.run("-q", "--now", later).returncode == 0  # "Soon" is published
    earlier = rerun.run("--now", NOW)  # NOW is 14 days before "Soon"
    expected = fresh.run("--now", NOW)
    assert expected.returncode == 1 and "soon.md" in expected.stderr and "in the future" in expected.stderr
    check_output_folder(fresh.out)
    items = [i["id"] for i in json.loads((fresh.out / "all.json").read_bytes())["items"]]
    assert items == ["https://example.org/now"]
    assert earlier.returncode == 1 and "soon.md" in earlier.stderr and "in the future" in earlier.stderr
    check_output_folder(rerun.out)
    assert snapshot(rerun.out) == snapshot(fresh.out)


def test_changing_one_custom_feeds_filter_rewrites_only_that_feed(project: Project) -> None:
    config = CONFIG + "  - {name: Space, slug: space, topics: [space]}\n"
    setup_site(project, config)
    run_api(project)
    listings = {n: (project.out / n).read_bytes() for n in LISTINGS}
    before = stamp_old(project.out)
    project.write_config(config.replace("topics: [space]}", "topics: [space], min_quality: 60}"))
    report = run_api(project)
    assert report.parsed == 0
    changed = {n for n in LISTINGS if (project.out / n).read_bytes() != listings[n]}
    assert "index.json" in changed  # its item count changed
    expected = {"custom/space.xml", "custom/space.atom", "custom/space.json", "custom/space.html"} | changed
    assert set(report.written) == expected
    assert touched(project.out, before) == expected
    items = json.loads((project.out / "custom/space.json").read_bytes())["items"]
    assert [i["id"] for i in items] == [url("ai-3")]  # the only Space article of quality 60 or more


@pytest.mark.slow
def test_every_edit_ends_where_a_fresh_build_does(make_project: Callable[[str], Project]) -> None:
    """The ranking kept in the state store, step by step: duplicate URLs
    whose winner changes, a withdrawn copy, deleted and renamed files, a
    topic respelled, the clock passing a future-dated article.  After each
    step the output equals, byte for byte, that of a build from scratch."""
    live = make_project("live")
    dup = "https://example.com/dup"
    files = {
        "a.md": article("Dup A", dup, topics=("AI",), quality=80, date="2026-11-20T10:00:00Z"),
        "b.md": article("Dup B", dup, topics=("Robots",), quality=40, date="2026-11-21T10:00:00Z"),
        "c.md": article("Other", "https://example.com/other", topics=("ai", "Space"), quality=60,
                        date="2026-11-22T10:00:00Z"),
        "d.md": article("Soon", "https://example.com/soon", topics=("Space",), date="2026-12-05T00:00:00Z"),
    }
    steps: list[tuple[str, Callable[[dict[str, str]], None], str]] = [
        ("start", lambda f: None, NOW),
        ("winner changes", lambda f: f.update({"b.md": f["b.md"].replace("quality: 40", "quality: 95")}), NOW),
        ("a copy withdrawn", lambda f: f.update({"a.md": f["a.md"].replace("topics:", "removed: true\ntopics:")}),
         NOW),
        ("file deleted", lambda f: f.pop("a.md"), NOW),
        ("file renamed", lambda f: f.update({"z.md": f.pop("c.md")}), NOW),
        ("topic respelled", lambda f: f.update({"z.md": f["z.md"].replace('"ai"', '"A.I."')}), NOW),
        ("the clock passes", lambda f: None, "2026-12-10T00:00:00Z"),
        ("and goes back", lambda f: None, NOW),
    ]
    for number, (step, edit, now) in enumerate(steps):
        edit(files)
        for name in {p.name for p in live.articles.iterdir()} - set(files):
            (live.articles / name).unlink()
        for name, text in files.items():
            if not (live.articles / name).exists() or (live.articles / name).read_text() != text:
                live.add(name, text)
        fresh = make_project(f"fresh-{number}")
        for name, text in files.items():
            fresh.add(name, text)
        got, want = live.run("-q", "--now", now), fresh.run("-q", "--now", now)
        assert got.returncode == want.returncode, (step, got.stderr, want.stderr)
        check_output_folder(live.out)
        assert snapshot(live.out) == snapshot(fresh.out), step
