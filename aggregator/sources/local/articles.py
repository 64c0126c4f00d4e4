"""Front matter mapping + body -> :class:`~aggregator.model.Article`.  Pure.

The field policy (what is required, what is dropped with a warning) is
documented in the README under "Article format"; in short an article needs
a title, an http(s) link (``webUrl``, else ``originalUrl``) and a parseable
``publishedDateTime``; anything else that is malformed is dropped with a
warning and never stops the article.  ``secured`` is never read.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from dateutil import parser as dateparser

from aggregator.markdown import gfm_to_html
from aggregator.media import embedded_video, is_placeholder, video_thumbnail
from aggregator.model import Article, Image, ParseResult, Problem, Provider, Related
from aggregator.sources.local.frontmatter import FrontMatterError, decode, parse_yaml, split
from aggregator.sources.local.parsekey import ParseOptions
from aggregator.text import (
    MAX_HTML_DEPTH,
    NAME_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
    clean_text,
    html_depth,
    plain_text,
    sanitize_embed,
    sanitize_html,
    strip_liquid,
)
from aggregator.urls import canonical_url, normalize_url, resolve_url
from aggregator.yamlguard import block_depth

TOPIC_MAX = 100
MAX_RELATED = 20
MAX_TAGS = 30
MAX_BODY = 1024 * 1024
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
HTML_SUFFIXES = (".html", ".htm")
DEFAULT_OPTIONS = ParseOptions()


class _Skip(Exception):
    """The article cannot be published; ``str()`` is the reason."""


def parse_article(data: bytes, path: str, options: ParseOptions = DEFAULT_OPTIONS) -> ParseResult:
    """Parse one article file's bytes.  Never raises for bad input: the
    file is skipped with a :class:`Problem` naming ``path`` and the reason."""
    try:
        front, body = split(decode(data))
        fields = parse_yaml(front, options.parser)
    except FrontMatterError as exc:
        return ParseResult(problems=(Problem(path, str(exc), "skipped", exc.line),))
    warnings: list[str] = []
    try:
        article = build_article(fields, body, path, options, warnings)
    except _Skip as exc:
        return ParseResult(problems=(Problem(path, str(exc), "skipped"),))
    problems = tuple(Problem(path, w, "warning") for w in warnings)
    return ParseResult(articles=(article,), problems=problems)


def build_article(fields: Mapping[str, Any], body: str, path: str, options: ParseOptions,
                  warnings: list[str]) -> Article:
    title = fields.get("title")
    if not isinstance(title, (str, int, float)) or isinstance(title, bool):
        raise _Skip("missing title" if title is None else f"title is a {type(title).__name__}, not text")
    title = plain_text(str(title), TITLE_MAX)
    if not title:
        raise _Skip("empty title")
    url, linked = _link(fields)
    published = to_datetime(fields.get("publishedDateTime"))
    if published is None:
        raw = fields.get("publishedDateTime")
        raise _Skip("missing publishedDateTime" if raw is None else f"unparseable publishedDateTime {_short(raw)}")
    kind = _text(fields, "type", NAME_MAX, warnings) or None
    featured, embedded = _featured(fields.get("featuredContent"), url)
    # A video article is watched where it is published; an embedded player
    # (an iframe, which readers strip) where its video's page is.
    video = embedded or (url if kind is not None and kind.casefold() == "video" else None)
    return Article(
        id=canonical_url(url),
        url=url,
        title=title,
        published=published,
        origin=path,
        summary=_text(fields, "excerpt", SUMMARY_MAX, warnings, single_line=False),
        body_source=_body_source(body, path, url, warnings),
        updated=_optional_date(fields, "updatedDateTime", warnings),
        topics=_names(fields.get("topics"), "topics", options.max_topics, warnings),
        tags=_names(fields.get("tags"), "tags", MAX_TAGS, warnings),
        category=_text(fields, "category", NAME_MAX, warnings) or None,
        kind=kind,
        quality=_number(fields, "quality", warnings),
        heat=_heat(fields, warnings),
        is_published=_bool(fields, "published", warnings),
        removed=_bool(fields, "removed", warnings) is True,
        original_url=_original_url(fields.get("originalUrl"), linked, url),
        provider=_provider(fields.get("provider"), url),
        image=_image(fields.get("images"), url, options.placeholders) or video_thumbnail(video),
        related=_related(fields.get("related"), url),
        featured_html=featured,
        author=_author(fields.get("author")),
        video_url=video,
    )


def _link(fields: Mapping[str, Any]) -> tuple[str, str]:
    """The article's link, normalised, and the value it was made from."""
    for key in ("webUrl", "originalUrl"):
        value = fields.get(key)
        if isinstance(value, str) and value.strip():
            url = normalize_url(value)
            if url is None:
                raise _Skip(f"{key} is not an absolute http(s) URL: {_short(value)}")
            return url, value
    raise _Skip("no link (webUrl or originalUrl)")


