"""Which articles report the same story: pure functions.

Two live articles are *linked* (:func:`linked`; :func:`why` says it in
words) when all of these hold:

- they were published within ``window`` of each other;
- when neither title names anything (see the names rule below), they
  share a *key*: a pair of title words (two titles of one story share two
  words at least), or a pair of the three smallest hashes of their
  title-and-excerpt words (a bottom-k MinHash: near-identical excerpts share
  them).  A title that names something needs no key: the other article must
  mention that name, which finds the candidates more narrowly than any pair
  of common words ("flagship phone" is in thousands of titles a week, a
  company's name in a few).  Keys and names depend on the article alone, so
  a cold build (buckets) and an incremental run (the articles published near
  a changed one) find the same pairs;
- their similarity reaches ``threshold``: the larger Jaccard similarity of
  their title words and of their title-and-excerpt words, with the words of
  the topics both have left out ("Diablo 4" tells no story apart) and at
  least :data:`MIN_SHARED` words in common; a ``related`` link from one to
  the other lowers the bar by :data:`RELATED_BONUS` (supporting evidence
  only: in real data ``related`` often lists what merely trends);
- the numbers in their titles do not conflict ("Smartable (2021-03-24)" and
  "(2021-03-31)", "Issue 12" and "Issue 13", "April 2023" and "April 2024");
- neither title names someone or something the other article never
  mentions ("Dorrol recalls its phone" and
  "Bergorle recalls its phone");
- they are not one publisher's template with another value in its slot
  (:func:`templated`: "Support for X is ending on DATE").

A story's cluster is a connected component of that graph, so clustering is
independent of input order, an unrelated article changes no other cluster,
and removing a member leaves the rest together unless it was their only
link.  A cluster's id is its earliest member's (published, then id): with
articles arriving in publication order that is its first representative, and
it stays when better coverage takes the representative's place.  Withdrawn
and filtered articles are not live, so they never anchor or join a cluster.
"""

from __future__ import annotations

import itertools
import re
import sys
import zlib
from collections.abc import Iterable
from typing import NamedTuple

from aggregator.model import Summary
from aggregator.ranking import candidates as pairs
from aggregator.tokens import url_hash, words

KEYS_PER_SET = 3  # smallest hashes of the text words whose pairs are keys (a bottom-k MinHash sketch)
_PAIRED = 6  # title words whose pairs are keys
RELATED_BONUS = 0.1
MIN_SHARED = 2  # words two titles (or two texts) must share to be alike at all
_DIGIT = re.compile(r"\d")

class Sketch(NamedTuple):
    """What clustering compares of one article (built by :func:`sketch`)."""

    id: str
    published: float
    title: frozenset[str]  # the title's content words (tokens.words)
    text: frozenset[str]  # the title's and the excerpt's content words
    topical: frozenset[str]  # the words of its topics
    numbers: tuple[str, ...]  # the title's words with a digit, in order
    names: frozenset[str]  # the title's words that are names (tokens.names)
    probe: str  # one of its names that are no topic word ("" when none): what a linked article mentions
    keys: frozenset[int]  # its keys when it has no probe (empty otherwise)
    related: frozenset[int]  # url_hash of its related links
    own: int  # url_hash of its id
    provider: str  # its provider's domain or name ("" when none)


def sketch(item: Summary) -> Sketch:
    """What clustering compares of ``item``: built from its ``gist``
    (:func:`aggregator.tokens.gist`, made when it was summarised), cheap to
    build again, so nothing of it is stored."""
    head, _bar, rest = item.gist.partition("|")
    tail, _bar, names = rest.partition("|")
    # Interned: 100,000 sketches share one object per word (memory), and
    # set operations compare them by identity first.
    written_title = list(map(sys.intern, head.split()))
    title = frozenset(written_title)
    text = title.union(map(sys.intern, tail.split()))
    topical = _topical(item.topics)
    numbers = tuple(w for w in written_title if _DIGIT.search(w))
    named = title.intersection(names.split())
    # Every article linked to this one mentions each of its names that no
    # topic of its own can excuse (:func:`_apart`): the longest of them (the
    # rarest, as a rule) finds its candidates.
    probe = max(named - topical, key=lambda w: (len(w), w), default="")
    keys: frozenset[int] = frozenset()
    if not probe:
        # Keys: each pair of title words (two titles of one story share two
        # words at least: MIN_SHARED), and each pair of the text's smallest
        # word hashes (near-identical excerpts share two of their three smallest).
        paired = sorted(_hash(w) for w in title - topical)[:_PAIRED]
        bottom = sorted(_hash(w) for w in text - topical)[:KEYS_PER_SET]
        keys = frozenset(high << 32 | low for pool in (paired, bottom) for low, high in itertools.combinations(pool, 2))
    return Sketch(item.id, item.published, title, text, topical, numbers, named, probe,
                  keys, frozenset(item.links), url_hash(item.id), item.domain or item.provider or "")


