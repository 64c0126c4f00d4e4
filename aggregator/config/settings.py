"""A strict loader from YAML mappings onto frozen dataclasses.

Each settings dataclass declares its keys, types and defaults; this module
turns a parsed YAML mapping (with line numbers) into instances, so that an
unknown key or a wrong type is an error naming the key path and the line:
``config.yaml:14: ranking.half_life: expected a duration, got 'soon'``.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Seconds``
(a number of seconds, or a string such as ``"90s"``, ``"5m"``, ``"2h"``,
``"7d"``), ``Bytes`` (an integer, or ``"10MiB"``/``"512KiB"``/``"1GB"``),
``tuple[X, ...]``, ``X | None``, ``Literal[...]`` and nested dataclasses.
A field's ``metadata`` (made by :func:`doc`) holds its documentation
(checked against the README by a test) and, for every number, duration and
size, its inclusive range, checked at load time: a value out of range is an
error naming the key and line, never an overflow later.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, NewType, TypeVar

import yaml

from aggregator.errors import ConfigError
from aggregator.yamlguard import MAX_DEPTH, too_deep

Seconds = NewType("Seconds", float)
Bytes = NewType("Bytes", int)

T = TypeVar("T")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$")
_DURATION_UNITS = {None: 1, "ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]i?[bB]?|[bB])?\s*$")
_SIZE_UNITS = {"k": 1000, "ki": 1024, "m": 1000**2, "mi": 1024**2, "g": 1000**3, "gi": 1024**3, "": 1, "b": 1}


def doc(text: str, *, between: tuple[float, float] | None = None) -> dict[str, Any]:
    """A field's metadata: its documentation and, for a number, duration or
    size, the inclusive range it must lie in (added to the documentation).
    Call it once per field: ``metadata=doc(...)``."""
    return {"doc": text, "range": between} if between is not None else {"doc": text}


def range_text(tp: Any, between: tuple[float, float]) -> str:
    """How the documentation writes a range: ``1 to 10,000``, ``1ms to 1h``, ``1KiB to 1GiB``."""
    return " to ".join(_show(tp, bound) for bound in between)


def documented(tp: Any, meta: Mapping[str, Any]) -> str:
    """The documentation of a field as the README shows it (range included)."""
    text = str(meta.get("doc", ""))
    between = meta.get("range")
    if between is None:
        return text
    shown = range_text(tp, between)
    return f"{text} Range {shown}." if text.endswith(".") else f"{text}, range {shown}"


def check_ranges(settings: Any, prefix: str = "") -> None:
    """Raise :class:`ConfigError` (``<prefix><key>: ...``) for a field of
    the dataclass instance ``settings`` outside its range: the same check as
    loading, for settings built in Python."""
    hints = typing.get_type_hints(type(settings))
    for f in dataclasses.fields(settings):
        between, value = f.metadata.get("range"), getattr(settings, f.name)
        if between is not None and value is not None and not between[0] <= value <= between[1]:
            raise ConfigError(f"{prefix}{f.name}: must be in the range {range_text(hints[f.name], between)}, "
                              f"got {_describe(value)}")


def _show(tp: Any, value: float) -> str:
    base = _numeric(tp)
    if base is Seconds:
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            if value >= size and value % size == 0:
                return f"{value // size:g}{unit}"
        return f"{value * 1000:g}ms" if value else "0s"
    if base is Bytes:
        for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
            if value >= size and value % size == 0:
                return f"{value // size:g}{unit}"
        return f"{value:g} bytes" if value != 1 else "1 byte"
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


def _numeric(tp: Any) -> Any:
    """The numeric type inside ``X | None``, or ``tp``."""
    options = [o for o in typing.get_args(tp) if o is not type(None)] if typing.get_origin(tp) in (
        typing.Union, types.UnionType) else [tp]
    return options[0] if len(options) == 1 else tp


MAX_DOCUMENT_BYTES = 1024 * 1024
# Nodes a document may stand for once its aliases are expanded: a few
# thousand are a large config; a 550-byte alias bomb stands for billions.
MAX_NODES = 100_000


def load_document(text: str, name: str) -> tuple[Any, Lines]:
    """Parse a YAML settings document with PyYAML's safe loader, within
    the limits every YAML input has here: size, nesting
    (:mod:`aggregator.yamlguard`) and what its aliases expand to; a key
    given twice in one mapping is an error too.  Returns the data and the
    line of every key."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise ConfigError(f"larger than {MAX_DOCUMENT_BYTES // 1024} KiB", path=name)
    if too_deep(text):
        raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", path=name)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, Lines(name)
        lines = Lines(name, _line_numbers(node, name))
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", path=name,
                          line=mark.line + 1 if mark else None) from None
    except RecursionError:  # the depth check is an upper bound; this is the backstop
        raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", path=name) from None
    finally:
        loader.dispose()


