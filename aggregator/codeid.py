"""The identity of the running code, for cache keys.

The version alone is not enough: an editable install, a patched
deployment or a reinstall of the same version may change what a file
parses to or how a feed renders.  So caches are keyed on the version plus
a hash of every module's path, size and mtime (one stat per module, once
per process)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from aggregator.version import __version__


@functools.cache
def code_id() -> str:
    package = Path(__file__).resolve().parent
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(package)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return f"{__version__}+{h.hexdigest()}"
