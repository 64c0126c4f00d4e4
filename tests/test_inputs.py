"""Every input is an input, not a crash, and every message is one line a
cron mail can trust: undecodable and forged file names, flickering files
(dangling links, permissions changed under the cache, files rewritten in
place), a redirect to ``javascript:``."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support import Project, article

from aggregator.sources.local.collect import read_and_parse
from aggregator.sources.local.parsekey import ParseOptions


def _report(project: Project, *args: str) -> tuple[int, str, dict]:
    result = project.run("--report", "report.json", *args)
    return result.returncode, result.stderr, json.loads((project.root / "report.json").read_text("utf-8"))


def test_an_undecodable_file_name_is_reported_escaped_and_skipped(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.add("good.md", article("Good", "https://example.com/good"))
    articles = os.fsencode(project.articles)
    with open(articles + b"/\xff\xfe.md", "wb") as handle:
        handle.write(article("Bad name", "https://example.com/bad").encode())
    os.mkdir(articles + b"/\xff-folder")
    with open(articles + b"/\xff-folder/inside.md", "wb") as handle:
        handle.write(article("Inside", "https://example.com/inside").encode())
    code, stderr, report = _report(project)
    assert code == 1  # skipped inputs
    assert stderr.splitlines() == [
        f"skipped: {project.articles}/\\xff-folder: folder name is not valid UTF-8; skipped",
        f"skipped: {project.articles}/\\xff\\xfe.md: file name is not valid UTF-8; skipped",
    ]
    assert [p["where"] for p in report["problems"]] == [f"{project.articles}/\\xff-folder",
                                                        f"{project.articles}/\\xff\\xfe.md"]
    titles = [i["title"] for i in json.loads((project.out / "all.json").read_text("utf-8"))["items"]]
    assert titles == ["Good"]
    assert project.run("-q").returncode == 1  # every run says so, and builds


def test_names_with_newlines_and_escapes_cannot_forge_lines(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.add("inj\nfailed: injected line.md", "no front matter\n")
    project.add("esc\x1b[2J\x1b[31mred.md", "no front matter\n")
    code, stderr, report = _report(project)
    assert code == 1
    lines = stderr.splitlines()
    assert len(lines) == 2 and not any(line.startswith("failed:") for line in lines)
    assert "\x1b" not in stderr and "esc\\x1b[2J\\x1b[31mred.md:1: no front matter" in stderr
    assert "inj\\nfailed: injected line.md:1: no front matter" in stderr
    # The JSON report keeps the names as they are (JSON escapes them itself).
    assert sorted(p["where"].rsplit("/", 1)[1] for p in report["problems"]) == [
        "esc\x1b[2J\x1b[31mred.md", "inj\nfailed: injected line.md"]


def test_a_dangling_symlink_is_a_warning_and_does_not_keep_vanished_topics(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.add("stays.md", article("Stays", "https://example.com/stays", topics=("Stays",)))
    gone = project.add("gone.md", article("Gone", "https://example.com/gone", topics=("Vanishing",)))
    assert project.run("-q").returncode == 0
    assert (project.out / "vanishing.xml").exists()
    gone.unlink()
    (project.articles / "dangling.md").symlink_to("no-such-file.md")
    code, stderr, report = _report(project)
    assert code == 0 and stderr == ""  # a warning, printed with -v only
    assert [(p["kind"], p["reason"]) for p in report["problems"]] == [
        ("warning", "symlink to a missing file (no-such-file.md); skipped")]
    assert "vanishing.xml" in report["outputs"]["removed"] and not (project.out / "vanishing.xml").exists()
    verbose = project.run("-v")
    assert "warning: " in verbose.stderr and "dangling.md: symlink to a missing file" in verbose.stderr


def test_a_file_made_unreadable_is_not_published_from_the_cache(tmp_path: Path) -> None:
    """chmod changes only a file's ctime, which the cache key includes: the
    file is read again, and published only if it can be read."""
    project = Project(tmp_path)
    project.add("a.md", article("A", "https://example.com/a"))
    locked = project.add("b.md", article("B", "https://example.com/b"))
    assert project.run("-q").returncode == 0
    locked.chmod(0)
    code, _stderr, report = _report(project)
    assert report["inputs"]["parsed"] == 1  # read again, not served from the cache
    titles = [i["title"] for i in json.loads((project.out / "all.json").read_text("utf-8"))["items"]]
    if os.geteuid() == 0:  # root reads it anyway: still published, after a real read
        assert code == 0 and titles == ["A", "B"]
    else:
        assert code == 1 and titles == ["A"]
        assert [(p["kind"], "cannot read" in p["reason"]) for p in report["problems"]] == [("failed", True)]
    locked.chmod(0o644)


def test_a_file_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    """Found non-empty, empty when read (truncated by a writer that has not
    written yet): read once more after a moment."""
    path = tmp_path / "a.md"
    text = article("Rewritten", "https://example.com/rewritten").encode()
    path.write_bytes(text)
    st = path.stat()
    found = (str(path), (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns))
    path.write_bytes(b"")  # in place: same inode

    def finish() -> None:
        time.sleep(0.05)
        with path.open("r+b") as handle:
            handle.write(text)

    writer = threading.Thread(target=finish)
    writer.start()
    result = read_and_parse(found, ParseOptions())
    writer.join()
    assert [a.title for a in result.articles] == ["Rewritten"] and result.problems == ()
    path.write_bytes(b"")  # and a writer that never finishes: a failed read, not an empty article
    result = read_and_parse(found, ParseOptions())
    assert result.articles == () and [p.kind for p in result.problems] == ["failed"]


def test_a_file_found_empty_mid_rewrite_keeps_its_topic(tmp_path: Path) -> None:
    """Truncated when the folder is walked: a failed read for one run (the
    topic's files stay), not a topic removed and published again."""
    project = Project(tmp_path)
    project.add("stays.md", article("Stays", "https://example.com/stays", topics=("Stays",)))
    path = project.add("only.md", article("Only", "https://example.com/only", topics=("Solo",)))
    text = path.read_bytes()
    assert project.run("-q").returncode == 0
    with path.open("r+b") as handle:
        handle.truncate(0)
    code, _stderr, report = _report(project)
    assert code == 1
    assert [(p["kind"], "empty now" in p["reason"]) for p in report["problems"]] == [("failed", True)]
    assert report["outputs"]["removed"] == [] and (project.out / "solo.xml").exists()
    path.write_bytes(text)
    code, _stderr, report = _report(project)
    assert code == 0 and report["problems"] == []
    assert [i["title"] for i in json.loads((project.out / "solo.json").read_text("utf-8"))["items"]] == ["Only"]


class _Redirect(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "javascript:alert(1)")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/feed.xml"
    httpd.shutdown()
    httpd.server_close()


def test_a_redirect_to_javascript_is_one_source_failure_line(tmp_path: Path, redirecting: str) -> None:
    project = Project(tmp_path)
    project.write_config(f"sources:\n  - {{url: '{redirecting}'}}\n")
    project.add("a.md", article("A", "https://example.com/a"))
    result = project.run()
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"failed: {redirecting}: redirect to an invalid URL refused "
                           "(For absolute URLs, path must be empty or begin with '/') (next attempt 20"), line
    assert "1 sources (1 failed)" in result.stdout
