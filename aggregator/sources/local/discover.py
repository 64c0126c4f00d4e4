"""Finding article files: folders, globs, excludes, and the file system's
oddities (symlink loops, links out of the folder, unreadable entries).

Only regular files with an article suffix are taken.  A symlink is followed
only when it resolves to a regular file inside the configured folder; the
walk never follows symlinked folders, so loops cannot trap it.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import operator
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from aggregator.config import ArticleFolder
from aggregator.model import Problem

SUFFIXES = (".md", ".markdown", ".txt", ".html")
GLOB_CHARS = set("*?[")
_NAME = operator.attrgetter("name")


class Found(NamedTuple):
    """An article file and its (size, mtime_ns, inode, ctime_ns).  A tuple:
    100,000 of them cross to the parse workers and back."""

    path: str
    stat: tuple[int, int, int, int]


# Found(path, stat) without the named tuple's Python-level __new__: the walk
# makes one per file, 100,000 on every run of a large archive.
_found = tuple.__new__


def discover(folders: tuple[ArticleFolder, ...], root: Path) -> tuple[list[Found], list[Problem]]:
    """Every article file under the configured folders, sorted by path."""
    problems: list[Problem] = []
    # Tuples sort by path first, and paths are unique: no key needed.
    items = sorted(find(folders, root, problems))
    return items, problems


def find(folders: tuple[ArticleFolder, ...], root: Path, problems: list[Problem]) -> Iterator[Found]:
    """Every article file under the configured folders as the walk finds
    them (a folder's files in name order, subfolders depth first), each
    once; what cannot be taken goes to ``problems``.  Lazy, so a build
    that parses every file can start parsing with the first folder."""
    if len(folders) == 1 and not GLOB_CHARS & set(folders[0].path):
        yield from _entries(folders[0], root, problems)
        return
    # A file found twice (overlapping folders or globs) is one article file.
    seen: set[str] = set()
    for folder in folders:
        for item in _entries(folder, root, problems):
            if item.path not in seen:
                seen.add(item.path)
                yield item


def _entries(folder: ArticleFolder, root: Path, problems: list[Problem]) -> Iterator[Found]:
    pattern = str(root / folder.path)
    if GLOB_CHARS & set(folder.path):
        for match in sorted(glob.glob(pattern, recursive=True)):
            path = Path(match)
            if path.is_dir() and not path.is_symlink():
                yield from _walk(path, folder.exclude, problems)
            else:
                yield from _file(path, path.parent, folder.exclude, problems)
        return
    top = Path(pattern)
    if not top.exists():
        problems.append(Problem(str(top), "article folder does not exist", "failed"))
        return
    if top.is_file():
        yield from _file(top, top.parent, folder.exclude, problems)
        return
    yield from _walk(top, folder.exclude, problems)


def _walk(top: Path, exclude: tuple[str, ...], problems: list[Problem]) -> Iterator[Found]:
    # os.scandir, not os.walk + Path.stat: a plain file costs one lstat
    # through the DirEntry, which matters at 100,000 files.
    pending = [str(top)]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=_NAME)
        except OSError as error:
            problems.append(Problem(str(error.filename or folder), f"cannot list folder: {error.strerror}", "failed"))
            continue
        subfolders = []
        here: list[Found] = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if not name.isascii() and not _decodable(name):
                what = "folder" if entry.is_dir(follow_symlinks=False) else "file"
                problems.append(Problem(shown_path(entry.path), f"{what} name is not valid UTF-8; skipped"))
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append(entry.path)
                    continue
                plain = entry.is_file(follow_symlinks=False)
            except OSError:
                plain = False
            if not name.lower().endswith(SUFFIXES):
                continue
            if plain and not exclude:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    pass  # vanished or unreadable: _file reports why
                else:
                    here.append(_found(Found, (entry.path, (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns))))
                    continue
            here.extend(_file(Path(entry.path), top, exclude, problems))
        yield from here
        # Depth first in name order, like the sorted os.walk this replaces.
        pending.extend(reversed(subfolders))


def _decodable(name: str) -> bool:
    """Whether a name from the file system is valid UTF-8 (Python decodes
    invalid bytes to lone surrogates, which no output or log can carry)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_path(path: str) -> str:
    """``path`` as reports show it: invalid UTF-8 bytes as ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _file(path: Path, top: Path, exclude: tuple[str, ...], problems: list[Problem]) -> Iterator[Found]:
    if not _decodable(str(path)):
        problems.append(Problem(shown_path(str(path)), "file name is not valid UTF-8; skipped"))
        return
    relative = os.path.relpath(path, top)
    if any(fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(path.name, pattern) for pattern in exclude):
        return
    if not path.name.lower().endswith(SUFFIXES):
        return
    try:
        if path.is_symlink():
            try:
                target = path.resolve(strict=True)
            except FileNotFoundError:
                # Dangling: nothing to read, and nothing failed (a failure
                # would keep every vanished topic's feeds while it exists).
                problems.append(Problem(str(path), f"symlink to a missing file ({os.readlink(path)}); skipped",
                                        "warning"))
                return
            if not target.is_relative_to(top.resolve()):
                problems.append(Problem(str(path), "symlink points outside the article folder", "skipped"))
                return
        st = path.stat()
    except RuntimeError:  # Python < 3.13 reports a symlink loop this way
        problems.append(Problem(str(path), "symlink loop", "skipped"))
        return
    except OSError as exc:
        # A loop is permanent and says nothing about the other files: it is
        # skipped like bad content.  Anything else (a dangling link, EACCES,
        # EIO) is a failed read, which keeps vanished topics' feeds.
        if exc.errno == errno.ELOOP:
            problems.append(Problem(str(path), "symlink loop", "skipped"))
        else:
            problems.append(Problem(str(path), f"cannot read: {exc.strerror or exc}", "failed"))
        return
    if stat.S_ISDIR(st.st_mode):
        return  # a folder (or a link to one) named *.txt: not an article
    if not stat.S_ISREG(st.st_mode):
        # A FIFO would block the reader forever; a socket or device is no article.
        problems.append(Problem(str(path), "not a regular file", "skipped"))
        return
    yield Found(str(path), (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns))
