"""A run after any interrupted run is as correct as a fresh build.

Kills are real SIGKILLs: at a chosen rename of the write phase
(``killpoint.py``) or at a random instant; every run that follows is
compared byte for byte with a fresh build of the same inputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import NOW, Project, article

HERE = Path(__file__).resolve().parent
TEMP_PREFIX = ".tmp-aggregator-"


def _snapshot(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _temps(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"{TEMP_PREFIX}*")]


def _config(project: Project, title: str, extra: str = "") -> None:
    project.config.write_text(
        f'site: {{title: "{title}", base_url: "https://example.org/feeds/"}}\n'
        "articles: [articles]\noutput: out\nstate: state/state.db\n" + extra, encoding="utf-8")


def _site(project: Project, count: int, topics: int = 12) -> None:
    for n in range(count):
        names = (f"Topic {n % topics}", f"Topic {(n * 7) % topics}")
        project.add(f"a{n:05d}.md", article(f"Article {n}", f"https://example.com/a/{n}", topics=names,
                                            date=f"2024-0{1 + n % 5}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
                                            quality=n % 100, body=f"Body of *{n}*.\n"))


def _killed_at_rename(project: Project, renames: int, *args: str) -> int:
    cmd = [sys.executable, str(HERE / "killpoint.py"), str(renames), str(project.out), "--",
           "build", "-c", str(project.config), "--now", NOW, "-q", *args]
    proc = subprocess.run(cmd, cwd=project.root, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "TMPDIR": str(project.root)}, start_new_session=True)
    return proc.returncode


class Fresh:
    """Fresh builds (empty state and output) of the inputs a project has
    now, memoised by the inputs' bytes: the project's config with its own
    state and output folders, over the same article folder."""

    def __init__(self, root: Path):
        self.root = root
        self.builds: dict[str, dict[str, bytes]] = {}

    def of(self, project: Project) -> dict[str, bytes]:
        h = hashlib.sha256(project.config.read_bytes())
        for path in sorted(project.articles.rglob("*")):
            if path.is_file():
                h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        key = h.hexdigest()
        if key not in self.builds:
            copy = self.root / key[:12]
            copy.mkdir(parents=True)
            config = project.config.read_text("utf-8").replace("articles: [articles]",
                                                               f"articles: [{project.articles}]")
            (copy / "config.yaml").write_text(config, "utf-8")
            result = subprocess.run([sys.executable, "-m", "aggregator", "build", "-c", "config.yaml",
                                     "--now", NOW, "-q"], cwd=copy, capture_output=True, text=True, timeout=240)
            assert result.returncode == 0, result.stderr
            self.builds[key] = _snapshot(copy / "out")
            shutil.rmtree(copy)
        return self.builds[key]


@pytest.mark.parametrize("revert", [True, False])
def test_a_run_killed_after_its_first_rename_leaves_no_wrong_file(tmp_path: Path, revert: bool) -> None:
    """Build; change site.title; SIGKILL the build right after its first
    output file is renamed; change the title back (or not); build: the
    output is exactly a fresh build's, and no temporary file is left."""
    project = Project(tmp_path)
    _site(project, 300)
    fresh = Fresh(tmp_path / "fresh")
    _config(project, "Old Title")
    assert project.run("-q").returncode == 0
    _config(project, "New Title")
    assert _killed_at_rename(project, 1) == -signal.SIGKILL
    changed = [name for name, data in _snapshot(project.out).items()
               if b"New Title" in data and not name.startswith(TEMP_PREFIX)]
    assert len(changed) == 1  # the kill came right after the first rename
    assert _temps(project.out)  # ... and left the other files staged
    if revert:
        _config(project, "Old Title")
    result = project.run("-q")
    assert result.returncode == 0, result.stderr
    assert _snapshot(project.out) == fresh.of(project)
    assert not _temps(project.out)


def test_temporaries_of_a_killed_run_go_even_when_nothing_changed(tmp_path: Path) -> None:
    """Killed before any rename, then the inputs are put back: the next run
    has nothing to write (the no-change shortcut would apply) but still
    removes what the killed run staged."""
    project = Project(tmp_path)
    _site(project, 100)
    _config(project, "Old Title")
    assert project.run("-q").returncode == 0
    before = _snapshot(project.out)
    _config(project, "New Title")
    assert _killed_at_rename(project, 0) == -signal.SIGKILL
    assert _temps(project.out) and _snapshot(project.out).keys() - before.keys()
    _config(project, "Old Title")
    assert project.run("-q").returncode == 0
    assert not _temps(project.out)
    assert _snapshot(project.out) == before


