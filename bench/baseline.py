"""The reference cost of issue 5: read every file and parse every front matter.

Usage::

    python bench/baseline.py CORPUS_DIR [--modes csafe:2,yaml_rs:2,yaml_rs:1,read:1] [--repeat 3] [--json]

``csafe:2`` is *the* baseline of the issue -- "read every file and parse every front matter with
PyYAML CSafeLoader in 2 processes": list the tree, then a ``multiprocessing.Pool(2)`` maps chunks of
paths to a worker that reads each file, splits the text between the first two ``---`` lines and
parses it with ``yaml.load(..., Loader=yaml.CSafeLoader)``.  The other modes are for information:
``yaml_rs:N`` does the same with ``yaml_rs.loads`` in N processes (the gain of the faster parser),
``read:1`` only reads and decodes (the floor: I/O plus UTF-8 decoding).

Timing covers listing, pool start-up, reading, splitting and parsing -- everything a build must do
before it can rank anything -- but none of the result transfer: workers return only counts, so
the baseline is not inflated by pickling dicts back to the parent.  Page cache is warm (the
corpus was just generated or read), as it is for the builds the driver compares against it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml
import yaml_rs

CHUNK = 256  # paths per task: large enough to amortise IPC, small enough to balance 2 workers

# The C loader is the reference; fail loudly rather than silently timing the pure-Python one.
if not yaml.__with_libyaml__:
    raise SystemExit("PyYAML was built without libyaml: CSafeLoader unavailable")


def list_files(root: str) -> list[str]:
    """Every regular, non-hidden file under ``root``, in a stable order."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not f.startswith("."))
    return out


def split_front_matter(text: str) -> str | None:
    """The text between the first two ``---`` lines, or None when the file has no front matter.

    Accepts LF and CRLF files (both occur in the real data).  The closing line must be exactly
    ``---`` (optionally followed by ``\\r``), so a ``---`` inside a quoted scalar or body does not
    end the block early.
    """
    if not text.startswith("---"):
        return None
    first = text.find("\n")
    if first < 0 or text[3:first].strip():
        return None
    pos = first
    while True:
        end = text.find("\n---", pos)
        if end < 0:
            return None
        after = end + 4
        if after == len(text) or text[after] in "\r\n":
            return text[first + 1 : end + 1]
        pos = after


def _load_csafe(fm: str) -> Any:
    return yaml.load(fm, Loader=yaml.CSafeLoader)


def _load_yaml_rs(fm: str) -> Any:
    # Last-wins duplicate keys, like PyYAML, so no valid-for-PyYAML file fails here.
    return yaml_rs.loads(fm, duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.LastWins)


def _load_none(fm: str) -> Any:
    return None


PARSERS: dict[str, Callable[[str], Any]] = {
    "csafe": _load_csafe,
    "yaml_rs": _load_yaml_rs,
    "read": _load_none,
}


def parse_chunk(args: tuple[str, list[str]]) -> tuple[int, int, int]:
    """Read, split and parse a chunk of files; return (files, bytes read, errors)."""
    parser_name, paths = args
    load = PARSERS[parser_name]
    nbytes = errors = 0
    for path in paths:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            nbytes += len(data)
            fm = split_front_matter(data.decode("utf-8"))
            if fm is None:
                errors += 1
                continue
            load(fm)
        except Exception:
            errors += 1
    return len(paths), nbytes, errors


def _chunks(paths: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(paths), size):
        yield paths[i : i + size]


def measure(root: str, parser: str, procs: int) -> dict[str, Any]:
    """One timed run: list, read, split and parse every file of ``root``."""
    t0 = time.perf_counter()
    paths = list_files(root)
    tasks = [(parser, chunk) for chunk in _chunks(paths, CHUNK)]
    if procs <= 1:
        results = [parse_chunk(t) for t in tasks]
    else:
        # fork: the cheapest start on Linux, and what a CLI pool would use there.
        with get_context("fork").Pool(procs) as pool:
            results = pool.map(parse_chunk, tasks, chunksize=1)
    wall = time.perf_counter() - t0
    return {
        "parser": parser,
        "procs": procs,
        "wall_s": wall,
        "files": sum(r[0] for r in results),
        "bytes": sum(r[1] for r in results),
        "errors": sum(r[2] for r in results),
    }


def measure_with_rss(root: str, parser: str, procs: int) -> dict[str, Any]:
    """``measure`` plus the peak RSS summed over this process and its pool workers."""
    from procmon import TreeRSSSampler  # local import: procmon lives next to this script

    with TreeRSSSampler(os.getpid()) as sampler:
        result = measure(root, parser, procs)
    result["peak_rss_bytes"] = sampler.peak_bytes
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", help="folder of article files")
    ap.add_argument(
        "--modes",
        default="csafe:2,yaml_rs:2,yaml_rs:1",
        help="comma-separated parser:processes (parsers: csafe, yaml_rs, read)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per mode; the median is reported")
    ap.add_argument("--json", action="store_true", help="print one JSON object with all runs")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    # One untimed pass so the first timed mode does not pay for a cold page cache.
    measure(args.corpus, "read", 1)
    report: dict[str, Any] = {"corpus": args.corpus, "modes": {}}
    for mode in args.modes.split(","):
        parser, _, procs = mode.partition(":")
        runs = [measure_with_rss(args.corpus, parser, int(procs or 1)) for _ in range(args.repeat)]
        med = statistics.median(r["wall_s"] for r in runs)
        report["modes"][mode] = {
            "median_s": med,
            "min_s": min(r["wall_s"] for r in runs),
            # The 2 cores are shared: a high load average flags a run disturbed by other work.
            "loadavg_after": os.getloadavg()[0],
            "runs_s": [r["wall_s"] for r in runs],
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs),
            "files": runs[0]["files"],
            "bytes": runs[0]["bytes"],
            "errors": runs[0]["errors"],
        }
        if not args.json:
            r0 = runs[0]
            times = ", ".join(f"{r['wall_s']:.2f}" for r in runs)
            print(
                f"{mode:12s} median {med:7.2f} s  runs {times}  load {os.getloadavg()[0]:.2f}  "
                f"files {r0['files']}  errors {r0['errors']}  "
                f"peak RSS {report['modes'][mode]['peak_rss_bytes'] / 2**20:.0f} MiB",
                flush=True,
            )
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
