"""Interleaved A/B of two revisions (or of two settings): the same corpus, the same scenarios, in turn.

Usage (from the repository root, with the project's virtualenv)::

    .venv/bin/python bench/ab.py --base d528f24 --head HEAD --size 100000 --repeat 5
    # the cost of story clustering: one revision, clusters off (base) and on (head), story corpus
    .venv/bin/python bench/ab.py --base HEAD --head HEAD --stories \\
        --base-config "ranking: {clusters: {enabled: false}}" --size 100000 --repeat 5

Each revision is checked out once into ``bench/.cache/ab-<rev>/`` (``git worktree``) and run
with ``PYTHONPATH`` pointing at it from a neutral folder (``python -m`` would otherwise put the
current folder first on ``sys.path``, and both sides would run the same code); the driver checks
which ``aggregator`` each side imports. Per repeat, each side runs ``full`` (cold: state and
output deleted) and ``nochange``; then, ``--inner`` times, ``touch`` (one file edited) and
``add100`` on each side in turn, and an unmeasured build that undoes them (the incremental
scenarios are cheap: more samples of them cost little and set the noise floor); the side that
goes first alternates. Reported: median wall time and median CPU seconds (user + sys of the whole
process tree: the driver is a child subreaper, so the fork server and its workers are reaped and
counted) per scenario, the head/base ratio, and the ratio of each adjacent pair (the machine's
speed drifts; a pair shares its phase). Raw figures: ``bench/.cache/ab-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from run import ADDED, ensure_corpus, newest_file, touch_article  # noqa: E402 -- needs the path tweak above

SCENARIOS = ("full", "nochange", "touch", "add100")


def _subreaper() -> None:
    """Orphaned descendants (the fork server outlives the build by a moment) come to us."""
    with_prctl = getattr(ctypes.CDLL(None), "prctl", None)
    if with_prctl is not None:
        with_prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


class Side:
    def __init__(self, name: str, rev: str, cache: Path, corpus: Path, python: str, extra: str = "") -> None:
        self.name, self.python = name, python
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                                check=True, capture_output=True, text=True).stdout.strip()
        self.tree = cache / f"ab-{commit[:12]}"  # by commit: "HEAD" moves, a worktree does not
        if not self.tree.exists():
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(self.tree), rev],
                           check=True, capture_output=True)
        self.work = cache / f"ab-work-{name}"
        self.work.mkdir(parents=True, exist_ok=True)
        self.config = self.work / "config.yaml"
        self.config.write_text('site: {title: "Bench", base_url: "https://example.org/feeds/"}\n'
                               f"articles: [{json.dumps(str(corpus))}]\noutput: {json.dumps(str(self.work / 'out'))}\n"
                               f"state: {json.dumps(str(self.work / 'state.db'))}\n" + (extra and extra + "\n"))
        self.env = dict(os.environ, PYTHONPATH=str(self.tree))
        found = subprocess.run([python, "-c", "import aggregator; print(aggregator.__file__)"], cwd="/",
                               env=self.env, capture_output=True, text=True, check=True).stdout.strip()
        if not found.startswith(str(self.tree)):
            raise SystemExit(f"{name}: imports {found}, not the worktree {self.tree}")

    def reset(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            (self.work / f"state.db{suffix}").unlink(missing_ok=True)
        shutil.rmtree(self.work / "out", ignore_errors=True)

    def build(self) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        code = subprocess.run([self.python, "-m", "aggregator", "build", "-c", str(self.config), "-q",
                               "--workers", "2"], cwd="/", env=self.env, capture_output=True).returncode
        wall = time.perf_counter() - started
        _reap()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if code not in (0, 1):
            raise SystemExit(f"{self.name}: build exited {code}")
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _show(rep: int, name: str, measured: dict[str, tuple[float, float]]) -> None:
    shown = ", ".join(f"{n} {w:.2f}s/{c:.2f} CPU-s" for n, (w, c) in measured.items())
    print(f"#{rep + 1} {name}: {shown} (load {os.getloadavg()[0]:.2f})", flush=True)


def _add(corpus: Path, size: int, python: str, seed: int, truth: Path | None) -> Path:
    folder = corpus / "ab-added"
    stories = ["--stories", str(truth)] if truth else []
    subprocess.run([python, str(BENCH / "generate.py"), str(folder), "--count", str(ADDED), "--seed", str(seed),
                    "--start", str(size), *stories], check=True, capture_output=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the baseline revision")
    parser.add_argument("--head", default="HEAD", help="the revision measured against it (default HEAD)")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--inner", type=int, default=3,
                        help="touch/add-100 pairs per cold build (cheap samples: they set the noise floor)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--cache", type=Path, default=BENCH / ".cache")
    parser.add_argument("--stories", action="store_true", help="a story corpus (generate.py --stories)")
    parser.add_argument("--base-config", default="", metavar="YAML", help="config lines added for the base")
    parser.add_argument("--head-config", default="", metavar="YAML", help="config lines added for the head")
    args = parser.parse_args()
    _subreaper()
    corpus, _nbytes = ensure_corpus(args.cache, args.size, args.seed, args.python, stories=args.stories)
    truth = args.cache / "ab-added.truth.json" if args.stories else None
    sides = [Side("base", args.base, args.cache, corpus, args.python, args.base_config),
             Side("head", args.head, args.cache, corpus, args.python, args.head_config)]
    touched = newest_file(corpus, args.size)
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {s.name: {n: [] for n in SCENARIOS} for s in sides}
    for rep in range(args.repeat):
        order = sides if rep % 2 == 0 else sides[::-1]
        for side in order:
            side.reset()
            measured = {"full": side.build(), "nochange": side.build()}
            for name, figures in measured.items():
                runs[side.name][name].append(figures)
            _show(rep, side.name, measured)
        # The incremental scenarios, ``--inner`` times per cold build, each
        # side in turn right after the other: a pair shares the machine's phase.
        for inner in range(args.inner):
            turn = order if inner % 2 == 0 else order[::-1]
            measured_by = {side.name: {} for side in turn}
            original = touch_article(touched)
            try:
                for side in turn:
                    measured_by[side.name]["touch"] = side.build()
                added = _add(corpus, args.size, args.python, args.seed, truth)
                try:
                    for side in turn:
                        measured_by[side.name]["add100"] = side.build()
                finally:
                    shutil.rmtree(added, ignore_errors=True)
            finally:
                touched.write_bytes(original)
            for side in turn:
                side.build()  # back to the corpus as generated (not measured)
                for name, figures in measured_by[side.name].items():
                    runs[side.name][name].append(figures)
                _show(rep, side.name, measured_by[side.name])
    print("\n| scenario | base wall | head wall | ratio | base CPU-s | head CPU-s | ratio | paired CPU ratios |")
    print("|---|---|---|---|---|---|---|---|")
    for name in SCENARIOS:
        base, head = runs["base"][name], runs["head"][name]
        if not base:
            continue  # --inner 0: cold builds only
        bw, hw = statistics.median(w for w, _ in base), statistics.median(w for w, _ in head)
        bc, hc = statistics.median(c for _, c in base), statistics.median(c for _, c in head)
        pairs = ", ".join(f"{h[1] / b[1]:.2f}" for b, h in zip(base, head, strict=True))
        print(f"| {name} | {bw:.2f} | {hw:.2f} | {hw / bw:.3f} | {bc:.2f} | {hc:.2f} | {hc / bc:.3f} | {pairs} |")
    out = args.cache / f"ab-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"base": args.base, "head": args.head, "size": args.size, "stories": args.stories,
                               "base_config": args.base_config, "head_config": args.head_config, "runs": runs},
                              indent=1))
    print(f"\nraw: {out}")


if __name__ == "__main__":
    main()
