"""Articles <-> JSON text, for the state store.

JSON rather than pickle: the state file must never be able to run code, and
it stays readable with the ``sqlite3`` shell.  The mapping is driven by the
type hints of :mod:`aggregator.model`, so a new field needs no change here;
unknown stored keys are ignored and missing ones take their defaults, so a
model change does not invalidate the cache.  ``decode(encode(x)) == x``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from datetime import datetime
from typing import Any

from aggregator.model import Article


def encode_articles(articles: tuple[Article, ...]) -> str:
    return json.dumps([_encode(a) for a in articles], ensure_ascii=False, separators=(",", ":"))


def decode_articles(text: str) -> tuple[Article, ...]:
    """The stored articles; raises ``ValueError``/``TypeError`` on a corrupt value."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise TypeError("stored items are not a list")
    return tuple(_decode(Article, item) for item in data)


def _encode(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(inner, value)
    if origin is tuple:
        return tuple(_decode(typing.get_args(tp)[0], v) for v in value)
    if tp is datetime:
        return datetime.fromisoformat(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(**{k: _decode(hints[k], v) for k, v in value.items() if k in hints})
    if tp is float and isinstance(value, int):
        return float(value)
    return value
