"""Values every writer emits: plain strings and URIs that are always valid.  Pure."""

from __future__ import annotations

import re
from urllib.parse import quote

from aggregator.text import strip_illegal
from aggregator.urls import strip_tracking

# Characters a URI may hold as they are (RFC 3986 reserved + unreserved,
# plus "%" for existing escapes); everything else is percent-encoded.
# Brackets only belong in the authority (IPv6), "#" only once.
_URI_SAFE = "!$%&'()*+,/:;=?@~-._"
_URI_PARTS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:)(//[^/?#]*)?([^#]*)(?:#(.*))?$", re.S)
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A URI that the slow path would return unchanged (the usual case): checked
# in one regex instead of splitting and quoting it, which dominated rendering.
_URI_CHAR = r"(?:[A-Za-z0-9!$&'()*+,/:;=?@~._-]|%[0-9A-Fa-f]{2})"
_PLAIN_URI = re.compile(rf"[a-z][a-z0-9+.-]*://[A-Za-z0-9.-]+(?::[0-9]+)?(?:[/?]{_URI_CHAR}*)?(?:#{_URI_CHAR}*)?")


def text(value: str | None) -> str:
    """A string every writer can emit: XML-illegal code points (controls,
    lone surrogates, U+FFFE/U+FFFF) removed.  Writers strip rather than
    raise, so one bad string never costs a whole feed."""
    return strip_illegal(value) if value else ""


def uri(value: str | None) -> str | None:
    """``value`` as a valid absolute URI (ASCII only: spaces, non-ASCII and
    other characters outside RFC 3986 percent-encoded, stray ``%`` escaped),
    or ``None`` when it is empty or not absolute."""
    if not value:
        return None
    if _PLAIN_URI.fullmatch(value):
        return value
    match = _URI_PARTS.match(_BAD_ESCAPE.sub("%25", strip_illegal(value).strip()))
    if not match:
        return None
    scheme, authority, rest, fragment = match.groups()
    out = scheme.lower() + quote(authority or "", safe=_URI_SAFE + "[]") + quote(rest, safe=_URI_SAFE)
    return out if fragment is None else out + "#" + quote(fragment, safe=_URI_SAFE)


def link_uri(value: str | None, strip_params: tuple[str, ...]) -> str | None:
    """:func:`uri` of a published link, without the tracking parameters
    ``strip_params`` names."""
    return uri(strip_tracking(value, strip_params)) if value else None
