"""A file swapped between discovery and reading (by another process, or an
attacker with write access to the article folder) is never read in its new
form: a FIFO cannot hang the build, a link re-pointed outside the folder is
not followed, and the next run reads whatever is there then."""

from __future__ import annotations

import os
from pathlib import Path

from support import Project, article

from aggregator.config import ArticleFolder
from aggregator.sources.local.articles import ParseOptions, with_content
from aggregator.sources.local.collect import read_and_parse
from aggregator.sources.local.discover import discover


def _found(folder: Path) -> list:
    files, problems = discover((ArticleFolder(path=str(folder)),), Path("/"))
    assert problems == []
    return files


def test_a_fifo_swapped_in_does_not_hang(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(article("A", "https://example.org/a"), "utf-8")
    (found,) = _found(tmp_path)
    (tmp_path / "a.md").unlink()
    os.mkfifo(tmp_path / "a.md")  # no writer: a blocking open would wait forever
    result = read_and_parse(found, ParseOptions())
    assert result.articles == ()
    assert [(p.kind, "replaced" in p.reason) for p in result.problems] == [("failed", True)]


def test_a_link_repointed_outside_is_not_read(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "real.md").write_text(article("Real", "https://example.org/real"), "utf-8")
    (folder / "link.md").symlink_to(folder / "real.md")
    secret = tmp_path / "secret.md"
    secret.write_text(article("Secret", "https://example.org/secret"), "utf-8")
    found = {Path(f.path).name: f for f in _found(folder)}["link.md"]
    (folder / "link.md").unlink()
    (folder / "link.md").symlink_to(secret)  # after discovery checked it
    result = read_and_parse(found, ParseOptions())
    assert result.articles == () and result.problems[0].kind == "failed"


def test_an_edited_file_is_read_on_the_next_run(project: Project) -> None:
    path = project.add("a.md", article("First", "https://example.org/a"))
    assert project.run("-q").returncode == 0
    # Replaced by a new file (a new inode, as editors and rsync do) and read fresh.
    new = path.with_name("a.md.new")
    new.write_text(article("Second", "https://example.org/a"), "utf-8")
    new.replace(path)
    assert project.run("-q").returncode == 0
    assert "Second" in (project.out / "all.json").read_text("utf-8")


def test_a_file_that_grew_since_it_was_found_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(article("A", "https://example.org/a"), "utf-8")
    (found,) = _found(tmp_path)
    # Appended to in place (same inode) after discovery: read to the end, not to the old size.
    with path.open("a", encoding="utf-8") as handle:
        handle.write("Body " * 30000 + "THE END\n")
    result = read_and_parse(found, ParseOptions())
    assert [a.title for a in result.articles] == ["A"]
    assert "THE END" in (with_content(result.articles[0]).content_html or "")


def test_the_size_cap_holds_whatever_the_size_found(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(article("A", "https://example.org/a"), "utf-8")
    (found,) = _found(tmp_path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("x" * 5000)
    result = read_and_parse(found, ParseOptions(max_file_bytes=1000))
    assert result.articles == ()
    assert [p.reason for p in result.problems] == ["file larger than 1000 bytes"]
