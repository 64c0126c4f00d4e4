"""Strict config loading, and every key documented in the README."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator import ConfigError
from aggregator.config import Config, load_config, parse_config

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _keys(cls: type, prefix: str = "") -> Iterator[str]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        key = prefix + f.name
        yield key
        for t in typing.get_args(hints[f.name]) or (hints[f.name],):
            inner = typing.get_args(t)[0] if typing.get_origin(t) is tuple else t
            if dataclasses.is_dataclass(inner) and isinstance(inner, type):
                sep = "[]." if typing.get_origin(hints[f.name]) is tuple or typing.get_origin(t) is tuple else "."
                yield from _keys(inner, key + sep)


def test_every_config_key_is_documented_in_readme() -> None:
    keys = list(_keys(Config))
    assert "ranking.half_life" in keys and "sources[].url" in keys
    missing = [k for k in keys if f"`{k}`" not in README]
    assert missing == []


def test_every_cli_option_is_documented_in_readme() -> None:
    from aggregator.cli import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, cmd in sub.choices.items():  # type: ignore[union-attr]
        assert f"aggregator {name}" in README
        for action in cmd._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in README, (name, flag)


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('site: {title: "Example News", base_url: "https://example.org/feeds/"}\n'
                    "articles: [articles]\noutput: feeds\n")
    config = load_config(path)
    assert config.output_dir == tmp_path / "feeds"
    assert config.state_path == tmp_path / ".aggregator" / "state.db"
    assert config.feeds.max_items == 50 and config.ranking.mode == "score"
    assert config.site.author is None and config.site.language == "en"
    assert config.websub.hub is None and config.websub.timeout == 10
    assert config.serve.cache_control == "public, max-age=300"


@pytest.mark.parametrize(("text", "message"), [
    ("site: {title: T}\n", "config.yaml:1: site.base_url: required key is missing"),
    ('site: {title: T, base_url: "https://e.org/"}\nfeeds: {max_items: "many"}\n',
     "config.yaml:2: feeds.max_items: expected an integer, got 'many'"),
    ('site: {title: T, base_url: "https://e.org/"}\nranking:\n  mode: best\n',
     "config.yaml:3: ranking.mode: expected one of 'score', 'latest', got 'best'"),
    ('site: {title: T, base_url: "https://e.org/"}\nfilters: {published_only: "yes"}\n',
     "config.yaml:2: filters.published_only: expected true or false"),
    ('site: {title: T, base_url: "ftp://e.org/"}\n', "site.base_url: expected an absolute http(s) URL"),
    ('site: {title: T, base_url: "https://e.org/"}\noutput: out\nstate: out/state.db\n',
     "state: the state file must not be inside the output folder"),
    ('site: {title: T, base_url: "https://e.org/"}\nsources:\n  - {url: "file:///etc/passwd"}\n',
     "sources[0].url"),
    ('site: {title: T, base_url: "https://e.org/"}\nwebsub:\n  hub: "hub.example.org"\n',
     "config.yaml:3: websub.hub: expected an absolute http(s) URL, got 'hub.example.org'"),
    ('site: {title: T, base_url: "https://e.org/"}\nwebsub: {hub: "https://h.example/", timeout: 0}\n',
     "config.yaml:2: websub.timeout: must be in the range 1ms to 1h, got 0"),
    ('site: {title: T, base_url: "https://e.org/"}\nserve:\n  cache_control: "public\\nX-Evil: 1"\n',
     "config.yaml:3: serve.cache_control: expected a non-empty header value"),
    ("site: [unclosed\n", "config.yaml:2: invalid YAML"),
    ("- a\n- b\n", "expected a mapping, got a list"),
])
def test_bad_config_is_an_error_naming_key_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, name="config.yaml", root=Path("/srv/site"))
    assert message in str(info.value)


def test_durations_and_article_entries() -> None:
    config = parse_config('site: {title: T, base_url: "https://e.org/"}\nranking: {half_life: 12h}\n'
                          'articles: [a, {path: b, exclude: ["drafts/*"]}]\n', root=Path("/srv"))
    assert config.ranking.half_life == 43200
    folders = config.article_folders()
    assert [f.path for f in folders] == ["a", "b"] and folders[1].exclude == ("drafts/*",)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml")


def test_every_config_row_of_the_readme_is_the_field_documentation() -> None:
    """The README's table is the documentation of each key, range included:
    one text, kept in the field declaration."""
    from aggregator.config.settings import documented

    rows = []
    for key, tp, meta in _documented_fields(Config):
        row = f"| `{key}` | {documented(tp, meta)} |"
        if row not in README:
            rows.append(row)
    assert rows == []


def _documented_fields(cls: type, prefix: str = "") -> Iterator[tuple[str, object, typing.Mapping[str, object]]]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        yield prefix + f.name, hints[f.name], f.metadata
        for t in typing.get_args(hints[f.name]) or (hints[f.name],):
            inner = typing.get_args(t)[0] if typing.get_origin(t) is tuple else t
            if dataclasses.is_dataclass(inner) and isinstance(inner, type):
                sep = "[]." if typing.get_origin(hints[f.name]) is tuple or typing.get_origin(t) is tuple else "."
                yield from _documented_fields(inner, prefix + f.name + sep)


def test_every_number_has_a_range() -> None:
    from aggregator.config.settings import Bytes, Seconds

    numeric = (int, float, Seconds, Bytes)
    unbounded = []
    for key, tp, meta in _documented_fields(Config):
        inner = [t for t in (typing.get_args(tp) or (tp,)) if t is not type(None)]
        if any(t in numeric for t in inner) and "range" not in meta:
            unbounded.append(key)
    assert unbounded == []


BASE = 'site: {title: T, base_url: "https://e.org/"}\n'


@pytest.mark.parametrize(("text", "message"), [
    (BASE + "feeds: {max_items: 100000000000000000000000000}\n",
     "config.yaml:2: feeds.max_items: must be in the range 1 to 10,000, got 100000000000000000000000000"),
    (BASE + "filters: {max_future: 99999999999d}\n",
     "config.yaml:2: filters.max_future: must be in the range 0s to 3650d, got '99999999999d'"),
    (BASE + "feeds: {max_topics: 0}\n", "config.yaml:2: feeds.max_topics: must be in the range 1 to 1,000, got 0"),
    (BASE + "feeds: {max_topics: 20000}\n", "feeds.max_topics: must be in the range 1 to 1,000, got 20000"),
    (BASE + "parse: {max_file_bytes: -1}\n", "config.yaml:2: parse.max_file_bytes: expected a size"),
    (BASE + "parse: {max_file_bytes: 4GiB}\n", "parse.max_file_bytes: must be in the range 1KiB to 1GiB, got '4GiB'"),
    (BASE + "parse: {max_front_matter_bytes: 256KiB}\n",
     "config.yaml:2: parse.max_front_matter_bytes: must be at least parse.max_file_bytes (4194304)"),
    (BASE + "ranking: {default_quality: 1.0e+300}\n", "ranking.default_quality: must be in the range -1,000,000 to"),
    (BASE + "fetch: {concurrency: 0}\n", "config.yaml:2: fetch.concurrency: must be in the range 1 to 1,000, got 0"),
    (BASE + "fetch: {max_redirects: 1000}\n", "fetch.max_redirects: must be in the range 0 to 20, got 1000"),
    (BASE + "sources:\n  - {url: 'https://x.example/f', deadline: 0}\n",
     "config.yaml:3: sources[0].deadline: must be in the range 1ms to 1d, got 0"),
    (BASE + "serve: {max_connections: 0}\n", "serve.max_connections: must be in the range 1 to 100,000, got 0"),
    ('site: {title: "  ", base_url: "https://e.org/"}\n', "config.yaml:1: site.title: must not be empty"),
    ('site: {title: T, author: "", base_url: "https://e.org/"}\n', "site.author: must not be empty"),
    ('site: {title: T, base_url: "https://e.org/", language: "<script>en"}\n',
     "site.language: expected a language tag such as 'en' or 'pt-BR', got '<script>en'"),
    ('site: {title: T, base_url: "https://e.org/feeds/?x=1"}\n', "site.base_url: must not have a query or a fragment"),
    ('site: {title: T, base_url: "https://e.org/feeds/#top"}\n', "site.base_url: must not have a query or a fragment"),
    ('site: {title: T, base_url: "https://e.org/my feeds/"}\n', "site.base_url: must not contain whitespace"),
    ('site: {title: T, base_url: "https://e.org/\\nfeeds/"}\n', "site.base_url: must not contain whitespace"),
    ('site: {title: T, base_url: "https://user:pw@e.org/"}\n', "site.base_url: must not carry a user name"),
    ('site: {title: T, base_url: "//e.org/feeds/"}\n', "site.base_url: expected an absolute http(s) URL"),
    ("site: {title: T, base_url: 'https://e.org/'}\nfeeds: {max_items: 5}\nfeeds: {max_items: 6}\n",
     "config.yaml:3: feeds: duplicate key (first on line 2)"),
    ("site:\n  title: A\n  title: B\n  base_url: 'https://e.org/'\n",
     "config.yaml:3: site.title: duplicate key (first on line 2)"),
    ("x: " + "[" * 100_000 + "\n", "config.yaml: nested deeper than 50 levels"),
    ("x:\n" + "".join("  " * i + f"k{i}:\n" for i in range(60)), "config.yaml: nested deeper than 50 levels"),
])
def test_hostile_or_out_of_range_config_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, name="config.yaml", root=Path("/srv/site"))
    assert message in str(info.value)


def test_an_alias_bomb_is_refused_at_once() -> None:
    """550 bytes standing for billions of values: refused before it is
    expanded (it grew past 2.4 GB in 60 s)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    text = BASE + "\n".join(lines) + "\ncustom_feeds:\n  - name: x\n    topics: *a9\n"
    with pytest.raises(ConfigError, match="aliases expand to more than 100,000 values"):
        parse_config(text, name="config.yaml")


