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
from urllib.parse import urlsplit

from aggregator.config.custom import CustomFeed
from aggregator.config.opml import expand_opml
from aggregator.config.settings import Bytes, Lines, Seconds, build, doc, load_document
from aggregator.config.sources import FetchSettings, SourceConfig
from aggregator.config.websub import WebSubSettings
from aggregator.errors import ConfigError
from aggregator.topics import slugify, topic_key
from aggregator.urls import normalize_url

DEFAULT_CACHE_CONTROL = "public, max-age=300"
MAX_ITEMS = 10_000  # items per feed: a feed reader shows a few hundred at most
# Topics per article: each is a feed the article is rendered into, so one
# article's cost grows with this (and its categories are written capped).
MAX_TOPICS = 1_000
QUALITY = (-1e6, 1e6)  # quality, minimum quality and heat weight: finite, and a score never overflows
# A BCP 47 language tag, as feeds and HTML carry it (RFC 5646, loosely).
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
# An HTTP field value as servers send it: visible ASCII, inner spaces; no
# control characters (a newline would split the header), no outer spaces.
_HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


@dataclass(frozen=True)
class SiteWords:
    related_coverage: str | None = field(default=None, metadata=doc("Heading of an item's list of related articles. Default: by language (`Related coverage`)."))
    watch_on: str | None = field(default=None, metadata=doc("Text of a video item's link, `{where}` standing for the site (`YouTube`). Default: by language (`Watch on {where}`)."))
    also_covered_by: str | None = field(default=None, metadata=doc("Heading of an item's list of the other articles of its story. Default: by language (`Also covered by`)."))

    def overrides(self) -> dict[str, str]:
        return {f.name: v for f in dataclasses.fields(self) if (v := getattr(self, f.name))}


@dataclass(frozen=True)
class SiteSettings:
    title: str = field(metadata=doc("Site name; feed titles are built from it (required, not empty)."))
    base_url: str = field(metadata=doc("URL where the output folder is served; every feed URL and self link is built from it (required): absolute http(s), no query, fragment, user name, whitespace or control characters; a missing trailing `/` is added."))
    description: str = field(default="", metadata=doc("Feed description / subtitle. Default: built from the title and topic."))
    language: str = field(default="en", metadata=doc("Language tag of the feeds (RFC 5646: letters, digits and `-`, such as `en` or `pt-BR`). Default `en`."))
    author: str | None = field(default=None, metadata=doc("Feed-level author name (not empty), and the author of items that name neither a byline nor a provider. Default: the site title."))
    icon: str | None = field(default=None, metadata=doc("Absolute http(s) URL of a square icon (Atom `icon`, JSON Feed `icon` and `favicon`, the pages' favicon). Default: `icon.png`, generated into the output."))
    logo: str | None = field(default=None, metadata=doc("Absolute http(s) URL of a logo (RSS `image`, Atom `logo`; RSS wants at most 144×400 pixels). Default: `logo.png` (144×144), generated into the output."))
    generator_url: str | None = field(default=None, metadata=doc("Absolute http(s) URL given as the feeds' generator URI. Default: none (the generator is named, without a URI)."))
    words: SiteWords = field(default_factory=SiteWords, metadata=doc("The words the writers add to items, replacing those of `site.language` (the table in README \"Output\")."))


@dataclass(frozen=True)
class ArticleFolder:
    path: str = field(metadata=doc("A folder (or glob) of article files, relative to the config file."))
    exclude: tuple[str, ...] = field(default=(), metadata=doc("Glob patterns (matched against the path relative to `path`) of files to leave out."))


@dataclass(frozen=True)
class FeedSettings:
    max_items: int = field(default=50, metadata=doc("Items per feed. Default 50.", between=(1, MAX_ITEMS)))
    max_topics: int = field(default=20, metadata=doc("Topics taken from one article; the rest are dropped with a warning. Default 20.", between=(1, MAX_TOPICS)))
    archives: bool = field(default=False, metadata=doc("Write monthly RFC 5005 archives per topic under `archive/` (every article, linked from the live feed by `prev-archive` / `next_url`). Default false: at 100,000 articles they multiply the rendering work of a cold build (see bench/RESULTS.md)."))


