"""A damaged or unusable state file: one clear line, a documented way out.

Damage is real bytes on disk (truncated, a junk header), a folder in the
file's place, a read-only file, a lock held by another program, a full
disk.  Damaged content is set aside and rebuilt from the inputs in the same
run; the rest stop the run with exit 2 (3 for the lock) and one line.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import Project, article


def _snapshot(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def site(tmp_path: Path) -> Project:
    project = Project(tmp_path)
    for n in range(40):
        project.add(f"a{n:02d}.md", article(f"Article {n}", f"https://example.com/{n}", topics=(f"T{n % 4}",)))
    assert project.run("-q").returncode == 0
    return project


def _state(project: Project) -> Path:
    return project.root / "state" / "state.db"


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("damage", ["truncated", "junk header", "zeroed"])
def test_damaged_content_is_set_aside_and_rebuilt(site: Project, damage: str) -> None:
    expected = _snapshot(site.out)
    state = _state(site)
    size = state.stat().st_size
    if damage == "truncated":
        os.truncate(state, size // 3)
    elif damage == "junk header":
        with state.open("r+b") as handle:
            handle.write(b"this is not SQLite" * 4)
    else:
        with state.open("r+b") as handle:
            handle.seek(size // 2)
            handle.write(bytes(size - size // 2))
    (site.articles / "a00.md").unlink()  # a change too: the run must really rebuild
    result = site.run()
    assert result.returncode == 1, result.stderr  # reported once, as a failed input
    line = _one_error_line(result.stderr)
    assert line.startswith(f"failed: {state}: state file damaged") and "rebuilt from the inputs" in line, line
    assert "state file damaged: rebuilt" in result.stdout
    assert (state.parent / "state.db.damaged").is_file()
    again = site.run("-q")
    assert again.returncode == 0, again.stderr
    site.add("a00.md", article("Article 0", "https://example.com/0", topics=("T0",)))
    assert site.run("-q").returncode == 0
    assert _snapshot(site.out) == expected


def test_a_rebuilt_state_still_removes_vanished_feeds(site: Project) -> None:
    """The record of what was published is lost with the state file; the
    manifest in the output folder tells the rebuild what to remove."""
    site.add("only.md", article("Only", "https://example.com/only", topics=("Vanishing",)))
    assert site.run("-q").returncode == 0
    assert (site.out / "vanishing.xml").exists()
    (site.articles / "only.md").unlink()
    with _state(site).open("r+b") as handle:
        handle.write(b"junk" * 64)
    assert site.run("-q").returncode == 1
    assert not any(site.out.glob("vanishing.*"))


def test_a_foreign_manifest_never_makes_a_run_remove_other_files(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.add("a.md", article("A", "https://example.com/a"))
    project.out.mkdir()
    (project.out / "keep.txt").write_text("mine")
    (project.out / "index.json").write_text('{"version": 1, "feeds": [{"kind": "topic", "slug": "x", '
                                            '"files": {"rss": "keep.txt", "atom": "../a.md", "json": "x.json"}}]}')
    assert project.run("-q").returncode == 0
    assert (project.out / "keep.txt").read_text() == "mine" and (project.articles / "a.md").exists()


def test_a_folder_in_place_of_the_state_file(site: Project) -> None:
    state = _state(site)
    state.unlink()
    state.mkdir()
    result = site.run()
    assert result.returncode == 2
    assert _one_error_line(result.stderr) == (
        f"error: {state}: the state file is a folder; remove it or set `state` to another path")
    rebuild = site.run("--rebuild-state")  # not a file of ours: never deleted
    assert rebuild.returncode == 2 and state.is_dir()


def test_rebuild_state_on_request(site: Project) -> None:
    expected = _snapshot(site.out)
    result = site.run("-q", "--rebuild-state")
    assert result.returncode == 0, result.stderr
    assert _snapshot(site.out) == expected
    report = site.run("--report", "r.json")
    assert report.returncode == 0 and "0 files written" in report.stdout


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` cannot be written, even by root (who ignores mode bits): an
    immutable file (``chattr +i``)."""
    mode = path.stat().st_mode
    path.chmod(0o555 if path.is_dir() else 0o444)
    immutable = os.geteuid() == 0
    if immutable:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        with pytest.raises(PermissionError):
            (path / "probe").touch() if path.is_dir() else path.open("ab").close()
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


