"""When to try a source again: Retry-After and exponential backoff (RELIABILITY #9, #11).

Pure functions of ``now`` and the settings; the state store persists the result
as the source's ``not_before``.  A source is never disabled: the wait is capped.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from aggregator.config.sources import FetchSettings


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    ``None`` when the header is absent or unparseable (the caller then uses the
    default backoff).  The result is not clamped and may be negative for a past date.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value[:12]), 10**11))  # bounded: a 10^400 header must not overflow timedelta
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP-dates are GMT by definition
    return (when - now).total_seconds()


def clamp_retry_after(seconds: float, settings: FetchSettings) -> float:
    """Clamp a server's wait into ``[retry_after_min, retry_after_max]``."""
    return min(max(seconds, settings.retry_after_min), settings.retry_after_max)


def backoff_seconds(failures: int, settings: FetchSettings) -> float:
    """``backoff_base * 2**(failures-1)``, capped at ``backoff_max``; 0 for no failure."""
    if failures <= 0:
        return 0.0
    exponent = min(failures - 1, 64)  # 2**64 half-hours is already far past any cap
    return float(min(settings.backoff_base * math.pow(2, exponent), settings.backoff_max))


def next_attempt(now: datetime, failures: int, retry_after: str | None, settings: FetchSettings) -> datetime:
    """The ``not_before`` after a failure: the server's Retry-After when usable, else backoff."""
    wait = parse_retry_after(retry_after, now)
    seconds = clamp_retry_after(wait, settings) if wait is not None else backoff_seconds(failures, settings)
    return now + timedelta(seconds=seconds)


def min_interval(headers: Mapping[str, str], ttl_minutes: int | None, now: datetime, cap: float) -> float:
    """Seconds before a feed should be fetched again, by its own account:
    the longest of ``Cache-Control: max-age`` (``no-cache``/``no-store``:
    none), ``Expires`` (against the response's ``Date``, else ``now``) and
    RSS ``<ttl>`` (minutes), capped at ``cap`` (``fetch.max_interval``) so
    a feed cannot silence itself for longer."""
    waits = [0.0]
    cache_control = headers.get("cache-control", "").lower()
    directives = {part.strip().partition("=")[0]: part.strip().partition("=")[2].strip('" ')
                  for part in cache_control.split(",") if part.strip()}
    if "no-cache" not in directives and "no-store" not in directives:
        age = directives.get("max-age", "")
        if age.isascii() and age.isdigit():
            waits.append(float(min(int(age[:12]), 10**11)))
        elif "max-age" not in directives:
            expires = _http_date(headers.get("expires"))
            if expires is not None:
                date = _http_date(headers.get("date")) or now
                waits.append((expires - date).total_seconds())
    if ttl_minutes is not None:
        waits.append(60.0 * min(ttl_minutes, 10**9))
    return min(max(waits), cap)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when
