"""The ``websub:`` section (what it does: :mod:`aggregator.publishing.websub`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aggregator.config.settings import Seconds, doc


@dataclass(frozen=True)
class WebSubSettings:
    """The ``websub:`` section."""

    hub: str | None = field(default=None, metadata=doc(
        "URL of the WebSub hub, absolute http(s); when set, every feed advertises it (`rel=\"hub\"`) "
        "and the hub is pinged after each build for the feeds that changed. Default: none (no WebSub)."))
    timeout: Seconds = field(default=Seconds(10.0), metadata=doc(
        "Time allowed for each ping (connecting, sending, each read of the answer). Default `10s`.",
        between=(0.001, 3600)))
    budget: Seconds = field(default=Seconds(60.0), metadata=doc(
        "Wall-clock time for all of a run's pings: no ping starts after it and no answer is read past "
        "it (the pings not sent stay pending for the next run), so a slow hub cannot hold a cron run. "
        "Default `60s`.", between=(0.001, 86400)))
