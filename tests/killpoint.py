"""Run the aggregator's CLI and SIGKILL it at a chosen point of its write phase.

    python killpoint.py RENAMES OUTPUT_FOLDER -- build -c config.yaml ...

The process kills itself with a real SIGKILL just before its rename number
``RENAMES + 1`` into ``OUTPUT_FOLDER``: ``1`` stops it right after the first
output file was renamed into place.  The point is found through a Python
audit hook (``os.rename`` is raised by ``os.rename`` and ``os.replace``), so
the program under test carries no test hook of its own.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def main() -> int:
    renames, out = int(sys.argv[1]), os.path.realpath(sys.argv[2])
    args = sys.argv[4:] if sys.argv[3] == "--" else sys.argv[3:]
    seen = 0

    def hook(event: str, hook_args: tuple[Any, ...]) -> None:
        nonlocal seen
        if event != "os.rename":
            return
        target = os.path.realpath(os.fspath(hook_args[1]))
        if target.startswith(out + os.sep):
            seen += 1
            if seen > renames:
                os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)
    from aggregator.cli import main as cli

    return cli(args)


if __name__ == "__main__":
    sys.exit(main())
