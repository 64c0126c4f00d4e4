"""How soon ``aggregator watch`` publishes a saved article, at a corpus size.

Usage (from the repository root, with the project's virtualenv)::

    .venv/bin/python bench/watch_latency.py --size 100000 --repeat 5 [--stories]

Starts ``aggregator watch`` on the benchmark corpus (``bench/.cache/``, made by
``generate.py`` if missing; its state in ``bench/.cache/watch-<size>/``, so
the first build is cold only once), waits for its first build, then edits
the newest article ``--repeat`` times (a new excerpt, a new mtime) and
measures, each time, from the save to the moment the article's topic feed
(``<topic>.json``) is replaced.  Prints each latency and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import ensure_corpus, newest_file, touch_article  # noqa: E402 -- needs the path tweak above


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def _wait_change(path: Path, before: tuple[int, int] | None, proc: subprocess.Popen[bytes], limit: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if _stamp(path) != before:
            return time.perf_counter() - started
        if proc.poll() is not None:
            raise SystemExit(f"watch ended with {proc.returncode}")
        time.sleep(0.005)
    raise SystemExit(f"{path} did not change within {limit} s")


def _feed_of(article: Path, out: Path) -> Path:
    """A topic feed that lists ``article`` (its ``webUrl``)."""
    url = next(line.split(": ", 1)[1].strip().strip('"') for line in article.read_text("utf-8").splitlines()
               if line.startswith("webUrl: "))
    for feed in sorted(out.glob("*.json")):
        if feed.name not in ("all.json", "index.json") and url in feed.read_text("utf-8"):
            return feed
    raise SystemExit(f"no topic feed lists {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stories", action="store_true", help="the story corpus (generate.py --stories)")
    parser.add_argument("--cache", type=Path, default=BENCH / ".cache")
    args = parser.parse_args()
    corpus, _nbytes = ensure_corpus(args.cache, args.size, args.seed, sys.executable, stories=args.stories)
    work = args.cache / f"watch-{'stories-' if args.stories else ''}{args.size}"
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.yaml"
    config.write_text('site: {title: "Bench", base_url: "https://example.org/feeds/"}\n'
                      f"articles: [{json.dumps(str(corpus))}]\noutput: {json.dumps(str(work / 'out'))}\n"
                      f"state: {json.dumps(str(work / 'state.db'))}\n")
    touched = newest_file(corpus, args.size)
    index = work / "out" / "index.json"
    proc = subprocess.Popen([sys.executable, "-m", "aggregator", "watch", "-c", str(config), "-q"], cwd="/")
    original = touched.read_bytes()
    latencies = []
    try:
        print(f"first build (cold unless {work.name}/state.db is current) ...", flush=True)
        if index.exists():
            time.sleep(10)  # a no-change first build (or a short one)
        else:
            _wait_change(index, None, proc, 900)
            time.sleep(5)  # the first build is over (its files are replaced in one burst)
        feed = _feed_of(touched, work / "out")
        for n in range(args.repeat):
            before = _stamp(feed)
            touch_article(touched)
            latency = _wait_change(feed, before, proc, 120)
            latencies.append(latency)
            print(f"#{n + 1}: {latency:.3f} s (load {os.getloadavg()[0]:.2f})", flush=True)
            time.sleep(1)
    finally:
        touched.write_bytes(original)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    print(f"median {statistics.median(latencies):.3f} s over {len(latencies)} saves at {args.size} articles")


if __name__ == "__main__":
    main()
