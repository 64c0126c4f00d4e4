"""Benchmark driver for issue 5: build scenarios at several corpus sizes, against the baseline.

Usage (from the repository root, with the project's virtualenv)::

    .venv/bin/python bench/run.py --sizes 10000,50000,100000,200000 --repeat 3

For each size it generates (once, cached in ``bench/.cache/corpus-<seed>-<size>/``) a corpus with
``bench/generate.py``, then measures in the same run:

* the *baseline* -- read every file and parse every front matter with PyYAML CSafeLoader in
  2 processes (``bench/baseline.py``, mode ``csafe:2``), plus, for information, yaml_rs in 2 and 1
  processes (``--info-modes``);
* per repeat: ``full`` (cold: state file and output folder deleted), ``nochange`` (rebuild at
  once), ``touch`` (one file's excerpt gets one more character and a new mtime), ``add100`` (100 new,
  newest articles appear); afterwards the corpus is restored so every repeat starts alike.

Each build is ``<python> -m aggregator build -c <config> -q --workers 2`` (``--command`` replaces
it; placeholders ``{python}``, ``{config}``, ``{workers}``, ``{output}``, ``{corpus}``, ``{state}``),
with a config written for the corpus.  Exit codes 0 and 1 (built, some inputs skipped) count as
success.  Reported per scenario: median wall time, median and max peak RSS summed over the whole
process tree (psutil, every 20 ms), files in the output folder written/deleted (by ``mtime_ns``,
inode and size before/after), each time as a ratio to the baseline of the same size.

Raw results: ``bench/.cache/results-<timestamp>.json``; a Markdown report (machine, table,
acceptance checks) is printed and written next to it, ready to paste into ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from procmon import TreeRSSSampler  # noqa: E402 -- needs the path tweak above

DEFAULT_COMMAND = "{python} -m aggregator build -c {config} -q --workers {workers}"
SCENARIOS = ("full", "nochange", "touch", "add100")
ADDED = 100
MiB = 2**20


@dataclass
class BuildRun:
    """One build: wall time, memory, exit status and what it did to the output folder."""

    scenario: str
    wall_s: float
    peak_rss_bytes: int
    peak_processes: int
    max_single_rss_bytes: int  # ru_maxrss from wait4: largest single process of the tree
    exit_code: int
    written: int  # files new or modified in the output folder
    deleted: int
    output_files: int
    stderr_tail: str = ""


@dataclass
class SizeResult:
    size: int
    corpus_bytes: int
    baseline: dict[str, Any] = field(default_factory=dict)
    runs: list[BuildRun] = field(default_factory=list)
    touched_file: str = ""
    error: str = ""


# --- machine and corpus -----------------------------------------------------------------------------


def machine_description() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    free = subprocess.run(["free", "-g"], capture_output=True, text=True, check=False).stdout.strip()
    mem_total = next((ln.split()[1] for ln in free.splitlines() if ln.startswith("Mem:")), "?")
    return {
        "nproc": str(os.cpu_count()),
        "nproc_available": subprocess.run(
            ["nproc"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "cpu": model,
        "memory_gib": mem_total,
        "free_g": free,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def ensure_corpus(cache: Path, size: int, seed: int, python: str, *, stories: bool = False) -> tuple[Path, int]:
    """Generate the corpus once (``stories``: a story corpus, ``generate.py --stories``); a marker
    outside the corpus folder records that it is complete (outside, so the build never reads it as
    an article)."""
    kind = "stories-" if stories else ""
    corpus = cache / f"corpus-{kind}{seed}-{size}"
    marker = cache / f"corpus-{kind}{seed}-{size}.json"
    gen = BENCH / "generate.py"
    stamp = {"size": size, "seed": seed, "generator_mtime_ns": gen.stat().st_mtime_ns}
    if marker.exists() and corpus.is_dir():
        info = json.loads(marker.read_text())
        if {k: info.get(k) for k in stamp} == stamp:
            return corpus, int(info["bytes"])
    shutil.rmtree(corpus, ignore_errors=True)
    print(f"generating {size} articles into {corpus} ...", flush=True)
    t0 = time.perf_counter()
    extra = ["--stories", str(cache / f"corpus-{kind}{seed}-{size}.truth.json")] if stories else []
    subprocess.run([python, str(gen), str(corpus), "--count", str(size), "--seed", str(seed), *extra], check=True)
    nbytes = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file())
    elapsed = time.perf_counter() - t0
    marker.write_text(json.dumps({**stamp, "bytes": nbytes, "generate_s": elapsed}))
    return corpus, nbytes


# --- one build --------------------------------------------------------------------------------------------


def snapshot(output: Path) -> dict[str, tuple[int, int, int]]:
    """relative path -> (mtime_ns, inode, size) of every file under ``output``.

    The inode catches a file replaced by an atomic rename with the same mtime (coarse clocks)."""
    snap: dict[str, tuple[int, int, int]] = {}
    if not output.is_dir():
        return snap
    for dirpath, _dirs, files in os.walk(output):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            snap[os.path.relpath(path, output)] = (st.st_mtime_ns, st.st_ino, st.st_size)
    return snap


def run_build(scenario: str, cmd: list[str], output: Path, timeout: float) -> BuildRun:
    before = snapshot(output)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    chunks: list[bytes] = []
    # stderr is drained by a thread so a chatty build cannot block on a full pipe while we wait4.
    reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read() if proc.stderr else b""))
    reader.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    with TreeRSSSampler(proc.pid) as sampler:
        # wait4 rather than wait: its rusage is this build's own (ru_maxrss = the largest single
        # process of its tree), not the running maximum over every child the driver ever had.
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    timer.cancel()
    reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = b"".join(chunks)
    max_single = usage.ru_maxrss * 1024
    after = snapshot(output)
    written = sum(1 for k, v in after.items() if before.get(k) != v)
    deleted = sum(1 for k in before if k not in after)
    return BuildRun(
        scenario=scenario,
        wall_s=wall,
        peak_rss_bytes=sampler.peak_bytes,
        peak_processes=sampler.peak_processes,
        max_single_rss_bytes=max_single,
        exit_code=proc.returncode,
        written=written,
        deleted=deleted,
        output_files=len(after),
        stderr_tail=stderr.decode("utf-8", "replace")[-2000:],
    )


def remove_state(state: Path) -> None:
    """Delete the state store and its companions (SQLite -wal/-shm/-journal, lock files)."""
    parent = state.parent
    if not parent.is_dir():
        return
    for p in parent.iterdir():
        if p.name == state.name or p.name.startswith(state.name + "-") or p.name.startswith(state.name + "."):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()


def touch_article(path: Path) -> bytes:
    """Append one character to the excerpt and bump the mtime; return the original bytes."""
    original = path.read_bytes()
    text = original.decode("utf-8")
    start = text.index("\nexcerpt: ")
    end = text.index("\n", start + 1)
    line = text[start:end].rstrip("\r")
    assert line.endswith('"'), f"unexpected excerpt line in {path}: {line!r}"
    text = text[: start + len(line) - 1] + "!" + text[start + len(line) - 1 :]
    path.write_text(text, encoding="utf-8", newline="")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, max(st.st_mtime_ns, time.time_ns()) + 1_000_000_000))
    return original


def newest_file(corpus: Path, size: int) -> Path:
    """The file of the highest index: the newest article, certainly on some feeds."""
    folder = corpus / f"d{(size - 1) // 1000:04d}"
    return next(folder.glob(f"{size - 1:07d}_*.md"))


def measure_size(args: argparse.Namespace, size: int) -> SizeResult:
    cache: Path = args.cache
    corpus, nbytes = ensure_corpus(cache, size, args.seed, args.python)
    result = SizeResult(size=size, corpus_bytes=nbytes)
    work = cache / f"work-{size}"
    work.mkdir(parents=True, exist_ok=True)
    output, state, config = work / "out", work / "state.db", work / "config.yaml"
    # JSON strings are valid YAML double-quoted scalars: safe for any path.
    config.write_text(
        'site: {title: "Bench", base_url: "https://example.org/feeds/"}\n'
        f"articles: [{json.dumps(str(corpus))}]\n"
        f"output: {json.dumps(str(output))}\n"
        f"state: {json.dumps(str(state))}\n"
    )
    fmt = {
        "python": args.python,
        "config": str(config),
        "workers": str(args.workers),
        "output": str(output),
        "corpus": str(corpus),
        "state": str(state),
    }
    cmd = [part.format(**fmt) for part in shlex.split(args.command)]

    if not args.skip_baseline:
        modes = ",".join(["csafe:2", *[m for m in args.info_modes.split(",") if m]])
        print(f"[{size}] baseline {modes} x{args.baseline_repeat} ...", flush=True)
        out = subprocess.run(
            [args.python, str(BENCH / "baseline.py"), str(corpus), "--modes", modes]
            + ["--repeat", str(args.baseline_repeat), "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result.baseline = json.loads(out)["modes"]
        for mode, m in result.baseline.items():
            print(
                f"[{size}]   {mode}: median {m['median_s']:.2f} s, peak {m['peak_rss_bytes'] / MiB:.0f} MiB"
            )

    touched = newest_file(corpus, size)
    result.touched_file = str(touched.relative_to(corpus))
    for rep in range(args.repeat):
        added: list[Path] = []
        original: bytes | None = None
        try:
            for scenario in SCENARIOS:
                if scenario == "full":
                    remove_state(state)
                    shutil.rmtree(output, ignore_errors=True)
                elif scenario == "touch":
                    original = touch_article(touched)
                elif scenario == "add100":
                    added = add_files(args, corpus, size)
                run = run_build(scenario, cmd, output, args.timeout)
                result.runs.append(run)
                rss = run.peak_rss_bytes / MiB
                print(
                    f"[{size}] #{rep + 1} {scenario:8s} {run.wall_s:7.2f} s  peak {rss:6.0f} MiB"
                    f" ({run.peak_processes} procs)  exit {run.exit_code}  written {run.written}"
                    f"  deleted {run.deleted}  files {run.output_files}",
                    flush=True,
                )
                if run.exit_code not in (0, 1):
                    result.error = f"{scenario}: exit {run.exit_code}: {run.stderr_tail[-600:]}"
                    print(f"[{size}] build failed: {result.error}", file=sys.stderr)
                    return result
        finally:
            # Restore the corpus so the next repeat (and the next run of the driver) sees it unchanged.
            remove_added(corpus, added)
            if original is not None:
                touched.write_bytes(original)
    return result


def add_files(args: argparse.Namespace, corpus: Path, size: int) -> list[Path]:
    """Generate the next ``ADDED`` articles of the same corpus (indices size .. size+99)."""
    sys.path.insert(0, str(BENCH))
    from generate import write_corpus

    paths, _ = write_corpus(corpus, ADDED, seed=args.seed, start=size)
    return paths


def remove_added(corpus: Path, added: list[Path]) -> None:
    """Delete added files and any folder they created, restoring the corpus exactly."""
    for p in added:
        p.unlink(missing_ok=True)
    for folder in {p.parent for p in added}:
        if folder != corpus and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


# --- report ------------------------------------------------------------------------------------------------


def summarise(res: SizeResult) -> dict[str, Any]:
    """Medians per scenario and ratios to the baseline (csafe:2 median of the same size)."""
    base = res.baseline.get("csafe:2", {}).get("median_s")
    out: dict[str, Any] = {"size": res.size, "baseline_s": base, "scenarios": {}}
    full_med = None
    for scenario in SCENARIOS:
        runs = [r for r in res.runs if r.scenario == scenario]
        if not runs:
            continue
        med = statistics.median(r.wall_s for r in runs)
        if scenario == "full":
            full_med = med
        out["scenarios"][scenario] = {
            "median_s": med,
            "ratio_to_baseline": med / base if base else None,
            "pct_of_full": 100 * med / full_med if full_med else None,
            "peak_rss_mib_median": statistics.median(r.peak_rss_bytes for r in runs) / MiB,
            "peak_rss_mib_max": max(r.peak_rss_bytes for r in runs) / MiB,
            "written_median": statistics.median(r.written for r in runs),
            "written_max": max(r.written for r in runs),
            "deleted_max": max(r.deleted for r in runs),
            "output_files": runs[-1].output_files,
            "exit_codes": sorted({r.exit_code for r in runs}),
            "runs_s": [round(r.wall_s, 3) for r in runs],
        }
    return out


def fmt_ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}×"


def _cell(sc: dict[str, Any], name: str) -> str:
    """``median s (ratio to baseline, % of full)`` of one scenario."""
    if name not in sc:
        return "—"
    d = sc[name]
    text = f"{d['median_s']:.2f} s ({fmt_ratio(d['ratio_to_baseline'])}"
    if name != "full" and d["pct_of_full"] is not None:
        text += f", {d['pct_of_full']:.1f}% of full"
    return text + ")"


def _written(sc: dict[str, Any], name: str) -> str:
    if name not in sc:
        return "—"
    d = sc[name]
    text = f"{d['written_median']:.0f}"
    if d["written_max"] != d["written_median"]:
        text += f" (max {d['written_max']})"
    return text


def _info(info: dict[str, float], mode: str, base: float | None) -> str:
    if mode not in info or not base:
        return "—"
    return f"{info[mode]:.2f} s ({info[mode] / base:.2f}×)"


def markdown(machine: dict[str, str], args: argparse.Namespace, summaries: list[dict[str, Any]]) -> str:
    lines = [
        f"## Benchmark run {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine['nproc']} cores ({machine['cpu']}), {machine['memory_gib']} GiB RAM, "
        f"Python {machine['python']}, {machine['platform']}; load average before the run "
        f"{machine['load_before']}.",
        "",
        f"Command: `{args.command}` (workers {args.workers}), {args.repeat} repeats, medians; "
        f"corpus seed {args.seed}. Baseline = read + split + PyYAML CSafeLoader, 2 processes "
        f"(median of {args.baseline_repeat}). Ratios (×) are to that baseline of the same size. "
        "Peak RSS = max over time of the RSS summed over the build's process tree (sampled every "
        "20 ms; shared pages counted per process, so an upper bound). *written* = output files "
        "created or modified.",
        "",
        "| articles | MB | baseline csafe×2 | yaml_rs×2 | yaml_rs×1 | full build | peak RSS "
        "| no-change | written | touch 1 | written | add 100 | written |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        sc, base, info = s["scenarios"], s["baseline_s"], s.get("info", {})
        rss = sc.get("full", {}).get("peak_rss_mib_max")
        cells = [
            f"{s['size']:,}",
            f"{s['corpus_mb']:.0f}",
            f"{base:.2f} s" if base else "—",
            _info(info, "yaml_rs:2", base),
            _info(info, "yaml_rs:1", base),
            _cell(sc, "full"),
            f"{rss:.0f} MiB" if rss is not None else "—",
            _cell(sc, "nochange"),
            _written(sc, "nochange"),
            _cell(sc, "touch"),
            _written(sc, "touch"),
            _cell(sc, "add100"),
            _written(sc, "add100"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Peak RSS per scenario (max over repeats, MiB):", ""]
    for s in summaries:
        per = ", ".join(f"{k} {v['peak_rss_mib_max']:.0f}" for k, v in s["scenarios"].items())
        lines.append(f"- {s['size']:,}: {per}" + (f" — ERROR {s['error'][:200]}" if s.get("error") else ""))
    lines.append("")
    lines += acceptance(summaries)
    return "\n".join(lines)


def acceptance(summaries: list[dict[str, Any]]) -> list[str]:
    """The issue's acceptance criteria, evaluated on this run (only where the sizes were run)."""
    by = {s["size"]: s["scenarios"] for s in summaries}
    checks: list[tuple[str, bool | None, str]] = []
    if 100_000 in by and "full" in by[100_000]:
        f = by[100_000]["full"]
        r = f["ratio_to_baseline"]
        checks.append(("full build 100k ≤ 1.0× baseline", r is not None and r <= 1.0, fmt_ratio(r)))
        checks.append(
            (
                "peak RSS 100k ≤ 400 MB",
                f["peak_rss_mib_max"] * MiB <= 400e6,
                f"{f['peak_rss_mib_max']:.0f} MiB",
            )
        )
        for name, limit in (("nochange", 5.0), ("touch", 8.0)):
            if name in by[100_000]:
                d = by[100_000][name]
                checks.append(
                    (
                        f"{name} 100k ≤ {limit:.0f}% of full",
                        d["pct_of_full"] <= limit,
                        f"{d['pct_of_full']:.1f}%",
                    )
                )
        if "nochange" in by[100_000]:
            w = by[100_000]["nochange"]["written_max"]
            checks.append(("no-change 100k rewrites no file", w == 0, f"{w} written"))
    if 50_000 in by and 200_000 in by and "full" in by[50_000] and "full" in by[200_000]:
        per50 = by[50_000]["full"]["median_s"] / 50_000
        per200 = by[200_000]["full"]["median_s"] / 200_000
        checks.append(("time/article 200k ≤ 1.15× 50k", per200 <= 1.15 * per50, f"{per200 / per50:.2f}×"))
        m50, m200 = by[50_000]["full"]["peak_rss_mib_max"], by[200_000]["full"]["peak_rss_mib_max"]
        checks.append(("peak RSS 200k ≤ 1.3× 50k", m200 <= 1.3 * m50, f"{m200 / m50:.2f}×"))
    if not checks:
        return ["(acceptance checks need sizes 100000, and 50000 + 200000)"]
    out = ["| acceptance criterion | measured | pass |", "|---|---:|:---:|"]
    out += [f"| {name} | {value} | {'yes' if ok else 'NO'} |" for name, ok, value in checks]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,50000,100000,200000", help="comma-separated article counts")
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the build scenarios (medians)")
    ap.add_argument("--baseline-repeat", type=int, default=3, help="repeats of the baseline")
    ap.add_argument(
        "--info-modes", default="yaml_rs:2,yaml_rs:1", help="extra baseline.py modes, '' for none"
    )
    ap.add_argument("--skip-baseline", action="store_true", help="builds only (ratios shown as n/a)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--python", default=sys.executable, help="interpreter for the build and helpers")
    ap.add_argument("--command", default=DEFAULT_COMMAND, help="build command template (see module doc)")
    ap.add_argument("--cache", type=Path, default=BENCH / ".cache", help="corpora, work dirs and results")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds before a build is killed")
    args = ap.parse_args(argv)
    args.cache = args.cache.resolve()
    args.cache.mkdir(parents=True, exist_ok=True)

    machine = machine_description()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw: dict[str, Any] = {
        "machine": machine,
        "args": {k: str(v) for k, v in vars(args).items()},
        "sizes": [],
    }
    summaries = []
    for size in (int(s) for s in args.sizes.split(",")):
        res = measure_size(args, size)
        summary = summarise(res)
        summary["corpus_mb"] = res.corpus_bytes / 1e6
        summary["info"] = {m: v["median_s"] for m, v in res.baseline.items() if m != "csafe:2"}
        summary["error"] = res.error
        summaries.append(summary)
        raw["sizes"].append({"result": asdict(res), "summary": summary})
        (args.cache / f"results-{stamp}.json").write_text(json.dumps(raw, indent=1))  # after each size
    report = markdown(machine, args, summaries)
    (args.cache / f"results-{stamp}.md").write_text(report + "\n")
    print("\n" + report)
    print(f"\nraw results: {args.cache / f'results-{stamp}.json'}")
    return 1 if any(s["error"] for s in summaries) else 0


if __name__ == "__main__":
    sys.exit(main())
