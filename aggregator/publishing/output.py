"""Writing the output folder: atomic, idempotent, confined.

Every file is written to a temporary file in its own folder, made durable
(one ``syncfs`` for all of a run's files, else ``fsync`` each), renamed over
the old one, and the folder is fsynced, so a run killed at any instant
leaves each file either old or new and complete.  A
file whose bytes are unchanged is not touched (its mtime stays), so a
rebuild with nothing new rewrites nothing and HTTP validators stay valid.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from stat import S_ISREG
from typing import Any

from aggregator.errors import WriteError

TEMP_PREFIX = ".tmp-aggregator-"


def confined(root: Path, relative: str, *, resolved_root: str | None = None) -> Path:
    """``root / relative``, refusing anything that would land outside
    ``root`` (absolute paths, ``..``, symlinked folders).  ``resolved_root``:
    ``root`` already resolved (by a caller that writes many files: resolving
    a path walks every component in Python)."""
    base = resolved_root or os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, relative))
    if target == base or os.path.commonpath((base, target)) != base:
        raise WriteError(f"{relative}: refusing to write outside {root}")
    return Path(target)


class StagedWrites:
    """Many files written atomically with one flush to disk.

    :meth:`stage` writes each changed file to a temporary file beside it
    (without fsync); :meth:`commit` makes all of them durable with one
    ``syncfs`` of the output's file system, then renames them into place
    in staging order and fsyncs their folders.  A run killed at any point
    leaves every file old or new and complete (temporaries are removed by
    the next run), as with :func:`atomic_write`, at the cost of one flush
    instead of one per file.  Without ``syncfs`` (not Linux) each
    temporary is fsynced.
    """

    def __init__(self, root: Path, journal: Path | None = None):
        self.root = root
        self._journal = journal  # written before the first temporary file
        self._journal_path = journal  # and again, with every path, before the first rename
        self._resolved = os.path.realpath(root)
        self._pending: list[tuple[str, Path]] = []  # (temporary, final path)
        self.written: list[str] = []
        # Per staged path, the (size, mtime_ns, inode) the file has once
        # committed (a rename keeps both): what the state file records.
        self.stats: dict[str, tuple[int, int, int]] = {}

    def stage(self, relative: str, data: bytes) -> bool:
        """Stage ``data`` for ``root/relative``; False when the file already
        holds exactly these bytes (it is then left alone)."""
        path = confined(self.root, relative, resolved_root=self._resolved)
        try:
            st = path.stat()
            if st.st_size == len(data) and path.read_bytes() == data:
                self.stats[relative] = output_stat(st)
                return False
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise WriteError(f"{path}: {exc.strerror or exc}") from None
        if self._journal is not None:
            begin_writes(self._journal, self.root)
            self._journal = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        except OSError as exc:
            raise WriteError(f"{path}: {exc.strerror or exc}") from None
        self._pending.append((temp, path))
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if _SYNCFS is None:
                    os.fsync(handle.fileno())
                self.stats[relative] = output_stat(os.fstat(handle.fileno()))
            os.chmod(temp, 0o644)  # mkstemp makes 0600; the folder is published
        except OSError as exc:
            raise WriteError(f"{path}: {exc.strerror or exc}") from None
        self.written.append(relative)
        return True

    def commit(self) -> None:
        if not self._pending:
            return
        # Without syncfs, stage() fsynced each file already.
        if _SYNCFS is not None and not _sync_file_system(self.root):
            for temp, _path in self._pending:  # syncfs failed: one fsync each
                _fsync_path(Path(temp))
        if self._journal_path is not None:
            # A run killed among the renames leaves files no record describes
            # (new ones, whose feed the next run may no longer have): the
            # journal names them, so the next run can remove them.
            begin_writes(self._journal_path, self.root, self.written)
        try:
            for temp, path in self._pending:
                os.replace(temp, path)
        except OSError as exc:
            raise WriteError(f"{exc.filename}: {exc.strerror or exc}") from None
        self._pending.clear()
        fsync_dirs(self.root, self.written)

    def abandon(self) -> None:
        for temp, _path in self._pending:
            _remove_quietly(Path(temp))
        self._pending.clear()


def output_stat(st: os.stat_result) -> tuple[int, int, int]:
    """What identifies one version of an output file: (size, mtime_ns, inode).
    Every write makes a new inode (a temporary renamed into place)."""
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def current_stat(root: Path, relative: str) -> tuple[int, int, int] | None:
    """:func:`output_stat` of ``root/relative`` as it is now; ``None`` when it
    is missing or not a regular file."""
    try:
        st = os.stat(os.path.join(root, relative))
    except OSError:
        return None
    return output_stat(st) if S_ISREG(st.st_mode) else None


def _load_syncfs() -> Any:
    try:
        import ctypes

        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
        syncfs.argtypes = [ctypes.c_int]
        return syncfs
    except (OSError, AttributeError):  # not Linux
        return None


_SYNCFS = _load_syncfs()


def start_flush(folder: Path) -> threading.Thread | None:
    """Start writing the file system's dirty pages (``folder``'s) to disk in
    the background, and return the thread doing it (``None`` without
    ``syncfs``).  A build that parsed many files calls it once they are
    stored: the state file's pages are written while ranking and rendering
    go on, instead of being waited for by the final flush.  It changes
    nothing about durability; the commit still flushes everything."""
    if _SYNCFS is None:
        return None

    def flush() -> None:
        with contextlib.suppress(OSError):
            _sync_file_system(folder)

    thread = threading.Thread(target=flush, name="aggregator-flush", daemon=True)
    thread.start()
    return thread


def _sync_file_system(folder: Path) -> bool:
    """``syncfs`` of ``folder``'s file system (ctypes releases the GIL for
    the call); False when it failed."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        return bool(_SYNCFS(fd) == 0)
    finally:
        os.close(fd)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` atomically.  With ``sync_dir=False`` the
    caller fsyncs the folder once after a batch of renames (each file is
    still complete or absent at every instant; only durability waits)."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    except OSError as exc:
        raise WriteError(f"{path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes 0600; the folder is published
        os.replace(temp, path)
    except BaseException as exc:
        _remove_quietly(Path(temp))
        if isinstance(exc, OSError):
            raise WriteError(f"{path}: {exc.strerror or exc}") from None
        raise
    if sync_dir:
        fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename stands
    finally:
        os.close(fd)


def fsync_dirs(root: Path, written: list[str]) -> None:
    """fsync ``root`` and every folder (and new subfolder) that received a
    file, once each: the renames of a run become durable together."""
    folders = {root}
    for relative in written:
        parent = (root / relative).parent
        while parent != root and parent.is_relative_to(root):
            folders.add(parent)
            parent = parent.parent
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        fsync_dir(folder)


def journal_path(state_path: Path) -> Path:
    """The file that says a run has begun changing its output folder."""
    return state_path.with_name(state_path.name + ".writing")


def begin_writes(journal: Path, out: Path, renaming: Sequence[str] = ()) -> None:
    """Record durably, before a run's first temporary file, that ``out`` is
    being changed, and before its first rename which files (relative to
    ``out``) it renames into place: a run killed from here on leaves
    temporaries and maybe renamed files the state file does not describe,
    which the next run must deal with before it may trust anything it
    recorded."""
    text = "\n".join([os.fsdecode(out), *renaming]) + "\n"
    atomic_write(journal, text.encode("utf-8", "surrogateescape"))


def end_writes(journal: Path) -> None:
    """The run's changes are committed to the state file: nothing to recover."""
    with contextlib.suppress(FileNotFoundError):
        journal.unlink()


def recover_writes(journal: Path, out: Path) -> list[str] | None:
    """After a run that was killed while writing (``journal`` exists), remove
    its temporary files from the folder it wrote to and from ``out``, and
    return the files it may have renamed into place (relative to its output
    folder; empty when it was killed before its renames); ``None`` when
    there was no such run.  A renamed file that existed before needs no
    undoing (every output file's recorded stat is checked before it is
    trusted); a new one may belong to no feed of the next run, which
    removes it then."""
    try:
        lines = journal.read_bytes().decode("utf-8", "surrogateescape").splitlines()
    except FileNotFoundError:
        return None
    except OSError:
        lines = []
    named = lines[0].strip() if lines else ""
    for folder in {Path(named), out} if named else {out}:
        remove_stale_temps(folder)
    return [line for line in lines[1:] if line] if named and Path(named) == out else []


def remove_stale_temps(root: Path) -> int:
    """Delete temporary files left by a run that was killed mid-write."""
    removed = 0
    if not root.is_dir():
        return 0
    for path in root.rglob(f"{TEMP_PREFIX}*"):
        if path.is_file() and not path.is_symlink():
            _remove_quietly(path)
            removed += 1
    return removed


def remove_file(root: Path, relative: str) -> bool:
    """Remove ``root/relative`` and the folders it leaves empty (an
    archive month's folder when its topic goes), never ``root`` itself."""
    path = confined(root, relative)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise WriteError(f"{path}: {exc.strerror or exc}") from None
    top = root.resolve()
    folder = path.parent
    while folder != top and folder.is_relative_to(top):
        try:
            folder.rmdir()
        except OSError:
            break  # not empty (or not ours to remove): stop here
        folder = folder.parent
    return True


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
