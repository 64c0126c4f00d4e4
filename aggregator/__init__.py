"""aggregator: local articles and remote feeds -> ranked per-topic RSS 2.0,
Atom 1.0 and JSON Feed 1.1.

The public API is small::

    from aggregator import load_config, build
    config = load_config("config.yaml")
    report = build(config)            # writes config.output_dir
    print(report.summary(), report.exit_code)

See :func:`build` for its options (``now``, ``executor``, ``offline``...).
"""

from __future__ import annotations

from aggregator.build.frame import build
from aggregator.config import Config, load_config
from aggregator.errors import (
    AggregatorError,
    ConfigError,
    FetchError,
    LockedError,
    SourceError,
    StateDamaged,
    StateError,
    WriteError,
)
from aggregator.model import Article, FeedInfo, Problem
from aggregator.report import Report
from aggregator.version import __version__

__all__ = [
    "AggregatorError",
    "Article",
    "Config",
    "ConfigError",
    "FeedInfo",
    "FetchError",
    "LockedError",
    "Problem",
    "Report",
    "SourceError",
    "StateDamaged",
    "StateError",
    "WriteError",
    "__version__",
    "build",
    "load_config",
]
