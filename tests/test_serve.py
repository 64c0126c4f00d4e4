"""The feed server over real HTTP on 127.0.0.1: media types, validators and
304s, gzip, HEAD, CORS, methods, refusal of every path out of the root, and
the configurable Cache-Control (``serve.cache_control``, ``--cache-control``)."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
from support import Project, article

from aggregator.config import DEFAULT_CACHE_CONTROL
from aggregator.errors import AggregatorError
from aggregator.publishing.serve import accepts_gzip, etag_matches, make_app, safe_relative
from aggregator.publishing.server import background_server

pytestmark = pytest.mark.timeout(60)

RSS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>T</title>'
    + b"<item/>" * 80
    + b"</channel></rss>\n"
)
ATOM = b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title></feed>\n'
JSON_FEED = b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": []}\n'
MANIFEST = b'{"feeds": []}\n'
OPML = b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head/><body/></opml>\n'
INDEX = b"<!DOCTYPE html><html lang=en><title>x</title><p>" + b"hello " * 100 + b"\n"
SECRET = b"top secret outside the root\n"
MTIME = 1_714_564_800  # 2024-05-01T12:00:00Z, so Last-Modified is predictable


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("serve")
    root = base / "out"
    files = {
        "feeds/python.xml": RSS,
        "feeds/python.atom": ATOM,
        "feeds/python.json": JSON_FEED,
        "index.json": MANIFEST,
        "index.opml": OPML,
        "index.html": INDEX,
        ".secret": SECRET,
        "feeds/.hidden.xml": RSS,
        "sub dir/ü.xml": RSS,
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        os.utime(root / name, (MTIME, MTIME))
    (base / "secret.txt").write_bytes(SECRET)
    (root / "out.txt").symlink_to(base / "secret.txt")
    (root / "outdir").symlink_to(base, target_is_directory=True)
    (root / "inside.xml").symlink_to(root / "feeds/python.xml")  # a symlink within the root is fine
    return root


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    with background_server(make_app(site)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    # httpx asks for gzip by default; the identity tests ask for it explicitly.
    with httpx.Client(base_url=base_url, timeout=10, headers={"accept-encoding": "identity"}) as c:
        yield c


def raw_get(base_url: str, target: str, method: str = "GET") -> tuple[int, bytes]:
    """Send ``target`` byte for byte: httpx would normalise ``..`` away."""
    host, port = base_url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


# --- 200, media types, headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "media"),
    [
        ("/feeds/python.xml", RSS, "application/rss+xml; charset=utf-8"),
        ("/feeds/python.atom", ATOM, "application/atom+xml; charset=utf-8"),
        ("/feeds/python.json", JSON_FEED, "application/feed+json; charset=utf-8"),
        ("/index.json", MANIFEST, "application/json; charset=utf-8"),
        ("/index.opml", OPML, "text/x-opml; charset=utf-8"),
        ("/index.html", INDEX, "text/html; charset=utf-8"),
        ("/", INDEX, "text/html; charset=utf-8"),
        ("/sub%20dir/%C3%BC.xml", RSS, "application/rss+xml; charset=utf-8"),
        ("/inside.xml", RSS, "application/rss+xml; charset=utf-8"),
    ],
)
def test_get_serves_the_file_with_its_media_type(client: httpx.Client, path: str, body: bytes, media: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == media
    assert response.headers["content-length"] == str(len(body))
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["last-modified"] == "Wed, 01 May 2024 12:00:00 GMT"
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")


def test_etag_is_stable_and_changes_with_content(client: httpx.Client, site: Path) -> None:
    first = client.get("/index.opml").headers["etag"]
    assert client.get("/index.opml").headers["etag"] == first
    assert client.get("/index.json").headers["etag"] != first
    target = site / "changing.xml"
    target.write_bytes(RSS)
    before = client.get("/changing.xml").headers["etag"]
    target.write_bytes(RSS + b"\n")  # new size, so a new cache key even within one mtime tick
    after = client.get("/changing.xml")
    assert after.content == RSS + b"\n" and after.headers["etag"] != before


# --- conditional requests ---------------------------------------------------------------------------


def test_if_none_match_gives_304_without_body(client: httpx.Client) -> None:
    etag = client.get("/feeds/python.xml").headers["etag"]
    for value in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        response = client.get("/feeds/python.xml", headers={"if-none-match": value})
        assert response.status_code == 304, value
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"] == "public, max-age=300"
    assert client.get("/feeds/python.xml", headers={"if-none-match": '"other"'}).status_code == 200


def test_if_modified_since(client: httpx.Client) -> None:
    assert client.get("/index.opml", headers={"if-modified-since": formatdate(MTIME, usegmt=True)}).status_code == 304
    assert (
        client.get("/index.opml", headers={"if-modified-since": formatdate(MTIME + 60, usegmt=True)}).status_code == 304
    )
    assert (
        client.get("/index.opml", headers={"if-modified-since": formatdate(MTIME - 1, usegmt=True)}).status_code == 200
    )
    assert client.get("/index.opml", headers={"if-modified-since": "not a date"}).status_code == 200


def test_if_none_match_takes_precedence_over_if_modified_since(client: httpx.Client) -> None:
    headers = {"if-none-match": '"other"', "if-modified-since": formatdate(MTIME + 60, usegmt=True)}
    assert client.get("/index.opml", headers=headers).status_code == 200


# --- gzip -------------------------------------------------------------------------------------------


def test_gzip_when_accepted(client: httpx.Client) -> None:
    plain = client.get("/feeds/python.xml")
    with client.stream("GET", "/feeds/python.xml", headers={"accept-encoding": "br;q=1, gzip;q=0.5"}) as response:
        compressed = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) == len(compressed) < len(RSS)
    assert gzip.decompress(compressed) == RSS
    assert response.headers["etag"] != plain.headers["etag"]
    assert response.headers["etag"].endswith('-gzip"')
    assert plain.headers["vary"] == "Accept-Encoding" and "content-encoding" not in plain.headers
    again = client.get(
        "/feeds/python.xml", headers={"accept-encoding": "gzip", "if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize("accept", ["gzip;q=0", "identity", "", "*;q=0", "br", "gzip;q=0, *"])
def test_no_gzip_when_refused(client: httpx.Client, accept: str) -> None:
    response = client.get("/feeds/python.xml", headers={"accept-encoding": accept})
    assert "content-encoding" not in response.headers
    assert response.content == RSS


def test_accept_encoding_parsing() -> None:
    assert accepts_gzip("gzip") and accepts_gzip("GZIP;q=0.1") and accepts_gzip("*") and accepts_gzip("deflate, x-gzip")
    assert not accepts_gzip("gzip;q=0") and not accepts_gzip("gzip; q=0.000") and not accepts_gzip("*;q=0")
    assert not accepts_gzip("gzip;q=0, *;q=1")  # an explicit refusal beats the wildcard


def test_etag_comparison_is_weak_and_handles_lists() -> None:
    assert etag_matches('"a"', '"a"') and etag_matches('W/"a"', '"a"') and etag_matches('"x", W/"a" ,"y"', '"a"')
    assert not etag_matches('"ab"', '"a"') and not etag_matches('"a-gzip"', '"a"') and not etag_matches("", '"a"')


# --- HEAD, CORS, methods, 404 -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/feeds/python.xml", "/feeds/python.json", "/index.html"])
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_head_has_the_get_headers_and_no_body(client: httpx.Client, path: str, encoding: str) -> None:
    get = client.get(path, headers={"accept-encoding": encoding})
    head = client.head(path, headers={"accept-encoding": encoding})
    assert head.status_code == 200
    assert head.content == b""
    strip = {"date"}
    assert {k: v for k, v in head.headers.items() if k not in strip} == {
        k: v for k, v in get.headers.items() if k not in strip
    }


def test_cors_on_json_files_only(client: httpx.Client) -> None:
    for path in ("/feeds/python.json", "/index.json"):
        response = client.get(path, headers={"origin": "https://reader.example"})
        assert response.headers["access-control-allow-origin"] == "*"
        assert "ETag" in response.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in client.get("/feeds/python.xml").headers
    preflight = client.options(
        "/feeds/python.json",
        headers={
            "origin": "https://reader.example",
            "access-control-request-method": "GET",
            "access-control-request-headers": "if-none-match",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "If-None-Match" in preflight.headers["access-control-allow-headers"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_with_allow(client: httpx.Client, method: str) -> None:
    response = client.request(method, "/feeds/python.xml")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("path", ["/missing.xml", "/feeds/", "/feeds", "/feeds/python.xml/x", "/nope/"])
def test_missing_is_404(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_html_gets_a_strict_content_security_policy(client: httpx.Client) -> None:
    policy = client.get("/").headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy


# --- nothing outside the root -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/feeds/../../secret.txt",
        "/feeds/%2e%2e/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/feeds/%2e%2e%2findex.html",
        "/out.txt",
        "/outdir/secret.txt",
        "//etc/passwd",
        "/%2fetc/passwd",
        "/index.html%00.xml",
        "/.secret",
        "/feeds/.hidden.xml",
        "/%2esecret",
        "/./index.html",
        "/feeds/./python.xml",
        "http://127.0.0.1/../secret.txt",
        "/%ff%fe.xml",
        "/" + "a/" * 600 + "x.xml",
    ],
)
def test_paths_out_of_the_root_are_refused(base_url: str, target: str) -> None:
    status, body = raw_get(base_url, target)
    assert status in (400, 404), target
    assert SECRET not in body and b"root:" not in body


def test_safe_relative_rules() -> None:
    assert safe_relative(b"/") == "index.html"
    assert safe_relative(b"/topic/") == "topic/index.html"
    assert safe_relative(b"/sub%20dir/%C3%BC.xml") == "sub dir/ü.xml"
    for bad in (b"", b"x.xml", b"/a//b", b"/a/../b", b"/%2e%2e/b", b"/a%2fb", b"/a%5cb", b"/a%00b", b"/.git/config"):
        assert safe_relative(bad) is None, bad


def test_make_app_refuses_a_missing_root(tmp_path: Path) -> None:
    with pytest.raises(AggregatorError, match="does not exist"):
        make_app(tmp_path / "missing")


# --- Cache-Control: configurable ------------------------------------------------------------------------------


def test_configured_cache_control_is_sent_on_200_and_304(site: Path) -> None:
    with background_server(make_app(site, cache_control="no-cache")) as url, \
            httpx.Client(base_url=url, timeout=10) as client:
        first = client.get("/feeds/python.xml")
        assert first.status_code == 200 and first.headers["cache-control"] == "no-cache"
        again = client.get("/feeds/python.xml", headers={"if-none-match": first.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("value", ["", " public", "public ", "public\r\nX-Evil: 1", "max-age=60\n", "a\tb", "privé"])
def test_make_app_refuses_a_cache_control_that_is_not_a_header_value(site: Path, value: str) -> None:
    with pytest.raises(ValueError, match="cache_control: expected a non-empty header value"):
        make_app(site, cache_control=value)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_and_get(project: Project, *args: str) -> httpx.Response:
    """Run ``aggregator serve`` on a free loopback port and GET /all.xml from it."""
    port = _free_port()
    cmd = [sys.executable, "-m", "aggregator", "serve", "-c", str(project.config), "--port", str(port), *args]
    process = subprocess.Popen(cmd, cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/all.xml", timeout=5, trust_env=False)
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else b""
                assert time.monotonic() < deadline, "aggregator serve did not start"
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()


def test_serve_command_sends_the_configured_cache_control(project: Project) -> None:
    project.add("a.md", article("Alpha", "https://example.org/a"))
    project.write_config('serve: {cache_control: "public, max-age=60, stale-while-revalidate=30"}\n')
    assert project.run("-q").returncode == 0
    response = _serve_and_get(project)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=30"
    override = _serve_and_get(project, "--cache-control", "no-store")
    assert override.status_code == 200 and override.headers["cache-control"] == "no-store"


def test_serve_command_default_cache_control(project: Project) -> None:
    project.add("a.md", article("Alpha", "https://example.org/a"))
    assert project.run("-q").returncode == 0
    assert _serve_and_get(project).headers["cache-control"] == DEFAULT_CACHE_CONTROL == "public, max-age=300"


def test_serve_command_refuses_a_bad_cache_control(project: Project) -> None:
    result = project.run("--cache-control", "public\nX-Evil: 1", command="serve")
    assert result.returncode == 2
    assert "--cache-control: expected a non-empty header value" in result.stderr
    project.write_config('serve:\n  cache_control: "public,\\r\\nSet-Cookie: a=b"\n')
    result = project.run(command="serve")
    assert result.returncode == 2
    assert "config.yaml:6: serve.cache_control: expected a non-empty header value" in result.stderr
