"""What a parse depends on, as the parse cache's key: the parse settings,
the running code and the interpreter.  An upgrade or a config change never
serves a stale cached article.

Light on purpose (stdlib only): a run checks its no-change shortcut with it
before anything that parses, ranks or renders is imported.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import astuple, dataclass

from aggregator.config import DEFAULT_PLACEHOLDERS


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """The settings that change what a file parses to."""

    parser: str = "auto"
    max_topics: int = 20
    max_file_bytes: int = 4 * 1024 * 1024
    placeholders: tuple[str, ...] = DEFAULT_PLACEHOLDERS


def fingerprint(options: ParseOptions, version: str) -> str:
    """Changes whenever the program or a parse setting changes."""
    text = repr((version, sys.version_info[:2], astuple(options)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
