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
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple

from aggregator import memory
from aggregator.executor import Executor
from aggregator.model import ParseResult, Problem, Summary, summarize
from aggregator.ranking.index import RankIndex
from aggregator.ranking.rows import Copy, Rows
from aggregator.sources.local.articles import parse_article
from aggregator.sources.local.discover import Found
from aggregator.sources.local.parsekey import ParseOptions, fingerprint
from aggregator.state import codec
from aggregator.state.store import FileStat, Store

BATCH = 256


class ParsedFile(NamedTuple):
    """One file's parse as a worker sends it back.  Its blobs are encoded
    for the state file in the worker (state/codec.py: JSON, never a
    pickle), so the build process stores them as they are and decodes only
    the problems, if any.  (A named tuple: it pickles as a tuple does.)"""

    path: str
    stat: FileStat  # as found
    copies: tuple[Copy, ...]  # per article: id, published, encoded Summary
    problems: bytes | None  # the encoded Problems; None when there are none
    result: bytes  # the encoded ParseResult
    cacheable: bool  # False after an I/O failure: the next run must try again
    rows: tuple[Rows, ...] = ()  # per article, what the ranking asked the workers to derive


@dataclass(frozen=True, slots=True)
class _Batch:
    files: tuple[tuple[str, FileStat], ...]  # (path, stat) as plain tuples
    options: ParseOptions
    derive: Callable[[Summary], Rows] | None  # what the ranking asked for per copy


def parse_batch(batch: _Batch) -> list[ParsedFile]:
    """Read and parse a batch of files (runs in a worker process)."""
    out = []
    derive = batch.derive
    for found in batch.files:
        result = read_and_parse(found, batch.options)
        blob = codec.dumps_result(result)
        # One file holds one article: the blob's hash is that article's digest.
        digest = hashlib.blake2b(blob, digest_size=12).hexdigest() if len(result.articles) == 1 else None
        summaries = [summarize(a, digest) for a in result.articles]
        copies = tuple(Copy(s.id, s.published, codec.dumps_summary(s)) for s in summaries)
        problems = codec.dumps_problems(result.problems) if result.problems else None
        rows = tuple(derive(s) for s in summaries) if derive is not None else ()
        out.append(ParsedFile(found[0], found[1], copies, problems, blob,
                              not any(p.kind == "failed" for p in result.problems), rows))
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


def _emptied(parsed: ParsedFile) -> ParsedFile:
    """A file that had an article and is empty now is most likely being
    rewritten in place: a failed read (read again next run, and no topic
    is removed meanwhile), not an article that is gone."""
    problem = Problem(parsed.path, "file is empty now but had an article (rewritten in place?); read again next run",
                      "failed")
    return parsed._replace(copies=(), problems=codec.dumps_problems((problem,)), cacheable=False, rows=())


@dataclass
class CollectStats:
    files: int = 0
    parsed: int = 0  # read and parsed this run (the rest came from the cache)


@dataclass
class _Plan:
    """Which files to parse, given the cache."""

    fresh: Iterable[Found]
    unchanged: set[str] = field(default_factory=set)
    gone: list[str] = field(default_factory=list)
    emptied: set[str] = field(default_factory=set)  # found empty, with a non-empty version cached


def _plan(files: Iterable[Found], cached: dict[str, FileStat] | None) -> _Plan:
    if cached is None:
        return _Plan(files)  # nothing cached: parse everything, as the walk finds it
    plan = _Plan([])
    fresh: list[Found] = []
    for found in files:
        known = cached.get(found.path)
        if known == found.stat:
            plan.unchanged.add(found.path)
        else:
            fresh.append(found)
            if known is not None and found.stat[0] == 0 < known[0]:
                plan.emptied.add(found.path)
    fresh_paths = {f.path for f in fresh}  # changed files are not gone
    plan.fresh, plan.gone = fresh, [p for p in cached if p not in plan.unchanged and p not in fresh_paths]
    return plan


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
    complete = not store.has_cache(fp)
    with memory.bulk():  # 100,000 stat records, kept for the run
        plan = _plan(files, None if complete else store.cached(fp))
    derive = index.start_local(complete)
    # Batches taken from ``fresh`` only as the executor asks for them.
    chunks = iter(plan.fresh)
    batches = (_Batch(tuple((path, stat) for path, stat in chunk), options, derive)
               for chunk in iter(lambda: tuple(islice(chunks, BATCH)), ()))
    failed: list[str] = []
    for parsed in executor.map(parse_batch, batches):
        if plan.emptied:
            parsed = [_emptied(p) if p.path in plan.emptied and not p.copies else p for p in parsed]
        stats.parsed += len(parsed)
        store.save_parsed([(p.path, p.stat, p.problems, p.result) for p in parsed if p.cacheable], fp)
        index.apply(parsed)
        failed.extend(p.path for p in parsed if not p.cacheable)  # parsed again next run, whatever its stat
        for p in parsed:
            if progress:
                progress(1)
            if p.problems is not None:
                yield p.path, codec.loads_problems(p.problems)
    stats.files = stats.parsed + len(plan.unchanged)
    if progress and plan.unchanged:
        progress(len(plan.unchanged))
    for path, blob in store.problems(fp):
        if path in plan.unchanged:
            yield path, codec.loads_problems(blob)
    # Rows of vanished files, and of other program versions or settings.
    index.drop_origins(plan.gone)
    store.forget(plan.gone + failed, keep_fingerprint=fp)
