"""Topic identity and file names.  Pure.

A topic's *canonical key* merges spellings that mean the same topic (NFC,
case-folded, whitespace collapsed): "AI" and "ai" are one topic, and so
are "Machine  Learning" and "machine learning".  Its *slug* is the file name stem of its feeds: ASCII
``[a-z0-9-]``, at most :data:`SLUG_MAX` characters, a function of the key
alone (so a subscriber's URL never changes because another topic appeared)
and injective: a readable form is used as is only when it renders the key
losslessly; otherwise a hash of the key follows a double dash, which a
lossless slug never contains.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

SLUG_MAX = 110
_READABLE_MAX = 100
_SPACE = re.compile(r"\s+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_LOSSLESS = re.compile(r"^[a-z0-9]+(?: [a-z0-9]+)*$")
# "all" and "index" name our own files; the rest are device names Windows
# refuses as file names, whatever the extension.
RESERVED = frozenset(
    {"all", "index", "con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
)


def topic_key(name: str) -> str:
    """The canonical key of a topic name."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", name).casefold()).strip()


def slugify(key: str) -> str:
    """The slug of a canonical topic key (see module docstring)."""
    ascii_form = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode("ascii").lower()
    readable = _NOT_SLUG.sub("-", ascii_form).strip("-")[:_READABLE_MAX].strip("-")
    if _LOSSLESS.match(key) and readable == key.replace(" ", "-") and readable not in RESERVED:
        return readable
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{readable}--{digest}" if readable else f"t--{digest}"


def display_name(spellings: Counter[str]) -> str:
    """The most frequent spelling; ties go to the first in sort order, so
    the name does not depend on the order files were read."""
    return min(spellings.items(), key=lambda item: (-item[1], item[0]))[0]


def group_names(names: Iterable[str]) -> dict[str, str]:
    """Map canonical key -> display name for a collection of spellings."""
    counts: dict[str, Counter[str]] = {}
    for name in names:
        counts.setdefault(topic_key(name), Counter())[name] += 1
    return {key: display_name(c) for key, c in counts.items()}
