"""The local half of the inbound I/O: article files -> parse results.

Files whose (size, mtime_ns, inode) and parse fingerprint match the cache
are not read again; the rest are read and parsed in batches on the
executor and stored.  Results stream out in path order, so the caller can
rank them without holding every article in memory.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import astuple, dataclass

from .articles import ParseOptions, parse_article
from .discover import Found
from .executor import Executor
from .model import ParseResult, Problem
from .store import Store

BATCH = 256
MAX_FILE_BYTES = 4 * 1024 * 1024


def fingerprint(options: ParseOptions, version: str) -> str:
    """Changes whenever the program or a parse setting changes, so an
    upgrade or config change never serves a stale cached article."""
    text = repr((version, sys.version_info[:2], astuple(options)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class _Batch:
    files: tuple[Found, ...]
    options: ParseOptions
    max_bytes: int


def parse_batch(batch: _Batch) -> list[tuple[Found, ParseResult]]:
    """Read and parse a batch of files (runs in a worker process)."""
    return [(found, read_and_parse(found, batch.options, batch.max_bytes)) for found in batch.files]


def read_and_parse(found: Found, options: ParseOptions, max_bytes: int = MAX_FILE_BYTES) -> ParseResult:
    if found.stat[0] > max_bytes:
        return ParseResult(problems=(Problem(found.path, f"file larger than {max_bytes} bytes"),))
    try:
        with open(found.path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return ParseResult(problems=(Problem(found.path, f"cannot read: {exc.strerror or exc}", "failed"),))
    if len(data) > max_bytes:
        return ParseResult(problems=(Problem(found.path, f"file larger than {max_bytes} bytes"),))
    return parse_article(data, found.path, options)


@dataclass
class CollectStats:
    files: int = 0
    parsed: int = 0  # read and parsed this run (the rest came from the cache)


def collect_local(files: list[Found], store: Store, executor: Executor, options: ParseOptions, version: str,
                  *, max_bytes: int = MAX_FILE_BYTES, stats: CollectStats | None = None,
                  progress: Callable[[int], None] | None = None) -> Iterator[tuple[str, ParseResult]]:
    """Yield ``(path, result)`` for every file: cached when unchanged,
    parsed otherwise (and then cached)."""
    stats = stats if stats is not None else CollectStats()
    stats.files = len(files)
    fp = fingerprint(options, version)
    cached = store.cached(fp)
    fresh = [f for f in files if cached.get(f.path) != f.stat]
    fresh_paths = {f.path for f in fresh}
    stats.parsed = len(fresh)
    batches = [_Batch(tuple(fresh[i:i + BATCH]), options, max_bytes) for i in range(0, len(fresh), BATCH)]
    for batch_result in executor.map(parse_batch, batches):
        for found, result in batch_result:
            # I/O failures are not cached: the next run must try again.
            if not any(p.kind == "failed" for p in result.problems):
                store.save_result(found.path, found.stat, fp, result)
            if progress:
                progress(1)
            yield found.path, result
    unchanged = [f.path for f in files if f.path not in fresh_paths]
    for path, result in store.load_results(unchanged):
        if progress:
            progress(1)
        yield path, result
    store.forget_except({f.path for f in files})
