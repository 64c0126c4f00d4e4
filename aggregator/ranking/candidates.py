"""Which earlier articles of a stream in (published, id) order each article
could be linked to: story clustering's candidate pairs
(:func:`aggregator.ranking.stories.components` decides which are linked).

The articles read so far are kept in buckets: under each word of their
text that is some article's *probe* (a name every linked article mentions),
under their probe, under each of their keys (word pairs).  Only a window
either side of the article being linked is held: the sketches a window
behind are forgotten and the buckets pruned, and the stream is read a window
ahead, so that every probe an article within its window will look for is
known when an article is put in its buckets.  Memory follows the window,
not the archive.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.ranking.stories import Sketch


def order(s: Sketch) -> tuple[float, str]:
    return (s.published, s.id)


class _Ahead:
    """The articles read so far, a window ahead of the one being linked:
    every probe that a later article within its window will look for is
    known when an article is indexed (:func:`candidates`)."""

    def __init__(self, items: Iterator[Sketch], ids: list[str]):
        self.items, self.ids = items, ids
        self.published: list[float] = []
        self.held: dict[int, Sketch] = {}  # read, and not yet a window behind
        self.probes: set[str] = set()  # every probe read so far: a superset of those that matter
        self.last: tuple[float, str] | None = None
        self.done = False
        self.first = 0  # the oldest article still held

    def read_one(self) -> bool:
        """Read one more article (or more, published at the same moment); whether there was one."""
        before = len(self.ids)
        self.read_past(self.published[-1] if self.published else -math.inf)
        return len(self.ids) > before

    def read_past(self, moment: float) -> None:
        """Read until an article published after ``moment`` (or the end)."""
        while not self.done and (not self.published or self.published[-1] <= moment):
            s = next(self.items, None)
            if s is None:
                self.done = True
                return
            if self.last is not None and order(s) < self.last:
                raise ValueError(f"{s.id!r} comes out of (published, id) order")
            self.last = order(s)
            self.held[len(self.ids)] = s
            self.ids.append(s.id)
            self.published.append(s.published)
            if s.probe:
                self.probes.add(s.probe)

    def forget_before(self, index: int) -> None:
        while self.first < index:
            del self.held[self.first]
            self.first += 1


_PRUNE_EVERY = 8192  # articles between two prunings of the buckets


def candidates(items: Iterator[Sketch], window: float,
                ids: list[str]) -> Iterator[tuple[int, Sketch, set[int], dict[int, Sketch]]]:
    """Per article of ``items`` (in time order), the earlier ones within
    ``window`` that it could be linked to: those whose probe is among its
    words, those among whose words its probe is, or (neither has a probe)
    those that share a key with it; and the articles held (by index)."""
    ahead = _Ahead(items, ids)
    published, held = ahead.published, ahead.held
    moment = published.__getitem__
    # The articles seen so far (indices, so in time order): under each word
    # of their text that is some article's probe, under their probe, under
    # each key.
    by_word: dict[str, list[int]] = {}
    by_probe: dict[str, list[int]] = {}
    by_key: dict[int, list[int]] = {}
    for index in itertools.count():
        if index == len(ids) and not ahead.read_one():
            return
        ahead.read_past(published[index] + window)
        b = held[index]
        earliest = b.published - window
        if index % _PRUNE_EVERY == 0:
            first = bisect_left(published, earliest, hi=index)
            ahead.forget_before(first)
            for bucket in (by_word, by_probe, by_key):
                _prune(bucket, first)
        candidates = _find(b, index, earliest, moment, ahead.probes, by_word, by_probe, by_key)
        if candidates:
            yield index, b, candidates, held


def _find(b: Sketch, index: int, earliest: float, moment: Callable[[int], float], probes: set[str],
          by_word: dict[str, list[int]], by_probe: dict[str, list[int]], by_key: dict[int, list[int]]) -> set[int]:
    """The candidates of article ``index`` (``b``) among the buckets, and ``b`` added to them."""
    candidates: set[int] = set()
    if b.probe:
        found = by_word.get(b.probe)
        if found:
            candidates.update(found[bisect_left(found, earliest, key=moment):])
    else:
        for key in b.keys:
            found = by_key.get(key)
            if found is None:
                by_key[key] = [index]
                continue
            candidates.update(found[bisect_left(found, earliest, key=moment):])
            found.append(index)
    for word in b.text.intersection(probes):  # a few words, not the 20 or so of a text
        found = by_probe.get(word)
        if found:
            candidates.update(found[bisect_left(found, earliest, key=moment):])
        found = by_word.get(word)
        if found is None:
            by_word[word] = [index]
        else:
            found.append(index)
    if b.probe:
        by_probe.setdefault(b.probe, []).append(index)
    return candidates


def _prune(bucket: dict[Any, list[int]], first: int) -> None:
    """Drop the articles before index ``first`` (a window behind) from ``bucket``."""
    for key in list(bucket):
        found = bucket[key]
        cut = bisect_left(found, first)
        if cut == len(found):
            del bucket[key]
        elif cut:
            del found[:cut]
