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

# The single source of the version (pyproject.toml reads it from here);
# importlib.metadata would cost a cron run ~60 ms of start-up.
__version__ = "0.2.0"

from .config import Config, load_config
from .errors import (
    AggregatorError,
    ConfigError,
    FetchError,
    LockedError,
    SourceError,
    StateDamaged,
    StateError,
    WriteError,
)
from .model import Article, FeedInfo, Problem
from .pipeline import build
from .report import Report

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
