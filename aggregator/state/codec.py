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
import operator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from aggregator.model import Article, Enclosure, Image, ParseResult, Problem, Provider, Related, Summary

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_ARTICLE = tuple(f.name for f in fields(Article))
_VALUES = operator.attrgetter(*_ARTICLE)
_INDEX = {name: i for i, name in enumerate(_ARTICLE)}
_PUBLISHED, _UPDATED, _PROVIDER, _IMAGE, _RELATED, _ENCLOSURES, _COVERAGE = (
    _INDEX[n] for n in ("published", "updated", "provider", "image", "related", "enclosures", "coverage"))
_STORY = _INDEX["story"]
_TUPLES = tuple(_INDEX[n] for n in ("topics", "tags", "body_source"))  # JSON arrays that are tuples


def _plain(value: object) -> object:
    if isinstance(value, tuple):  # a named tuple (Summary, Rows...): orjson writes plain tuples only
        return tuple(value)
    raise TypeError(type(value).__name__)


def _dump(value: Any) -> bytes:
    """JSON, by orjson (3x faster than the json module here); a value it
    refuses (a lone surrogate from a YAML escape, an integer over 64 bits)
    by the json module, whose ``\\uXXXX`` escapes keep it exactly."""
    try:
        return orjson.dumps(value, default=_plain)
    except TypeError:
        return _ENCODER.encode(value).encode("ascii")


def _decode(blob: bytes) -> Any:
    try:
        return orjson.loads(blob)
    except orjson.JSONDecodeError:  # what _dump wrote with the json module (escaped surrogates)
        return json.loads(blob.decode("ascii"))


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


def _moment(us: int) -> datetime:
    return _EPOCH + us * _US


def article_values(article: Article) -> list[Any]:
    """``article`` as a JSON-ready list (tuples are written as arrays)."""
    out = list(_VALUES(article))
    out[_PUBLISHED] = _us(out[_PUBLISHED])
    if (updated := out[_UPDATED]) is not None:
        out[_UPDATED] = _us(updated)
    if (provider := out[_PROVIDER]) is not None:
        out[_PROVIDER] = (provider.name, provider.domain, provider.url)
    if (image := out[_IMAGE]) is not None:
        out[_IMAGE] = (image.url, image.width, image.height, image.title)
    if related := out[_RELATED]:
        out[_RELATED] = [(r.title, r.url, _us(r.published) if r.published else None, r.provider) for r in related]
    if enclosures := out[_ENCLOSURES]:
        out[_ENCLOSURES] = [(e.url, e.type, e.length) for e in enclosures]
    if coverage := out[_COVERAGE]:
        out[_COVERAGE] = [(r.title, r.url, _us(r.published) if r.published else None, r.provider) for r in coverage]
    return out


def article_of(values: list[Any]) -> Article:
    """The inverse of :func:`article_values`."""
    if len(values) != len(_ARTICLE):
        raise ValueError(f"an article of {len(values)} fields, not {len(_ARTICLE)}")
    values[_PUBLISHED] = _moment(values[_PUBLISHED])
    if (updated := values[_UPDATED]) is not None:
        values[_UPDATED] = _moment(updated)
    if (provider := values[_PROVIDER]) is not None:
        values[_PROVIDER] = Provider(*provider)
    if (image := values[_IMAGE]) is not None:
        values[_IMAGE] = Image(*image)
    values[_RELATED] = tuple(Related(t, u, _moment(p) if p is not None else None, pr)
                             for t, u, p, pr in values[_RELATED])
    values[_ENCLOSURES] = tuple(Enclosure(u, t, n) for u, t, n in values[_ENCLOSURES])
    values[_COVERAGE] = tuple(Related(t, u, _moment(p) if p is not None else None, pr)
                              for t, u, p, pr in values[_COVERAGE])
    if values[_STORY] is not None:
        values[_STORY] = tuple(values[_STORY])
    for i in _TUPLES:
        if values[i] is not None:
            values[i] = tuple(values[i])
    return Article(*values)


def dumps_article(article: Article) -> bytes:
    return _dump(["a", article_values(article)])


def dumps_result(result: ParseResult) -> bytes:
    return _dump(["r", [article_values(a) for a in result.articles],
                            [_problem_values(p) for p in result.problems]])


def loads_articles(blob: bytes) -> tuple[Article, ...]:
    """The articles of a stored :func:`dumps_article` or :func:`dumps_result`."""
    data = _decode(blob)
    if data[0] == "a":
        return (article_of(data[1]),)
    return tuple(article_of(values) for values in data[1])


def loads_result(blob: bytes) -> ParseResult:
    _kind, articles, problems = _decode(blob)
    return ParseResult(tuple(article_of(a) for a in articles), tuple(Problem(*p) for p in problems))


def _problem_values(problem: Problem) -> list[Any]:
    return [problem.where, problem.reason, problem.kind, problem.line]


def dumps_problems(problems: tuple[Problem, ...]) -> bytes:
    return _dump([_problem_values(p) for p in problems])


def loads_problems(blob: bytes) -> tuple[Problem, ...]:
    return tuple(Problem(*p) for p in _decode(blob))


def dumps_summary(summary: Summary) -> bytes:
    return _dump(summary)


def summary_of(values: list[Any]) -> Summary:
    values[6] = tuple(values[6])  # topics
    values[-1] = tuple(values[-1])  # links
    return Summary._make(values)


def loads_summary(blob: bytes) -> Summary:
    return summary_of(_decode(blob))


def dumps(value: Any) -> bytes:
    """Any JSON value (the ranking's small records)."""
    return _dump(value)


def loads(blob: bytes) -> Any:
    return _decode(blob)
