"""URL normalising and canonical ids: the fast paths agree with the full
parsers on every input, and canonical ids drop what does not identify."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.urls import _canonical, canonical_url, normalize_url

PIECES = st.sampled_from([*"abcXYZ019-._~!$&'()*+,;=:@/%?#", "%20", "%zz", "é", " ", "utm_source=x", "&fbclid=1"])


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(["http://", "https://", "HTTP://"]),
       st.sampled_from(["example.org", "EXAMPLE.org", "a.b", "x-1.io:8080", "h:443", "bücher.de"]),
       st.lists(PIECES, max_size=20).map("".join))
def test_canonical_fast_path_matches_the_parser(scheme: str, host: str, rest: str) -> None:
    url = normalize_url(scheme + host + rest)
    if url is not None:
        assert canonical_url(url) == _canonical(url)
        assert canonical_url(canonical_url(url)) == canonical_url(url)  # idempotent


def test_canonical_drops_fragment_tracking_and_default_port() -> None:
    url = normalize_url("HTTPS://Example.org:443/a?utm_source=x&id=7#top")
    assert url is not None and canonical_url(url) == "https://example.org/a?id=7"
