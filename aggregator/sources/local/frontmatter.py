"""Article file bytes -> (front matter mapping, body text).  Pure.

Framing rules (see README "Article format"): an optional UTF-8 BOM; the
first line is ``---``; the front matter ends at the next line that is
``---`` (trailing spaces allowed); the rest is the body.  LF and CRLF are
both accepted.  The front matter must be a YAML mapping.

YAML is only ever loaded with a safe loader: yaml-rs (a Rust parser with no
tags that execute code, a nesting limit and alias limits) or PyYAML's safe
loader (C when available).  Deeply nested flow and block collections are
refused before a parser sees them, because libyaml and yaml-rs recursion can
overflow the C stack (a segfault no ``except`` can catch).  Tags, anchors and
aliases are refused too (the format needs none).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from aggregator.yamlguard import MAX_DEPTH, too_deep

yaml_rs: Any
try:  # the fast path is optional: PyYAML stays the reference
    import yaml_rs
except ImportError:  # pragma: no cover - exercised only without yaml-rs
    yaml_rs = None

_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = re.compile(r"---[ \t]*\n")
# Where a tag (``!``), anchor (``&``) or alias (``*``) token could start: at
# a line start or after whitespace or a flow indicator.  A cheap filter; the
# scanner decides (``&`` in "Q&A" or "a & b" is plain text).
_NODE_PROPERTY = re.compile(r"[\s\[{,][!&*]")


class FrontMatterError(ValueError):
    """The file cannot be read as an article; ``str()`` is the reason."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.line = line


def decode(data: bytes) -> str:
    """Strict UTF-8 (BOM dropped), newlines normalised to LF."""
    if not data or data.isspace():  # not data.strip(): that copies the file
        raise FrontMatterError("empty file")
    if b"\x00" in data:
        raise FrontMatterError("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FrontMatterError(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    # A one-character test first: replace() searches the whole text even
    # when there is nothing to replace (most files have no CR).
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def split(text: str) -> tuple[str, str]:
    """Split a decoded file into front matter text and body.  The front
    matter's size is bounded by the file's (``parse.max_file_bytes``) alone:
    an oversized field is capped when the article is built, never a reason
    to skip the file."""
    if not _OPEN.match(text):
        raise FrontMatterError("no front matter (the first line must be ---)", line=1)
    start = text.index("\n") + 1
    # The closing line: "---" and optional blanks.  str.find, not a
    # multi-line regex, which would try every position of the file.
    newline = start - 1
    while True:
        newline = text.find("\n---", newline)
        if newline < 0:
            raise FrontMatterError("unterminated front matter (no closing --- line)")
        end = newline + 4
        while end < len(text) and text[end] in " \t":
            end += 1
        if end == len(text) or text[end] == "\n":
            break
        newline += 1
    return text[start:newline + 1], text[end + 1:]


def parse_yaml(front: str, parser: str = "auto") -> Mapping[str, Any]:
    """Parse front matter text to a mapping with a safe loader."""
    if too_deep(front):
        raise FrontMatterError(f"front matter nested deeper than {MAX_DEPTH} levels")
    load = _loader(parser)
    try:
        _refuse_node_properties(front)
        data = load(front)
    except FrontMatterError:
        raise
    except RecursionError:
        raise FrontMatterError("front matter nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's problem
        raise FrontMatterError(f"invalid YAML: {_one_line(exc)}", line=_error_line(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FrontMatterError(f"front matter is a {type(data).__name__}, not a mapping")
    return data


def _refuse_node_properties(front: str) -> None:
    """Refuse YAML tags, anchors and aliases before any parser builds data.

    The article format needs none of them.  Tags are how ``!!python/...``
    payloads travel (yaml-rs ignores unknown tags, so without this check the
    two parsers disagree), and aliases are how billion-laughs bombs expand
    (PyYAML has no alias limit: loading is cheap, using the result is not).
    The scan is flat (no recursion) and linear in the front matter size."""
    if not ("!" in front or "&" in front or "*" in front):
        return  # the common case, found at memchr speed
    if front[:1] not in ("!", "&", "*") and not _NODE_PROPERTY.search(front):
        return
    try:
        for token in yaml.scan(front, Loader=_SAFE_LOADER):
            if isinstance(token, yaml.TagToken):
                handle, suffix = token.value
                raise FrontMatterError(f"YAML tags are not allowed: {_one_line(str(handle or '') + suffix)[:80]}",
                                       line=token.start_mark.line + 2)
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                what = "anchors" if isinstance(token, yaml.AnchorToken) else "aliases"
                sign = "&" if what == "anchors" else "*"
                raise FrontMatterError(f"YAML {what} are not allowed ({sign}{_one_line(token.value)[:40]})",
                                       line=token.start_mark.line + 2)
    except yaml.YAMLError:
        return  # the parser itself reports the syntax error


def _loader(parser: str) -> Callable[[str], Any]:
    if parser == "yaml-rs" or (parser == "auto" and yaml_rs is not None):
        if yaml_rs is None:
            raise FrontMatterError("parser yaml-rs requested but not installed")
        return _load_yaml_rs
    return _load_pyyaml


def _load_yaml_rs(front: str) -> Any:
    assert yaml_rs is not None
    # Last wins, as in PyYAML (the reference), so both parsers give one article.
    return yaml_rs.loads(front, duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.LastWins)


def _load_pyyaml(front: str) -> Any:
    return yaml.load(front, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200]


def _error_line(exc: BaseException) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 2  # +1 for 1-based, +1 for the opening ---
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) + 1 if m else None
