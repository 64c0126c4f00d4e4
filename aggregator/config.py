"""``config.yaml``: loaded once, strictly, into frozen dataclasses.

Every key, its type and its default is declared here; the README's config
reference is checked against these declarations by a test.  Paths in the
file are relative to the file's own folder and are resolved at load time.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .custom import CustomFeed
from .errors import ConfigError
from .remote.settings import FetchSettings, SourceConfig
from .settings import Lines, Seconds, build
from .websub import WebSubSettings

DEFAULT_CACHE_CONTROL = "public, max-age=300"
# An HTTP field value as servers send it: visible ASCII, inner spaces; no
# control characters (a newline would split the header), no outer spaces.
_HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True)
class SiteSettings:
    title: str = field(metadata=_doc("Site name; feed titles are built from it (required)."))
    base_url: str = field(metadata=_doc("URL where the output folder is served; every feed URL and self link is built from it (required)."))
    description: str = field(default="", metadata=_doc("Feed description / subtitle. Default: built from the title and topic."))
    language: str = field(default="en", metadata=_doc("Language code of the feeds (RFC 5646). Default `en`."))
    author: str | None = field(default=None, metadata=_doc("Feed-level author name. Default: the site title."))


@dataclass(frozen=True)
class ArticleFolder:
    path: str = field(metadata=_doc("A folder (or glob) of article files, relative to the config file."))
    exclude: tuple[str, ...] = field(default=(), metadata=_doc("Glob patterns (matched against the path relative to `path`) of files to leave out."))


@dataclass(frozen=True)
class FeedSettings:
    max_items: int = field(default=50, metadata=_doc("Items per feed. Default 50."))
    max_topics: int = field(default=20, metadata=_doc("Topics taken from one article; the rest are dropped with a warning. Default 20."))
    archives: bool = field(default=False, metadata=_doc("Write monthly RFC 5005 archives per topic under `archive/` (every article, linked from the live feed by `prev-archive` / `next_url`). Default false: at 100,000 articles they multiply the rendering work of a cold build (see bench/RESULTS.md)."))


@dataclass(frozen=True)
class RankingSettings:
    mode: Literal["score", "latest"] = field(default="score", metadata=_doc("`score` (quality decaying with age) or `latest` (newest first). Default `score`."))
    half_life: Seconds = field(default=Seconds(3 * 86400.0), metadata=_doc("Age at which an article's quality counts half. Default `3d`."))
    default_quality: float = field(default=50.0, metadata=_doc("Quality of articles that carry none (newsletters, stats pages, remote items). Default 50."))
    heat_weight: float = field(default=0.0, metadata=_doc("Added to the score per point of `heat` (unknown heat, -1, adds nothing). Default 0."))


@dataclass(frozen=True)
class FilterSettings:
    published_only: bool = field(default=False, metadata=_doc("Publish only articles with `published: true`. Default false."))
    min_quality: float | None = field(default=None, metadata=_doc("Publish only articles whose quality (or the default quality) is at least this. Default: no minimum."))
    max_future: Seconds = field(default=Seconds(86400.0), metadata=_doc("Articles dated further than this ahead of now are skipped. Default `1d`."))


@dataclass(frozen=True)
class ParseSettings:
    parser: Literal["auto", "yaml-rs", "pyyaml"] = field(default="auto", metadata=_doc("Front-matter YAML parser: `auto` (yaml-rs when installed, else PyYAML's safe loader), `yaml-rs` or `pyyaml`. Default `auto`."))
    max_file_bytes: int = field(default=4 * 1024 * 1024, metadata=_doc("Larger article files are skipped. Default 4 MiB."))
    max_front_matter_bytes: int = field(default=256 * 1024, metadata=_doc("Larger front matter is skipped. Default 256 KiB."))


@dataclass(frozen=True)
class ServeSettings:
    cache_control: str = field(default=DEFAULT_CACHE_CONTROL, metadata=_doc("`Cache-Control` header sent with every file (`--cache-control` overrides it); printable ASCII, no control characters or newlines. Default `public, max-age=300`."))


def header_value_error(value: str) -> str | None:
    """Why ``value`` cannot be sent as an HTTP header value, or ``None``."""
    if _HEADER_VALUE.fullmatch(value):
        return None
    return ("expected a non-empty header value of printable ASCII characters (no control characters or "
            f"newlines, no leading or trailing spaces), got {value[:100]!r}")


@dataclass(frozen=True)
class Config:
    site: SiteSettings = field(metadata=_doc("Site settings (required)."))
    articles: tuple[str | ArticleFolder, ...] = field(default=("articles",), metadata=_doc("Folders or globs of article files, or `{path, exclude}` entries. Default `[articles]`."))
    output: str = field(default="feeds", metadata=_doc("The output folder, published as is. Default `feeds`."))
    state: str = field(default=".aggregator/state.db", metadata=_doc("The embedded state file (SQLite): caches, source validators, first-seen times. Never inside `output`. Default `.aggregator/state.db`."))
    feeds: FeedSettings = field(default_factory=FeedSettings, metadata=_doc("Feed settings."))
    ranking: RankingSettings = field(default_factory=RankingSettings, metadata=_doc("Ranking settings."))
    filters: FilterSettings = field(default_factory=FilterSettings, metadata=_doc("Which articles are eligible."))
    parse: ParseSettings = field(default_factory=ParseSettings, metadata=_doc("Article parsing settings."))
    custom_feeds: tuple[CustomFeed, ...] = field(default=(), metadata=_doc("Named feeds defined by a filter (see \"Custom feeds\")."))
    sources: tuple[SourceConfig, ...] = field(default=(), metadata=_doc("Remote feeds (RSS, Atom, JSON Feed)."))
    fetch: FetchSettings = field(default_factory=FetchSettings, metadata=_doc("Limits and manners for fetching remote sources."))
    websub: WebSubSettings = field(default_factory=WebSubSettings, metadata=_doc("WebSub publishing: the hub feeds advertise and ping (see Publishing)."))
    serve: ServeSettings = field(default_factory=ServeSettings, metadata=_doc("Settings of `aggregator serve`."))
    # Set by load_config, not by the file: the folder relative paths start from.
    root: Path = field(default=Path("."), metadata={"internal": True})

    @property
    def output_dir(self) -> Path:
        return (self.root / self.output).resolve()

    @property
    def state_path(self) -> Path:
        return (self.root / self.state).resolve()

    def article_folders(self) -> tuple[ArticleFolder, ...]:
        return tuple(a if isinstance(a, ArticleFolder) else ArticleFolder(path=a) for a in self.articles)

    def with_overrides(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raise :class:`ConfigError` naming
    the key and line of the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", path=str(path)) from None
    return parse_config(text, name=str(path), root=path.resolve().parent)


def parse_config(text: str, *, name: str = "config.yaml", root: Path = Path(".")) -> Config:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path=name,
                          line=mark.line + 1 if mark else None) from None
    lines = Lines(name, _line_numbers(node) if node is not None else {})
    if "root" in (data or {}) if isinstance(data, dict) else False:
        raise lines.error(("root",), "unknown key")
    config = build(Config, data, lines)
    config = dataclasses.replace(config, root=root)
    _check(config, lines)
    return config


def _check(config: Config, lines: Lines) -> None:
    """Rules that span keys or need more than a type."""
    from .topics import slugify, topic_key
    from .urls import normalize_url

    if normalize_url(config.site.base_url) is None:
        raise lines.error(("site", "base_url"), f"expected an absolute http(s) URL, got {config.site.base_url!r}")
    if config.feeds.max_items < 1:
        raise lines.error(("feeds", "max_items"), "must be at least 1")
    if config.ranking.half_life <= 0:
        raise lines.error(("ranking", "half_life"), "must be more than 0")
    if config.websub.hub is not None and normalize_url(config.websub.hub) is None:
        raise lines.error(("websub", "hub"), f"expected an absolute http(s) URL, got {config.websub.hub[:100]!r}")
    if not config.websub.timeout > 0:
        raise lines.error(("websub", "timeout"), "must be more than 0")
    if not config.websub.budget > 0:
        raise lines.error(("websub", "budget"), "must be more than 0")
    cache_control_error = header_value_error(config.serve.cache_control)
    if cache_control_error:
        raise lines.error(("serve", "cache_control"), cache_control_error)
    if config.state_path.is_relative_to(config.output_dir):
        raise lines.error(("state",), "the state file must not be inside the output folder (it is published as is)")
    try:
        config.fetch.validate()
    except ConfigError as exc:
        key, _, message = exc.message.partition(": ")
        raise lines.error(tuple(key.split(".")), message) from None
    slugs: dict[str, int] = {}
    for i, custom in enumerate(config.custom_feeds):
        try:
            custom.validate()
        except ValueError as exc:
            key, _, message = str(exc).partition(": ")
            raise lines.error(("custom_feeds", i, key), message) from None
        slug = custom.slug or slugify(topic_key(custom.name))
        if slug in slugs:
            raise lines.error(("custom_feeds", i, "slug"), f"slug {slug!r} is already used by custom_feeds[{slugs[slug]}]")
        slugs[slug] = i
    for i, source in enumerate(config.sources):
        try:
            source.validate()
        except ConfigError as exc:
            key, _, message = exc.message.partition(": ")
            raise lines.error(("sources", i, key), message) from None


def _line_numbers(node: yaml.Node, key: tuple[str | int, ...] = ()) -> dict[tuple[str | int, ...], int]:
    found: dict[tuple[str | int, ...], int] = {key: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                child = key + (str(k.value),)
                found.update(_line_numbers(v, child))
                found[child] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found.update(_line_numbers(item, key + (i,)))
    return found
