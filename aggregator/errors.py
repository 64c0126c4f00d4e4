"""The exception tree.

Expected, per-input failures are :class:`~aggregator.model.Problem` values,
not exceptions.  Exceptions are for what stops a whole run:

- :class:`AggregatorError` -- base of everything raised on purpose
  - :class:`ConfigError` -- the config file is missing, invalid or inconsistent
  - :class:`SourceError` -- a remote source could not be used
    - :class:`FetchError` -- the HTTP exchange failed (timeout, status, size)
  - :class:`WriteError` -- an output file could not be written
  - :class:`LockedError` -- another run holds the lock

``str()`` of each names the place first, e.g.
``config.yaml:14: ranking.half_life: expected a duration, got 'soon'``.
"""

from __future__ import annotations


class AggregatorError(Exception):
    """Base class of every error the aggregator raises on purpose."""


class ConfigError(AggregatorError):
    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        self.message = message
        place = path or ""
        if path and line:
            place = f"{path}:{line}"
        super().__init__(f"{place}: {message}" if place else message)


class SourceError(AggregatorError):
    """A remote source could not be used (parse or content problem)."""


class FetchError(SourceError):
    """The HTTP exchange with a source failed."""


class WriteError(AggregatorError):
    """An output file could not be written."""


class LockedError(AggregatorError):
    """Another run holds the lock."""
