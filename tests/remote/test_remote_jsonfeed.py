"""The strict JSON Feed reader (RELIABILITY #35, #36), including a hypothesis property."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.sources.remote.jsonfeed import JsonFeedError, parse_date, read_json_feed

pytestmark = pytest.mark.timeout(60)
V11 = "https://jsonfeed.org/version/1.1"


def feed(**top: object) -> bytes:
    return json.dumps({"version": V11, "items": [], **top}).encode()


def test_reads_items_and_drops_wrongly_typed_fields() -> None:
    result = read_json_feed(feed(title="T", items=[
        {"id": "a", "url": "https://x.example/a", "title": "A", "tags": ["t1"],
         "date_published": "2024-01-02T03:04:05Z"},
        {"id": 7, "external_url": "https://x.example/b"},
        {"id": True, "url": "https://x.example/c"},
        {"id": "d", "title": ["list"]},
        {"id": "e", "tags": "not-a-list"},
        "not an object",
    ]))
    # A wrong-typed field is dropped (and said), its item kept; only a non-object entry is left out.
    assert result.title == "T" and result.dropped == 1
    first, second, third, fourth, fifth = result.items
    assert first.published == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC) and first.categories == ("t1",)
    assert second.guid == "7" and second.link == "https://x.example/b"
    assert third.guid is None and third.link == "https://x.example/c"
    assert fourth.guid == "d" and fourth.title is None
    assert fifth.guid == "e" and fifth.categories == ()
    assert [d.code for d in result.drops] == ["bad-field", "bad-field", "bad-field", "not-an-item"]
    assert "item 'd': 'title' dropped (list, expected a string)" in result.drops[1].detail


@pytest.mark.parametrize(("body", "reason"), [
    (b"[" * 100_000, "invalid JSON"),
    (b'{"version": "https://jsonfeed.org/version/1", "items": [', "invalid JSON"),
    (b"\xff\xfe{}", "invalid JSON"),
    (b"[]", "must be an object"),
    (b'{"items": []}', "not a feed"),
    (b'{"version": 1.1, "items": []}', "not a feed"),
    (b'{"version": "https://jsonfeed.org/version/1", "items": {}}', "must be a list"),
])
def test_rejects_what_is_not_a_json_feed(body: bytes, reason: str) -> None:
    with pytest.raises(JsonFeedError, match=reason):
        read_json_feed(body)


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-01-02T03:04:05+02:00", datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)),
    ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("0001-01-01T00:00:00+01:00", None),
    ("9999-12-31T23:59:59-23:59", None),
    ("yesterday", None),
    ("", None),
])
def test_dates(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from([V11, "https://jsonfeed.org/version/1", "2024-01-01T00:00:00Z", "https://a.example/"]),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.sampled_from(["version", "items", "id", "url", "title", "tags", "date_published", "image",
                         "content_html", "summary", "external_url", "x"]), children, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_never_raises_anything_but_its_own_error(value: object, as_feed: bool) -> None:
    document = {"version": V11, "items": value} if as_feed else value
    with contextlib.suppress(JsonFeedError):
        read_json_feed(json.dumps(document).encode())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_its_own_error(body: bytes) -> None:
    with contextlib.suppress(JsonFeedError):
        read_json_feed(body)
