"""The no-change shortcut: a rebuild with the same inputs replays the last
run's report and writes nothing, but never hides a change -- an article
whose date arrives, a removed output file, a failure to retry, a config
edit."""

from __future__ import annotations

import json

from support import Project, article


def _report(project: Project, *args: str) -> tuple[int, dict]:
    result = project.run("--report", "report.json", *args)
    report = json.loads((project.root / "report.json").read_text("utf-8"))
    assert report["exit_code"] == result.returncode, result.stderr
    return result.returncode, report


def _items(project: Project, feed: str = "all.json") -> list[str]:
    return [item["url"] for item in json.loads((project.out / feed).read_bytes())["items"]]


def test_replay_reports_the_same_problems_and_exit_code(project: Project) -> None:
    project.add("good.md", article("Good", "https://example.org/good"))
    project.add("bad.md", "---\ntitle: [unclosed\n---\n")
    first_code, first = _report(project)
    second_code, second = _report(project)
    assert first_code == second_code == 1
    assert first["problems"] == second["problems"] and "bad.md" in second["problems"][0]["where"]
    assert second["outputs"]["written"] == []
    assert second["outputs"]["unchanged"] == first["outputs"]["unchanged"] + len(first["outputs"]["written"])
    assert "collect" not in second["timings"]  # replayed: nothing was collected
    assert second["inputs"]["parsed"] == 0 and second["inputs"]["articles"] == first["inputs"]["articles"] == 1


def test_an_article_dated_in_the_future_appears_when_its_day_comes(project: Project) -> None:
    project.add("now.md", article("Now", "https://example.org/now", date="2026-11-20T00:00:00Z"))
    project.add("later.md", article("Later", "https://example.org/later", date="2026-12-10T00:00:00Z"))
    code, report = _report(project, "--now", "2026-11-26T00:00:00Z")
    assert code == 1 and any("in the future" in p["reason"] for p in report["problems"])
    assert _items(project) == ["https://example.org/now"]
    # Same files, a day too early (max_future is 1 day): still replayed.
    _report(project, "--now", "2026-12-08T00:00:00Z")
    assert _items(project) == ["https://example.org/now"]
    # Its day has come: the shortcut must not hide it.
    code, report = _report(project, "--now", "2026-12-09T12:00:00Z")
    assert code == 0 and report["problems"] == []
    assert sorted(_items(project)) == ["https://example.org/later", "https://example.org/now"]


def test_a_removed_output_file_is_restored(project: Project) -> None:
    project.add("a.md", article("A", "https://example.org/a", topics=("Robots",)))
    _report(project)
    before = (project.out / "robots.atom").read_bytes()
    (project.out / "robots.atom").unlink()
    _code, report = _report(project)
    assert report["outputs"]["written"] == ["robots.atom"]
    assert (project.out / "robots.atom").read_bytes() == before


def test_a_failed_read_is_retried_not_replayed(project: Project) -> None:
    project.add("a.md", article("A", "https://example.org/a"))
    volume = project.root / "volume"  # a second article folder, not mounted: a failed read
    project.config.write_text(project.config.read_text("utf-8").replace("articles: [articles]",
                                                                        "articles: [articles, volume]"), "utf-8")
    code, report = _report(project)
    assert code == 1 and [p["kind"] for p in report["problems"]] == ["failed"]
    # Same inputs, but the last run failed: a full run tries again.
    code, report = _report(project)
    assert code == 1 and "collect" in report["timings"]
    # The volume is mounted again.
    volume.mkdir()
    (volume / "b.md").write_text(article("B", "https://example.org/b"), "utf-8")
    code, report = _report(project)
    assert code == 0, report["problems"]
    assert sorted(_items(project)) == ["https://example.org/a", "https://example.org/b"]


def test_a_config_change_is_never_replayed(project: Project) -> None:
    project.add("a.md", article("A", "https://example.org/a", quality=20))
    project.add("b.md", article("B", "https://example.org/b", quality=90))
    _report(project)
    assert len(_items(project)) == 2
    project.write_config("filters: {min_quality: 50}\n")
    _code, report = _report(project)
    assert _items(project) == ["https://example.org/b"] and report["inputs"]["filtered"] == 1
