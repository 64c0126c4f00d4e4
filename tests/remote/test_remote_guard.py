"""The redirect guard (RELIABILITY #13): a stubbed resolver and httpx.MockTransport, no real connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import pytest

from aggregator.sources.remote import FetchSettings, SourceConfig, collect_sources

pytestmark = pytest.mark.timeout(10)

FEED = (b'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        b"<link>https://public.example/item</link></item></channel></rss>")
ADDRESSES = {
    "public.example": ["93.184.216.34"],
    "cdn.example": ["2606:4700::6810:84e5"],
    "internal.example": ["192.168.1.5"],
    "intranet.example": ["10.0.0.5"],
    "mixed.example": ["93.184.216.35", "127.0.0.1"],
}


def resolver(host: str) -> Sequence[str]:
    if host not in ADDRESSES:
        raise OSError(f"unknown host {host}")
    return ADDRESSES[host]


class Recorder:
    """A MockTransport handler: ``/go?to=X`` redirects to X, anything else serves the feed."""

    def __init__(self) -> None:
        self.hosts: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        target = request.url.params.get("to")
        if target:
            return httpx.Response(302, headers={"Location": target})
        return httpx.Response(200, content=FEED)


def run(url: str, allow_private: bool = False) -> tuple[str, str | None, list[str]]:
    recorder = Recorder()
    settings = FetchSettings(allow_private_networks=allow_private, deadline=5.0)
    with sqlite3.connect(":memory:") as conn:
        result = collect_sources([SourceConfig(url=url)], settings, conn, datetime(2024, 1, 1, tzinfo=UTC),
                                 transport=httpx.MockTransport(recorder), resolver=resolver)
    report = result.reports[0]
    return report.status, report.error, recorder.hosts


@pytest.mark.parametrize("target", [
    "http://10.0.0.1/feed", "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/feed",
    "http://internal.example/feed", "http://mixed.example/feed", "http://[::1]/feed", "http://0.0.0.0/",
    "http://[::ffff:10.0.0.1]/feed",
])
def test_public_to_private_redirect_is_refused_before_connecting(target: str) -> None:
    status, error, hosts = run(f"https://public.example/go?to={target}")
    assert status == "failed" and "refused" in (error or "")
    assert hosts == ["public.example"]  # the private target was never contacted


@pytest.mark.parametrize("target", ["http://10.0.0.1/feed", "http://internal.example/feed"])
def test_private_redirect_allowed_when_configured(target: str) -> None:
    status, error, hosts = run(f"https://public.example/go?to={target}", allow_private=True)
    assert (status, error) == ("fresh", None) and len(hosts) == 2


def test_public_to_public_redirect_is_followed() -> None:
    status, _error, hosts = run("https://public.example/go?to=https://cdn.example/feed")
    assert status == "fresh" and hosts == ["public.example", "cdn.example"]


def test_configured_private_source_is_trusted_and_may_redirect_inside() -> None:
    status, _error, hosts = run("http://intranet.example/go?to=http://internal.example/feed")
    assert status == "fresh" and hosts == ["intranet.example", "internal.example"]


def test_metadata_address_is_refused_even_from_a_private_source() -> None:
    status, error, _hosts = run("http://intranet.example/go?to=http://169.254.169.254/")
    assert status == "failed" and "metadata" in (error or "")


def test_unresolvable_redirect_target_fails_cleanly() -> None:
    status, error, _hosts = run("https://public.example/go?to=http://nowhere.invalid/")
    assert status == "failed" and "cannot resolve" in (error or "")