@dataclass(frozen=True)
class ClusterSettings:
    enabled: bool = field(default=True, metadata=doc("Show one item per story: articles that report the same story become one item, the best-ranked of them, whose HTML lists the others (\"Also covered by\"). Default true."))
    threshold: float = field(default=0.3, metadata=doc("How alike two articles' words must be (0 to 1) to report one story; lower joins more. Default 0.3.", between=(0.05, 1.0)))
    window: Seconds = field(default=Seconds(3 * 86400.0), metadata=doc("Articles published further apart than this are never one story. Default `3d`.", between=(3600, 60 * 86400)))


@dataclass(frozen=True)
class RankingSettings:
    mode: Literal["score", "latest"] = field(default="score", metadata=doc("`score` (quality decaying with age) or `latest` (newest first). Default `score`."))
    half_life: Seconds = field(default=Seconds(3 * 86400.0), metadata=doc("Age at which an article's quality counts half. Default `3d`.", between=(1, 3650 * 86400)))
    default_quality: float = field(default=50.0, metadata=doc("Quality of articles that carry none (newsletters, stats pages, remote items). Default 50.", between=QUALITY))
    heat_weight: float = field(default=0.0, metadata=doc("Added to the score per point of `heat` (unknown heat, -1, adds nothing). Default 0.", between=QUALITY))
    max_per_provider: int | None = field(default=None, metadata=doc("At most this many items from one provider (by name, else domain) in each topic feed and the combined feed. Default: no cap.", between=(1, 10_000)))
    clusters: ClusterSettings = field(default_factory=lambda: ClusterSettings(), metadata=doc("Story clustering: one item per story (README \"Stories\")."))


@dataclass(frozen=True)
class FilterSettings:
    published_only: bool = field(default=False, metadata=doc("Publish only articles with `published: true`. Default false."))
    min_quality: float | None = field(default=None, metadata=doc("Publish only articles whose quality (or the default quality) is at least this. Default: no minimum.", between=QUALITY))
    max_future: Seconds = field(default=Seconds(86400.0), metadata=doc("Articles dated further than this ahead of now are skipped. Default `1d`.", between=(0, 3650 * 86400)))


@dataclass(frozen=True)
class ParseSettings:
    parser: Literal["auto", "yaml-rs", "pyyaml"] = field(default="auto", metadata=doc("Front-matter YAML parser: `auto` (yaml-rs when installed, else PyYAML's safe loader), `yaml-rs` or `pyyaml`. Default `auto`."))
    max_file_bytes: Bytes = field(default=Bytes(4 * 1024 * 1024), metadata=doc("Larger article files are skipped (their front matter, body and every field in them are capped, never a reason to skip a file within this size). Default `4MiB`.", between=(1024, 1024**3)))
    max_front_matter_bytes: Bytes | None = field(default=None, metadata=doc("Kept so older configs still load: it may not be smaller than `parse.max_file_bytes`, and front matter is limited by that alone (the parser's nesting and alias guards bound its cost). Default: `parse.max_file_bytes`.", between=(1024, 1024**3)))


# Image URLs that stand for no image (``images.placeholders``): YouTube's
# "unsupported browser" dinosaur, sites' default pictures, spacer pixels.
DEFAULT_PLACEHOLDERS = (
    "*/supported_browsers/*", "*_default_logo.*", "*/images/default.*", "*-default-image.*", "*_default_image.*",
    "*/default-image.*", "*/placeholder.*", "*/no-image.*", "*/noimage.*", "*/blank.gif", "*/spacer.gif",
    "*/pixel.gif",
)
DEFAULT_STRIP_PARAMS = ("utm_*", "fbclid", "gclid", "mc_cid", "mc_eid")


@dataclass(frozen=True)
class ImageSettings:
    placeholders: tuple[str, ...] = field(default=DEFAULT_PLACEHOLDERS, metadata=doc("Patterns (`*` any characters, case-insensitive) of image URLs that stand for no image (a site's default picture, YouTube's \"unsupported browser\" dinosaur): never published; the next image is taken, or a video's thumbnail. Default: the list in README \"Output\"."))


