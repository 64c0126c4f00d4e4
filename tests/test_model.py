"""The core data type crosses processes as a pickle and sits in the state
store as JSON (state/codec.py): whatever an article holds comes back equal."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.model import Article, Image, ParseResult, Problem, Provider, Related

TEXT = st.text(max_size=20)
MAYBE_TEXT = st.none() | TEXT
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5), "EST")])
MOMENTS = st.builds(lambda moment, zone: moment.replace(tzinfo=zone),
                    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), ZONES)

articles = st.builds(
    Article,
    id=TEXT, url=TEXT, title=TEXT, published=MOMENTS, origin=TEXT, summary=TEXT, content_html=MAYBE_TEXT,
    updated=st.none() | MOMENTS, topics=st.lists(TEXT, max_size=3).map(tuple),
    tags=st.lists(TEXT, max_size=3).map(tuple), category=MAYBE_TEXT, kind=MAYBE_TEXT,
    quality=st.none() | st.floats(allow_nan=False, allow_infinity=False), heat=st.none() | st.floats(0, 1e6),
    is_published=st.none() | st.booleans(), removed=st.booleans(), original_url=MAYBE_TEXT,
    provider=st.none() | st.builds(Provider, TEXT, MAYBE_TEXT, MAYBE_TEXT),
    image=st.none() | st.builds(Image, TEXT, st.none() | st.integers(1, 5000), st.none() | st.integers(1, 5000),
                                MAYBE_TEXT),
    related=st.lists(st.builds(Related, TEXT, TEXT, st.none() | MOMENTS, MAYBE_TEXT), max_size=3).map(tuple),
    featured_html=MAYBE_TEXT, body_source=st.none() | st.tuples(TEXT, TEXT, st.booleans()),
    author=MAYBE_TEXT, video_url=MAYBE_TEXT,
)


@settings(max_examples=200, deadline=None)
@given(articles)
def test_an_article_survives_pickling(article: Article) -> None:
    result = ParseResult(articles=(article,), problems=(Problem("/a.md", "why", "warning", 3),))
    back = pickle.loads(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == result
    copy = back.articles[0]
    assert copy.published.utcoffset() == article.published.utcoffset()
    assert copy.published.tzinfo is article.published.tzinfo or article.published.tzinfo is not UTC
    if article.updated is not None:
        assert copy.updated is not None and copy.updated.utcoffset() == article.updated.utcoffset()
    assert type(copy.provider) is type(article.provider) and type(copy.image) is type(article.image)
    assert all(type(r) is Related for r in copy.related)


@settings(max_examples=200, deadline=None)
@given(articles, st.lists(st.builds(Problem, TEXT, TEXT, TEXT, st.none() | st.integers(1, 10**6)), max_size=3))
def test_an_article_survives_the_state_codec(article: Article, problems: list[Problem]) -> None:
    from aggregator.model import summarize
    from aggregator.state import codec

    result = ParseResult(articles=(article,), problems=tuple(problems))
    blob = codec.dumps_result(result)
    assert not blob.startswith(b"\x80")  # JSON, never a pickle
    back = codec.loads_result(blob)
    assert back == result and type(back.articles[0]) is Article
    assert codec.loads_articles(codec.dumps_article(article)) == (article,)
    assert codec.loads_problems(codec.dumps_problems(tuple(problems))) == tuple(problems)
    summary = summarize(article)
    assert codec.loads_summary(codec.dumps_summary(summary)) == summary
