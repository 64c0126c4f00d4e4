"""The architecture, kept true by reading the imports.

Layers, bottom up; a module may import its own layer and those below,
never one above, and the imports between modules form no cycle, counting
the imports inside functions too (a lazy import is for start-up time, never
a way around a cycle).  And a run that finds nothing new imports nothing
that parses, ranks or renders.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "aggregator"
LAYERS = [
    # the base: the one data type, errors, pure text and URL rules
    ("base", ("model", "errors", "version", "text", "tokens", "urls", "topics", "media", "markdown", "yamlguard",
              "report", "executor", "memory")),
    ("config", ("config",)),
    ("state", ("state",)),
    ("ranking", ("ranking",)),
    ("sources", ("sources",)),
    ("writers", ("writers",)),
    ("publishing", ("publishing",)),
    ("build", ("build",)),
    ("interface", ("cli", "__main__", "__init__")),
]


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    if module == "aggregator":
        return len(LAYERS) - 1
    top = module.split(".")[1]
    return next(i for i, (_name, members) in enumerate(LAYERS) if top in members)


def _imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports when it runs (anywhere in it)."""
    found: dict[str, set[str]] = {}
    modules = {_module(p) for p in PACKAGE.rglob("*.py")}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module(path)
        targets: set[str] = set()
        tree = ast.parse(path.read_text("utf-8"))
        # Imports under ``if TYPE_CHECKING:`` never run: they name types for
        # the checker (two modules may name each other's), not dependencies.
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aggregator"):
                assert node.level == 0, f"{name}: relative import"
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    targets.add(candidate if candidate in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("aggregator"))
        found[name] = {t for t in targets if t != name}
    return found


def test_imports_point_down_the_layers() -> None:
    upward = [(module, target) for module, targets in _imports().items() for target in sorted(targets)
              if _layer(target) > _layer(module)]
    assert upward == []


def test_the_modules_form_no_cycle() -> None:
    graph = _imports()
    # A package imports what it re-exports; its own submodules are below it, not a cycle.
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(trail[trail.index(target):] + [target] if target in trail else [module, target])
            elif target not in state:
                visit(target, trail + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_module_or_function_is_too_long() -> None:
    long_modules, long_functions = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text("utf-8")
        if text.count("\n") > 420:
            long_modules.append((_module(path), text.count("\n")))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > 50:
                    long_functions.append((_module(path), node.name, length))
    assert long_modules == [] and long_functions == []


def test_only_the_state_store_opens_sqlite() -> None:
    openers = [_module(p) for p in sorted(PACKAGE.rglob("*.py")) if "sqlite3.connect(" in p.read_text("utf-8")]
    assert openers == ["aggregator.state.store"]


def test_the_public_api_is_pinned() -> None:
    import aggregator

    assert sorted(aggregator.__all__) == [
        "AggregatorError", "Article", "Config", "ConfigError", "FeedInfo", "FetchError", "LockedError", "Problem",
        "Report", "SourceError", "StateDamaged", "StateError", "WriteError", "__version__", "build", "load_config"]
    assert all(hasattr(aggregator, name) for name in aggregator.__all__)


HEAVY = ("aggregator.sources.local.articles", "aggregator.sources.local.frontmatter",
         "aggregator.sources.local.collect", "aggregator.ranking", "aggregator.writers",
         "aggregator.publishing.feeds", "aggregator.publishing.listings", "aggregator.build.run",
         "aggregator.sources.remote.collect", "feedgen", "nh3", "cmarkgfm", "yaml_rs", "httpx",
         "lxml", "multiprocessing")


def test_a_run_with_nothing_new_imports_nothing_that_parses_ranks_or_renders(tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "a.md").write_text(
        '---\ntitle: "A"\nwebUrl: https://example.org/a\npublishedDateTime: 2024-01-01T00:00:00Z\n---\n', "utf-8")
    (tmp_path / "config.yaml").write_text('site: {title: T, base_url: "https://example.org/"}\n'
                                          "articles: [articles]\noutput: out\nstate: state.db\n", "utf-8")
    command = [sys.executable, "-m", "aggregator", "build", "-c", "config.yaml", "-q", "--now", "2024-06-01T00:00:00Z"]
    assert subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=120).returncode == 0
    probe = ("import runpy, sys, json\nsys.argv = ['aggregator'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('aggregator', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", probe, *command[3:]], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    loaded = json.loads(result.stderr.strip().splitlines()[-1])
    assert "aggregator.build.frame" in loaded  # it did run
    assert [m for m in loaded if m.startswith(HEAVY)] == []