_TOPICAL: dict[tuple[str, ...], frozenset[str]] = {}
_HASHES: dict[str, int] = {}


def _topical(topics: tuple[str, ...]) -> frozenset[str]:
    found = _TOPICAL.get(topics)
    if found is None:
        found = frozenset(w for name in topics for w in words(name))
        if len(_TOPICAL) < 1 << 16:
            _TOPICAL[topics] = found
    return found


def _hash(token: str) -> int:
    """A stable hash (the same in every process: keys must not depend on ``PYTHONHASHSEED``)."""
    found = _HASHES.get(token)
    if found is None:
        found = zlib.crc32(token.encode("utf-8", "surrogatepass"))
        if len(_HASHES) < 1 << 18:
            _HASHES[token] = found
    return found


class _Pair(NamedTuple):
    """Two articles' words with the words of the topics they share left
    out: what every article of a shared topic says ("Diablo 4") tells no
    story, while a topic only one of them has ("Druid") may."""

    title_a: frozenset[str]
    title_b: frozenset[str]
    text_a: frozenset[str]
    text_b: frozenset[str]
    names_a: frozenset[str]
    names_b: frozenset[str]
    numbers_a: tuple[str, ...]
    numbers_b: tuple[str, ...]


def _pair(a: Sketch, b: Sketch) -> _Pair:
    common = a.topical & b.topical
    if not common:
        return _Pair(a.title, b.title, a.text, b.text, a.names, b.names, a.numbers, b.numbers)
    return _Pair(a.title - common, b.title - common, a.text - common, b.text - common, a.names - common,
                 b.names - common, tuple(n for n in a.numbers if n not in common),
                 tuple(n for n in b.numbers if n not in common))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    shared = len(a & b)
    if shared < MIN_SHARED:
        return 0.0
    return shared / (len(a) + len(b) - shared)


class Settings(NamedTuple):
    threshold: float
    window: float  # seconds


def similarity(a: Sketch, b: Sketch) -> float:
    """How alike two articles' words are, 0 to 1 (before the guards)."""
    p = _pair(a, b)
    return _similarity(p)


def _similarity(p: _Pair) -> float:
    """The larger Jaccard similarity of the titles and of the texts, each
    counted only when the two share at least :data:`MIN_SHARED` words: two
    short titles sharing one word ("Alpha, retitled", "Gamma, retitled")
    are not one story."""
    return max(_jaccard(p.title_a, p.title_b), _jaccard(p.text_a, p.text_b))


def templated(a: Sketch, b: Sketch) -> bool:
    """Two instances of one publisher's template ("The best Rogue build",
    "The best Druid build"; "Power Apps Smartable", "Diablo 4 Smartable"):
    the titles differ by one or two words in a slot, words the other article
    never mentions.  Across publishers the same shape is usually one story
    reworded ("spotted" / "added"): names tell those apart (:func:`_apart`)."""
    if a.provider != b.provider:
        return False
    only_a, only_b = a.title - b.title, b.title - a.title
    if not (0 < len(only_a) <= 2 and 0 < len(only_b) <= 2) or len(a.title & b.title) < 2:
        return False
    return not (only_a & b.text) and not (only_b & a.text)


def _apart(a: Sketch, b: Sketch, p: _Pair) -> str | None:
    """Which guard keeps two alike articles apart, or ``None``:

    - ``"numbers"``: the titles' numbers differ and neither title's are a
      part of the other's: dates ("2021-03-24", "2021-03-31"), issue numbers,
      years (one title may leave a number out: "Over 40 minutes of footage
      leaked");
    - ``"names"``: one title names someone or something the other article
      never mentions ("Dorrol recalls its phone", "Bergorle recalls its
      phone"; "The best Rogue build", "The best class to play solo").  Strict
      on purpose: a story's coverage names its subject, and a title naming
      another one is what chains one story into the next;
    - ``"template"``: one publisher's template (:func:`templated`).
    """
    if (p.numbers_a or p.numbers_b) and not (_within(p.numbers_a, p.numbers_b) or _within(p.numbers_b, p.numbers_a)):
        return "numbers"
    if not p.names_a <= b.text or not p.names_b <= a.text:
        return "names"
    if templated(a, b):
        return "template"
    return None


