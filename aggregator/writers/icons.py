"""The default icon and logo: small PNG files drawn here, so every feed has
an image readers can show without a setting.  Pure and byte-stable.

The mark is the usual feed symbol (a dot and two quarter rings) in white on
a rounded orange square, drawn with 4x4 supersampling for smooth edges.
Drawing takes a second in Python, so the package ships the two files
(``assets/``) as :func:`png` draws them (a test checks they are the same),
and a build copies them.
"""

from __future__ import annotations

import struct
import zlib
from importlib.resources import files

ICON_SIZE, LOGO_SIZE = 256, 144  # JSON Feed and Atom want a square icon; RSS <image> at most 144 wide

ORANGE = (0xE8, 0x6A, 0x10)


def _coverage(x: float, y: float, size: int) -> tuple[float, float]:
    """(inside the rounded square, on the white mark) for a point in pixels."""
    u, v = x / size, y / size
    r = 0.18  # corner radius
    cx, cy = min(max(u, r), 1 - r), min(max(v, r), 1 - r)
    square = (u - cx) ** 2 + (v - cy) ** 2 <= r * r
    # The mark, anchored at the bottom-left corner of an inner box.
    px, py = u - 0.24, 0.76 - v
    d = (px * px + py * py) ** 0.5
    mark = px >= -0.01 and py >= -0.01 and (d <= 0.075 or 0.28 <= d <= 0.38 or 0.48 <= d <= 0.58)
    if px < 0 or py < 0:
        mark = d <= 0.075
    return float(square), float(mark and square)


def png(size: int) -> bytes:
    """The icon as a ``size`` x ``size`` RGBA PNG."""
    rows = bytearray()
    samples = 4
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            inside = mark = 0.0
            for sy in range(samples):
                for sx in range(samples):
                    a, m = _coverage(x + (sx + 0.5) / samples, y + (sy + 0.5) / samples, size)
                    inside += a
                    mark += m
            n = samples * samples
            alpha, white = inside / n, (mark / inside if inside else 0.0)
            rows += bytes(round(c + (255 - c) * white) for c in ORANGE) + bytes([round(255 * alpha)])
    return _chunked(size, bytes(rows))


def _chunked(size: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def asset(name: str) -> bytes:
    """``icon.png`` or ``logo.png`` as shipped."""
    return (files(__package__) / "assets" / name).read_bytes()