def test_a_read_only_state_file(site: Project) -> None:
    state = _state(site)
    site.add("new.md", article("New", "https://example.com/new"))  # something to record
    with _read_only(state):
        result = site.run()
    assert result.returncode == 2
    line = _one_error_line(result.stderr)
    assert line.startswith(f"error: {state}: cannot use the state file: read-only"), line


def test_a_read_only_state_folder(site: Project) -> None:
    folder = _state(site).parent
    (folder / "state.db.lock").unlink()
    with _read_only(folder):
        result = site.run()
    assert result.returncode == 2
    line = _one_error_line(result.stderr)
    assert line.startswith(f"error: {folder / 'state.db.lock'}: cannot open the lock file: "), line


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Another program holds the state file's write lock."""
    code = ("import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.communicate()


def test_a_state_file_locked_by_another_program_waits_then_exits_3(site: Project) -> None:
    state = _state(site)
    site.add("new.md", article("New", "https://example.com/new"))
    with _locked(state):
        started = time.monotonic()
        result = site.run("--wait", "3")
        took = time.monotonic() - started
    assert result.returncode == 3
    assert _one_error_line(result.stderr) == (
        f"error: {state}: the state file is locked by another program (waited 3s)")
    assert 3 <= took < 60
    assert site.run("-q").returncode == 0  # once the other program is done


def _mount_tmpfs(folder: Path, size: str) -> bool:
    if not shutil.which("mount") or os.geteuid() != 0:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def test_a_full_disk_under_the_state_file(tmp_path: Path) -> None:
    """A real full file system (a small tmpfs, filled up) when there is one
    to mount; else a file-size limit (writes fail with EFBIG), which SQLite
    reports the same way."""
    project = Project(tmp_path)
    for n in range(300):
        project.add(f"a{n:03d}.md", article(f"Article {n}", f"https://example.com/{n}", body="x" * 2000))
    disk = tmp_path / "state"
    mounted = _mount_tmpfs(disk, "1m")
    try:
        if mounted:
            with contextlib.suppress(OSError), (disk / "filler").open("wb") as filler:
                while True:
                    filler.write(bytes(4096))
                    filler.flush()
            (disk / "filler").write_bytes(b"")  # then leave only a little room
            (disk / "filler").write_bytes(bytes(1024 * 1024 - 64 * 1024))

        def limit() -> None:  # pragma: no cover - in the child
            if not mounted:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (48 * 1024, 48 * 1024))

        cmd = [sys.executable, "-m", "aggregator", "build", "-c", str(project.config), "--now", "2026-11-26T00:00:00Z"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=project.root,
                                preexec_fn=limit)
        assert result.returncode == 2, result.stderr
        line = _one_error_line(result.stderr)
        assert line.startswith(f"error: {disk / 'state.db'}: cannot use the state file: "), line
        assert line.endswith("disk full (database or disk is full)" if mounted else "I/O error (disk I/O error)"), line
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)], check=False)


def test_damage_inside_the_python_api_is_a_state_error(tmp_path: Path) -> None:
    from aggregator import StateError, build, load_config

    project = Project(tmp_path)
    project.add("a.md", article("A", "https://example.com/a"))
    state = tmp_path / "state" / "state.db"
    state.parent.mkdir()
    state.mkdir()
    with pytest.raises(StateError, match="the state file is a folder"):
        build(load_config(project.config))
    state.rmdir()
    state.write_bytes(b"x" * 5000)
    report = build(load_config(project.config))
    assert report.exit_code == 1 and report.state_rebuilt == str(state)
    assert sqlite3.connect(state).execute("PRAGMA quick_check").fetchone() == ("ok",)


def test_the_state_file_holds_no_pickle(site: Project) -> None:
    """Nothing stored can run code when read: every value is plain SQL or JSON."""
    conn = sqlite3.connect(_state(site))
    try:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"parsed", "results", "copies", "urls", "outputs"} <= set(tables)
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                for value in row:
                    if isinstance(value, bytes | str):
                        data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
                        assert not data.startswith(b"\x80"), (table, data[:20])  # a pickle's first byte
    finally:
        conn.close()
