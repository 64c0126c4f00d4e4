"""Serving the output folder over HTTP: a small raw ASGI app run by uvicorn.

uvicorn parses HTTP; this module only maps a request path to a file inside
the output folder and answers with the registered media type, a strong
ETag, Last-Modified, conditional 304s (RFC 9110 section 13), gzip when the
client accepts it, Cache-Control and CORS for the JSON files.

Nothing outside the folder is reachable: the raw request path is checked
before decoding (no encoded ``/``, ``\\`` or ``.``), after decoding (no
``..``, ``.``, empty or hidden segments, no NUL or backslash), and the
resolved file must still lie inside the resolved root, which refuses
symlinks pointing out of it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from aggregator.config import DEFAULT_CACHE_CONTROL, header_value_error
from aggregator.errors import AggregatorError

__all__ = ["MEDIA_TYPES", "ASGIApp", "Message", "Receive", "Scope", "Send", "make_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MEDIA_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xsl": "text/xsl; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
}
# The manifest is plain JSON, not a JSON Feed: readers must not be offered it.
NAME_MEDIA_TYPES = {"index.json": "application/json; charset=utf-8"}
DEFAULT_MEDIA_TYPE = "application/octet-stream"
# The page has inline CSS and no scripts; this CSP makes any regression visible.
HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_ALLOW = "GET, HEAD, OPTIONS"
_MAX_PATH = 1024
_MAX_CACHED = 4096  # entries; feed files are small, so this bounds memory to tens of MB
_BIG_FILE = 8 * 1024 * 1024  # larger files are streamed, not cached, never gzipped
_CHUNK = 64 * 1024
_GZIP_MIN = 256  # below this gzip's header overhead outweighs the saving
# Encoded separators and dots are refused outright rather than decoded: a
# decoded "%2e%2e" or "%2f" would otherwise change the path's structure.
_ENCODED_SEPARATOR = re.compile(rb"%(2[eEfF]|5[cC]|00)")
_ETAG = re.compile(r'\s*(W/)?("[^"]*")\s*(?:,|$)')


@dataclass(frozen=True, slots=True)
class _Entry:
    """One file version, keyed by (path, size, mtime_ns, inode): a rewrite
    is a new inode (the build renames a temporary file into place)."""

    body: bytes | None  # None for big files, streamed from disk instead
    etag: str
    last_modified: str
    mtime: float
    gzip_body: bytes | None = None


class _FileCache:
    """An LRU of file versions so a 304 costs one stat and no hashing."""

    def __init__(self, size: int = _MAX_CACHED) -> None:
        self._entries: OrderedDict[tuple[str, int, int, int], _Entry] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, resolved: _Resolved, compressible: bool) -> _Entry:
        info = resolved.info
        key = (str(resolved.path), info.st_size, info.st_mtime_ns, info.st_ino)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        entry = _load(resolved.fd, info, compressible)
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return entry


def _load(fd: int, info: os.stat_result, compressible: bool) -> _Entry:
    """Read (or, for a big file, hash) one open file and precompute its
    variants.  ``info`` is the fstat of ``fd``: length, ETag and bytes all
    come from that one version, however the path changes meanwhile."""
    digest = hashlib.sha256()
    body: bytes | None = None
    if info.st_size > _BIG_FILE:
        for chunk in _chunks(fd, info.st_size):
            digest.update(chunk)
    else:
        body = os.pread(fd, info.st_size + 1, 0)[:info.st_size]
        digest.update(body)
    tag = digest.hexdigest()[:32]
    gz = None
    if body is not None and compressible and len(body) >= _GZIP_MIN:
        gz = gzip.compress(body, compresslevel=6, mtime=0)  # mtime=0: same file, same bytes
    return _Entry(body, f'"{tag}"', formatdate(info.st_mtime, usegmt=True), info.st_mtime, gz)


def safe_relative(raw_path: bytes) -> str | None:
    """The decoded path relative to the root, or ``None`` if it is refused."""
    if len(raw_path) > _MAX_PATH or not raw_path.startswith(b"/") or _ENCODED_SEPARATOR.search(raw_path):
        return None
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in path or "\\" in path:
        return None
    relative = path[1:]
    if relative == "" or relative.endswith("/"):
        relative += "index.html"
    segments = relative.split("/")
    # Empty segments ("//etc") would make an absolute path; "." segments hide files.
    if any(s in ("", ".", "..") or s.startswith(".") for s in segments):
        return None
    return relative


def media_type(path: Path) -> str:
    """The Content-Type for a served file."""
    return NAME_MEDIA_TYPES.get(path.name) or MEDIA_TYPES.get(path.suffix.lower(), DEFAULT_MEDIA_TYPE)


def _compressible(content_type: str) -> bool:
    return "charset=" in content_type or content_type.endswith(("+xml", "+json", "/json"))


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value allows gzip (q=0 means "not this")."""
    explicit: float | None = None
    wildcard: float | None = None
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        name = name.strip().lower()
        if name in ("gzip", "x-gzip"):
            explicit = q if explicit is None else max(explicit, q)
        elif name == "*":
            wildcard = q
    chosen = explicit if explicit is not None else wildcard
    return chosen is not None and chosen > 0


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: "*" or any listed tag equal to ``etag`` under weak comparison."""
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(m.group(2) == opaque for m in _ETAG.finditer(if_none_match))


def not_modified(headers: dict[str, str], etag: str, mtime: float) -> bool:
    """Whether a GET/HEAD may be answered 304; If-None-Match wins over If-Modified-Since."""
    if "if-none-match" in headers:
        return etag_matches(headers["if-none-match"], etag)
    since = headers.get("if-modified-since")
    if since is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False  # an invalid date is ignored (RFC 9110 13.1.3)
    if when.tzinfo is None:
        return False
    return int(mtime) <= when.timestamp()  # HTTP dates have one-second resolution


async def _respond(send: Send, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, reason: str, extra: list[tuple[str, str]] | None = None) -> None:
    body = f"{status} {reason}\n".encode()
    headers = [
        ("content-type", "text/plain; charset=utf-8"),
        ("content-length", str(len(body))),
        ("x-content-type-options", "nosniff"),
        *(extra or []),
    ]
    await _respond(send, status, headers, body)


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to set up; acknowledge so uvicorn does not log a lifespan error."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


@dataclass(frozen=True, slots=True)
class _Resolved:
    """A file to serve, open: every byte of a response is read from ``fd``,
    whose ``info`` (fstat) gives its length and ETag."""

    path: Path
    fd: int
    info: os.stat_result


@contextlib.contextmanager
def _opened(root: Path, relative: str) -> Iterator[_Resolved | None]:
    """The regular file for ``relative``, open, if it lies inside ``root``
    after resolving symlinks; closed when the response is done."""
    try:
        path = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a symlink loop, a name too long
        yield None
        return
    if not path.is_relative_to(root):
        yield None
        return
    try:
        # O_NOFOLLOW: the resolved path is opened as resolved (a symlink put
        # there since is refused); O_NONBLOCK: a FIFO cannot hang the server.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        yield None
        return
    try:
        info = os.fstat(fd)
        yield _Resolved(path, fd, info) if stat.S_ISREG(info.st_mode) else None
    finally:
        os.close(fd)


def _chunks(fd: int, size: int, start: int = 0) -> Iterator[bytes]:
    """The bytes of ``fd`` from ``start`` to ``size``, a chunk at a time."""
    offset = start
    while offset < size:
        chunk = os.pread(fd, min(_CHUNK, size - offset), offset)
        if not chunk:
            return  # truncated in place (never done by the build): send what there is
        offset += len(chunk)
        yield chunk


def _cors(path: Path) -> list[tuple[str, str]]:
    if path.suffix.lower() != ".json":
        return []
    return [
        ("access-control-allow-origin", "*"),
        ("access-control-expose-headers", "ETag, Last-Modified, Content-Length"),
    ]


def make_app(root: Path, *, cache_control: str = DEFAULT_CACHE_CONTROL) -> ASGIApp:
    """An ASGI app serving the files under ``root`` read-only.

    Raises :class:`AggregatorError` when ``root`` is not a folder and
    ``ValueError`` when ``cache_control`` cannot be sent as a header value.
    """
    problem = header_value_error(cache_control)
    if problem:
        raise ValueError(f"cache_control: {problem}")
    if not root.is_dir():
        raise AggregatorError(f"{root}: output folder does not exist")
    root = root.resolve(strict=True)
    cache = _FileCache()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: uvicorn answers 403 when the app does not accept
        relative = safe_relative(scope.get("raw_path") or scope["path"].encode("utf-8"))
        method = scope["method"]
        if method not in ("GET", "HEAD", "OPTIONS"):
            await _error(send, 405, "Method Not Allowed", [("allow", _ALLOW)])
            return
        if relative is None:
            await _error(send, 404, "Not Found")
            return
        with _opened(root, relative) as resolved:
            if resolved is None:
                await _error(send, 404, "Not Found")
                return
            if method == "OPTIONS":
                await _preflight(send, resolved.path)
                return
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            await _send_file(send, resolved, headers, method == "HEAD", cache, cache_control)

    return app


async def _preflight(send: Send, path: Path) -> None:
    """OPTIONS: the Allow list, plus a CORS preflight answer for the JSON files."""
    headers = [("allow", _ALLOW), ("content-length", "0")]
    if path.suffix.lower() == ".json":
        headers += [
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", "GET, HEAD"),
            ("access-control-allow-headers", "If-None-Match, If-Modified-Since"),
            ("access-control-max-age", "86400"),
        ]
    await _respond(send, 204, headers)


async def _send_file(
    send: Send, resolved: _Resolved, request: dict[str, str], head: bool, cache: _FileCache, cache_control: str
) -> None:
    """200 or 304 for one file, choosing the gzip variant when accepted."""
    content_type = media_type(resolved.path)
    compressible = _compressible(content_type)
    entry = cache.get(resolved, compressible)
    use_gzip = entry.gzip_body is not None and accepts_gzip(request.get("accept-encoding", ""))
    etag = entry.etag[:-1] + '-gzip"' if use_gzip else entry.etag
    headers = [
        ("etag", etag),
        ("last-modified", entry.last_modified),
        ("cache-control", cache_control),
        ("x-content-type-options", "nosniff"),
        *_cors(resolved.path),
    ]
    if compressible:
        headers.append(("vary", "Accept-Encoding"))
    if content_type.startswith("text/html"):
        headers.append(("content-security-policy", HTML_CSP))
    if not_modified(request, etag, entry.mtime):
        await _respond(send, 304, headers)
        return
    body = entry.gzip_body if use_gzip else entry.body
    size = len(body) if body is not None else resolved.info.st_size
    headers += [("content-type", content_type), ("content-length", str(size))]
    if use_gzip:
        headers.append(("content-encoding", "gzip"))
    if head or body is not None:
        await _respond(send, 200, headers, b"" if head else body or b"")
        return
    await _stream(send, resolved, headers)


async def _stream(send: Send, resolved: _Resolved, headers: list[tuple[str, str]]) -> None:
    """Send a big file in chunks instead of holding it in memory: from the
    open file the ETag was computed from, so a rename over the path while
    the response is sent cannot mix two versions."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": 200, "headers": raw})
    for chunk in _chunks(resolved.fd, resolved.info.st_size):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
