"""Front-matter framing and YAML parsing, per tiny case, plus properties."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.model import ParseResult
from aggregator.sources.local.articles import ParseOptions, parse_article, with_content
from aggregator.sources.local.frontmatter import FrontMatterError, decode, parse_yaml, split
from aggregator.yamlguard import block_depth, flow_depth

HEAD = 'title: "T"\nwebUrl: https://example.com/a\npublishedDateTime: 2024-05-01T10:00:00Z\n'
PARSERS = ["yaml-rs", "pyyaml"]
REALDATA = Path("/work/shared/realdata")


def _parse(data: bytes, parser: str = "pyyaml", path: str = "x.md") -> ParseResult:
    return parse_article(data, path, ParseOptions(parser=parser))


def _one(data: bytes, parser: str):
    result = _parse(data, parser)
    assert len(result.articles) == 1, result.problems
    return result.articles[0]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("data", [
    b"---\n" + HEAD.encode() + b"---\nBody\n",
    b"---\r\n" + HEAD.replace("\n", "\r\n").encode() + b"---\r\nBody\r\n",  # CRLF
    b"\xef\xbb\xbf---\n" + HEAD.encode() + b"---\nBody\n",  # BOM
    b"---   \n" + HEAD.encode() + b"---   \nBody\n",  # trailing spaces on both fences
    b"---\n" + HEAD.encode() + b"---",  # no final newline, no body
    b"---\n" + HEAD.encode() + b"---\nBody",  # no final newline
])
def test_framing_variants_parse_alike(data: bytes, parser: str) -> None:
    article = _one(data, parser)
    assert article.title == "T" and article.url == "https://example.com/a"


def test_dashes_inside_the_body_are_content() -> None:
    data = b"---\n" + HEAD.encode() + b"---\nbefore\n\n---\n\nafter ---\n---\nend\n"
    front, body = split(decode(data))
    assert front == HEAD
    assert body == "before\n\n---\n\nafter ---\n---\nend\n"
    html = with_content(_one(data, "pyyaml")).content_html or ""
    assert "before" in html and "after" in html and "end" in html


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty file"),
    (b"   \n\n", "empty file"),
    (b"\x00\x01\x02binary", "binary"),
    (b"---\ntitle: caf\xe9\n---\n", "not UTF-8"),
    (b"title: x\n---\n", "no front matter"),
    (b"\n---\n" + HEAD.encode() + b"---\n", "no front matter"),
    (b"---\n" + HEAD.encode(), "unterminated"),
    (b"---\n- a\n- b\n---\n", "not a mapping"),
    (b"---\njust a string\n---\n", "not a mapping"),
    (b"---\ntitle: [unclosed\n---\n", "invalid YAML"),
])
@pytest.mark.parametrize("parser", PARSERS)
def test_framing_failures(data: bytes, reason: str, parser: str) -> None:
    result = _parse(data, parser)
    assert not result.articles
    assert [p.kind for p in result.problems] == ["skipped"]
    assert reason in result.problems[0].reason and result.problems[0].where == "x.md"


@pytest.mark.parametrize("parser", PARSERS)
def test_escapes_and_unquoted_values(parser: str) -> None:
    data = (
        b"---\n"
        b"title: An unquoted title with 'quotes' and C# # a comment\n"
        b"webUrl: https://example.com/a?x=1&y=2\n"
        b"publishedDateTime: 2024-05-01T10:00:00Z\n"
        b'excerpt: "Line one\\nLine two with \\"quotes\\" and a \\\\ backslash"\n'
        b"topics: [AI, \"Machine Learning\", null, ~]\n"
        b"---\n")
    article = _one(data, parser)
    assert article.title == "An unquoted title with 'quotes' and C#"
    assert article.summary == 'Line one\nLine two with "quotes" and a \\ backslash'
    assert article.topics == ("AI", "Machine Learning")
    assert article.url == "https://example.com/a?x=1&y=2"


@pytest.mark.parametrize("parser", PARSERS)
def test_control_characters_are_stripped(parser: str) -> None:
    data = ("---\n" + HEAD.replace('"T"', '"T\\0i\\vt\\el\\uFFFEe\\x7f"')
            + 'excerpt: "a\\0b\\x1fc"\ntopics: ["A\\0I", "\\e"]\n---\n').encode()
    article = _one(data, parser)
    assert article.title == "Title"
    assert article.summary == "abc"
    assert article.topics == ("AI",)


def test_raw_control_bytes() -> None:
    data = b"---\n" + HEAD.encode() + b"excerpt: a\x07b\n---\n"
    result = _parse(data)  # a raw BEL is not allowed in YAML: skipped, never raised
    assert result.articles or result.problems


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(("extra", "reason"), [
    ("evil: !!python/object/apply:os.system [\"true\"]\n", "tags are not allowed"),
    ("evil: !!python/name:os.system\n", "tags are not allowed"),
    ("evil: !custom x\n", "tags are not allowed"),
    ("a: &x [1]\nb: *x\n", "anchors are not allowed"),
    ("x: " + "[" * 51 + "]" * 51 + "\n", "nested deeper"),
    ("x:\n  " + "- " * 60 + "a\n", "nested deeper"),
    ("x:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 60)) + " " * 60 + "v\n", "nested deeper"),
])
def test_hostile_yaml_is_refused(parser: str, extra: str, reason: str) -> None:
    result = _parse(("---\n" + HEAD + extra + "---\n").encode(), parser)
    assert not result.articles and reason in result.problems[0].reason


@pytest.mark.parametrize("parser", PARSERS)
def test_plain_ampersands_asterisks_and_bangs_are_text(parser: str) -> None:
    data = ("---\n" + HEAD.replace('"T"', "Q&A - *not* an alias & no !tag") + "excerpt: a & b * c ! d\n---\n").encode()
    article = _one(data, parser)
    assert article.title == "Q&A - *not* an alias & no !tag" and article.summary == "a & b * c ! d"


def test_depth_counters() -> None:
    assert flow_depth("x: [[['[[[']]]") == 3
    assert block_depth("a:\n  b:\n    c: 1\n") == 0  # shallow: skipped by the cheap filter
    assert block_depth("x:\n  " + "- " * 60 + "a\n") > 50
    with pytest.raises(FrontMatterError):
        parse_yaml("x: " + "[" * 100_000)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000) | st.builds(lambda b: b"---\n" + b + b"\n---\n", st.binary(max_size=500)))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    for parser in PARSERS:
        assert isinstance(_parse(data, parser), ParseResult)


yaml_ish = st.text(st.sampled_from(list("ab:-[]{}&*!|>'\"#? ,\n\t\\0xé")), max_size=200)


@settings(max_examples=300, deadline=None)
@given(yaml_ish)
def test_yaml_like_text_never_raises(text: str) -> None:
    data = ("---\n" + HEAD + text + "\n---\n").encode()
    for parser in PARSERS:
        assert isinstance(_parse(data, parser), ParseResult)


def _real_files() -> list[Path]:
    if not REALDATA.is_dir():
        return []
    return sorted(p for p in REALDATA.rglob("*") if p.is_file() and p.suffix in (".md", ".html"))


@pytest.mark.skipif(not _real_files(), reason="/work/shared/realdata is not present")
def test_parsers_agree_on_real_data() -> None:
    differ = []
    for path in _real_files():
        data = path.read_bytes()
        rs, py = _parse(data, "yaml-rs", str(path)), _parse(data, "pyyaml", str(path))
        if [replace(a) for a in rs.articles] != [replace(a) for a in py.articles] or (
                [(p.kind, p.where) for p in rs.problems] != [(p.kind, p.where) for p in py.problems]):
            differ.append(path.name)
    assert not differ, f"{len(differ)} files differ, e.g. {differ[:5]}"


def test_character_references_in_titles_and_excerpts_are_decoded() -> None:
    # Real excerpts carry references copied from web pages; readers must see the character.
    data = (b'---\ntitle: "AT&amp;T&#8217;s plan &lt;b&gt;"\npublishedDateTime: 2024-01-01T00:00:00Z\n'
            b'webUrl: https://example.org/a\nexcerpt: "It&#8217;s &#8220;done&#8221; &mdash; Q&A"\n---\n')
    (article,) = parse_article(data, "a.md").articles
    assert article.title == "AT&T\u2019s plan"  # plain text: decoded, and the markup it decoded to removed
    assert article.summary == "It\u2019s \u201cdone\u201d \u2014 Q&A"
