"""The hostile-input folder (tests/hostile, see its README) builds with exit
code 1: every bad file is named with its reason, every good article is
published, every output parses, nothing is written outside the output folder,
and time and memory stay bounded.  Run with both YAML parsers."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from support import run_measured

from aggregator.config import DEFAULT_STRIP_PARAMS
from aggregator.urls import strip_tracking

HOSTILE = Path(__file__).parent / "hostile"
EXPECTED: dict[str, dict[str, str]] = json.loads((HOSTILE / "EXPECTED.json").read_text("utf-8"))
NOW = "2024-06-01T00:00:00Z"
ROOT = os.geteuid() == 0
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_HEAD = ('---\ntitle: "{title}"\nwebUrl: https://example.com/runtime/{slug}\n'
         "publishedDateTime: 2024-05-10T10:00:00Z\ntopics: [Hostile]\n")


def _runtime_cases(articles: Path, canary: Path) -> dict[str, dict[str, str]]:
    """Add the cases that are too big for git or cannot live in it."""
    for name in ("yaml-python-apply.md", "yaml-python-new.md"):
        path = articles / name
        path.write_text(path.read_text("utf-8").replace("CANARY", str(canary)), "utf-8")
    cases: dict[str, dict[str, str]] = {}

    def article(name: str, extra: str, outcome: dict[str, str]) -> None:
        text = _HEAD.format(title=name, slug=name.removesuffix(".md")) + extra + "---\nBody\n"
        (articles / name).write_text(text, "utf-8")
        cases[name] = outcome

    article("deep-nesting.md", "x: " + "[" * 100_000 + "]" * 100_000 + "\n",
            {"outcome": "skipped", "reason": "nested deeper"})
    article("deep-block-nesting.md", "x:\n  " + "- " * 100_000 + "a\n",
            {"outcome": "skipped", "reason": "nested deeper"})
    article("huge-excerpt.md", 'excerpt: "' + "A" * (1024 * 1024) + '"\n', {"outcome": "published"})
    article("big-excerpt.md", 'excerpt: "' + "B" * (100 * 1024) + '"\n', {"outcome": "published"})
    (articles / "loop-a.md").symlink_to("loop-b.md")
    (articles / "loop-b.md").symlink_to("loop-a.md")
    cases["loop-a.md"] = cases["loop-b.md"] = {"outcome": "skipped", "reason": "symlink loop"}
    (articles / "outside.md").symlink_to("/etc/hostname")
    cases["outside.md"] = {"outcome": "skipped", "reason": "symlink points outside"}
    folder = articles / "folder.txt"
    folder.mkdir()
    (folder / "inside.md").write_text(_HEAD.format(title="inside", slug="inside") + "---\nBody\n", "utf-8")
    cases["folder.txt/inside.md"] = {"outcome": "published"}
    os.mkfifo(articles / "fifo.md")
    cases["fifo.md"] = {"outcome": "skipped", "reason": "not a regular file"}
    (articles / "dangling.md").symlink_to("no-such-file.md")
    cases["dangling.md"] = {"outcome": "warning", "reason": "symlink to a missing file"}
    if not ROOT:  # root reads a mode-000 file anyway
        unreadable = articles / "unreadable.md"
        unreadable.write_text(_HEAD.format(title="u", slug="u") + "---\nBody\n", "utf-8")
        unreadable.chmod(0)
        cases["unreadable.md"] = {"outcome": "failed", "reason": "cannot read"}
    return cases


def _tree(root: Path, skip: tuple[Path, ...]) -> dict[str, tuple[int, int]]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) not in skip]
        for name in filenames + dirnames:
            path = Path(dirpath, name)
            if path in skip:
                continue
            st = path.lstat()
            found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return found


def _strict_json(data: bytes) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def _expected_url(text: str) -> str | None:
    m = re.search(r"^webUrl: (\S+)$", text, re.M)
    return m.group(1) if m else None


@pytest.fixture(scope="module", params=["auto", "pyyaml"])
def hostile_build(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    parser = request.param
    site = tmp_path_factory.mktemp(f"hostile-{parser}")
    articles = site / "articles"
    shutil.copytree(HOSTILE, articles, ignore=shutil.ignore_patterns("README.md", "EXPECTED.json"))
    canary = site / "canary-was-created"
    expected = {**EXPECTED, **_runtime_cases(articles, canary)}
    config = ('site: {title: "T", base_url: "https://example.org/feeds/"}\n'
              "articles: [articles]\noutput: out\nstate: state/state.db\n")
    if parser != "auto":
        config += f"parse: {{parser: {parser}}}\n"
    (site / "config.yaml").write_text(config, "utf-8")
    before = _tree(site, ())
    tmp_before = set(os.listdir("/tmp"))
    argv = [sys.executable, "-m", "aggregator", "build", "-c", "config.yaml", "--now", NOW, "-q",
            "--workers", "1", "--report", "report.json"]
    result, seconds, peak = run_measured(argv, site)
    print(f"\nhostile folder ({parser}): {seconds:.2f} s, peak RSS {peak / 2**20:.1f} MiB")
    return {"parser": parser, "site": site, "articles": articles, "canary": canary, "expected": expected,
            "result": result, "seconds": seconds, "peak": peak, "before": before, "tmp_before": tmp_before}


def test_exit_code_time_and_memory(hostile_build: dict[str, Any]) -> None:
    result = hostile_build["result"]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert hostile_build["seconds"] < 60
    assert 0 < hostile_build["peak"] < 500 * 2**20, f"peak RSS {hostile_build['peak'] / 2**20:.1f} MiB"


def test_no_code_ran(hostile_build: dict[str, Any]) -> None:
    assert not hostile_build["canary"].exists()
    assert not Path("CANARY").exists()


def test_every_bad_file_is_named_with_its_reason(hostile_build: dict[str, Any]) -> None:
    report = json.loads((hostile_build["site"] / "report.json").read_text("utf-8"))
    articles: Path = hostile_build["articles"]
    stderr: str = hostile_build["result"].stderr
    by_file: dict[str, list[dict[str, Any]]] = {}
    for problem in report["problems"]:
        by_file.setdefault(os.path.relpath(problem["where"], articles), []).append(problem)
    for name, want in hostile_build["expected"].items():
        got = by_file.get(name, [])
        kinds = {p["kind"] for p in got}
        if want["outcome"] == "published":
            assert not got, (name, got)
        elif want["outcome"] in ("published-with-warning", "warning"):  # warnings: on stderr with -v only
            assert kinds == {"warning"}, (name, got)
            assert any(want["reason"] in p["reason"] for p in got), (name, got)
        else:
            kind = want["outcome"]
            assert [p for p in got if p["kind"] == kind and want["reason"] in p["reason"]], (name, kind, got)
            line = next(ln for ln in stderr.splitlines() if f"{articles / name}" in ln and ln.startswith(kind))
            assert want["reason"] in line
    assert set(by_file) <= set(hostile_build["expected"]), set(by_file) - set(hostile_build["expected"])


def test_good_articles_are_all_published(hostile_build: dict[str, Any]) -> None:
    out: Path = hostile_build["site"] / "out"
    articles: Path = hostile_build["articles"]
    want = set()
    for name, case in hostile_build["expected"].items():
        if case["outcome"].startswith("published"):
            url = _expected_url((articles / name).read_text("utf-8"))
            assert url, name
            want.add(url)
    feed = _strict_json((out / "all.json").read_bytes())
    # Look-alike cases form stories: an article is an item or listed in its story's item.
    got = {item["url"] for item in feed["items"]} | {
        member["url"] for item in feed["items"] for member in item.get("_aggregator", {}).get("cluster", {}).get(
            "members", ())}
    assert {strip_tracking(u, DEFAULT_STRIP_PARAMS) for u in want} == got  # published without tracking parameters
    manifest = _strict_json((out / "index.json").read_bytes())
    by_topic = {f["topic"]: f for f in manifest["feeds"] if f["kind"] == "topic"}
    ai = _strict_json((out / by_topic["AI"]["files"]["json"]).read_bytes())
    assert {"https://example.com/good/1", "https://example.com/good/3"} <= {i["url"] for i in ai["items"]}
    # "Café" in NFC (good-5) and NFD: one feed holding both
    cafes = [f for f in manifest["feeds"]
             if f["kind"] == "topic" and f["topic"].casefold() in ("café", "cafe\u0301")]
    assert len(cafes) == 1 and cafes[0]["items"] == 2
    # hostile topic names got safe slugs; the empty ones were dropped
    slugs = {f["slug"] for f in manifest["feeds"]}
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]{0,109}", s) for s in slugs), slugs
    assert "" not in by_topic and "   " not in by_topic
    assert {"../../etc/passwd", "CON", "All", "index", "🔥", "🚀"} <= set(by_topic)
    # XML-illegal characters stripped, a 100 KiB excerpt capped
    items = {i["url"]: i for i in feed["items"]}
    illegal = items["https://example.com/case/illegal"]
    assert not _ILLEGAL_XML.search(illegal["title"] + illegal.get("summary", ""))
    assert len(items["https://example.com/runtime/big-excerpt"].get("summary", "")) <= 2000


def test_outputs_parse_and_stay_inside(hostile_build: dict[str, Any]) -> None:
    site: Path = hostile_build["site"]
    out = (site / "out").resolve()
    files = [p for p in out.rglob("*") if p.is_file() or p.is_symlink()]
    assert files
    for path in files:
        assert not path.is_symlink() and path.resolve().is_relative_to(out), path
        assert len(path.name.encode()) <= 255 and not path.name.startswith(".tmp-aggregator-")
        data = path.read_bytes()
        if path.suffix in (".xml", ".atom", ".opml"):
            etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        elif path.suffix == ".json":
            _strict_json(data)
    after = _tree(site, (site / "out", site / "state", site / "report.json"))
    changed = {k for k in after if hostile_build["before"].get(k) != after[k]}
    assert changed == set(), changed
    new_in_tmp = set(os.listdir("/tmp")) - hostile_build["tmp_before"]
    suspicious = {n for n in new_in_tmp
                  if n.startswith(".tmp-aggregator-") or n.endswith((".xml", ".atom", ".opml")) or n == "passwd"}
    assert not suspicious, suspicious


def test_parsers_agree(hostile_build: dict[str, Any]) -> None:
    """yaml-rs (the fast path) gives what PyYAML (the reference) gives."""
    _RESULTS[hostile_build["parser"]] = (
        (hostile_build["site"] / "out" / "all.json").read_bytes(),
        sorted((os.path.relpath(p["where"], hostile_build["articles"]), p["kind"])
               for p in json.loads((hostile_build["site"] / "report.json").read_text("utf-8"))["problems"]),
    )
    if len(_RESULTS) == 2:
        assert _RESULTS["auto"] == _RESULTS["pyyaml"]


_RESULTS: dict[str, Any] = {}
