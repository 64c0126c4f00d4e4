"""Test helpers: a throwaway project folder with a config, a CLI runner, and
feeds served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "articles" / "000_d2853f25fdf272fa.txt"
NOW = "2026-11-26T00:00:00Z"


def article(title: str, url: str, *, date: str = "2022-07-12T10:24:00Z", topics: tuple[str, ...] = ("AI",),
            quality: float | None = 50, extra: str = "", body: str = "") -> str:
    lines = ["---", f'title: "{title}"', f"publishedDateTime: {date}", f'webUrl: "{url}"']
    if quality is not None:
        lines.append(f"quality: {quality}")
    lines.append("topics: [" + ", ".join(f'"{t}"' for t in topics) + "]")
    if extra:
        lines.append(extra)
    lines.append("---")
    return "\n".join(lines) + "\n" + body


class Project:
    """A temporary project: config.yaml, articles/, out/, state/."""

    def __init__(self, root: Path):
        self.root = root
        self.articles = root / "articles"
        self.articles.mkdir()
        self.out = root / "out"
        self.config = root / "config.yaml"
        self.write_config("")

    def write_config(self, extra: str) -> None:
        self.config.write_text(
            'site: {title: "Test News", base_url: "https://example.org/feeds/"}\n'
            "articles: [articles]\noutput: out\nstate: state/state.db\n" + extra, encoding="utf-8")

    def add(self, name: str, text: str | bytes) -> Path:
        path = self.articles / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def run(self, *args: str, command: str = "build") -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "aggregator", command, "-c", str(self.config), *args]
        if command in ("build", "check") and not any(a.startswith("--now") for a in args):
            cmd += ["--now", NOW]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=self.root)


def stamp_old(out: Path) -> dict[str, tuple[int, int]]:
    """Path -> (inode, mtime_ns) of every output file, for :func:`touched`.
    (Not a new mtime: a run checks its output files' stats against what it
    recorded, so an output touched by hand is re-rendered.  A rewrite always
    makes a new inode: a temporary file is renamed into place.)"""
    return {path.relative_to(out).as_posix(): (path.stat().st_ino, path.stat().st_mtime_ns)
            for path in sorted(out.rglob("*")) if path.is_file()}


def touched(out: Path, before: dict[str, tuple[int, int]]) -> set[str]:
    """Files created, replaced or modified since ``stamp_old``."""
    now = {p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
           for p in out.rglob("*") if p.is_file()}
    return {path for path, state in now.items() if before.get(path) != state}


def build_with_report(project: Project) -> dict[str, Any]:
    """A CLI build with ``--report`` that must exit 0; checks the output
    folder with the spec checkers and returns the report."""
    from specs import check_output_folder

    report_path = project.root / "report.json"
    result = project.run("-q", "--report", str(report_path))
    assert result.returncode == 0, result.stderr
    check_output_folder(project.out)
    return dict(json.loads(report_path.read_text("utf-8")))


def run_measured(argv: list[str], cwd: Path, limit: float = 120) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run a command; return the result, seconds and peak RSS (bytes) of
    its process tree, sampled every 5 ms with psutil; killed after ``limit`` s."""
    started = time.monotonic()
    proc = psutil.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs))
        except psutil.Error:
            pass
        if time.monotonic() - started > limit:
            proc.kill()
            break
        time.sleep(0.005)
    out, err = proc.communicate()
    seconds = time.monotonic() - started
    return subprocess.CompletedProcess(argv, proc.returncode, out, err), seconds, peak


def rss(items: str, title: str = "Test RSS", link: str = "https://example.org/") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>{link}</link><description>d</description>{items}</channel></rss>").encode()


def rss_item(link: str, title: str = "Item", date: str | None = "Sat, 01 Jun 2024 10:00:00 GMT",
             extra: str = "") -> str:
    pub = f"<pubDate>{date}</pubDate>" if date else ""
    return f"<item><title>{title}</title><link>{link}</link>{pub}{extra}</item>"


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", ctype: str = "application/rss+xml",
         headers: Mapping[str, str] | None = None) -> None:
    """One whole response, with its Content-Length."""
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    if status != 304:
        handler.wfile.write(body)


class _Routes(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.routes.get(self.path)  # type: ignore[attr-defined]
        send(self, 200 if body is not None else 404, body.encode() if isinstance(body, str) else body or b"")

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def feed_server(routes: Mapping[str, str | bytes]) -> Iterator[str]:
    """Serve ``routes`` (path -> body) on 127.0.0.1; yields the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Routes)
    httpd.routes = routes  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
