"""Running the app of :mod:`aggregator.publishing.serve` under uvicorn, with
the limits a server on the internet needs (``serve:`` settings)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from aggregator.config import DEFAULT_CACHE_CONTROL, ServeSettings
from aggregator.publishing.serve import ASGIApp, make_app

_WAITING_FOR_REQUEST = (h11.IDLE, h11.SEND_BODY)


def serve(root: Path, host: str = "127.0.0.1", port: int = 8080, *, cache_control: str = DEFAULT_CACHE_CONTROL,
          limits: ServeSettings | None = None) -> None:
    """Serve ``root`` until interrupted (uvicorn handles signals and logging),
    with the timeouts and connection cap of ``limits`` (``serve:``)."""
    uvicorn.Server(server_config(make_app(root, cache_control=cache_control), limits or ServeSettings(),
                                 host=host, port=port)).run()


def server_config(app: ASGIApp, limits: ServeSettings, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for ``app``: its HTTP/1.1 protocol guarded by
    ``limits`` (:func:`guarded_protocol`), no Server header, no proxy
    headers (the client address is the peer's)."""
    return uvicorn.Config(app, http=guarded_protocol(limits), timeout_keep_alive=limits.idle_timeout,  # type: ignore[arg-type]
                          server_header=False, proxy_headers=False, lifespan="on", **options)


def guarded_protocol(limits: ServeSettings) -> type[asyncio.Protocol]:
    """:class:`GuardedH11Protocol` with ``limits``."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with what a server on the internet needs and
    uvicorn lacks: a connection cap (a connection beyond
    ``max_connections`` is closed at once, so slow clients cannot use up
    the file descriptors), a request timeout (the request line, headers and
    any body within ``header_timeout`` of connecting or of the previous
    response; uvicorn's keep-alive timer restarts on every byte, so a
    client sending one byte every few seconds was never dropped), and a
    send timeout (a client that stops reading for ``body_timeout`` is
    dropped instead of holding the response in memory).  ``idle_timeout``
    is uvicorn's own keep-alive timeout."""

    limits: ServeSettings = ServeSettings()  # set per server by guarded_protocol
    _request_timer: asyncio.TimerHandle | None = None
    _send_timer: asyncio.TimerHandle | None = None
    _refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            transport.abort()  # never counted: it holds no slot and no descriptor
            return
        super().connection_made(transport)
        self._expect_request()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._cancel("_request_timer")
        self._cancel("_send_timer")
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state not in _WAITING_FOR_REQUEST:
            self._cancel("_request_timer")  # the whole request is in

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state in _WAITING_FOR_REQUEST:
            self._expect_request()  # the next one, on this kept-alive connection

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.limits.body_timeout, self._drop)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel("_send_timer")

    def _expect_request(self) -> None:
        self._cancel("_request_timer")
        self._request_timer = self.loop.call_later(self.limits.header_timeout, self._request_timed_out)

    def _request_timed_out(self) -> None:
        self._request_timer = None
        if self.conn.their_state in _WAITING_FOR_REQUEST:
            self._drop()

    def _drop(self) -> None:
        # A reset, not a close: a close would leave the kernel sending
        # what its buffers hold (megabytes) to a client that does not read.
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()  # no answer: the client is too slow to read one anyway

    def _cancel(self, name: str) -> None:
        timer = getattr(self, name)
        if timer is not None:
            timer.cancel()
            setattr(self, name, None)


@contextlib.contextmanager
def background_server(app: ASGIApp, host: str = "127.0.0.1", timeout: float = 10.0,
                      limits: ServeSettings | None = None) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free port; yields the base URL.

    For tests and benchmarks: the socket is bound before the thread starts,
    so the port is known without polling and never races another process.
    """
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose
    # proto says TCP, and without it every 200 waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, limits or ServeSettings(), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started or not thread.is_alive(), timeout)
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        yield f"http://{host}:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


def _wait(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)
