"""The CLI contract: commands, exit codes, output on stdout/stderr."""

from __future__ import annotations

import json
import os

from support import EXAMPLE, Project, article


def test_build_example_exits_0_with_one_summary_line(project: Project) -> None:
    project.add("example.txt", EXAMPLE.read_bytes())
    result = project.run()
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and "1 articles from 1 files" in lines[0]
    manifest = json.loads((project.out / "index.json").read_text())
    topics = {f["topic"]: f for f in manifest["feeds"] if f["kind"] != "archive"}
    assert {"Computer Vision", "AI", None} <= set(topics)
    assert topics["Computer Vision"]["files"] == {"rss": "computer-vision.xml", "atom": "computer-vision.atom",
                                                  "json": "computer-vision.json", "html": "computer-vision.html"}


def test_quiet_prints_nothing_on_success(project: Project) -> None:
    project.add("example.txt", EXAMPLE.read_bytes())
    result = project.run("-q")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_skipped_file_exits_1_and_names_path_and_reason(project: Project) -> None:
    project.add("good.md", article("Good", "https://example.org/good"))
    bad = project.add("bad.md", "---\ntitle: [unclosed\n---\n")
    result = project.run("-q")
    assert result.returncode == 1
    assert str(bad) in result.stderr and "invalid YAML" in result.stderr
    data = json.loads((project.out / "all.json").read_text())
    assert [i["title"] for i in data["items"]] == ["Good"]


def test_config_error_exits_2_naming_key_and_line(project: Project) -> None:
    project.config.write_text('site: {title: "T", base_url: "https://e.org/"}\nranking:\n  half_life: soon\n')
    result = project.run()
    assert result.returncode == 2
    assert "config.yaml:3: ranking.half_life: expected a duration" in result.stderr
    assert not project.out.exists()


def test_unknown_key_exits_2(project: Project) -> None:
    project.config.write_text('site: {title: "T", base_url: "https://e.org/"}\nfeedz: {}\n')
    result = project.run()
    assert result.returncode == 2 and "config.yaml:2: feedz: unknown key" in result.stderr


def test_usage_error_exits_2(project: Project) -> None:
    assert project.run("--no-such-flag").returncode == 2


def test_version(project: Project) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "aggregator", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("aggregator ")


def test_check_writes_nothing_and_reports_problems(project: Project) -> None:
    project.add("good.md", article("Good", "https://example.org/good"))
    assert project.run(command="check").returncode == 0
    project.add("bad.md", "no front matter\n")
    result = project.run(command="check")
    assert result.returncode == 1 and "bad.md" in result.stderr and "no front matter" in result.stderr
    assert not project.out.exists()


def test_articles_and_output_override_the_config(project: Project) -> None:
    other = project.root / "elsewhere"
    other.mkdir()
    (other / "a.md").write_text(article("Elsewhere", "https://example.org/elsewhere"))
    result = project.run("--articles", str(other), "--output", str(project.root / "site"))
    assert result.returncode == 0, result.stderr
    feed = json.loads((project.root / "site" / "all.json").read_text())
    assert [i["title"] for i in feed["items"]] == ["Elsewhere"]


def test_report_file_is_json(project: Project) -> None:
    project.add("good.md", article("Good", "https://example.org/good"))
    project.add("bad.md", "---\n- a list\n---\n")
    result = project.run("-q", "--report", "report.json")
    assert result.returncode == 1
    report = json.loads((project.root / "report.json").read_text())
    assert report["exit_code"] == 1
    assert [p["where"].endswith("bad.md") for p in report["problems"]] == [True]
    assert "outputs" in report and "timings" in report


def test_same_input_same_bytes_and_no_rewrite(project: Project, tmp_path_factory: object) -> None:
    project.add("example.txt", EXAMPLE.read_bytes())
    project.add("b.md", article("B", "https://example.org/b", topics=("AI", "Robots")))
    assert project.run("-q").returncode == 0
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in project.out.rglob("*") if p.is_file()}
    # Days later, without --now: nothing changes, nothing is rewritten.
    assert project.run("-q", "--now", "2026-12-09T00:00:00Z").returncode == 0
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in project.out.rglob("*") if p.is_file()}
    assert before == after
    # A fresh state and output folder gives the same bytes.
    os.rename(project.out, project.root / "first")
    os.remove(project.root / "state" / "state.db")
    assert project.run("-q").returncode == 0
    again = {p: p.read_bytes() for p in project.out.rglob("*") if p.is_file()}
    assert again == {name: data for name, (data, _mtime) in before.items()}
