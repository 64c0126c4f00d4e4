"""The local half of the inbound I/O: article files -> parse results.

Files whose (size, mtime_ns, inode, ctime_ns) and parse fingerprint match the cache
are not read again; the rest are read and parsed in batches on the
executor and stored.  Results stream out in path order, so the caller can
rank them without holding every article in memory.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from aggregator.executor import Executor
from aggregator.model import ParseResult, Problem, summarize
from aggregator.ranking.index import Copy, RankIndex, Rules, solo_rows
from aggregator.sources.local.articles import parse_article
from aggregator.sources.local.discover import Found
from aggregator.sources.local.parsekey import ParseOptions, fingerprint
from aggregator.state import codec
from aggregator.state.store import FileStat, Store

BATCH = 256


@dataclass(frozen=True, slots=True)
class _Batch:
    files: tuple[tuple[str, FileStat], ...]  # (path, stat) as plain tuples: see Parsed
    options: ParseOptions
    rules: Rules | None  # a cold build: make each article's solo rows too


# One file's parse as a worker sends it back: a plain tuple, because a named
# tuple pickles twice as slowly across the process boundary (its
# ``__getnewargs__`` is Python code, run for every file).  The blobs are
# encoded for the state file in the worker (state/codec.py: JSON, never a
# pickle), so the build process stores them as they are and decodes only
# the problems, if any.
#   path, stat: the file as found
#   copies: per article (id, published, encoded Summary)
#   problems: the encoded Problems; None when there are none
#   result: the encoded ParseResult
#   cacheable: False after an I/O failure: the next run must try again
#   solos: per article, its URL's Rows as if it had no other copy (cold builds only)
Parsed = tuple[str, FileStat, tuple[Copy, ...], bytes | None, bytes, bool, tuple[tuple[Any, ...], ...]]


def parse_batch(batch: _Batch) -> list[Parsed]:
    """Read and parse a batch of files (runs in a worker process)."""
    out = []
    rules = batch.rules
    for found in batch.files:
        result = read_and_parse(found, batch.options)
        blob = codec.dumps_result(result)
        # One file holds one article: the blob's hash is that article's digest.
        digest = hashlib.blake2b(blob, digest_size=12).hexdigest() if len(result.articles) == 1 else None
        summaries = [summarize(a, digest) for a in result.articles]
        copies = tuple((s.id, s.published, codec.dumps_summary(s)) for s in summaries)
        problems = codec.dumps_problems(result.problems) if result.problems else None
        # The ranking's rows for each URL as if it had no other copy: the
        # build process then only writes them (work done here runs on
        # every core; work done there competes with these workers).
        solos = tuple(solo_rows(s, rules) for s in summaries) if rules is not None else ()
        out.append((found[0], found[1], copies, problems, blob,
                    not any(p.kind == "failed" for p in result.problems), solos))
    return out


def read_and_parse(found: tuple[str, FileStat], options: ParseOptions) -> ParseResult:
    """Read and parse the file ``found`` (a :class:`Found` or its plain
    ``(path, stat)`` tuple).

    A file that changes while it is read, or that is empty although it was
    not when found, is being rewritten in place (not atomically): it is read
    once more after a moment, then counts as a failed read (kept out of this
    run, read again next run) rather than as an empty article."""
    max_bytes = options.max_file_bytes
    path, (size, _mtime, inode, _ctime) = found
    if size > max_bytes:
        return ParseResult(problems=(Problem(path, f"file larger than {max_bytes} bytes"),))
    read = _read_file(path, inode, max_bytes)
    for _retry in range(REREADS):
        if isinstance(read, ParseResult) or not _flickering(read, size):
            break
        time.sleep(REREAD_AFTER)
        read = _read_file(path, inode, max_bytes)
    if isinstance(read, ParseResult):
        return read
    if _flickering(read, size):
        return ParseResult(problems=(Problem(path, "file changed while it was read (rewritten in place?); "
                                                   "read again next run", "failed"),))
    data = read[0]
    if len(data) > max_bytes:
        return ParseResult(problems=(Problem(path, f"file larger than {max_bytes} bytes"),))
    return parse_article(data, path, options)


# A file caught mid-rewrite is read again this many times, this long apart.
REREADS = 1
REREAD_AFTER = 0.2


def _flickering(read: tuple[bytes, bool], size_found: int) -> bool:
    data, steady = read
    return not steady or (size_found > 0 and (not data or data.isspace()))


def _read_file(path: str, inode: int, max_bytes: int) -> tuple[bytes, bool] | ParseResult:
    """The file's bytes (up to ``max_bytes + 1``) and whether it stayed the
    same while read, or the failed :class:`ParseResult`."""
    # The file was checked when it was found (a regular file, inside the
    # folder); it may have been swapped since.  O_NONBLOCK: a FIFO put in its
    # place cannot hang the worker; the inode check: a link re-pointed
    # outside the folder, or any other swap, is not read but retried.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return ParseResult(problems=(Problem(path, f"cannot read: {exc.strerror or exc}", "failed"),))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_ino != inode:
            return ParseResult(problems=(Problem(path, "file replaced while the build ran; read next run", "failed"),))
        data = _read(fd, st.st_size, max_bytes + 1)
        after = os.fstat(fd)
    except OSError as exc:
        return ParseResult(problems=(Problem(path, f"cannot read: {exc.strerror or exc}", "failed"),))
    finally:
        os.close(fd)
    steady = (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns) and (
        len(data) == st.st_size or len(data) > max_bytes)
    return data, steady


def _read(fd: int, expected: int, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``fd``: the ``expected`` size (from fstat) in
    one read, then on to the end in case the file grew.  Not a buffered
    ``read(limit)``: that allocates ``limit`` bytes (4 MiB) for every file,
    which cost four times the read itself."""
    chunks = []
    total = 0
    want = min(expected + 1, limit)
    while total < limit:
        chunk = os.read(fd, want)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        want = min(1 << 16, limit - total)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _emptied(parsed: Parsed) -> Parsed:
    """A file that had an article and is empty now is most likely being
    rewritten in place: a failed read (read again next run, and no topic
    is removed meanwhile), not an article that is gone."""
    path = parsed[0]
    problem = Problem(path, "file is empty now but had an article (rewritten in place?); read again next run",
                      "failed")
    return (path, parsed[1], (), codec.dumps_problems((problem,)), parsed[4], False, ())


