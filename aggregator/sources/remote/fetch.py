"""One source's HTTP exchange: conditional GET, manual redirects, hard limits.

Limits enforced here (RELIABILITY #1, #2, #4-#8, #10, #12, #13):

- connect and read timeouts per request (httpx), and a wall-clock ``deadline``
  around the whole exchange, redirects and body streaming included, because a
  read timeout alone never trips on a server dripping one byte a second;
- a body cap counted on *decoded* bytes as they stream (gzip bombs) and on raw
  bytes, with an up-front refusal of a ``Content-Length`` over the cap;
- at most ``max_redirects`` redirects, each to http/https only and through the
  :class:`~aggregator.sources.remote.guard.RedirectGuard`;
- an identifying User-Agent; ``If-None-Match``/``If-Modified-Since`` from the
  stored validators, and a 304 accepted only when validators were sent.

Every failure is a :class:`~aggregator.errors.FetchError` carrying the HTTP
status and ``Retry-After`` when there were any.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from aggregator.config.sources import Limits
from aggregator.errors import FetchError
from aggregator.sources.remote.codings import ACCEPT_ENCODING, CodingError, decode, decoders
from aggregator.sources.remote.guard import RedirectGuard, RedirectRefused
from aggregator.urls import resolve_url

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
          "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")


class HttpFailure(FetchError):
    """A failed exchange; ``status`` and ``retry_after`` come from the last response, if any."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Validators:
    """Conditional-GET validators of a source's last good response."""

    etag: str | None = None
    last_modified: str | None = None

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass(frozen=True)
class Response:
    """A usable response: 200 with a body, or 304 (empty body)."""

    status: int
    url: str  # the final URL, after redirects: the base for relative links
    headers: dict[str, str]  # lower-case names
    body: bytes
    validators: Validators


async def fetch(client: httpx.AsyncClient, url: str, limits: Limits, validators: Validators,
                guard: RedirectGuard) -> Response:
    """Fetch ``url`` within ``limits.deadline``; raise :class:`HttpFailure` on any failure."""
    try:
        async with asyncio.timeout(limits.deadline):
            return await _follow(client, url, limits, validators, guard)
    except TimeoutError:
        raise HttpFailure(f"deadline of {limits.deadline:g}s exceeded") from None
    except httpx.TimeoutException as exc:
        raise HttpFailure(f"{_timeout_kind(exc)} timeout") from None
    except httpx.HTTPError as exc:
        raise HttpFailure(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
    except httpx.InvalidURL as exc:
        # httpx builds the next request of every redirect it sees, followed
        # or not: a Location such as "javascript:alert(1)" fails there.
        raise HttpFailure(f"redirect to an invalid URL refused ({exc})") from None
    except RedirectRefused as exc:
        raise HttpFailure(str(exc)) from None


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    return {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read", httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "pool"}.get(type(exc), "network")


def _request_headers(limits: Limits, validators: Validators) -> dict[str, str]:
    headers = {"User-Agent": limits.user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


async def _follow(client: httpx.AsyncClient, url: str, limits: Limits, validators: Validators,
                  guard: RedirectGuard) -> Response:
    headers = _request_headers(limits, validators)
    timeout = httpx.Timeout(connect=limits.connect_timeout, read=limits.read_timeout,
                            write=limits.read_timeout, pool=limits.deadline)
    for _hop in range(limits.max_redirects + 1):
        async with client.stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code not in _REDIRECTS:
                return await _read(response, url, limits, validators)
            location = response.headers.get("location")
            target = resolve_url(location, url) if location else None
        if target is None:
            raise HttpFailure("redirect to a non-http(s) or invalid URL refused", status=response.status_code)
        await guard.check(target)
        url = target
    raise HttpFailure(f"too many redirects (more than {limits.max_redirects})")


async def _read(response: httpx.Response, url: str, limits: Limits, sent: Validators) -> Response:
    status = response.status_code
    headers = {name.lower(): value for name, value in response.headers.items()}
    if status == 304:
        if not sent:
            raise HttpFailure("unsolicited 304 Not Modified (no validators were sent)", status=status)
        return Response(304, url, headers, b"", sent)
    if status in (429, 503):
        raise HttpFailure(f"HTTP {status} {response.reason_phrase}".rstrip(), status=status,
                          retry_after=headers.get("retry-after"))
    if not 200 <= status < 300:
        permanent = " (gone for good)" if status == 410 else ""
        raise HttpFailure(f"HTTP {status} {response.reason_phrase}".rstrip() + permanent, status=status)
    body = await _read_body(response, limits.max_bytes)
    if not body.strip():
        raise HttpFailure("empty response", status=status)
    headers.setdefault("content-location", url)  # feedparser's base for relative links
    return Response(status, url, headers, body, _validators(headers))


async def _read_body(response: httpx.Response, cap: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise HttpFailure(f"response too large: Content-Length {declared} over {cap} bytes",
                          status=response.status_code)
    too_large = HttpFailure(f"response too large: over {cap} bytes", status=response.status_code)
    if response.is_stream_consumed:
        # A transport that read (and decoded) the whole body itself, as
        # httpx.MockTransport does: nothing left to bound.
        if len(response.content) > cap:
            raise too_large
        return response.content
    try:
        # Raw bytes, decoded here a bounded piece at a time: the cap is on
        # decoded bytes (compression bombs) and holds at every step.
        chain = decoders(response.headers.get("content-encoding", ""))
        body = bytearray()
        async for chunk in response.aiter_raw():
            if response.num_bytes_downloaded > cap:
                raise too_large
            for piece in decode(chunk, chain):
                body += piece
                if len(body) > cap:
                    raise too_large
    except CodingError as exc:
        raise HttpFailure(str(exc), status=response.status_code) from None
    return bytes(body)


def _validators(headers: dict[str, str]) -> Validators:
    if headers.get("expires", "").strip() == "0":
        return Validators()  # the server says the representation is already stale (as Miniflux does)
    return Validators(etag=headers.get("etag") or None, last_modified=headers.get("last-modified") or None)
