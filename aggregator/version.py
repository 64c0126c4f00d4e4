"""The program's version: its one source (``pyproject.toml`` reads it from
here; importlib.metadata would cost a cron run ~60 ms of start-up)."""

__version__ = "0.2.0"
