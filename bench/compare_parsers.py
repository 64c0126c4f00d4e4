"""Fidelity and safety of yaml_rs against PyYAML (the reference) on the article format.

Usage::

    python bench/compare_parsers.py [FOLDER ...] [--no-hostile] [--json OUT]

1. *Corpus*: parses the front matter of every file under each FOLDER (e.g. /work/shared/realdata,
   /work/shared/examples/articles, a generated corpus) with ``yaml.CSafeLoader`` and with
   ``yaml_rs.loads`` and reports every difference of value *or type* in the resulting objects
   (``True`` vs ``1``, ``date`` vs ``datetime``, naive vs aware, ...), grouped by kind.
2. *Feature matrix*: a fixed list of one-line documents covering the YAML 1.1 / 1.2 divergences
   (``yes``/``on``, sexagesimal, octal, ``1e3``, timestamps, tags, merge keys, duplicate keys,
   escapes, CRLF, control characters) with both results side by side.
3. *Hostile inputs*: each case runs in a fresh subprocess (so a segfault or a runaway allocation
   cannot take this script down, and ``wait4`` gives that process's own peak RSS) with a 60 s
   limit; both parsers are tried, PyYAML for comparison only.

Framing mirrors what a loader must do anyway: strict UTF-8 (BOM dropped), CRLF -> LF, then the
text between the first two ``---`` lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
import yaml_rs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import list_files, split_front_matter

LoadFn = Callable[[str], Any]


def load_pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)


def load_yaml_rs(text: str) -> Any:
    return yaml_rs.loads(text)  # library defaults: duplicate keys are an error


def load_yaml_rs_lastwins(text: str) -> Any:
    return yaml_rs.loads(text, duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.LastWins)


# --- structural comparison ----------------------------------------------------------------------------


def describe(value: Any) -> str:
    """Type name that distinguishes what matters here: bool/int, date/datetime, naive/aware."""
    if isinstance(value, dt.datetime):
        return "datetime(aware)" if value.tzinfo is not None else "datetime(naive)"
    return type(value).__name__


def diff(a: Any, b: Any, path: str = "") -> Iterator[tuple[str, str, Any, Any]]:
    """Yield (path, kind, pyyaml value, yaml_rs value) for every difference."""
    if describe(a) != describe(b):
        yield path, f"type {describe(a)} -> {describe(b)}", a, b
        return
    if isinstance(a, dict):
        for key in a.keys() | b.keys():
            sub = f"{path}.{key}"
            if key not in b:
                yield sub, "missing in yaml_rs", a[key], None
            elif key not in a:
                yield sub, "extra in yaml_rs", None, b[key]
            else:
                yield from diff(a[key], b[key], sub)
        if list(a) != list(b) and a.keys() == b.keys():
            yield path, "key order", list(a), list(b)
    elif isinstance(a, list):
        if len(a) != len(b):
            yield path, "list length", len(a), len(b)
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            yield from diff(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return
    elif isinstance(a, dt.datetime) and a.utcoffset() != b.utcoffset():
        yield path, "utc offset", a, b
    elif a != b:
        yield path, "value", a, b


def normalise_path(path: str) -> str:
    """``.related[3].images[0].url`` -> ``.related[].images[].url`` to group differences."""
    out, depth = [], 0
    for ch in path:
        if ch == "[":
            depth += 1
            out.append("[]")
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def compare_corpus(folders: list[str]) -> dict[str, Any]:
    files = [p for folder in folders for p in list_files(folder)]
    stats: Counter[str] = Counter()
    kinds: dict[tuple[str, str], list[str]] = defaultdict(list)
    errors: list[dict[str, str]] = []
    crlf = 0
    for path in files:
        data = Path(path).read_bytes()
        text = data.decode("utf-8-sig")
        if "\r\n" in text:
            crlf += 1
        fm_raw = split_front_matter(text)
        fm = split_front_matter(text.replace("\r\n", "\n"))
        if fm is None or fm_raw is None:
            stats["no front matter"] += 1
            continue
        results: dict[str, Any] = {}
        for name, fn, src in (
            ("pyyaml", load_pyyaml, fm),
            ("yaml_rs", load_yaml_rs, fm),
            ("pyyaml_crlf", load_pyyaml, fm_raw),
            ("yaml_rs_crlf", load_yaml_rs, fm_raw),
        ):
            try:
                results[name] = fn(src)
            except Exception as exc:
                results[name] = exc
                errors.append({"file": path, "parser": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
        stats["files"] += 1
        py, rs = results["pyyaml"], results["yaml_rs"]
        if isinstance(py, Exception) or isinstance(rs, Exception):
            stats["parse error (either)"] += 1
            continue
        found = list(diff(py, rs))
        # CRLF left in place must give the same result as LF for each parser.
        for name in ("pyyaml", "yaml_rs"):
            raw = results[f"{name}_crlf"]
            if isinstance(raw, Exception) or list(diff(results[name], raw)):
                stats[f"{name}: CRLF result differs from LF"] += 1
        if found:
            stats["files with differences"] += 1
            for p, kind, a, b in found:
                key = (normalise_path(p), kind)
                if len(kinds[key]) < 3:
                    kinds[key].append(f"{path}: {a!r} | {b!r}"[:300])
                stats[f"diff {normalise_path(p)} {kind}"] += 1
        else:
            stats["identical"] += 1
    return {
        "files": len(files),
        "crlf_files": crlf,
        "stats": dict(stats),
        "examples": kinds,
        "errors": errors,
    }


# --- feature matrix --------------------------------------------------------------------------------

MATRIX: list[tuple[str, str]] = [
    ("bool yes", "a: yes"),
    ("bool No", "a: No"),
    ("bool on/off", "a: on"),
    ("bool y", "a: y"),
    ("bool True", "a: True"),
    ("date", "a: 2022-07-12"),
    ("timestamp Z", "a: 2022-07-12T10:24:00Z"),
    ("timestamp +00:00", "a: 2022-07-12T10:24:00+00:00"),
    ("timestamp +02:00 frac", "a: 2022-07-12T10:24:00.123+02:00"),
    ("timestamp 7 frac digits", "a: 2022-07-12T10:24:00.1234567Z"),
    ("timestamp naive T", "a: 2022-07-12T10:24:00"),
    ("timestamp naive space", "a: 2022-07-12 10:24:00"),
    ("timestamp space Z", "a: 2022-07-12 10:24:00 Z"),
    ("timestamp lower t/z", "a: 2022-07-12t10:24:00z"),
    ("date 1-digit month", "a: 2022-7-1"),
    ("time only", "a: 12:30:00"),
    ("sexagesimal", "a: 1:20"),
    ("octal 010", "a: 010"),
    ("octal 0o10", "a: 0o10"),
    ("hex", "a: 0x1F"),
    ("binary", "a: 0b11"),
    ("underscore int", "a: 1_000"),
    ("float 1e3", "a: 1e3"),
    ("float 1.0e+3", "a: 1.0e+3"),
    (".nan", "a: .nan"),
    (".inf", "a: -.inf"),
    ("null ~", "a: ~"),
    ("null empty", "a:"),
    ("null item", "a:\n  - \n  - x"),
    ("huge int", "a: " + "9" * 5000),
    ("escapes", 'a: "x\\ny \\" \\u00e9 \\x41 \\t \\/"'),
    ("escape \\N \\_ \\L", 'a: "\\N\\_\\L\\P"'),
    ("single quotes", "a: 'it''s'"),
    ("NUL escape", 'a: "\\0"'),
    ("raw control char", "a: x\x01y"),
    ("raw ESC in quotes", 'a: "x\x1by"'),
    ("raw DEL", "a: x\x7fy"),
    ("U+2028 in plain", "a: x\u2028y"),
    ("BOM in middle", "a: x\ufeffy"),
    ("tab indent", "a:\n\t- x"),
    ("CRLF", "a: 1\r\nb: yes\r\n"),
    ("lone CR", "a: 1\rb: 2"),
    ("duplicate keys", "a: 1\na: 2"),
    ("merge key <<", "x: &a {b: 1}\ny:\n  <<: *a\n  c: 2"),
    ("anchor+alias", "x: &a [1, 2]\ny: *a"),
    ("complex key", "? [1, 2]\n: x"),
    ("int key", "1: x"),
    ("bool key", "yes: x"),
    ("null key", "~: x"),
    ("!!str tag", "a: !!str 1"),
    ("!!binary tag", "a: !!binary aGk="),
    ("!!timestamp tag", "a: !!timestamp 2022-01-01"),
    ("!!set", "a: !!set {x, y}"),
    ("!!omap", "a: !!omap [x: 1]"),
    ("local tag", "a: !foo bar"),
    ("python tag", 'a: !!python/object/apply:os.system ["true"]'),
    ("multi document", "a: 1\n---\nb: 2"),
    ("document end ...", "a: 1\n...\n"),
    ("top-level list", "- 1\n- 2"),
    ("top-level scalar", "hello"),
    ("empty", ""),
    ("comment only", "# nothing"),
    ("unquoted url with #", "a: https://x.org/#frag"),
    ("unquoted title colon", "a: Foo: bar"),
    ("folded >", "a: >\n  x\n  y\n"),
    ("literal |-", "a: |-\n  x\n  y\n"),
]


def run_matrix() -> list[dict[str, str]]:
    rows = []
    for name, doc in MATRIX:
        row = {"case": name, "doc": doc if len(doc) < 60 else doc[:57] + "..."}
        outs = []
        for label, fn in (("pyyaml", load_pyyaml), ("yaml_rs", load_yaml_rs)):
            try:
                value = fn(doc)
                text = repr(value)
                if isinstance(value, dict) and "a" in value:
                    text += f"  <{describe(value['a'])}>"
            except Exception as exc:
                text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            row[label] = text if len(text) < 160 else text[:157] + "..."
            outs.append(text)
        row["same"] = "yes" if outs[0] == outs[1] else "NO"
        rows.append(row)
    return rows


# --- hostile inputs --------------------------------------------------------------------------------


def _billion_laughs(levels: int = 10, fan: int = 10) -> str:
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels):
        refs = ", ".join(f"*a{i - 1}" for _ in range(fan))
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append(f"boom: *a{levels - 1}")
    return "\n".join(lines)


def hostile_input(case: str) -> str:
    """The document of one hostile case; built in the subprocess so it is not counted twice."""
    if case == "noop":
        return "a: 1"
    if case == "deep-flow-100k":
        return "x: " + "[" * 100_000 + "]" * 100_000
    if case == "deep-flow-map-100k":
        return "x: " + "{a: " * 100_000 + "1" + "}" * 100_000
    if case == "deep-block-10k":
        return "".join(" " * i + f"k{i}:\n" for i in range(10_000)) + " " * 10_000 + "v"
    if case == "deep-block-seq-10k":
        return "x:\n" + "".join(" " * i + "-\n" for i in range(10_000)) + " " * 10_000 + "v"
    if case == "deep-block-compact-10k":
        return "x:\n" + "- " * 10_000 + "v"  # 20 KB: block nesting without indentation
    if case == "deep-block-compact-12k":
        return "x:\n" + "- " * 12_000 + "v"  # 24 KB
    if case == "deep-block-compact-100k":
        return "x:\n" + "- " * 100_000 + "v"  # 200 KB, below a 256 KB front matter cap
    if case == "alias-chain-20k":
        return "a0: &a0 x\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 20_000))
    if case == "deep-flow-1k":
        return "x: " + "[" * 1_000 + "]" * 1_000
    if case == "billion-laughs":
        return _billion_laughs(10, 10)  # 10^9 leaves if expanded
    if case == "alias-fanout-1k":
        return _billion_laughs(3, 1000)  # 10^6 leaves: a plausible limit edge
    if case == "python-tag":
        return 'a: !!python/object/apply:os.system ["touch /tmp/yaml_rs_pwned"]'
    if case == "python-name-tag":
        return "a: !!python/name:os.system"
    if case == "scalar-1mb-plain":
        return "a: " + "x" * 1_000_000
    if case == "scalar-1mb-quoted":
        return 'a: "' + "x\\n" * 333_333 + '"'
    if case == "scalar-64mb":
        return "a: " + "x" * 64_000_000
    if case == "keys-100k":
        return "\n".join(f"k{i}: {i}" for i in range(100_000))
    if case == "nul-raw":
        return "a: x\x00y\nb: 2"
    if case == "nul-escaped":
        return 'a: "x\\0y"'
    if case == "lone-surrogate":
        # What a caller gets by decoding invalid UTF-8 with errors="surrogateescape".
        return b"a: caf\xe9".decode("utf-8", "surrogateescape")
    if case == "duplicate-keys":
        return "a: 1\na: 2"
    if case == "huge-int":
        return "a: " + "9" * 100_000
    if case == "unterminated-quote-1mb":
        return 'a: "' + "x" * 1_000_000
    if case == "many-anchors-100k":
        return (
            "\n".join(f"k{i}: &a{i} v" for i in range(100_000))
            + "\nz: ["
            + ", ".join(f"*a{i}" for i in range(100_000))
            + "]"
        )
    raise SystemExit(f"unknown case {case}")


HOSTILE_CASES = [
    "noop",
    "deep-flow-1k",
    "deep-flow-100k",
    "deep-flow-map-100k",
    "deep-block-10k",
    "deep-block-seq-10k",
    "deep-block-compact-10k",
    "deep-block-compact-12k",
    "deep-block-compact-100k",
    "alias-chain-20k",
    "billion-laughs",
    "alias-fanout-1k",
    "many-anchors-100k",
    "python-tag",
    "python-name-tag",
    "scalar-1mb-plain",
    "scalar-1mb-quoted",
    "scalar-64mb",
    "unterminated-quote-1mb",
    "keys-100k",
    "huge-int",
    "nul-raw",
    "nul-escaped",
    "lone-surrogate",
    "duplicate-keys",
]


def hostile_child(case: str, parser: str) -> None:
    """Subprocess side: build the input, parse it once, print one JSON line."""
    doc = hostile_input(case)
    load = {"pyyaml": load_pyyaml, "yaml_rs": load_yaml_rs}[parser]
    t0 = time.perf_counter()
    try:
        value = load(doc)
        outcome = "ok"
        summary = _summarise(value)
    except BaseException as exc:
        outcome = type(exc).__name__
        summary = " ".join(str(exc).split())[:160]
    elapsed = time.perf_counter() - t0
    if case == "python-tag" and os.path.exists("/tmp/yaml_rs_pwned"):
        summary += " !!! COMMAND EXECUTED !!!"
    print(json.dumps({"outcome": outcome, "parse_s": elapsed, "summary": summary}))


def _summarise(value: Any, budget: int = 1_000_000) -> str:
    """Type, top-level keys and node count (bounded), iteratively.

    Never ``repr`` the result: a PyYAML alias bomb is cheap to *load* (aliases are shared
    references) but expanding it for a repr takes 10^9 steps, and a 10,000-deep result overflows
    the recursion limit of ``repr`` -- both would be charged to the parser.
    """
    nodes, depth, stack = 0, 0, [(value, 1)]
    while stack and nodes < budget:
        item, d = stack.pop()
        nodes += 1
        depth = max(depth, d)
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    head = f"{type(value).__name__}"
    if isinstance(value, dict):
        keys = list(value)[:4]
        first = value[keys[0]] if keys else None
        sample = repr(first)[:40] if isinstance(first, str | int | float | bool) else type(first).__name__
        head += f" keys {keys}{'...' if len(value) > 4 else ''} first={sample}"
    more = "+" if stack else ""
    return f"{head}; {nodes}{more} nodes, depth {depth}{more}"


def run_hostile(timeout: float = 60.0) -> list[dict[str, Any]]:
    rows = []
    for case in HOSTILE_CASES:
        for parser in ("yaml_rs", "pyyaml"):
            cmd = [sys.executable, __file__, "--hostile-child", case, parser]
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            # wait4 gives this child's own rusage (peak RSS), not the max over all children.
            _, status, usage = os.wait4(proc.pid, 0)
            timer.cancel()
            wall = time.perf_counter() - t0
            out = proc.stdout.read().decode() if proc.stdout else ""
            err = proc.stderr.read().decode() if proc.stderr else ""
            row: dict[str, Any] = {
                "case": case,
                "parser": parser,
                "wall_s": round(wall, 3),
                "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            }
            if os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                row["outcome"] = f"KILLED by {signal.Signals(sig).name}" + (
                    " (timeout)" if wall >= timeout else ""
                )
                row["summary"] = err.strip().splitlines()[-1][:160] if err.strip() else ""
            else:
                try:
                    row.update(json.loads(out.strip().splitlines()[-1]))
                except (json.JSONDecodeError, IndexError):
                    row["outcome"] = f"exit {os.WEXITSTATUS(status)}"
                    row["summary"] = err.strip()[-160:]
            rows.append(row)
            parse_s = row.get("parse_s", float("nan"))
            print(
                f"  {case:24s} {parser:8s} {row['outcome']:22s} parse {parse_s:7.3f} s"
                f"  peak {row['peak_rss_mib']:7.1f} MiB  {row.get('summary', '')[:90]}",
                flush=True,
            )
    if os.path.exists("/tmp/yaml_rs_pwned"):
        os.unlink("/tmp/yaml_rs_pwned")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="*", help="folders of article files to compare")
    ap.add_argument("--no-hostile", action="store_true", help="skip the hostile-input subprocess runs")
    ap.add_argument("--json", type=Path, help="also write all results to this JSON file")
    ap.add_argument("--hostile-child", nargs=2, metavar=("CASE", "PARSER"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.hostile_child:
        hostile_child(*args.hostile_child)
        return 0

    print(f"PyYAML {yaml.__version__} (libyaml {yaml.__with_libyaml__}), yaml_rs {yaml_rs.__version__}")
    report: dict[str, Any] = {}
    if args.folders:
        corpus = compare_corpus(args.folders)
        report["corpus"] = {
            **corpus,
            "examples": {f"{k[0]} | {k[1]}": v for k, v in corpus["examples"].items()},
        }
        print(f"\n## Corpus: {corpus['files']} files ({corpus['crlf_files']} with CRLF)")
        for key, n in sorted(corpus["stats"].items()):
            print(f"  {key}: {n}")
        for (p, kind), examples in sorted(corpus["examples"].items()):
            print(f"  e.g. {p} {kind}:")
            for ex in examples:
                print(f"      {ex}")
        for err in corpus["errors"][:20]:
            print(f"  error {err['parser']}: {err['file']}: {err['error']}")

    print("\n## Feature matrix (PyYAML CSafeLoader | yaml_rs.loads defaults)")
    matrix = run_matrix()
    report["matrix"] = matrix
    for row in matrix:
        print(f"  [{row['same']:3s}] {row['case']:26s} {row['doc']!r}\n        pyyaml : {row['pyyaml']}")
        if row["same"] == "NO":
            print(f"        yaml_rs: {row['yaml_rs']}")

    if not args.no_hostile:
        print("\n## Hostile inputs (fresh subprocess each; peak RSS of that process incl. ~interpreter)")
        report["hostile"] = run_hostile()
    if args.json:
        args.json.write_text(json.dumps(report, default=repr, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
