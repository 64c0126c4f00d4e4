"""Hostile but legal inputs: each one's work is bounded (README "Limits").

Every case is a real build in a fresh process; its wall time and peak memory
are asserted against the bound the README documents, with generous slack
(the figures here are bounds, not benchmarks: a run takes a fraction).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import NOW, run_measured

HEAD = '---\ntitle: "{title}"\nwebUrl: https://example.com/{slug}\npublishedDateTime: 2024-05-01T00:00:00Z\n'
CONFIG = 'site: {title: T, base_url: "https://example.org/feeds/"}\narticles: [articles]\noutput: out\n'
# The README's bounds: every case finishes within this, in this much memory.
SECONDS = 60
PEAK_BYTES = 1024**3


def _deep_markdown(articles: Path) -> None:
    (articles / "deep.md").write_text(HEAD.format(title="Deep", slug="deep") + "---\n" + "> " * 100_000 + "deep\n")


def _deep_html(articles: Path) -> None:
    body = "<div>" * 100_000 + "deep" + "</div>" * 100_000
    (articles / "deep.html").write_text(HEAD.format(title="Deep", slug="deep") + "---\n" + body)


def _big_body(articles: Path) -> None:
    paragraph = ("word " * 20 + "\n\n") * 1000
    (articles / "big.md").write_text(HEAD.format(title="Big", slug="big") + "---\n" + paragraph * 40)


def _many_topics(articles: Path) -> None:
    topics = json.dumps([f"Topic {i}" for i in range(10_000)])
    (articles / "many.md").write_text(HEAD.format(title="Many", slug="many") + f"topics: {topics}\n---\nBody\n")
    (articles / "other.md").write_text(HEAD.format(title="Other", slug="other") + "topics: [Topic 5]\n---\n")


def _many_related(articles: Path) -> None:
    related = ",".join(f'{{title: R{i}, webUrl: "/r/{i}"}}' for i in range(100_000))
    (articles / "related.md").write_text(HEAD.format(title="Related", slug="rel") + f"related: [{related}]\n---\n")


def _many_files(articles: Path) -> None:
    for i in range(10_000):
        (articles / f"a{i:05d}.md").write_text(HEAD.format(title=f"A {i}", slug=f"a/{i}") + "topics: [AI]\n---\n")


def _huge_front_matter(articles: Path) -> None:
    excerpt = "A" * (3 * 1024 * 1024)
    (articles / "huge.md").write_text(HEAD.format(title="Huge", slug="huge") + f'excerpt: "{excerpt}"\n---\n')


CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # case: (writer, extra config, a warning the run must give)
    "100,000 nested block quotes": (_deep_markdown, "", "nested deeper than 100 levels"),
    "100,000 nested divs": (_deep_html, "", "nested deeper than 100 levels"),
    "a 4 MiB body": (_big_body, "", "body longer than 1,048,576 characters"),
    "10,000 topics": (_many_topics, "feeds: {max_topics: 1000}\n", "10000 given, only the first 1000 kept"),
    "100,000 related entries": (_many_related, "", ""),
    "10,000 files in one folder": (_many_files, "", ""),
    "a 3 MiB excerpt": (_huge_front_matter, "", ""),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_but_legal_input_is_bounded(tmp_path: Path, case: str) -> None:
    write, extra, warning = CASES[case]
    (tmp_path / "articles").mkdir()
    write(tmp_path / "articles")
    assert all(p.stat().st_size <= 4 * 1024 * 1024 for p in (tmp_path / "articles").iterdir())  # legal
    (tmp_path / "config.yaml").write_text(CONFIG + extra)
    result, seconds, peak = run_measured(
        [sys.executable, "-m", "aggregator", "build", "-c", "config.yaml", "--now", NOW, "-v", "--workers", "1",
         "--report", "report.json"], tmp_path, limit=SECONDS * 3)
    assert result.returncode == 0, result.stderr
    assert seconds < SECONDS, f"{case}: {seconds:.1f}s"
    assert peak < PEAK_BYTES, f"{case}: {peak / 2**20:.0f} MiB"
    report = json.loads((tmp_path / "report.json").read_text("utf-8"))
    assert report["inputs"]["articles"] == report["inputs"]["files"]  # nothing dropped for its size
    if warning:
        assert warning in result.stderr
    for path in (tmp_path / "out").glob("*.json"):
        json.loads(path.read_bytes())  # every output complete


# Real clients / big hostile corpora: tens of seconds in all (left out of `pytest -m "not slow"`).
pytestmark = pytest.mark.slow
