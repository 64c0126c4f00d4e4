"""The result of a run, for the CLI, monitoring (``--report``) and callers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aggregator.model import Problem

# What a terminal or a mail reader must not receive raw from input text (file
# names, remote error text): line breaks would forge report lines, escape
# sequences drive the terminal, bidi controls reorder what is shown, lone
# surrogates (undecodable names) cannot be encoded.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\n``,
    ``\\x1b``, ``\\u202e``): one problem is one line, whatever its input."""
    if text.isprintable():
        return text
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_FATAL = 2
EXIT_LOCKED = 3


@dataclass
class Report:
    """What a build did.  ``problems`` holds every skipped or failed input
    (and warnings); ``exit_code`` is what the CLI returns."""

    files: int = 0
    parsed: int = 0
    articles: int = 0
    eligible: int = 0
    archives: int = 0  # archive documents (each in every format)
    filtered: int = 0
    merged: int = 0  # copies merged into another item (``aggregator explain URL`` says why)
    problems: list[Problem] = field(default_factory=list)
    sources: list[Any] = field(default_factory=list)  # remote SourceReport values
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    pinged: list[str] = field(default_factory=list)  # feed URLs the WebSub hub accepted a ping for
    pending: list[str] = field(default_factory=list)  # feed URLs whose ping waits for the next run
    feeds: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    dry_run: bool = False
    hub: str | None = None  # the WebSub hub pinged, if any (its failures are not the inputs')
    state_rebuilt: str | None = None  # the state file, when it was damaged and rebuilt in this run

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "skipped"]

    @property
    def failed(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "failed"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "warning"]

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if self.skipped or self.failed else EXIT_OK

    def summary(self) -> str:
        seconds = self.timings.get("total", 0.0)
        # Each count where it belongs: a failing source or hub is not a
        # failed article file (a cron reader would look for the wrong thing).
        sources = {getattr(s, "url", None) for s in self.sources}
        local = [p for p in self.problems if p.where not in sources and p.where not in (self.hub, self.state_rebuilt)]
        parts = [f"{self.articles} articles from {self.files} files "
                 f"({sum(p.kind == 'skipped' for p in local)} skipped, "
                 f"{sum(p.kind == 'failed' for p in local)} failed)"]
        if self.merged:
            parts.append(f"{self.merged} {'copy' if self.merged == 1 else 'copies'} merged")
        if self.sources:
            parts.append(f"{len(self.sources)} sources ({self._source_counts()})")
        if not self.dry_run:
            archives = f" (+{self.archives} archives)" if self.archives else ""
            parts.append(f"{self.feeds} feeds{archives}: {len(self.written)} files written, "
                         f"{len(self.unchanged)} unchanged, "
                         f"{len(self.removed)} removed")
        hub_failures = sum(1 for p in self.problems if p.where == self.hub and p.kind == "failed")
        if self.pinged or self.pending or hub_failures:
            parts.append(f"WebSub: {len(self.pinged)} pinged, {len(self.pending)} pending"
                         + (f", {hub_failures} hub failures" if hub_failures else ""))
        if self.state_rebuilt:
            parts.append("state file damaged: rebuilt")
        parts.append(f"{seconds:.2f}s")
        return "; ".join(parts)

    def _source_counts(self) -> str:
        """"N failed" always, then each other status that occurred; the
        deferred ones with the earliest time they have been failing since."""
        statuses = [getattr(s, "status", "") for s in self.sources]
        failed = sum(1 for status in statuses if status in ("failed", "stale"))
        words = [f"{failed} failed"]
        for status, word in (("deferred", "deferred"), ("not-due", "not due"), ("cached", "cached"),
                             ("offline", "offline")):
            count = statuses.count(status)
            if count:
                words.append(f"{count} {word}")
        since = [s.failing_since for s in self.sources
                 if getattr(s, "status", "") == "deferred" and getattr(s, "failing_since", None)]
        if since:
            words[1] += f" (failing since {min(since).date().isoformat()})"  # words[1]: the deferred
        return ", ".join(words)

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "inputs": {"files": self.files, "parsed": self.parsed, "articles": self.articles,
                       "eligible": self.eligible, "filtered": self.filtered,
                       "merged": self.merged},
            "problems": [{"where": p.where, "line": p.line, "kind": p.kind, "reason": p.reason}
                         for p in self.problems],
            "sources": [_source_json(s) for s in self.sources],
            "outputs": {"feeds": self.feeds, "archives": self.archives, "written": self.written,
                        "unchanged": len(self.unchanged), "removed": self.removed},
            "websub": {"pinged": self.pinged, "pending": self.pending},
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


def _source_json(source: Any) -> dict[str, Any]:
    fields = ("url", "name", "status", "items", "dropped", "error", "http_status", "seconds", "merged", "cut")
    found = {f: getattr(source, f, None) for f in fields}
    found["drops"] = dict(getattr(source, "drops", ()))  # per reason code
    for name in ("failing_since", "next_attempt"):
        when = getattr(source, name, None)
        found[name] = when.isoformat() if when is not None else None
    return found
