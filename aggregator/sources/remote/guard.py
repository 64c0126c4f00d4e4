"""The redirect guard against server-side request forgery (RELIABILITY #13).

A configured source URL is the operator's choice and is trusted, even when it
points at loopback or an intranet host.  A *redirect* is the remote server's
choice: one that leads from a public address into loopback, private,
link-local, reserved or cloud-metadata ranges is refused unless
``allow_private_networks`` is set.  Link-local and metadata targets are refused
even from a private source, since nothing legitimate lives there.

Name resolution is injectable (a ``Resolver`` maps a host name to IP address
strings) so tests can exercise the guard without any real connection.  The
addresses the guard approved for a redirect target are *pinned*: the
connection goes to one of them (:class:`PinnedBackend`, an httpcore network
backend), never to what a second lookup answers, so a name that resolves to
a public address for the check and to a private one for the connection (DNS
rebinding) cannot get through.  The Host header and the TLS server name stay
the URL's host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

Resolver = Callable[[str], Sequence[str]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6) on top of the
# link-local ranges that already contain most of them.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
             ipaddress.ip_address("100.100.100.200")}


class RedirectRefused(Exception):
    """A redirect target failed the guard; ``str()`` says why."""


def system_resolver(host: str) -> Sequence[str]:
    """Resolve ``host`` with the system resolver (blocking; run it in a thread)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public(address: Address) -> bool:
    """Whether ``address`` is an ordinary public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
                or address.is_multicast or address.is_unspecified or address in _METADATA)


def _is_forbidden_everywhere(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_link_local or address in _METADATA or address.is_unspecified


async def resolve(host: str, resolver: Resolver) -> list[Address]:
    """The addresses of ``host``: an IP literal as is, a name through ``resolver`` in a thread."""
    host = host.strip("[]")
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = await asyncio.to_thread(resolver, host)
    except OSError as exc:
        raise RedirectRefused(f"cannot resolve {host}: {exc}") from exc
    addresses = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text.split("%")[0]))  # drop an IPv6 zone id
        except ValueError:
            continue
    if not addresses:
        raise RedirectRefused(f"cannot resolve {host}: no addresses")
    return addresses


class RedirectGuard:
    """Checks each redirect target of one source; remembers whether the source is public."""

    def __init__(self, source_url: str, resolver: Resolver, allow_private: bool,
                 pins: dict[str, list[str]] | None = None) -> None:
        self._source_host = urlsplit(source_url).hostname or ""
        self._resolver = resolver
        self._allow_private = allow_private
        self._source_public: bool | None = None  # resolved lazily: most fetches never redirect
        self._pins = pins  # host -> the addresses approved for it (PinnedBackend connects to these)

    async def check(self, target_url: str) -> None:
        """Raise :class:`RedirectRefused` when following a redirect to ``target_url`` is not allowed."""
        if self._allow_private:
            return
        host = urlsplit(target_url).hostname
        if not host:
            raise RedirectRefused("redirect without a host")
        targets = await resolve(host, self._resolver)
        bad = [a for a in targets if not is_public(a)]
        if bad:
            if any(_is_forbidden_everywhere(a) for a in bad):
                raise RedirectRefused(f"redirect to a link-local or metadata address refused: {host} ({bad[0]})")
            if await self._source_is_public():
                raise RedirectRefused(f"redirect from a public to a private address refused: {host} ({bad[0]})")
        if self._pins is not None:
            self._pins[host.lower().strip("[]")] = [str(a) for a in targets]

    async def _source_is_public(self) -> bool:
        if self._source_public is None:
            try:
                addresses = await resolve(self._source_host, self._resolver)
            except RedirectRefused:
                addresses = []
            # An unresolvable source cannot be proven private: treat it as public (refuse).
            self._source_public = not addresses or any(is_public(a) for a in addresses)
        return self._source_public


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects a host name to the addresses the guard approved for it
    (``pins``), else to what ``resolver`` answers, trying each in turn.
    IP literals connect as they are."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, resolver: Resolver, pins: dict[str, list[str]]) -> None:
        self._inner, self._resolver, self._pins = inner, resolver, pins

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        name = host.lower().strip("[]")
        addresses = self._pins.get(name)
        if addresses is None:
            try:
                addresses = [str(a) for a in await resolve(name, self._resolver)]
            except RedirectRefused as exc:
                raise httpcore.ConnectError(str(exc)) from None
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_transport(resolver: Resolver, pins: dict[str, list[str]], limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport, connecting through :class:`PinnedBackend`."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    pool = transport._pool  # httpx has no public hook for httpcore's network backend
    pool._network_backend = PinnedBackend(pool._network_backend, resolver, pins)
    return transport
