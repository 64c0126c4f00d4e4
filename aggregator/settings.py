"""A strict loader from YAML mappings onto frozen dataclasses.

Each settings dataclass declares its keys, types and defaults; this module
turns a parsed YAML mapping (with line numbers) into instances, so that an
unknown key or a wrong type is an error naming the key path and the line:
``config.yaml:14: ranking.half_life: expected a duration, got 'soon'``.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Seconds``
(a number of seconds, or a string such as ``"90s"``, ``"5m"``, ``"2h"``,
``"7d"``), ``Bytes`` (an integer, or ``"10MiB"``/``"512KiB"``/``"1GB"``),
``tuple[X, ...]``, ``X | None``, ``Literal[...]`` and nested dataclasses.
A field's ``metadata={"doc": "..."}`` is its documentation (checked against
the README by a test).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, NewType, TypeVar

from .errors import ConfigError

Seconds = NewType("Seconds", float)
Bytes = NewType("Bytes", int)

T = TypeVar("T")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$")
_DURATION_UNITS = {None: 1, "ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]i?[bB]?|[bB])?\s*$")
_SIZE_UNITS = {"k": 1000, "ki": 1024, "m": 1000**2, "mi": 1024**2, "g": 1000**3, "gi": 1024**3, "": 1, "b": 1}


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
        values[raw_name] = convert(hints[raw_name], raw_value, lines, key + (raw_name,))
    for name, f in fields.items():
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise lines.error(key + (name,), "required key is missing")
    return cls(**values)


def convert(tp: Any, value: object, lines: Lines, key: tuple[str | int, ...]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
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
