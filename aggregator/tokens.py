"""Words as story clustering compares them (:mod:`aggregator.ranking.stories`):
made when an article is summarised, so the state keeps them per article."""

from __future__ import annotations

import re
import unicodedata
import zlib

GIST_WORDS = 24  # excerpt words kept per article (the state holds them: 1 KB/article budget)
_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"(?<=[.!?:;])\s+|\s+[-–—|]\s+")  # where a capital starts a sentence again

# Words that carry no story: articles, auxiliaries, pronouns, question words, and what
# the tokenizer leaves of contractions ("won't" is "won" and "t"), and a headline's boilerplate
# ("Report:", "sources say", "what we know"), which two different stories share as easily.
_STOP_TEXT = """
a about after again against all also am an and any are as at be been before being below between both but by
can could did do does doing don down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just let me more most my new no nor not now of off on once only or
other our out over own s same she should so some such t than that the their them then there these they this
those through to too under until up very vs was we were what when where which while who whom why will with
would you your
aren couldn didn doesn hadn hasn haven isn ll re shouldn ve wasn weren won wouldn
according allegedly breaking claimed confirmed confirms exclusive know latest official rumor rumour report
reportedly reports say says source sources update video watch
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def words(text: str) -> list[str]:
    """``text``'s content words, case-folded and NFKC-normalised ("Ⅳ" is
    "iv"), stop words left out, each reduced to a crude stem (:func:`stem`)."""
    return [w.lower() for w in _marked(text, headline=False)]


def stem(word: str) -> str:
    """``word`` without its inflection, so that "launches", "launched" and
    "launch" compare equal (and "release", "released", "releases"): plural
    or third person, then past or gerund, then a final ``e``; a stem keeps
    at least three letters.  Cruder than Porter's, and enough to compare
    headlines.  Memoised: a corpus repeats its words."""
    found = _STEMS.get(word)
    if found is not None:
        return found
    original = word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("ches", "shes", "sses", "xes")) and len(word) > 4:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if len(_STEMS) < _MEMO:
        _STEMS[original] = word
    return word


_STEMS: dict[str, str] = {}
_MEMO = 1 << 18  # words memoised per process


def _marked(text: str, *, headline: bool) -> list[str]:
    """The content words of ``text`` as :func:`words` makes them, each name
    (a word written with a capital inside a sentence: "Blizzard", "Druid")
    with a capital first letter.  A ``headline`` in Title Case (most of its
    words capitalised) shows no names."""
    out: list[str] = []
    capitals = 0
    for sentence in _SENTENCE.split(unicodedata.normalize("NFKC", text)):
        first = True
        for word in _WORD.findall(sentence):
            folded = word.casefold()
            if folded in STOP_WORDS or not word[0].isalpha():
                if folded not in STOP_WORDS:
                    out.append(stem(folded))  # a number: kept, never a name
                first = False
                continue
            stemmed = stem(folded)
            if word[0].isupper():
                capitals += 1
                if not first:
                    stemmed = stemmed.capitalize()
            first = False
            out.append(stemmed)
    if headline and len(out) >= 3 and capitals > 0.75 * len(out):
        return [w.lower() for w in out]
    return out


def gist(title: str, summary: str) -> str:
    """What the state keeps of an article for clustering, made once when it
    is summarised: its title's content words, its excerpt's first distinct
    content words, and the names among them, each list space-separated,
    lowercase, the three joined by ``|``."""
    head = _marked(title, headline=True)
    kept: dict[str, None] = {}
    for word in _marked(summary, headline=False):
        kept[word] = None
        if len(kept) >= GIST_WORDS:
            break
    named = dict.fromkeys(w.lower() for w in (*head, *kept) if w[0].isupper())
    return "|".join((" ".join(dict.fromkeys(w.lower() for w in head)), " ".join(w.lower() for w in kept),
                     " ".join(named)))


def url_hash(url: str) -> int:
    return zlib.crc32(url.encode("utf-8", "surrogatepass"))