def _original_url(value: object, linked: str, url: str) -> str | None:
    if not isinstance(value, str):
        return None
    return url if value == linked else normalize_url(value)  # most articles: the same URL as webUrl


def to_datetime(value: object) -> datetime | None:
    """A YAML date value -> aware UTC datetime; naive values are taken as
    UTC, a bare date as midnight UTC; ``None`` when unusable."""
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime.combine(value, time(0, 0))
        elif isinstance(value, str) and value.strip():
            text = value.strip()
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                moment = dateparser.parse(text)
        else:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError, TypeError, dateparser.ParserError):
        return None


def _optional_date(fields: Mapping[str, Any], key: str, warnings: list[str]) -> datetime | None:
    value = fields.get(key)
    if value is None:
        return None
    moment = to_datetime(value)
    if moment is None:
        warnings.append(f"{key}: unparseable date {_short(value)} ignored")
    return moment


def _text(fields: Mapping[str, Any], key: str, limit: int, warnings: list[str], *, single_line: bool = True) -> str:
    value = fields.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        warnings.append(f"{key}: expected text, got {type(value).__name__}; ignored")
        return ""
    return plain_text(str(value), limit, single_line=single_line)


def _number(fields: Mapping[str, Any], key: str, warnings: list[str]) -> float | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        warnings.append(f"{key}: expected a number, got {_short(value)}; ignored")
        return None
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        warnings.append(f"{key}: not a finite number ({_short(value)}); ignored")
        return None
    return number


def _heat(fields: Mapping[str, Any], warnings: list[str]) -> float | None:
    heat = _number(fields, "heat", warnings)
    return None if heat is None or heat < 0 else heat  # -1 means unknown


def _bool(fields: Mapping[str, Any], key: str, warnings: list[str]) -> bool | None:
    value = fields.get(key)
    if value is None or isinstance(value, bool):
        return value
    # YAML 1.1 (PyYAML) reads an unquoted yes/no as a bool, YAML 1.2 (yaml-rs)
    # as a string; accept the words so both parsers give the same article.
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    warnings.append(f"{key}: expected true or false, got {_short(value)}; ignored")
    return None


def _names(value: object, key: str, limit: int, warnings: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]  # a bare string is one name, never a list of characters
    if not isinstance(value, list):
        warnings.append(f"{key}: expected a list, got {type(value).__name__}; ignored")
        return ()
    names: dict[str, None] = {}  # a dict: membership tests stay O(1) however many are given
    bad = 0
    for item in value:
        if item is None:
            continue  # null items occur in real data
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            bad += 1
            if bad == 1:
                warnings.append(f"{key}: item {_short(item)} is not text; dropped")
            continue
        name = plain_text(str(item), TOPIC_MAX)
        if name:
            names[name] = None
    if bad > 1:
        warnings.append(f"{key}: {bad - 1} more items that are not text dropped")
    if len(names) > limit:
        warnings.append(f"{key}: {len(names)} given, only the first {limit} kept")
    return tuple(names)[:limit]


def _provider(value: object, article_url: str) -> Provider | None:
    if not isinstance(value, Mapping):
        return None
    name = value.get("name")
    domain = value.get("domain")
    domain = clean_text(domain, NAME_MAX) if isinstance(domain, str) else None
    home = _home(domain) if domain and "/" not in domain else None
    if not isinstance(name, str) or not plain_text(name):
        if not domain:
            return None
        name = domain
    return Provider(name=plain_text(name, NAME_MAX), domain=domain or None, url=home)


@functools.lru_cache(maxsize=4096)
def _home(domain: str) -> str | None:
    """A provider's home page (a few hundred providers write most articles)."""
    return normalize_url(f"https://{domain}/")


