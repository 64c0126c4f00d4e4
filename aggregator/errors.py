"""The exception tree.

Expected, per-input failures are :class:`~aggregator.model.Problem` values,
not exceptions.  Exceptions are for what stops a whole run:

- :class:`AggregatorError` -- base of everything raised on purpose
  - :class:`ConfigError` -- the config file is missing, invalid or inconsistent
  - :class:`SourceError` -- a remote source could not be used
    - :class:`FetchError` -- the HTTP exchange failed (timeout, status, size)
  - :class:`WriteError` -- an output file could not be written
  - :class:`StateError` -- the state file cannot be used (read-only, disk
    full, a folder in its place...)
    - :class:`StateDamaged` -- its content is damaged; :func:`~aggregator.build`
      sets it aside and rebuilds it from the inputs
  - :class:`LockedError` -- another run holds the lock (or another program
    the state file's)

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


class StateError(AggregatorError):
    """The state file cannot be used; ``str()`` names it and says why."""


class StateDamaged(StateError):
    """The state file's content is damaged (truncated, not a database)."""


class LockedError(AggregatorError):
    """Another run holds the lock (or another program the state file's)."""
