"""Cron safety: SIGKILL at any instant leaves every feed old or new and
complete; one run at a time; removal only after a clean run; idempotence."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from aggregator.build.lock import run_lock
from aggregator.errors import LockedError

NOW = "2024-06-01T00:00:00Z"
# Story clustering off: 3,000 same-day titles "Article N v1" are each other's
# candidates (quadratic comparisons, a known cost of issue 17); these tests are
# about kills, locks and exit codes, and must stay quick.
CONFIG = ('site: {title: "T", base_url: "https://example.org/feeds/"}\n'
          "articles: [articles]\noutput: out\nstate: state/state.db\nranking: {clusters: {enabled: false}}\n")
TEMP_PREFIX = ".tmp-aggregator-"


def _article(n: int, topics: list[str], version: str = "v1", day: int = 1) -> str:
    return (f'---\ntitle: "Article {n} {version}"\nwebUrl: https://example.com/a/{n}\n'
            f"publishedDateTime: 2024-05-{day:02d}T{n % 24:02d}:{n % 60:02d}:00Z\n"
            f"topics: {json.dumps(topics)}\nquality: {n % 100}\nexcerpt: \"About {n} ({version})\"\n---\n"
            f"Body of {n}.\n")


def _site(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "articles").mkdir(exist_ok=True)
    (root / "config.yaml").write_text(CONFIG, "utf-8")
    return root


def _cmd(*extra: str, now: str = NOW) -> list[str]:
    return [sys.executable, "-m", "aggregator", "build", "-c", "config.yaml", "--now", now, "-q", *extra]


def _build(site: Path, *extra: str, now: str = NOW) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cmd(*extra, now=now), cwd=site, capture_output=True, text=True, timeout=120)


def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _check_parses(name: str, data: bytes) -> None:
    if name.endswith((".xml", ".atom", ".opml")):
        etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    elif name.endswith(".json"):
        json.loads(data)


@pytest.mark.slow
def test_sigkill_leaves_old_or_new(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    articles = site / "articles"
    topics = [f"Topic {t}" for t in range(40)]
    for n in range(3000):
        (articles / f"a{n:04d}.md").write_text(_article(n, [topics[n % 40], topics[(n * 7) % 40]]), "utf-8")
    assert _build(site).returncode == 0
    old = _snapshot(site / "out")
    shutil.copytree(site / "out", tmp_path / "out-v1")
    shutil.copytree(site / "state", tmp_path / "state-v1")
    for n in range(3000):  # every feed changes: new titles
        (articles / f"a{n:04d}.md").write_text(_article(n, [topics[n % 40], topics[(n * 7) % 40]], "v2"), "utf-8")
    started = time.monotonic()
    assert _build(site).returncode == 0
    duration = time.monotonic() - started
    new = _snapshot(site / "out")
    assert set(old) == set(new) and all(old[k] != new[k] for k in old if k.endswith(".json") and k != "index.json")
    shutil.rmtree(site / "out")
    shutil.rmtree(site / "state")
    shutil.copytree(tmp_path / "out-v1", site / "out")
    shutil.copytree(tmp_path / "state-v1", site / "state")

    kills = 15
    outcomes = {"old": 0, "new": 0, "mixed": 0}
    for i in range(kills):
        delay = duration * (0.1 + 1.3 * i / kills)
        # TMPDIR: a killed run cannot remove its worker pool's socket folder; keep it in tmp_path.
        proc = subprocess.Popen(_cmd(), cwd=site, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "TMPDIR": str(tmp_path)})
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Orphaned parse workers must not keep the next run locked out.
        with run_lock(site / "state" / "state.db"):
            pass
        with contextlib.suppress(ProcessLookupError):  # workers end with the build; a safety net
            os.killpg(proc.pid, signal.SIGKILL)
        now = _snapshot(site / "out")
        temps = [k for k in now if Path(k).name.startswith(TEMP_PREFIX)]
        finals = {k: v for k, v in now.items() if k not in temps}
        assert set(finals) == set(old), set(finals) ^ set(old)
        versions = set()
        for name, data in finals.items():
            assert data in (old[name], new[name]), f"kill {i}: {name} is neither the old nor the new version"
            _check_parses(name, data)
            versions.add("old" if data == old[name] else "new")
        outcomes["mixed" if len(versions) == 2 else versions.pop()] += 1
    print(f"\nSIGKILL x{kills} over a {duration:.2f} s run: {outcomes}")

    result = _build(site, "--report", "report.json")
    assert result.returncode == 0, result.stderr
    assert _snapshot(site / "out") == new
    assert not [p for p in site.rglob(f"{TEMP_PREFIX}*")]
    again = _build(site, "--report", "report2.json")
    assert again.returncode == 0
    assert json.loads((site / "report2.json").read_text("utf-8"))["outputs"]["written"] == []


def _small_site(root: Path, count: int = 5) -> Path:
    site = _site(root)
    for n in range(count):
        (site / "articles" / f"a{n}.md").write_text(_article(n, ["AI", f"T{n % 2}"]), "utf-8")
    return site


def test_second_run_is_locked_out_then_waits(tmp_path: Path) -> None:
    site = _small_site(tmp_path / "site")
    with run_lock(site / "state" / "state.db"):
        started = time.monotonic()
        locked = _build(site)
        assert locked.returncode == 3
        assert time.monotonic() - started < 10
        assert "another run" in locked.stderr and locked.stderr.startswith("error:")
        assert not (site / "out").exists()
        waiting = subprocess.Popen(_cmd("--wait", "30"), cwd=site, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert waiting.poll() is None  # still waiting for the lock
    _out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert (site / "out" / "all.json").exists()


def test_two_builds_at_once(tmp_path: Path) -> None:
    site = _small_site(tmp_path / "site", 300)
    procs = [subprocess.Popen(_cmd(), cwd=site, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.communicate(timeout=60)[1], p.returncode)[::-1] for p in procs]
    codes = sorted(code for code, _ in results)
    # They overlap unless the first finished before the second started (then both succeed).
    assert codes in ([0, 3], [0, 0]), results
    for code, err in results:
        if code == 3:
            assert "another run" in err
    both = [subprocess.Popen(_cmd("--wait", "30"), cwd=site, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    assert [(p.communicate(timeout=60), p.returncode)[1] for p in both] == [0, 0]


def _topic_files(site: Path, topic: str) -> list[str]:
    manifest = json.loads((site / "out" / "index.json").read_text("utf-8"))
    # The topic's live feed and its monthly archives.
    return sorted(path for f in manifest["feeds"] if f["topic"] == topic for path in f["files"].values())


def test_removal_only_after_a_clean_run(tmp_path: Path) -> None:
    site = _small_site(tmp_path / "site", 4)
    with (site / "config.yaml").open("a", encoding="utf-8") as config:
        config.write("feeds: {archives: true}\n")  # archives are removed with their topic too
    gone = site / "articles" / "gone.md"
    gone.write_text(_article(99, ["Vanishing"]), "utf-8")
    assert _build(site).returncode == 0
    files = _topic_files(site, "Vanishing")
    assert len(files) == 7 and all((site / "out" / f).exists() for f in files)  # 3 formats, a page, 3 archives
    gone.unlink()
    # The same run cannot read another folder (an I/O failure: an unmounted
    # volume): nothing is removed.
    config = site / "config.yaml"
    config.write_text(config.read_text("utf-8").replace("articles: [articles]", "articles: [articles, volume]"))
    result = _build(site, "--report", "report.json")
    assert result.returncode == 1
    report = json.loads((site / "report.json").read_text("utf-8"))
    assert [p["kind"] for p in report["problems"]] == ["failed"]
    assert report["outputs"]["removed"] == []
    assert _topic_files(site, "Vanishing") == files
    assert all((site / "out" / f).exists() for f in files)
    # A clean run removes the files and the manifest entry.
    (site / "volume").mkdir()
    result = _build(site, "--report", "report.json")
    assert result.returncode == 0, result.stderr
    assert sorted(json.loads((site / "report.json").read_text("utf-8"))["outputs"]["removed"]) == files
    assert _topic_files(site, "Vanishing") == []
    assert not any((site / "out" / f).exists() for f in files)


def test_skipped_content_does_not_block_removal(tmp_path: Path) -> None:
    site = _small_site(tmp_path / "site", 3)
    gone = site / "articles" / "gone.md"
    gone.write_text(_article(99, ["Vanishing"]), "utf-8")
    assert _build(site).returncode == 0
    gone.unlink()
    (site / "articles" / "bad.md").write_bytes(b"no front matter\n")
    assert _build(site).returncode == 1
    assert _topic_files(site, "Vanishing") == []


def _mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize("second_now", [NOW, "2024-06-04T12:00:00Z"])
def test_rebuild_rewrites_nothing(tmp_path: Path, second_now: str) -> None:
    site = _small_site(tmp_path / "site", 20)
    assert _build(site).returncode == 0
    before = _mtimes(site / "out")
    result = _build(site, "--report", "report.json", now=second_now)
    assert result.returncode == 0, result.stderr
    assert json.loads((site / "report.json").read_text("utf-8"))["outputs"]["written"] == []
    assert _mtimes(site / "out") == before


def test_the_lock_is_not_inherited_and_excludes_the_same_process(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with run_lock(state):
        # A child forked while the lock is held, still running when the parent
        # lets go, must not keep the next run locked out.  libc's fork, not
        # os.fork: no Python at-fork handler runs, as in a child started by
        # subprocess or multiprocessing between its fork and its exec.
        pid = ctypes.CDLL(None, use_errno=True).fork()
        assert pid >= 0
        if pid == 0:  # pragma: no cover - the child
            time.sleep(3)
            os._exit(0)
        with pytest.raises(LockedError), run_lock(state):  # a second run in this process waits its turn
            pass
    try:
        with run_lock(state):  # the child is still alive, and holds nothing
            assert os.waitpid(pid, os.WNOHANG) == (0, 0)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    # Another process sees it held.
    code = ("import sys; from pathlib import Path; from aggregator.build.lock import run_lock\n"
            "from aggregator.errors import LockedError\n"
            "try:\n    with run_lock(Path(sys.argv[1])): print('free')\nexcept LockedError: print('held')")
    with run_lock(state):
        out = subprocess.run([sys.executable, "-c", code, str(state)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "held"


def _group(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        state, _ppid, group = stat[stat.rindex(")") + 2:].split()[:3]
        if int(group) == pgid and state != "Z":
            found.append(int(entry))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_killed_run_leaves_no_process_behind(tmp_path: Path) -> None:
    """Its parse workers and their fork server end with it.  They are not
    its children, so nothing else would end them: every run killed by cron
    would leave three processes behind for good."""
    site = _site(tmp_path / "site")
    for n in range(4000):
        (site / "articles" / f"a{n:05d}.md").write_text(_article(n, ["AI", f"T{n % 7}"]), "utf-8")
    proc = subprocess.Popen(_cmd("--workers", "2"), cwd=site, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 60
        while len(_group(proc.pid)) < 4:  # the build, the fork server, two workers
            assert proc.poll() is None, "the build ended before its workers were seen"
            assert time.monotonic() < deadline, f"no workers seen: {_group(proc.pid)}"
            time.sleep(0.01)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while left := _group(proc.pid):
            assert time.monotonic() < deadline, f"left behind: {left}"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
