"""The program's version, and the identity of the running code.

``__version__`` has its one source here (``pyproject.toml`` reads it;
importlib.metadata would cost a cron run ~60 ms of start-up).

The version alone is not enough for cache keys: an editable install, a
patched deployment or a reinstall of the same version may change what a
file parses to or how a feed renders.  So caches are keyed on
:func:`code_id`: the version plus a hash of every module's path, size and
mtime (one stat per module, once per process)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__version__ = "0.2.0"


@functools.cache
def code_id() -> str:
    package = Path(__file__).resolve().parent
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(package)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return f"{__version__}+{h.hexdigest()}"