def _line_numbers(root: yaml.Node, name: str) -> dict[tuple[str | int, ...], int]:
    """The line of every key path, walking each node once (an aliased node
    is where its anchor is); raises :class:`ConfigError` for a duplicate key
    and for aliases that stand for more than :data:`MAX_NODES` values."""
    found: dict[tuple[str | int, ...], int] = {(): root.start_mark.line + 1}
    sizes: dict[int, int] = {}  # id(node) -> values it stands for, aliases expanded
    stack: list[tuple[yaml.Node, tuple[str | int, ...], bool]] = [(root, (), False)]
    while stack:
        node, key, done = stack.pop()
        if done:
            children = [v for _k, v in node.value] if isinstance(node, yaml.MappingNode) else node.value
            sizes[id(node)] = size = 1 + len(children) + sum(sizes[id(child)] for child in children)
            if size > MAX_NODES:
                raise ConfigError(f"its aliases expand to more than {MAX_NODES:,} values", path=name)
            continue
        if id(node) in sizes or isinstance(node, yaml.ScalarNode):
            sizes.setdefault(id(node), 0)
            continue  # a scalar, or an alias of a node already walked
        sizes[id(node)] = 0
        stack.append((node, key, True))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in node.value:
                child = str(k.value) if isinstance(k, yaml.ScalarNode) else f"<{k.id}>"
                line = k.start_mark.line + 1
                if child in first and child != "<<":  # "<<": merge keys may repeat
                    raise Lines(name, {key + (child,): line}).error(
                        key + (child,), f"duplicate key (first on line {first[child]})")
                first.setdefault(child, line)
                found[key + (child,)] = line
                stack.append((v, key + (child,), False))
        else:
            for i, item in enumerate(node.value):
                found.setdefault(key + (i,), item.start_mark.line + 1)
                stack.append((item, key + (i,), False))
    return found


class Lines:
    """Line numbers of the keys of a YAML document, by key path."""

    def __init__(self, path: str, by_key: Mapping[tuple[str | int, ...], int] | None = None):
        self.path = path
        self.by_key = dict(by_key or {})

    def line(self, key: tuple[str | int, ...]) -> int | None:
        while key:
            if key in self.by_key:
                return self.by_key[key]
            key = key[:-1]
        return None

    def error(self, key: tuple[str | int, ...], message: str) -> ConfigError:
        name = ".".join(str(k) if isinstance(k, str) else f"[{k}]" for k in key).replace(".[", "[")
        return ConfigError(f"{name}: {message}" if name else message, path=self.path, line=self.line(key))


def parse_seconds(value: object) -> float | None:
    """``30``, ``"30s"``, ``"5m"``, ``"7d"`` -> seconds; ``None`` if not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) and value >= 0 else None
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    return None


def parse_bytes(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        m = _SIZE.match(value)
        if m:
            unit = (m.group(2) or "").lower().rstrip("b")
            return int(float(m.group(1)) * _SIZE_UNITS[unit])
    return None


def build(cls: type[T], data: object, lines: Lines, key: tuple[str | int, ...] = ()) -> T:
    """Build dataclass ``cls`` from ``data`` strictly (see module docstring)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise lines.error(key, f"expected a mapping, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for raw_name, raw_value in data.items():
        if not isinstance(raw_name, str) or raw_name not in fields:
            known = ", ".join(sorted(fields))
            raise lines.error(key + (str(raw_name),), f"unknown key (known keys: {known})")
        value = convert(hints[raw_name], raw_value, lines, key + (raw_name,))
        between = fields[raw_name].metadata.get("range")
        if between is not None and value is not None and not between[0] <= value <= between[1]:
            raise lines.error(key + (raw_name,), f"must be in the range {range_text(hints[raw_name], between)}, "
                                                 f"got {_describe(raw_value)}")
        values[raw_name] = value
    for name, f in fields.items():
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise lines.error(key + (name,), "required key is missing")
    return cls(**values)


def _union(tp: Any, value: object, lines: Lines, key: tuple[str | int, ...]) -> Any:
    options = typing.get_args(tp)
    if value is None and type(None) in options:
        return None
    inner = [o for o in options if o is not type(None)]
    if len(inner) == 1:
        return convert(inner[0], value, lines, key)
    for option in inner:  # first type that accepts the value wins
        try:
            return convert(option, value, lines, key)
        except ConfigError:
            continue
    raise lines.error(key, f"expected one of {_names(inner)}, got {_describe(value)}")


def convert(tp: Any, value: object, lines: Lines, key: tuple[str | int, ...]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _union(tp, value, lines, key)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise lines.error(key, f"expected one of {', '.join(map(repr, choices))}, got {_describe(value)}")
        return value
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(tp)
        if not isinstance(value, list):
            raise lines.error(key, f"expected a list, got {_describe(value)}")
        return tuple(convert(item_type, v, lines, key + (i,)) for i, v in enumerate(value))
    if tp is Seconds:
        seconds = parse_seconds(value)
        if seconds is None:
            raise lines.error(key, f"expected a duration (e.g. 30, '90s', '5m', '7d'), got {_describe(value)}")
        return seconds
    if tp is Bytes:
        size = parse_bytes(value)
        if size is None:
            raise lines.error(key, f"expected a size (e.g. 1048576, '10MiB'), got {_describe(value)}")
        return size
    if dataclasses.is_dataclass(tp):
        return build(tp, value, lines, key)  # type: ignore[arg-type]
    if tp is bool:
        if not isinstance(value, bool):
            raise lines.error(key, f"expected true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise lines.error(key, f"expected an integer, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise lines.error(key, f"expected a number, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise lines.error(key, f"expected a string, got {_describe(value)}")
        return value
    raise TypeError(f"unsupported settings type {tp!r}")  # a programming error


def _names(options: typing.Iterable[Any]) -> str:
    return " or ".join(getattr(o, "__name__", str(o)) for o in options)


def _describe(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
