"""What the state file stores, as JSON: it can never run code (a pickle
can), and the ``sqlite3`` shell can read it.

Records are positional JSON arrays, in the field order of their dataclass
(derived from the declaration, so a new field needs no change here), with
datetimes as integer microseconds since the epoch (exact, and cheap to
write and read) and nested records as arrays too.  Every decoder rebuilds
the exact value: ``loads_x(dumps_x(v)) == v``.  A stored value this version
cannot read raises ``ValueError``/``TypeError``/``IndexError``; the caller
treats the row as missing.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.model import Article, Enclosure, Image, ParseResult, Problem, Provider, Related, Summary

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_decode = json.JSONDecoder().decode
_ARTICLE = tuple(f.name for f in fields(Article))
_DATES = frozenset({"published", "updated"})
_NESTED = {"provider": Provider, "image": Image}


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


def _moment(us: int) -> datetime:
    return _EPOCH + us * _US


def article_values(article: Article) -> list[Any]:
    """``article`` as a JSON-ready list."""
    out: list[Any] = []
    for name in _ARTICLE:
        value = getattr(article, name)
        if value is None:
            out.append(None)
        elif name in _DATES:
            out.append(_us(value))
        elif name in _NESTED:
            out.append([getattr(value, f.name) for f in fields(value)])
        elif name == "related":
            out.append([[r.title, r.url, _us(r.published) if r.published else None, r.provider] for r in value])
        elif name == "enclosures":
            out.append([[e.url, e.type, e.length] for e in value])
        else:
            out.append(value)
    return out


def article_of(values: list[Any]) -> Article:
    """The inverse of :func:`article_values`."""
    kwargs: dict[str, Any] = {}
    for name, value in zip(_ARTICLE, values, strict=True):
        if value is None:
            kwargs[name] = None
        elif name in _DATES:
            kwargs[name] = _moment(value)
        elif name in _NESTED:
            kwargs[name] = _NESTED[name](*value)
        elif name == "related":
            kwargs[name] = tuple(Related(t, u, _moment(p) if p is not None else None, pr) for t, u, p, pr in value)
        elif name == "enclosures":
            kwargs[name] = tuple(Enclosure(u, t, n) for u, t, n in value)
        elif isinstance(value, list):
            kwargs[name] = tuple(value)  # topics, tags, body_source
        else:
            kwargs[name] = value
    return Article(**kwargs)


def dumps_article(article: Article) -> bytes:
    return _ENCODER.encode(["a", article_values(article)]).encode("ascii")


def dumps_result(result: ParseResult) -> bytes:
    return _ENCODER.encode(["r", [article_values(a) for a in result.articles],
                            [_problem_values(p) for p in result.problems]]).encode("ascii")


def loads_articles(blob: bytes) -> tuple[Article, ...]:
    """The articles of a stored :func:`dumps_article` or :func:`dumps_result`."""
    data = _decode(blob.decode("ascii"))
    if data[0] == "a":
        return (article_of(data[1]),)
    return tuple(article_of(values) for values in data[1])


def loads_result(blob: bytes) -> ParseResult:
    _kind, articles, problems = _decode(blob.decode("ascii"))
    return ParseResult(tuple(article_of(a) for a in articles), tuple(Problem(*p) for p in problems))


def _problem_values(problem: Problem) -> list[Any]:
    return [problem.where, problem.reason, problem.kind, problem.line]


def dumps_problems(problems: tuple[Problem, ...]) -> bytes:
    return _ENCODER.encode([_problem_values(p) for p in problems]).encode("ascii")


def loads_problems(blob: bytes) -> tuple[Problem, ...]:
    return tuple(Problem(*p) for p in _decode(blob.decode("ascii")))


def dumps_summary(summary: Summary) -> bytes:
    return _ENCODER.encode(summary).encode("ascii")


def summary_of(values: list[Any]) -> Summary:
    values[6] = tuple(values[6])  # topics
    return Summary._make(values)


def loads_summary(blob: bytes) -> Summary:
    return summary_of(_decode(blob.decode("ascii")))


def dumps(value: Any) -> bytes:
    """Any JSON value (the ranking's small records)."""
    return _ENCODER.encode(value).encode("ascii")


def loads(blob: bytes) -> Any:
    return _decode(blob.decode("ascii"))