def test_an_output_file_edited_by_hand_is_restored(tmp_path: Path) -> None:
    """The stored digest of a file is trusted only while the file is the one
    written: an edit (even of the same size) makes the next run render it
    again, with or without the no-change shortcut."""
    project = Project(tmp_path)
    _site(project, 50)
    _config(project, "Title")
    assert project.run("-q").returncode == 0
    expected = _snapshot(project.out)
    target = project.out / "all.json"
    data = target.read_bytes()
    with target.open("r+b") as handle:  # in place, same size
        handle.write(data[:10].replace(b"{", b" "))
    result = project.run("-q")
    assert result.returncode == 0, result.stderr
    assert _snapshot(project.out) == expected


def _change(project: Project, rng: random.Random, count: int) -> dict[Path, bytes | None]:
    """One random change of the inputs; returns what it replaced (path ->
    former bytes, ``None`` for a file it created)."""
    kind = rng.choice(["title", "edit", "delete", "add", "topics"])
    undo: dict[Path, bytes | None] = {project.config: project.config.read_bytes()}
    if kind == "title":
        _config(project, f"Title {rng.randrange(3)}", "feeds: {archives: true}\n")
        return undo
    for n in rng.sample(range(count), 40):
        path = project.articles / f"a{n:05d}.md"
        if kind == "add":
            path = project.articles / f"new{n:05d}.md"
        undo[path] = path.read_bytes() if path.exists() else None
        if kind == "delete":
            path.unlink(missing_ok=True)
        elif kind == "add":
            project.add(path.name, article(f"New {n}", f"https://example.com/new/{n}",
                                           topics=(f"Topic {n % 15}",), quality=rng.randrange(100)))
        else:
            topics = (f"Topic {n % 15}",) if kind == "topics" else (f"Topic {n % 12}",)
            title = f"Article {n} v{rng.randrange(10**6)}"
            project.add(path.name, article(title, f"https://example.com/a/{n}", topics=topics,
                                           quality=n % 100, body=f"Body {rng.random()}\n"))
    return undo


def _undo(undo: dict[Path, bytes | None]) -> None:
    for path, data in undo.items():
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)


@pytest.mark.slow
def test_random_kills_never_leave_a_wrong_output(tmp_path: Path) -> None:
    """Build, change, SIGKILL at a random instant, revert or not, build: 30
    times on 3,000 articles (archives on, two workers); every run's output
    equals a fresh build of the same inputs, and leaves no temporary file."""
    rng = random.Random(20261202)
    (tmp_path / "site").mkdir()
    project = Project(tmp_path / "site")
    count = 3000
    _site(project, count)
    _config(project, "Title 0", "feeds: {archives: true}\n")
    fresh = Fresh(tmp_path / "fresh")
    started = time.monotonic()
    assert project.run("-q", "--workers", "2").returncode == 0
    duration = time.monotonic() - started
    kills = 0
    for i in range(30):
        undo = _change(project, rng, count)
        proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "build", "-c", str(project.config), "--now", NOW, "-q",
             "--workers", "2"], cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "TMPDIR": str(tmp_path)})
        time.sleep(rng.uniform(0.0, duration * 1.2))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        kills += proc.wait() == -signal.SIGKILL
        if rng.random() < 0.5:
            _undo(undo)
        result = project.run("-q", "--workers", "2")
        assert result.returncode == 0, f"round {i}: {result.stderr}"
        assert not _temps(project.out), f"round {i}"
        got, want = _snapshot(project.out), fresh.of(project)
        assert got.keys() == want.keys(), f"round {i}: {sorted(got.keys() ^ want.keys())[:5]}"
        assert [k for k in want if got[k] != want[k]] == [], f"round {i}"
    assert kills >= 10  # most rounds really were killed mid-run


def test_a_new_file_renamed_by_a_killed_run_goes_when_the_change_is_undone(tmp_path: Path) -> None:
    """A run renames a file no earlier run published (a new archive month)
    and is killed before it commits; the change is undone: the next run
    removes that file (no record of the state describes it), so the output
    is exactly a fresh build's."""
    project = Project(tmp_path)
    _site(project, 60)
    _config(project, "Title", "feeds: {archives: true}\n")
    fresh = Fresh(tmp_path / "fresh")
    assert project.run("-q").returncode == 0
    before = _snapshot(project.out)
    new = project.add("late.md", article("A late one", "https://example.com/late", topics=("Topic 0",),
                                         date="2024-09-15T10:00:00Z"))
    month = "archive/topic-0/2024-09.xml"
    for renames in range(1, 60):  # the kill that leaves the new month's file renamed into place
        assert _killed_at_rename(project, renames) == -signal.SIGKILL
        if (project.out / month).exists():
            break
    else:
        pytest.fail("no kill left the new month renamed")
    new.unlink()
    result = project.run("-q")
    assert result.returncode == 0, result.stderr
    assert not (project.out / month).exists()
    assert _snapshot(project.out) == fresh.of(project) == before
    assert not _temps(project.out)