def _within(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """Whether ``short`` is a subsequence of ``long``."""
    rest = iter(long)
    return all(any(n == m for m in rest) for n in short)


def why(a: Sketch, b: Sketch, settings: Settings) -> tuple[bool, str]:
    """Whether ``a`` and ``b`` are linked, and the reason in words (what
    ``aggregator explain`` prints)."""
    gap = abs(a.published - b.published)
    if gap > settings.window:
        return False, f"published {gap / 3600:.0f} h apart (window {settings.window / 3600:.0f} h)"
    if not (a.probe or b.probe or a.keys & b.keys):
        return False, "no shared key words"
    bar = settings.threshold
    supported = a.own in b.related or b.own in a.related
    if supported:
        bar -= RELATED_BONUS
    # Leaving the shared topics' words out only lowers a Jaccard similarity:
    # most candidates fail here, before the pair is built.
    if max(_jaccard(a.title, b.title), _jaccard(a.text, b.text)) < bar:
        return False, f"similarity {similarity(a, b):.2f} < {bar:.2f}"
    p = _pair(a, b)
    apart = _apart(a, b, p)
    if apart == "numbers":
        return False, f"different numbers ({' '.join(p.numbers_a)} / {' '.join(p.numbers_b)})"
    if apart == "names":
        unknown = (p.names_a - b.text) | (p.names_b - a.text)
        return False, f"names what the other never mentions ({' '.join(sorted(unknown))})"
    if apart == "template":
        return False, f"one template, other values ({' '.join(sorted(a.title - b.title))} / " \
                      f"{' '.join(sorted(b.title - a.title))})"
    score = _similarity(p)
    verdict = score >= bar
    support = " with a related link" if supported else ""
    return verdict, f"similarity {score:.2f} {'≥' if verdict else '<'} {bar:.2f}{support}"


def linked(a: Sketch, b: Sketch, settings: Settings) -> bool:
    """:func:`why`'s verdict, without its words: the same tests, the cheap
    ones first and the pair's sets built only when the shared topics require
    it (this runs for every candidate pair of a cold build)."""
    if abs(a.published - b.published) > settings.window:
        return False
    if a.probe or b.probe:
        if (a.probe and a.probe not in b.text) or (b.probe and b.probe not in a.text):
            return False  # what _apart says later, found cheaply: a name the other never mentions
    elif a.keys.isdisjoint(b.keys):
        return False
    bar = settings.threshold - RELATED_BONUS if a.own in b.related or b.own in a.related else settings.threshold
    title_a, title_b, text_a, text_b = a.title, b.title, a.text, b.text
    shared = len(title_a & title_b)
    alike = shared / (len(title_a) + len(title_b) - shared) if shared >= MIN_SHARED else 0.0
    shared = len(text_a & text_b)
    if shared >= MIN_SHARED:
        alike = max(alike, shared / (len(text_a) + len(text_b) - shared))
    if alike < bar:
        return False
    p = _pair(a, b)
    if _apart(a, b, p) is not None:
        return False
    return (alike if p.title_a is title_a else _similarity(p)) >= bar  # no shared topic: the sets as they are


def components(sketches: Iterable[Sketch], settings: Settings, *, in_order: bool = False) -> dict[str, str]:
    """Cluster id per article, for every article in a cluster of two or
    more (an article absent from the result is a story of its own): the
    connected components of the links, each named by its earliest member.

    Candidates are the pairs within the window that could be linked: one's
    probe among the other's words, or (neither has a probe) a shared key.
    Each is tried once and only while the two are still apart: in a big
    story most pairs are joined already by the time they come up.

    ``in_order``: ``sketches`` come in (published, id) order already, as a
    cold build streams them out of the state file; only the articles within
    a window either side of the one being linked are then held, so memory
    follows the window, not the archive (100,000 sketches held at once took
    300 MB)."""
    items = iter(sketches) if in_order else iter(sorted(sketches, key=pairs.order))
    ids: list[str] = []
    parent: list[int] = []

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for index, b, candidates, held in pairs.candidates(items, settings.window, ids):
        parent.extend(range(len(parent), index + 1))  # index is a root: only later articles join it
        for other in candidates:  # any order: components do not depend on it
            root_a = find(other)
            if root_a != index and linked(held[other], b, settings):
                parent[root_a] = index
    parent.extend(range(len(parent), len(ids)))
    groups: dict[int, list[int]] = {}
    for index in range(len(ids)):
        groups.setdefault(find(index), []).append(index)
    out: dict[str, str] = {}
    for members in groups.values():
        if len(members) > 1:
            anchor = ids[members[0]]  # the earliest: indices follow (published, id) order
            for index in members:
                out[ids[index]] = anchor
    return out

