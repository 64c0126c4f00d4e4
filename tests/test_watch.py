"""``aggregator watch``: a saved, added or removed article is published
without a command, the lock is free between rebuilds, a config that stops
loading keeps the last good one, and SIGTERM ends it with exit code 0."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import NOW, Project, article

DEADLINE = 60.0  # generous: a rebuild of a few files takes well under a second


def _wait_for(what: Callable[[], bool], why: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if what():
            return
        assert proc.poll() is None, f"watch ended ({proc.returncode}) while waiting for {why}"
        time.sleep(0.05)
    raise AssertionError(f"not within {DEADLINE} s: {why}")


def _titles(project: Project) -> list[str]:
    try:
        return [item["title"] for item in json.loads((project.out / "all.json").read_text("utf-8"))["items"]]
    except (OSError, ValueError, KeyError):
        return []  # not written yet


@pytest.fixture
def watching(tmp_path: Path) -> Iterator[tuple[Project, subprocess.Popen[str]]]:
    project = Project(tmp_path)
    project.add("one.md", article("First story", "https://example.org/1"))
    proc = subprocess.Popen([sys.executable, "-m", "aggregator", "watch", "-c", str(project.config), "--now", NOW,
                             "--debounce", "200"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        _wait_for(lambda: _titles(project) == ["First story"], "the first build", proc)
        yield project, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_saved_added_and_removed_articles_are_published(watching: tuple[Project, subprocess.Popen[str]]) -> None:
    project, proc = watching
    project.add("two.md", article("Second story", "https://example.org/2", date="2022-07-13T10:00:00Z"))
    _wait_for(lambda: _titles(project) == ["Second story", "First story"], "the added article", proc)
    project.add("one.md", article("First story, corrected", "https://example.org/1"))  # saved in place
    _wait_for(lambda: "First story, corrected" in _titles(project), "the saved article", proc)
    (project.articles / "two.md").unlink()
    _wait_for(lambda: _titles(project) == ["First story, corrected"], "the removed article", proc)
    # The lock is held only while rebuilding: a cron build between two rebuilds runs.
    cron = project.run("--wait", "60", "-q")
    assert cron.returncode == 0, cron.stderr
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, err
    # One summary line per rebuild (no -q), and no rebuild set off by its own output or state file.
    assert 4 <= out.count("articles from") <= 10, out


def test_a_broken_config_keeps_the_last_good_one(watching: tuple[Project, subprocess.Popen[str]]) -> None:
    project, proc = watching
    good = project.config.read_text("utf-8")
    project.config.write_text(good + "feeds: {max_items: nope}\n", "utf-8")
    time.sleep(0.5)  # the broken config is seen and reported
    project.add("two.md", article("Second story", "https://example.org/2", date="2022-07-13T10:00:00Z"))
    _wait_for(lambda: "Second story" in _titles(project), "a rebuild with the last good config", proc)
    project.config.write_text(good + "feeds: {max_items: 1}\n", "utf-8")
    _wait_for(lambda: _titles(project) == ["Second story"], "the mended config", proc)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, err
    assert "max_items" in err and "keeping the last good config" in err, err


def test_a_config_that_does_not_load_at_start_is_fatal(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.config.write_text("site: [", "utf-8")
    done = subprocess.run([sys.executable, "-m", "aggregator", "watch", "-c", str(project.config)],
                          capture_output=True, text=True, timeout=DEADLINE, cwd=tmp_path)
    assert done.returncode == 2 and "error:" in done.stderr