def test_modest_anchors_and_aliases_still_load() -> None:
    text = ('site: {title: T, base_url: "https://e.org"}\n'
            "custom_feeds:\n  - {name: A, topics: &ai [AI, ML]}\n  - {name: B, topics: *ai, min_quality: 50}\n")
    config = parse_config(text)
    assert [c.topics for c in config.custom_feeds] == [("AI", "ML"), ("AI", "ML")]
    assert config.site.base_url == "https://e.org/"  # the trailing slash is added


def test_a_huge_config_is_refused() -> None:
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        parse_config(BASE + "# " + "x" * (1024 * 1024) + "\n")


def test_sizes_take_the_units_the_readme_names() -> None:
    for text, size in (("64MiB", 64 << 20), ("64Mi", 64 << 20), ("64MB", 64_000_000), ("512KiB", 512 << 10),
                       ("1GiB", 1 << 30), ("3000000", 3_000_000)):
        config = parse_config(BASE + f"parse: {{max_file_bytes: {text}}}\n")
        assert config.parse.max_file_bytes == size, text
    assert parse_config(BASE + "websub: {timeout: 250ms}\n").websub.timeout == 0.25


@pytest.mark.parametrize(("folders", "message"), [
    ("articles: [site]\noutput: site\n", "articles: the output folder"),
    ("articles: [site]\noutput: site/feeds\n", "articles: the output folder"),
    ("articles: [site/articles]\noutput: site\n", "articles: the output folder"),
    ("articles: [a, 'site/**/*.md']\noutput: site/feeds\n", "articles[1]: the output folder"),
    ("articles: ['site/*.md']\noutput: site\n", "articles: the output folder"),
    ("articles: [a]\noutput: a.txt\n", "output: "),
    ("articles: [a]\noutput: out\nstate: out\n", "state: the state file must not be inside the output folder"),
])
def test_overlapping_folders_are_refused(tmp_path: Path, folders: str, message: str) -> None:
    (tmp_path / "a.txt").write_text("a file")
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + folders, root=tmp_path)
    assert message in str(info.value)
    assert "config.yaml:" in str(info.value)


def test_folders_that_do_not_overlap(tmp_path: Path) -> None:
    for folders in ("articles: ['*.md']\noutput: feeds\n", "articles: [site/articles]\noutput: site/feeds\n",
                    "articles: ['site/*.md']\noutput: site/feeds\n"):
        parse_config(BASE + folders, root=tmp_path)


def test_command_line_folders_are_checked_too(tmp_path: Path) -> None:
    from aggregator.cli import main

    (tmp_path / "config.yaml").write_text(BASE + "articles: [articles]\noutput: out\n")
    (tmp_path / "articles").mkdir()
    assert main(["build", "-c", str(tmp_path / "config.yaml"), "--output", str(tmp_path / "articles" / "x")]) == 2
    assert not (tmp_path / "articles" / "x").exists()