@dataclass
class CollectStats:
    files: int = 0
    parsed: int = 0  # read and parsed this run (the rest came from the cache)


def collect_local(files: Iterable[Found], store: Store, index: RankIndex, executor: Executor,
                  options: ParseOptions, version: str, *,
                  stats: CollectStats | None = None,
                  progress: Callable[[int], None] | None = None) -> Iterator[tuple[str, tuple[Problem, ...]]]:
    """Bring the parse cache and the ranking's copies (``index``) up to date
    with ``files``: unchanged files are not read; the others are parsed on
    ``executor`` and cached.  Yields ``(path, problems)`` of every file
    with problems.  Full articles stay in the store
    (:meth:`Store.load_article`).

    With nothing cached for these settings every file is parsed, and
    ``files`` is consumed lazily: a walk of the folders that is still going
    on keeps the workers busy from its first batch."""
    stats = stats if stats is not None else CollectStats()
    fp = fingerprint(options, version)
    cold = not store.has_cache(fp)
    unchanged: set[str] = set()
    gone: list[str] = []
    fresh: Iterable[Found]
    emptied: set[str] = set()  # found empty, with a non-empty version cached
    if cold:
        index.reset_local()  # every file is parsed again: no copy to compare with
        fresh = files
    else:
        cached = store.cached(fp)
        fresh = []
        for found in files:
            known = cached.get(found.path)
            if known == found.stat:
                unchanged.add(found.path)
            else:
                fresh.append(found)
                if known is not None and found.stat[0] == 0 < known[0]:
                    emptied.add(found.path)
        gone = [p for p in cached if p not in unchanged]
        if gone:  # changed files are not gone
            fresh_paths = {f.path for f in fresh}
            gone = [p for p in gone if p not in fresh_paths]
        del cached  # 100,000 paths and stats: not needed while parsing
    rules = index.rules if cold else None
    # Batches taken from ``fresh`` only as the executor asks for them.
    chunks = iter(fresh)
    batches = (_Batch(tuple((path, stat) for path, stat in chunk), options, rules)
               for chunk in iter(lambda: tuple(islice(chunks, BATCH)), ()))
    failed: list[str] = []
    for batch_result in executor.map(parse_batch, batches):
        if emptied:
            batch_result = [_emptied(p) if p[0] in emptied and not p[2] else p for p in batch_result]
        stats.parsed += len(batch_result)
        store.save_parsed([(p[0], p[1], p[3], p[4]) for p in batch_result if p[5]], fp)
        if cold:
            index.add_files([(p[0], p[2], p[6]) for p in batch_result])
        for path, _stat, copies, problems, _result, cacheable, _solos in batch_result:
            if not cacheable:
                failed.append(path)  # parsed again next run, whatever its stat
            if not cold:
                index.set_copies(path, copies)
            if progress:
                progress(1)
            if problems is not None:
                yield path, codec.loads_problems(problems)
    stats.files = stats.parsed + len(unchanged)
    if progress and unchanged:
        progress(len(unchanged))
    for path, blob in store.problems(fp):
        if path in unchanged:
            yield path, codec.loads_problems(blob)
    # Rows of vanished files, and of other program versions or settings.
    index.drop_origins(gone)
    store.forget(gone + failed, keep_fingerprint=fp)
