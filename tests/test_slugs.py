"""Topic keys merge spellings; slugs are safe, bounded file names and
injective on canonical keys."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.topics import RESERVED, SLUG_MAX, group_names, slugify, topic_key

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
RESERVED_NAMES = {"all", "index", "con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(10)}
names = st.text(st.characters(exclude_categories=()), max_size=400)  # controls, surrogates, RTL, emoji


def _check(slug: str) -> None:
    assert SLUG.match(slug), slug
    assert len(slug) <= SLUG_MAX and len(slug.encode()) <= SLUG_MAX
    assert slug.casefold() not in RESERVED_NAMES
    assert slug.split(".")[0] not in RESERVED_NAMES


def test_reserved_list_covers_the_brief() -> None:
    assert RESERVED_NAMES <= RESERVED


@settings(max_examples=400, deadline=None)
@given(names)
def test_slug_is_safe_and_bounded(name: str) -> None:
    _check(slugify(topic_key(name)))


@settings(max_examples=400, deadline=None)
@given(names, names)
def test_slug_is_injective_on_keys(a: str, b: str) -> None:
    ka, kb = topic_key(a), topic_key(b)
    if ka != kb:
        assert slugify(ka) != slugify(kb), (ka, kb)
    else:
        assert slugify(ka) == slugify(kb)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z0-9]{1,8}( [a-z0-9]{1,8}){0,3}", fullmatch=True))
def test_readable_keys_stay_readable_and_distinct_from_hashed(key: str) -> None:
    slug = slugify(key)
    _check(slug)
    if key not in RESERVED:
        assert slug == key.replace(" ", "-")
    # a hashed slug contains "--"; a readable one never does
    assert ("--" in slug) == (key in RESERVED)


TRICKY_PAIRS = [
    ("C++", "C#"), ("C++", "C"), ("a b", "a-b"), ("a-b", "a_b"), ("🔥", "🚀"), ("👍🏻", "👍🏿"),
    ("All", "all-"), ("index", "Index!"), ("con", "CON."), ("é" * 300, "é" * 299), ("x" * 300, "x" * 301),
    ("nul", "n u l"), ("..", "."), ("../../etc/passwd", "etc/passwd"), ("a/b", "a b"), ("ß", "ss"),
    ("ﬁ", "fi"), ("Ｃａｆｅ", "cafe"), ("\u202eabc", "abc"), ("a\u200bb", "ab"), ("t", "t--1234abcd"),
]


@pytest.mark.parametrize(("a", "b"), TRICKY_PAIRS)
def test_tricky_pairs(a: str, b: str) -> None:
    ka, kb = topic_key(a), topic_key(b)
    if ka != kb:
        assert slugify(ka) != slugify(kb)
    _check(slugify(ka))
    _check(slugify(kb))


def test_case_merges_all() -> None:
    assert topic_key("All") == topic_key("all") and slugify(topic_key("All")) != "all"


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "..", "CON", "nul", "COM1", "lpt9", "index", "All",
                                  "../../etc/passwd", "A/B", "🔥", "x" * 300, "é" * 300, "\x00\x1f"])
def test_hostile_names(name: str) -> None:
    key = topic_key(name)
    if key:
        slug = slugify(key)
        _check(slug)
        assert "/" not in slug and slug not in ("", ".", "..")


@pytest.mark.parametrize("spellings", [
    ["Machine Learning", "machine  learning", "  MACHINE\tLearning ", "MACHINE LEARNING"],
    [unicodedata.normalize("NFC", "Café"), unicodedata.normalize("NFD", "Café"), "CAFÉ"],
])
def test_topic_key_merges_spellings(spellings: list[str]) -> None:
    assert len({topic_key(s) for s in spellings}) == 1
    assert len({slugify(topic_key(s)) for s in spellings}) == 1
    assert len(group_names(spellings)) == 1


def test_display_name_is_most_frequent_then_sorted() -> None:
    assert group_names(["ai", "AI", "AI"]) == {"ai": "AI"}
    assert group_names(["b AI", "a AI"][::-1] + ["AI", "ai"]) == {"b ai": "b AI", "a ai": "a AI", "ai": "AI"}
