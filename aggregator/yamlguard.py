"""Limits every YAML document read here passes before a parser sees it:
article front matter and the config file alike.

Deep nesting is refused before parsing because libyaml, yaml-rs and
PyYAML's pure-Python composer all recurse per level: libyaml and yaml-rs
overflow the C stack (a segfault no ``except`` can catch) at ~20,000 to
30,000 levels, PyYAML raises RecursionError at ~1,000.  The counts are
flat scans, linear in the text, and upper bounds: a document they pass
cannot nest deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import re

MAX_DEPTH = 50

# A line that may open many block levels: many compact entries ("- - - x")
# or deep indentation.  Only such text gets the exact depth count.
# Anchored on a literal newline (searched on "\n" + text) so the regex
# engine skips from line to line instead of trying every position.
_DEEP_HINT = re.compile(r"\n[ \t]*(?:[-?][ \t]+){10}|\n {20}")
_COMPACT = re.compile(r"[-?][ \t]+")


def too_deep(text: str) -> bool:
    """Whether ``text`` may nest collections deeper than :data:`MAX_DEPTH`."""
    if text.count("[") + text.count("{") > MAX_DEPTH and flow_depth(text) > MAX_DEPTH:
        return True
    return block_depth(text) > MAX_DEPTH


# What can hide a bracket: a quoted scalar, which starts a value (the text's
# start, or after whitespace or a flow indicator; the quote in "it's" starts
# none).  A quote left open matches nothing, so its brackets count: the
# scan errs towards counting too many.
_FLOW_TOKEN = re.compile(r"""[\[\]{}]|(?:^|(?<=[\s\[\]{},:]))(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*')""")


def flow_depth(text: str) -> int:
    """Maximum nesting of ``[``/``{`` outside quoted scalars: an upper bound
    on the YAML nesting of flow collections, computed without recursion."""
    depth = deepest = 0
    for match in _FLOW_TOKEN.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}" and depth:
            depth -= 1
    return deepest


def block_depth(text: str) -> int:
    """An upper bound on the nesting of block collections, without
    recursion: the number of open indentation levels plus the compact
    entries (``- - - x``) that start a line."""
    if not _DEEP_HINT.search("\n" + text):
        return 0
    indents: list[int] = []
    deepest = 0
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        while indents and indents[-1] >= indent:
            indents.pop()
        indents.append(indent)
        compact, pos = 0, 0
        while (m := _COMPACT.match(stripped, pos)) is not None:
            compact, pos = compact + 1, m.end()
        deepest = max(deepest, len(indents) + compact)
    return deepest
