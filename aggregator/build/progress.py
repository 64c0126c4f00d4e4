"""A progress bar on interactive terminals only (never under cron or -q)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Progress = Callable[[str, int, "int | None"], None]


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress | None]:
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def advance(stage: str, n: int, total: int | None) -> None:
        bar = bars.get(stage)
        if bar is None:
            labels = {"parse": "files parsed", "write": "files written", "fetch": "sources fetched"}
            bar = bars[stage] = tqdm(total=total, desc=labels.get(stage, stage), unit="", leave=False,
                                     file=sys.stderr, mininterval=0.2)
        bar.update(n)

    try:
        yield advance
    finally:
        for bar in bars.values():
            bar.close()
