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
     "config.yaml:2: websub.timeout: must be more than 0"),
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
