"""The command line: a thin layer over :mod:`aggregator.build.frame`.

Exit codes: 0 everything built · 1 built, but some inputs were skipped or
failed · 2 fatal (usage, config, nothing built) · 3 another run holds the
lock.  ``check``: 0 no problem · 1 problems found · 2 fatal.  ``watch``: 0
stopped (SIGTERM, SIGINT) · 2 fatal (usage, a config that does not load at start).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from aggregator import __version__
from aggregator.build.frame import WORKER_MODULES, build
from aggregator.build.progress import progress_bar
from aggregator.config import Config, header_value_error, load_config
from aggregator.errors import AggregatorError, LockedError
from aggregator.executor import make_executor
from aggregator.publishing.output import atomic_write
from aggregator.report import EXIT_FATAL, EXIT_LOCKED, Report, printable

log = logging.getLogger("aggregator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aggregator", description="Ranked per-topic RSS, Atom and JSON feeds.")
    parser.add_argument("--version", action="version", version=f"aggregator {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("build", "build the feeds"), ("check", "parse and validate everything, write nothing"),
                       ("watch", "build, then rebuild whenever an article or the config changes")):
        cmd = commands.add_parser(name, help=text, description=text)
        cmd.add_argument("-c", "--config", default="config.yaml", help="config file (default: config.yaml)")
        cmd.add_argument("--articles", nargs="+", metavar="DIR", help="article folders (override the config)")
        cmd.add_argument("--now", metavar="ISO8601", help="fix the clock (reproducible builds)")
        cmd.add_argument("--workers", type=int, metavar="N", help="parse processes (default: every core)")
        cmd.add_argument("--executor", choices=("local", "dask"), default="local", help="where parsing runs")
        cmd.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (with --executor dask)")
        cmd.add_argument("--offline", action="store_true", help="no network: use cached items of remote sources")
        if name == "watch":
            cmd.add_argument("--debounce", type=int, default=1000, metavar="MS",
                             help="gather a burst of changes for at most this long (default 1000)")
        else:
            cmd.add_argument("--report", metavar="FILE", help="write a JSON report of the run")
            cmd.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                             help="wait this long for another run to finish (default: exit 3 at once)")
        verbosity = cmd.add_mutually_exclusive_group()
        verbosity.add_argument("-v", "--verbose", action="store_true", help="list warnings and every source")
        verbosity.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
        if name in ("build", "watch"):
            cmd.add_argument("--output", metavar="DIR", help="output folder (overrides the config)")
        if name == "build":
            cmd.add_argument("--rebuild-state", action="store_true",
                             help="delete the state file first and build from the inputs alone")
    explain = commands.add_parser("explain", help="say why an article's copies were merged or kept apart, "
                                                  "and why it is in its story",
                                  description="say why the copies of an article were merged or kept apart, "
                                              "and which story it is in and why (as the last build decided)")
    explain.add_argument("url", metavar="URL", help="an article's link or item id")
    explain.add_argument("-c", "--config", default="config.yaml")
    explain.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                         help="wait this long for a running build to finish (default: exit 3 at once)")
    serve = commands.add_parser("serve", help="serve the output folder over HTTP")
    serve.add_argument("-c", "--config", default="config.yaml")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--cache-control", metavar="VALUE",
                       help="Cache-Control header of every file (overrides serve.cache_control)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(format="%(message)s", level=logging.INFO if getattr(args, "verbose", False)
                        else logging.WARNING, stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    try:
        config = _config(args)
        if args.command == "serve":
            from aggregator.publishing.server import serve

            serve(config.output_dir, host=args.host, port=args.port, cache_control=_cache_control(args, config),
                  limits=config.serve)
            return 0
        if args.command == "explain":
            from aggregator.build.explain import explain

            print("\n".join(printable(line) for line in explain(config, args.url, wait=args.wait)))
            return 0
        if args.command == "watch":
            return _watch(args)
        return _build(args, config)
    except LockedError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_LOCKED
    except (AggregatorError, ValueError) as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_FATAL


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    changes: dict[str, object] = {}
    if getattr(args, "articles", None):
        changes["articles"] = tuple(str(Path(a).resolve()) for a in args.articles)
    if getattr(args, "output", None):
        changes["output"] = str(Path(args.output).resolve())
    return config.with_overrides(**changes) if changes else config


def _cache_control(args: argparse.Namespace, config: Config) -> str:
    if args.cache_control is None:
        return config.serve.cache_control
    problem = header_value_error(args.cache_control)
    if problem:
        raise ValueError(f"--cache-control: {problem}")
    return str(args.cache_control)


def _now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--now: expected an ISO 8601 date-time, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _build(args: argparse.Namespace, config: Config) -> int:
    now = _now(args.now)
    executor = make_executor(args.executor, args.workers, args.scheduler, preload=WORKER_MODULES)
    try:
        with progress_bar(enabled=not args.quiet) as progress:
            report = build(config, now=now, executor=executor, offline=args.offline, wait=args.wait,
                           dry_run=args.command == "check", progress=progress,
                           rebuild_state=getattr(args, "rebuild_state", False))
    finally:
        executor.close()
    _print(report, args)
    if args.report:
        data = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
        atomic_write(Path(args.report).resolve(), data.encode("utf-8"))
    return report.exit_code


def _watch(args: argparse.Namespace) -> int:
    from aggregator.build.watch import LOCK_WAIT, watch_and_build

    def load(_path: Path) -> Config:  # the file of --config, read again
        return _config(args)

    executor = make_executor(args.executor, args.workers, args.scheduler, preload=WORKER_MODULES)
    try:
        return watch_and_build(
            Path(args.config), load,
            lambda config: build(config, now=_now(args.now), executor=executor, offline=args.offline, wait=LOCK_WAIT),
            lambda report: _print(report, args), lambda line: print(printable(line), file=sys.stderr),
            debounce=args.debounce)
    finally:
        executor.close()


def _print(report: Report, args: argparse.Namespace) -> None:
    for problem in report.problems:
        if problem.kind != "warning" or args.verbose:
            print(f"{problem.kind}: {printable(str(problem))}", file=sys.stderr)
    if args.verbose:
        for source in report.sources:
            line = f"source {source.url}: {source.status}, {source.items} items"
            print(printable(line + (f" ({source.error})" if source.error else "")), file=sys.stderr)
    if not args.quiet or report.exit_code:
        print(report.summary())
