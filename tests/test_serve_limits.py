"""``aggregator serve`` on the internet: slow clients are dropped, open
connections are capped, and a response comes from one version of its file.

Real sockets on 127.0.0.1, a bounded number of slow clients, bounded time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aggregator.config import ServeSettings
from aggregator.publishing.serve import make_app
from aggregator.publishing.server import background_server

pytestmark = pytest.mark.timeout(120)
BIG = 9 * 1024 * 1024  # over the 8 MiB above which files are streamed, not cached


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "all.xml").write_bytes(b"<rss/>" * 100)
    return tmp_path / "out"


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").rstrip("/").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _wait_until(done: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_partial_request_is_dropped_after_the_header_timeout(root: Path) -> None:
    limits = ServeSettings(header_timeout=1.0, idle_timeout=30.0)
    with background_server(make_app(root), limits=limits) as base:
        slow = _connect(base)
        started = time.monotonic()
        slow.sendall(b"GET /all.xml HTTP/1.1\r\nHost: x\r\n")  # never ends its headers
        closed = _closed_by_server(slow, 10)
        assert closed and time.monotonic() - started < 5
        slow.close()


def test_a_client_dripping_its_headers_is_dropped(root: Path) -> None:
    """A byte every 0.3 s resets uvicorn's own keep-alive timer for ever;
    the request timeout counts from the connection, not from the last byte."""
    limits = ServeSettings(header_timeout=1.5)
    with background_server(make_app(root), limits=limits) as base:
        drip = _connect(base)
        drip.settimeout(0.3)
        started = time.monotonic()
        closed = False
        for byte in b"GET /all.xml HTTP/1.1\r\nHost: example.org\r\nX-Padding: " + b"a" * 100:
            try:
                drip.sendall(bytes([byte]))
                if drip.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed and time.monotonic() - started < 6
        drip.close()


def test_a_kept_alive_connection_is_closed_when_idle(root: Path) -> None:
    limits = ServeSettings(idle_timeout=0.5, header_timeout=30)
    with background_server(make_app(root), limits=limits) as base:
        sock = _connect(base)
        sock.sendall(b"GET /all.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"<rss/>" * 100 not in data:
            data += sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert _closed_by_server(sock, 10) and time.monotonic() - started < 5
        sock.close()


def test_many_slow_clients_hold_a_bounded_number_of_descriptors(root: Path) -> None:
    """1,000 clients that open a connection and send half a request: the
    server holds at most its cap of them, drops those after the request
    timeout, and still answers a polite client."""
    limits = ServeSettings(max_connections=20, header_timeout=2.0)
    count = 1000
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2 * count + 100:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * count + 100), hard))
    with background_server(make_app(root), limits=limits) as base:
        before = _fds()
        clients = [_connect(base) for _ in range(count)]
        for sock in clients:
            with contextlib.suppress(OSError):
                sock.sendall(b"GET /all.xml HTTP/1.1\r\n")  # and nothing more
        # While they wait: at most the cap is open on the server's side (plus slack for the loop's own).
        assert _wait_until(lambda: _fds() - before <= count + 20 + 5, 5)
        server_side = _fds() - before - len(clients)
        assert server_side <= 20 + 5, server_side
        # A polite client still gets through once the slow ones are dropped.
        assert _wait_until(lambda: _fds() - before - len(clients) <= 2, 10)
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/all.xml").status_code == 200
        for sock in clients:
            sock.close()


def test_a_client_that_stops_reading_is_dropped(root: Path) -> None:
    (root / "big.xml").write_bytes(os.urandom(BIG))
    limits = ServeSettings(body_timeout=1.0)
    with background_server(make_app(root), limits=limits) as base:
        sock = _connect(base)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        before = _fds()
        sock.sendall(b"GET /big.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(4)  # not reading: the server's buffers fill up, then it gives up
        received = 0
        sock.settimeout(10)
        started = time.monotonic()
        with pytest.raises(ConnectionResetError):  # reset: the kernel does not go on sending its buffers either
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
        assert received < BIG // 4 and time.monotonic() - started < 5
        assert _fds() <= before
        sock.close()


def _versions(path: Path) -> Iterator[None]:
    """Replace ``path`` atomically, again and again, with two versions of the same size."""
    stop = threading.Event()
    blobs = [bytes([i]) * BIG for i in (65, 66)]

    def swap() -> None:
        n = 0
        while not stop.is_set():
            temp = path.with_name(f".tmp-{n}")
            temp.write_bytes(blobs[n % 2])
            os.replace(temp, path)
            n += 1

    path.write_bytes(blobs[0])
    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_a_big_file_replaced_during_responses_is_never_sent_torn(root: Path) -> None:
    path = root / "archive.json"
    with background_server(make_app(root)) as base, httpx.Client(base_url=base, timeout=30) as client:
        for _ in _versions(path):
            for _attempt in range(40):
                response = client.get("/archive.json", headers={"accept-encoding": "identity"})
                body = response.content
                assert response.status_code == 200
                assert len(body) == int(response.headers["content-length"]) == BIG
                assert body.count(body[:1]) == len(body), "bytes of two versions"
                assert response.headers["etag"] == f'"{hashlib.sha256(body).hexdigest()[:32]}"'
