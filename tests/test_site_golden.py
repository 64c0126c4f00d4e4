"""Whole-site goldens: what the program writes for the bundled sample (the
committed ``feeds/``) and for ``../shared/realdata`` (a digest per file,
``tests/golden/realdata.json``) is pinned byte for byte, so a change of
structure that changes output shows up here.

``UPDATE_GOLDEN=1 pytest tests/test_site_golden.py`` rewrites
``tests/golden/realdata.json``; ``aggregator build`` at the top of the
checkout rewrites ``feeds/``.  Review the diff of either before committing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path("/work/shared/realdata")
GOLDEN = Path(__file__).parent / "golden" / "realdata.json"
NOW = "2026-11-26T00:00:00Z"


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _build(tmp: Path, config: str, *args: str) -> Path:
    (tmp / "config.yaml").write_text(config, "utf-8")
    result = subprocess.run([sys.executable, "-m", "aggregator", "build", "-c", "config.yaml", "-q", *args],
                            cwd=tmp, capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), result.stderr
    return tmp / "out"


def test_the_committed_feeds_are_a_fresh_build_of_the_sample(tmp_path: Path) -> None:
    config = (REPO / "config.yaml").read_text("utf-8")
    config = config.replace("articles: [articles]", f"articles: [{json.dumps(str(REPO / 'articles'))}]")
    config = config.replace("output: feeds", "output: out") + "state: state.db\n"
    assert "output: out" in config and str(REPO / "articles") in config
    built = _files(_build(tmp_path, config))
    committed = _files(REPO / "feeds")
    assert sorted(built) == sorted(committed)
    assert [name for name in built if built[name] != committed[name]] == []


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is not present")
@pytest.mark.slow
def test_realdata_builds_to_its_golden_digests(tmp_path: Path) -> None:
    config = ('site: {title: "Real data", base_url: "https://example.org/feeds/"}\n'
              f"articles: [{json.dumps(str(REALDATA))}]\noutput: out\nstate: state.db\n"
              "feeds: {archives: true}\n")
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in _files(_build(tmp_path, config, "--now",
                                                                                       NOW)).items()}
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", "utf-8")
    golden = json.loads(GOLDEN.read_text("utf-8"))
    assert sorted(digests) == sorted(golden)
    assert [name for name in digests if digests[name] != golden[name]] == []
