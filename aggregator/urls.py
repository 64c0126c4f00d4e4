"""URL rules: what may be published, how URLs are made absolute and valid,
and the canonical form used as an article's identity."""

from __future__ import annotations

import fnmatch
import functools
import re
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

# Tabs, newlines and other C0 controls are ignored by browsers inside a scheme
# ("\tjava\nscript:"), so strip them before deciding what a URL is.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"
_TRACKING = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_hsenc|_hsmi|igshid|yclid|ref_src)$", re.I)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        return None
    return parts


# URLs that are already valid, absolute, lower-case-host http(s) URIs with no
# port, credentials or characters needing escapes: most real ones.  Checking
# this is far cheaper than splitting and re-quoting.
_ALREADY_NORMAL = re.compile(r"https?://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?:[/?#][A-Za-z0-9\-._~!$&'()*+,;=:@/?#%]*)?")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HAS_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")


def normalize_url(url: str) -> str | None:
    """An absolute http(s) URL made a valid URI, or ``None``.

    Strips surrounding whitespace and embedded controls, lower-cases scheme
    and host, IDNA-encodes the host and percent-encodes non-ASCII characters
    in path, query and fragment (existing escapes are kept).
    """
    url = url.strip() if isinstance(url, str) else ""
    if not (url.isascii() and url.isprintable()):
        url = _CONTROL.sub("", url)
    if "%" in url:
        url = _BAD_ESCAPE.sub("%25", url)
    if _ALREADY_NORMAL.fullmatch(url) and "#" not in url.partition("#")[2]:
        return _with_root_path(url)
    parts = _split(url)
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[parts.scheme.lower()] else f"{host}:{port}"
    if parts.username or parts.password:
        return None  # credentials in a published link are never intended
    return urlunsplit((
        parts.scheme.lower(),
        netloc,
        quote(parts.path or "/", safe=_SAFE_PATH),
        quote(parts.query, safe=_SAFE_QUERY),
        quote(parts.fragment, safe=_SAFE_QUERY),
    ))


def _with_root_path(url: str) -> str:
    """``url`` with the path ``/`` when it has none (RFC 3986 6.2.3: an
    empty path of an http(s) URL is ``/``), before its query or fragment."""
    start = url.index("//") + 2
    end = len(url)
    for mark in "/?#":
        found = url.find(mark, start)
        if found != -1:
            end = min(end, found)
    return url if url.startswith("/", end) else f"{url[:end]}/{url[end:]}"


def resolve_url(url: str, base: str | None) -> str | None:
    """``url`` made absolute against ``base`` and normalised; ``None`` when
    it is not http(s) (``javascript:``, ``data:``...) or cannot be resolved."""
    if not isinstance(url, str):
        return None
    raw = url.strip()
    if not (raw.isascii() and raw.isprintable()):
        raw = _CONTROL.sub("", raw)
    if not raw:
        return None
    if base and not _HAS_SCHEME.match(raw):
        raw = urljoin(base, raw)
    return normalize_url(raw)


def canonical_url(url: str) -> str:
    """The identity of an article URL, for duplicate detection.

    Lower-case scheme and host (from :func:`normalize_url`), no default port,
    no fragment, no tracking parameters (``utm_*``, ``fbclid``...), the
    remaining query kept in its order.  ``http`` and ``https`` stay distinct
    only in the scheme; the rest of the URL decides.  Expects an already
    normalised URL.
    """
    if "?" not in url and "#" not in url and url.count("/") > 2 and _ALREADY_NORMAL.fullmatch(url):
        return url  # nothing to drop or lower-case: the usual case, without splitting
    return _canonical(url)


def _canonical(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None and _DEFAULT_PORTS.get(parts.scheme) != parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    return urlunsplit((parts.scheme, netloc, parts.path or "/", urlencode(query, safe=_SAFE_QUERY), ""))


@functools.lru_cache(maxsize=16)
def _param_pattern(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns), re.I) if patterns else None


def strip_tracking(url: str, patterns: tuple[str, ...]) -> str:
    """``url`` without the query parameters whose names match ``patterns``
    (``utm_*``, ``fbclid``...); the rest of the query kept as written."""
    pattern = _param_pattern(patterns)
    if pattern is None or "?" not in url:
        return url
    head, _, rest = url.partition("?")
    query, hash_mark, fragment = rest.partition("#")
    kept = [part for part in query.split("&") if part and not pattern.match(part.partition("=")[0])]
    return head + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment
