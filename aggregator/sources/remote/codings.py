"""HTTP content codings (gzip, deflate) undone with a bound on every step.

httpx decodes a response's body one network chunk at a time, and zlib
turns a 64 KiB chunk of a compression bomb into ~64 MiB at once, before any
size cap sees it.  Here each step of the decoding yields at most
:data:`PIECE` bytes, so a body never takes more memory than the cap plus a
piece, whatever the compression ratio and however many codings are stacked
(``Content-Encoding: gzip, gzip``).  RELIABILITY #5.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from typing import Protocol

ACCEPT_ENCODING = "gzip, deflate"  # what we ask for, so what a server may use
PIECE = 64 * 1024
MAX_CODINGS = 4  # stacked codings; more is no honest server's doing


class CodingError(ValueError):
    """The body cannot be decoded; ``str()`` says why."""


class _Decoder(Protocol):
    @property
    def unconsumed_tail(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...


class _Deflate:
    """``deflate`` as HTTP defines it (zlib format) or as some servers send
    it (raw deflate), told apart by the first bytes, as httpx does."""

    def __init__(self) -> None:
        self._inner: _Decoder = zlib.decompressobj()
        self._started = False

    @property
    def unconsumed_tail(self) -> bytes:
        return self._inner.unconsumed_tail

    def decompress(self, data: bytes, max_length: int = 0, /) -> bytes:
        if not self._started and data:
            self._started = True
            try:
                return self._inner.decompress(data, max_length)
            except zlib.error:
                self._inner = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inner.decompress(data, max_length)


def decoders(content_encoding: str) -> list[_Decoder]:
    """The decoders that undo ``content_encoding``, the last coding applied first."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > MAX_CODINGS:
        raise CodingError(f"{len(codings)} stacked content codings refused")
    found: list[_Decoder] = []
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            found.append(zlib.decompressobj(16 + zlib.MAX_WBITS))
        elif coding == "deflate":
            found.append(_Deflate())
        else:
            raise CodingError(f"unsupported Content-Encoding {coding!r}")
    return found


def decode(data: bytes, chain: Sequence[_Decoder]) -> Iterator[bytes]:
    """``data`` (the next raw chunk) through ``chain``, in pieces of at most
    :data:`PIECE` bytes."""
    if not chain:
        if data:
            yield data
        return
    first, rest = chain[0], chain[1:]
    try:
        while True:
            out = first.decompress(data, PIECE)
            if out:
                yield from decode(out, rest)
            data = first.unconsumed_tail
            if not data and len(out) < PIECE:
                return  # input used up, and nothing held back for want of room
    except zlib.error as exc:
        raise CodingError(f"cannot decode the body: {exc}") from None