@dataclass(frozen=True)
class LinkSettings:
    strip_params: tuple[str, ...] = field(default=DEFAULT_STRIP_PARAMS, metadata=doc("Query parameters (`*` any characters) removed from every published link, for tracking. Item ids keep their own rules (see Article format). Default `[utm_*, fbclid, gclid, mc_cid, mc_eid]`."))


@dataclass(frozen=True)
class ServeSettings:
    cache_control: str = field(default=DEFAULT_CACHE_CONTROL, metadata=doc("`Cache-Control` header sent with every file (`--cache-control` overrides it); printable ASCII, no control characters or newlines. Default `public, max-age=300`."))
    header_timeout: Seconds = field(default=Seconds(10.0), metadata=doc("Time a client has to send a whole request (line, headers and any body) from the moment it connects or its previous response ends; a slower one is disconnected (slowloris). Default `10s`.", between=(0.1, 3600)))
    idle_timeout: Seconds = field(default=Seconds(5.0), metadata=doc("A kept-alive connection that sends nothing for this long is closed. Default `5s`.", between=(0.1, 3600)))
    body_timeout: Seconds = field(default=Seconds(30.0), metadata=doc("Longest a response may wait for the client to read more of it; a client that stops reading is disconnected. Default `30s`.", between=(0.1, 3600)))
    max_connections: int = field(default=256, metadata=doc("Open connections at most; a connection beyond it is closed at once, so slow clients cannot exhaust the server's file descriptors. Default 256.", between=(1, 100_000)))


def header_value_error(value: str) -> str | None:
    """Why ``value`` cannot be sent as an HTTP header value, or ``None``."""
    if _HEADER_VALUE.fullmatch(value):
        return None
    return ("expected a non-empty header value of printable ASCII characters (no control characters or "
            f"newlines, no leading or trailing spaces), got {value[:100]!r}")


@dataclass(frozen=True)
class Config:
    site: SiteSettings = field(metadata=doc("Site settings (required)."))
    articles: tuple[str | ArticleFolder, ...] = field(default=("articles",), metadata=doc("Folders or globs of article files, or `{path, exclude}` entries. Default `[articles]`."))
    output: str = field(default="feeds", metadata=doc("The output folder, published as is: a folder that is not, does not hold and does not lie inside an article folder. Default `feeds`."))
    state: str = field(default=".aggregator/state.db", metadata=doc("The embedded state file (SQLite): caches, source validators, first-seen times (see Running under cron). Never inside `output`. Default `.aggregator/state.db`."))
    feeds: FeedSettings = field(default_factory=FeedSettings, metadata=doc("Feed settings."))
    ranking: RankingSettings = field(default_factory=RankingSettings, metadata=doc("Ranking settings."))
    filters: FilterSettings = field(default_factory=FilterSettings, metadata=doc("Which articles are eligible."))
    parse: ParseSettings = field(default_factory=ParseSettings, metadata=doc("Article parsing settings."))
    custom_feeds: tuple[CustomFeed, ...] = field(default=(), metadata=doc("Named feeds defined by a filter (see \"Custom feeds\")."))
    sources: tuple[SourceConfig, ...] = field(default=(), metadata=doc("Remote feeds (RSS, Atom, JSON Feed)."))
    fetch: FetchSettings = field(default_factory=FetchSettings, metadata=doc("Limits and manners for fetching remote sources."))
    websub: WebSubSettings = field(default_factory=WebSubSettings, metadata=doc("WebSub publishing: the hub feeds advertise and ping (see Publishing)."))
    images: ImageSettings = field(default_factory=ImageSettings, metadata=doc("Which images are published."))
    links: LinkSettings = field(default_factory=LinkSettings, metadata=doc("How links are published."))
    serve: ServeSettings = field(default_factory=ServeSettings, metadata=doc("Settings of `aggregator serve`."))
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
        """This config with some fields replaced (as the command line's
        ``--articles`` and ``--output`` do), its folders checked again."""
        config = dataclasses.replace(self, **changes)
        for key, message in path_problems(config):
            raise ConfigError(f"{'.'.join(str(k) for k in key)}: {message}")
        return config


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
    data, lines = load_document(text, name)
    if "root" in data if isinstance(data, dict) else False:
        raise lines.error(("root",), "unknown key")
    if isinstance(data, dict) and "sources" in data:
        data = dict(data, sources=expand_opml(data["sources"], root, lines))
    config = build(Config, data, lines)
    config = dataclasses.replace(config, root=root)
    return _check(config, lines)