def _author(value: object) -> str | None:
    """The byline: ``author: Name``, ``author: {name: Name}`` or a list of either."""
    names = value if isinstance(value, list) else [value]
    found = []
    for item in names[:10]:
        name = item.get("name") if isinstance(item, Mapping) else item
        if isinstance(name, str) and (text := plain_text(name, NAME_MAX)):
            found.append(text)
    return ", ".join(dict.fromkeys(found))[:NAME_MAX] or None


def _image(value: object, base: str, placeholders: Sequence[str]) -> Image | None:
    """The first usable image: an http(s) URL that is no placeholder."""
    if not isinstance(value, list):
        return None
    for item in value[:200]:
        if not isinstance(item, Mapping) or not isinstance(item.get("url"), str):
            continue
        url = resolve_url(item["url"], base)
        if url is None or is_placeholder(url, placeholders):
            continue
        title = item.get("title")
        return Image(url=url, width=_dimension(item.get("width")), height=_dimension(item.get("height")),
                     title=plain_text(title, TITLE_MAX) or None if isinstance(title, str) else None)
    return None


def _dimension(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000:
        return value
    return None


def _related(value: object, base: str) -> tuple[Related, ...]:
    if not isinstance(value, list):
        return ()
    found: list[Related] = []
    seen: set[str] = set()
    for item in value[:200]:
        if not isinstance(item, Mapping):
            continue
        title = item.get("title")
        link = item.get("webUrl") or item.get("originalUrl")
        if not isinstance(title, str) or not isinstance(link, str):
            continue
        url = resolve_url(link, base)
        if not url or url in seen:
            continue
        title = plain_text(title, TITLE_MAX)
        if title:
            seen.add(url)
            provider = _provider(item.get("provider"), url)
            found.append(Related(title, url, to_datetime(item.get("publishedDateTime")),
                                 provider.name if provider else None))
            if len(found) == MAX_RELATED:
                break
    return tuple(found)


def _featured(value: object, base: str) -> tuple[str | None, str | None]:
    """The embed as published (sanitised; no iframe: readers strip them and
    validators flag them) and the page of the video it plays, if any."""
    if not isinstance(value, str) or not value.strip():
        return None, None
    value = value[:MAX_BODY]
    video = embedded_video(sanitize_embed(value, base)) if "<iframe" in value.lower() else None
    return sanitize_html(value, base) or None, video


def _body_source(body: str, path: str, base: str, warnings: list[str]) -> tuple[str, str, bool] | None:
    if not body.strip():
        return None
    if len(body) > MAX_BODY:
        warnings.append(f"body longer than {MAX_BODY:,} characters: cut there")
        body = body[:MAX_BODY]
    markdown = not path.lower().endswith(HTML_SUFFIXES) and not body.lstrip().startswith("<")
    # Said now, while the file is parsed; the flattening itself happens when
    # the body is rendered (text.cap_nesting, before every sanitiser).
    if _may_nest_deeply(body, markdown) and html_depth(gfm_to_html(body) if markdown else body) > MAX_HTML_DEPTH:
        warnings.append(f"body nested deeper than {MAX_HTML_DEPTH} levels: the deeper markup is dropped, its text kept")
    return (body, base, markdown)


def _may_nest_deeply(body: str, markdown: bool) -> bool:
    """A cheap test that most bodies fail: only these get the exact count."""
    if body.count("<") > MAX_HTML_DEPTH:
        return True
    return markdown and (body.count(">") > MAX_HTML_DEPTH or block_depth(body) > MAX_HTML_DEPTH)


def with_content(article: Article, strip_params: tuple[str, ...] = (), **changes: Any) -> Article:
    """``article`` with its body rendered (Markdown) and sanitised into
    ``content_html``: done when it is published, not when it is parsed;
    its links lose the query parameters ``strip_params`` names.
    ``changes``: other fields to replace at the same time (one copy)."""
    if article.body_source is not None:
        body, base, markdown = article.body_source
        body = strip_liquid(body)  # Jekyll sites' tags: noise once published ({% raw %} content kept)
        changes["content_html"] = sanitize_html(gfm_to_html(body) if markdown else body, base, strip_params) or None
        changes["body_source"] = None
    return article.replace(**changes) if changes else article


def _short(value: object) -> str:
    if isinstance(value, date):  # datetime too: its repr is long and unreadable
        return value.isoformat()
    text = repr(value) if not isinstance(value, (list, dict)) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