def _check(config: Config, lines: Lines) -> Config:
    """Rules that span keys or need more than a type; returns ``config``
    with ``site.base_url`` in its one form (ending in ``/``)."""
    site = config.site
    for key in ("title", "author"):
        value = getattr(site, key)
        if value is not None and not value.strip():
            raise lines.error(("site", key), "must not be empty")
    base_problem = base_url_error(site.base_url)
    if base_problem:
        raise lines.error(("site", "base_url"), base_problem)
    if not _LANGUAGE.fullmatch(site.language):
        raise lines.error(("site", "language"), f"expected a language tag such as 'en' or 'pt-BR', got {site.language[:40]!r}")
    for key in ("icon", "logo", "generator_url"):
        value = getattr(site, key)
        if value is not None and normalize_url(value) is None:
            raise lines.error(("site", key), f"expected an absolute http(s) URL, got {value[:100]!r}")
    config = dataclasses.replace(config, site=dataclasses.replace(site, base_url=_with_slash(site.base_url)))
    if config.websub.hub is not None and normalize_url(config.websub.hub) is None:
        raise lines.error(("websub", "hub"), f"expected an absolute http(s) URL, got {config.websub.hub[:100]!r}")
    cache_control_error = header_value_error(config.serve.cache_control)
    if cache_control_error:
        raise lines.error(("serve", "cache_control"), cache_control_error)
    limit = config.parse.max_front_matter_bytes
    if limit is not None and limit < config.parse.max_file_bytes:
        raise lines.error(("parse", "max_front_matter_bytes"), "must be at least parse.max_file_bytes "
                          f"({config.parse.max_file_bytes}): a file within that size is never skipped for its front matter")
    for where, message in path_problems(config):
        raise lines.error(where, message)
    _check_lists(config, lines)
    return config


def _check_lists(config: Config, lines: Lines) -> None:
    """The fetch limits, and every custom feed and source on its own."""
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


def base_url_error(url: str) -> str | None:
    """Why ``url`` cannot be ``site.base_url``, or ``None``: it must be an
    absolute http(s) URL of a folder (every feed URL, self link and OPML
    entry is built by appending a file name to it)."""
    shown = repr(url[:100])
    if any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):
        return f"must not contain whitespace or control characters, got {shown}"
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password (it is published in every feed)"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or normalize_url(url) is None:
        return f"expected an absolute http(s) URL, got {shown}"
    if "?" in url or "#" in url:
        return f"must not have a query or a fragment (file names are appended to it), got {shown}"
    return None


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def path_problems(config: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """(key, message) for each folder that overlaps another: the output
    folder may not be an article folder, lie inside one or hold one (its
    pages would be read as articles, or articles overwritten), nor hold the
    state file; the output must be a folder."""
    out, state = config.output_dir, config.state_path
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if out.exists() and not out.is_dir():
        problems.append((("output",), f"{out} is not a folder"))
    if state == out or state.is_relative_to(out):
        problems.append((("state",), "the state file must not be inside the output folder (it is published as is)"))
    for i, folder in enumerate(config.article_folders()):
        base, recursive = _article_base(config.root, folder.path)
        if base.is_relative_to(out) or out == base or (recursive and out.is_relative_to(base)):
            key: tuple[str | int, ...] = ("articles", i) if len(config.articles) > 1 else ("articles",)
            problems.append((key, f"the output folder {out} overlaps the article folder {base}: "
                                  "articles would be overwritten, or the output read as articles"))
    return problems


def _article_base(root: Path, pattern: str) -> tuple[Path, bool]:
    """The folder an ``articles`` entry reads from (a glob's folder before
    its first wildcard), and whether it reads its subfolders too."""
    parts = Path(pattern).parts
    for i, part in enumerate(parts):
        if set(part) & set("*?["):
            rest = parts[i:]
            return (root / Path(*parts[:i])).resolve(), len(rest) > 1 or "**" in rest[0]
    return (root / pattern).resolve(), True
