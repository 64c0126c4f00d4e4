"""Deterministic generator of realistic article corpora for the benchmark.

Usage::

    python bench/generate.py OUT_DIR --count 100000 [--seed 1] [--start 0] [--stories TRUTH.json]

Writes article files in the project's input format (YAML front matter between ``---`` lines,
then an optional body) to ``OUT_DIR/dNNNN/NNNNNNN_<hex>.md``, 1000 files per folder.

Every file depends only on ``(seed, index)``: ``--start N --count K`` writes exactly the files
that a larger corpus would hold at indices ``N .. N+K-1``, which is how the driver adds
"100 new files" to an existing corpus without regenerating it.  Publication dates grow with the
index (an archive grows at its newest end), so added files are the newest ones, as in real life.

What the corpus contains and why (mirrors /work/shared/realdata, see /work/shared/REALDATA.md):

* Zipf-distributed topics over a few hundred names (a few non-ASCII), 1-4 per article, so a few
  feeds are huge and most are small -- the shape that makes per-topic top-k ranking matter.
* ~30 % of files carry a body of a few KB, half Markdown and half HTML; the rest are front matter
  only, like the real ``_news`` files.
* related lists (0-6), ``secured`` blobs, images, providers (sometimes with relative image
  paths), ``type: video`` with an iframe in ``featuredContent``, optional ``updatedDateTime``,
  ``tags``, AMP URLs, ``published: false``, rare ``removed: true``, quality 0-200 or missing,
  ``heat: -1``, null items in ``topics``, escaped quotes and ``\\n`` in quoted strings, unquoted
  titles, non-ASCII URLs, CRLF line endings in some files, and the same URL in several files
  (with different topics and dates) so duplicate detection is exercised.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

FILES_PER_DIR = 1000

# --- vocabularies, built once at import time (deterministic, independent of the seed) ------------

_SYLLABLES = [
    "ka",
    "ri",
    "to",
    "na",
    "mi",
    "so",
    "le",
    "ver",
    "dan",
    "tor",
    "pel",
    "qua",
    "sim",
    "bra",
    "cor",
    "dex",
    "fin",
    "gal",
    "hon",
    "jus",
    "lum",
    "mor",
    "nex",
    "pra",
    "quin",
    "rol",
    "sta",
    "tre",
    "umb",
    "vol",
    "wex",
    "yor",
    "zan",
    "ber",
    "cal",
    "dor",
    "fen",
    "gor",
    "hal",
]
_COMMON = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "for",
    "on",
    "with",
    "new",
    "how",
    "why",
    "what",
    "is",
    "are",
    "from",
    "by",
    "at",
    "as",
    "its",
    "this",
    "that",
    "will",
    "can",
    "more",
    "about",
    "after",
    "over",
    "launch",
    "update",
    "report",
    "data",
    "cloud",
    "model",
    "game",
    "app",
    "team",
    "release",
    "build",
    "open",
    "source",
    "users",
    "first",
    "best",
    "guide",
    "review",
    "study",
    "says",
    "week",
    "year",
]


def _make_words() -> list[str]:
    """A fixed vocabulary of pseudo-words: common English words plus generated ones."""
    rng = random.Random(12345)
    words = list(_COMMON) * 3  # common words weigh more, as in real headlines
    for _ in range(1500):
        words.append("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))))
    return words


WORDS = _make_words()

_TOPIC_BASES = [
    "AI",
    "Machine Learning",
    "Deep Learning",
    "Computer Vision",
    "Robotics",
    "Cloud Computing",
    "Kubernetes",
    "Python",
    "Rust",
    "Go",
    "JavaScript",
    "TypeScript",
    "Power Apps",
    "Power Automate",
    "Dynamics 365",
    "Azure",
    "AWS",
    "Google Cloud",
    "Diablo 4",
    "Overwatch",
    "StarCraft",
    "World of Warcraft",
    "Xbox",
    "PlayStation",
    "Nintendo",
    "Esports",
    "Climate",
    "Energy",
    "Solar",
    "Batteries",
    "Electric Vehicles",
    "Space",
    "Mars",
    "Astronomy",
    "Biology",
    "Genomics",
    "Medicine",
    "Vaccines",
    "Mental Health",
    "Nutrition",
    "Fitness",
    "Running",
    "Cycling",
    "Football",
    "Basketball",
    "Tennis",
    "Chess",
    "Music",
    "Film",
    "Television",
    "Books",
    "Photography",
    "Design",
    "Architecture",
    "Travel",
    "Food",
    "Coffee",
    "Wine",
    "Finance",
    "Crypto",
    "Startups",
    "Venture Capital",
    "Economy",
    "Jobs",
    "Education",
    "Security",
    "Privacy",
    "Open Source",
    "Linux",
    "Databases",
    "Quantum Computing",
    "Semiconductors",
    "Networking",
    "5G",
    "Smartphones",
    "Wearables",
    "Drones",
]
_TOPIC_QUALIFIERS = ("", "News", "Research", "Industry", "Policy", "Tutorials", "Events", "Europe", "Asia")
_NON_ASCII_TOPICS = (
    "Café Culture",
    "Künstliche Intelligenz",
    "機械学習",
    "Économie",
    "Ciência de Dados",
    "Москва",
    "Smörgåsbord",
    "Ñandú Studies",
    "Straße & Verkehr",
    "人工知能",
    "Zürich Tech",
    "Ελληνικά",
)


def _make_topics() -> list[str]:
    """About 300 topic names; the order defines the Zipf rank (index 0 is the most popular)."""
    rng = random.Random(777)
    bases = sorted(set(_TOPIC_BASES))
    # The plain base names come first (the popular ranks), combinations fill the long tail.
    names: list[str] = list(bases)
    rng.shuffle(names)
    seen: set[str] = set(names)
    while len(names) < 290:
        base = rng.choice(bases)
        if rng.random() < 0.35:
            base = f"{base} {rng.choice(bases)}"
        qual = rng.choice(_TOPIC_QUALIFIERS)
        name = f"{base} {qual}".strip()
        if name not in seen:
            seen.add(name)
            names.append(name)
    # Non-ASCII names at mixed ranks: two of them popular, the rest in the long tail.
    for k, name in enumerate(_NON_ASCII_TOPICS):
        names.insert(3 + k * 23, name)
    return names


TOPICS = _make_topics()
# Zipf with exponent 1.0: the first topic gets ~16 % of the mentions, the 300th ~0.05 %.
_TOPIC_CUM = list(accumulate(1.0 / (rank + 1) for rank in range(len(TOPICS))))


def _make_providers() -> list[tuple[str, str]]:
    """(name, domain) pairs; a few with non-ASCII names."""
    rng = random.Random(4242)
    out: list[tuple[str, str]] = []
    tlds = ("com", "org", "net", "io", "co.uk", "de", "fr", "jp")
    for i in range(220):
        stem = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
        name = stem.capitalize() + rng.choice(("", " News", " Daily", " Times", " Labs", " Post", ""))
        if i % 37 == 5:
            name = name + " Médias"
        out.append((name, f"{stem}.{rng.choice(tlds)}"))
    return out


PROVIDERS = _make_providers()
_PROVIDER_CUM = list(accumulate(1.0 / (rank + 1) ** 0.8 for rank in range(len(PROVIDERS))))

_EPOCH = datetime(2016, 1, 1, tzinfo=UTC)


# --- helpers -----------------------------------------------------------------------------------------


def q(text: str) -> str:
    """A YAML double-quoted scalar.  JSON string syntax is valid YAML double-quoted syntax."""
    return json.dumps(text, ensure_ascii=False)


def sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = rng.choices(WORDS, k=rng.randint(lo, hi))
    words[0] = words[0].capitalize()
    return " ".join(words)


def stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=1 << 16)  # pure; related entries revisit recent indices
def published_at(seed: int, index: int) -> datetime:
    """Dates grow with the index (about 20 minutes per article) with a little jitter."""
    rng = random.Random(f"{seed}:{index}:date")
    return _EPOCH + timedelta(minutes=index * 20 + rng.randint(-600, 600), seconds=rng.randint(0, 59))


@functools.lru_cache(maxsize=1 << 16)
def url_for(seed: int, index: int) -> tuple[str, str, str]:
    """(webUrl, provider name, provider domain) of an article; a separate stream so that a later
    file can reuse an earlier file's URL without regenerating that whole file."""
    rng = random.Random(f"{seed}:{index}:url")
    name, domain = rng.choices(PROVIDERS, cum_weights=_PROVIDER_CUM)[0]
    slug = "-".join(rng.choices(WORDS, k=rng.randint(3, 7))).lower()
    if rng.random() < 0.03:
        slug += "-café-größe"  # non-ASCII path, left unencoded as in the real data
    day = published_at(seed, index)
    return f"https://www.{domain}/{day:%Y/%m}/{slug}-{index:x}", name, domain


def secured_blob(rng: random.Random) -> str:
    raw = base64.b64encode(rng.randbytes(rng.randint(280, 420))).decode()
    return f"{raw};{base64.b64encode(rng.randbytes(16)).decode()}"


def markdown_body(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(4, 11)):
        kind = rng.random()
        if kind < 0.15:
            parts.append("## " + sentence(rng, 2, 6))
        elif kind < 0.3:
            parts.append("\n".join(f"- {sentence(rng, 4, 12)}" for _ in range(rng.randint(2, 5))))
        else:
            text = sentence(rng, 60, 150) + "."
            if rng.random() < 0.5:
                text += f" See [{sentence(rng, 2, 4)}](https://example.com/{rng.randint(1, 99999)})."
            if rng.random() < 0.2:
                text += " Some *emphasis* and `code` and **bold** text."
            parts.append(text)
    return "\n\n".join(parts) + "\n"


def html_body(rng: random.Random) -> str:
    parts: list[str] = ['<div class="article">']
    for _ in range(rng.randint(4, 11)):
        kind = rng.random()
        if kind < 0.15:
            parts.append(f"<h2>{sentence(rng, 2, 6)}</h2>")
        elif kind < 0.3:
            items = "".join(f"<li>{sentence(rng, 4, 12)}</li>" for _ in range(rng.randint(2, 5)))
            parts.append(f"<ul>{items}</ul>")
        elif kind < 0.36:
            parts.append(
                f'<p><img src="/images/{rng.randint(1, 9999)}.jpg" alt="{sentence(rng, 1, 3)}"'
                ' onerror="alert(1)"></p>'  # hostile attribute: the sanitiser must remove it
            )
        else:
            text = sentence(rng, 60, 150)
            if rng.random() < 0.5:
                text += f' <a href="https://example.com/{rng.randint(1, 99999)}">{sentence(rng, 2, 4)}</a>.'
            parts.append(f"<p>{text} &amp; more.</p>")
    if rng.random() < 0.1:
        parts.append("<script>document.write('tracking')</script>")
    parts.append("</div>")
    return "\n".join(parts) + "\n"


def related_entry(rng: random.Random, seed: int, index: int) -> list[str]:
    other = rng.randint(max(0, index - 5000), index + 200)
    url, pname, pdomain = url_for(seed, other)
    lines = [
        f"  - title: {q(sentence(rng, 5, 14))}",
        f"    excerpt: {q(sentence(rng, 30, 50) + ' ...')}",
        f"    publishedDateTime: {stamp(published_at(seed, other))}",
        f"    webUrl: {q(url)}",
        "    type: article",
        "    provider:",
        f"      name: {pname}",
        f"      domain: {pdomain}",
        f"    quality: {rng.randint(0, 200)}",
    ]
    if rng.random() < 0.5:
        lines += [
            "    images:",
            f'      - url: "https://cdn.{pdomain}/img/{rng.getrandbits(40):x}.jpg"',
            f"        width: {rng.choice((640, 800, 1280, 1920))}",
            f"        height: {rng.choice((360, 450, 720, 1080))}",
            "        isCached: true",
        ]
    return lines


def article(seed: int, index: int) -> tuple[str, str]:
    """(file name, file text) of article ``index``."""
    rng = random.Random(f"{seed}:{index}")
    when = published_at(seed, index)
    # ~1.5 % of files republish the URL of a recent earlier file: same story, other topics/date.
    if index > 50 and rng.random() < 0.015:
        url, pname, pdomain = url_for(seed, index - rng.randint(1, 50))
    else:
        url, pname, pdomain = url_for(seed, index)

    title = sentence(rng, 4, 14)
    if rng.random() < 0.1:
        title = f'{title} "{rng.choice(WORDS)}" {rng.choice(WORDS)}'  # escaped quotes
    if rng.random() < 0.05:
        title += " – Café"
    excerpt = sentence(rng, 25, 55) + " ..."
    if rng.random() < 0.05:
        excerpt = excerpt.replace(" ", "\n", 1)  # an escaped \n in a quoted string

    lines = ["---", "category: news"]
    # Unquoted titles occur in the real data; only safe when plain-scalar-safe.
    if rng.random() < 0.05 and title.replace(" ", "").isalnum():
        lines.append(f"title: {title}")
    else:
        lines.append(f"title: {q(title)}")
    lines.append(f"excerpt: {q(excerpt)}")
    lines.append(f"publishedDateTime: {stamp(when)}")
    if rng.random() < 0.1:
        lines.append(f"updatedDateTime: {stamp(when + timedelta(hours=rng.randint(1, 72)))}")
    lines.append(f"originalUrl: {q(url)}")
    if rng.random() < 0.95:
        lines.append(f"webUrl: {q(url)}")
    if rng.random() < 0.25:
        lines.append(f'ampWebUrl: "{url}/amp"')
        lines.append(
            f'cdnAmpWebUrl: "https://{pdomain.replace(".", "-")}.cdn.ampproject.org/c/s/{url[8:]}/amp"'
        )
    is_video = rng.random() < 0.08
    lines.append(f"type: {'video' if is_video else 'article'}")
    if rng.random() < 0.94:
        lines.append(f"quality: {rng.randint(0, 200)}")
        lines.append(f"heat: {-1 if rng.random() < 0.8 else rng.randint(0, 300)}")
        lines.append(f"published: {'false' if rng.random() < 0.12 else 'true'}")
    if rng.random() < 0.002:
        lines.append("removed: true")
    lines.append("")
    if is_video:
        vid = base64.urlsafe_b64encode(rng.randbytes(8)).decode()[:11]
        iframe = (
            f'<iframe width="800" height="500" frameborder="0" src="https://www.youtube.com/embed/{vid}" '
            'allow="accelerometer; autoplay; encrypted-media" allowfullscreen></iframe>'
        )
        lines += [f"featuredContent: {q(iframe)}", ""]

    lines += ["provider:", f"  name: {pname}", f"  domain: {pdomain}"]
    if rng.random() < 0.3:
        # Relative provider image paths occur in the real data.
        img = f"/assets/images/organizations/{pdomain}-50x50.jpg"
        if rng.random() < 0.5:
            img = f"https://cdn.example.org{img}"
        lines += ["  images:", f'    - url: "{img}"', "      width: 50", "      height: 50"]
    lines.append("")

    ntopics = rng.choices((1, 2, 3, 4), weights=(40, 35, 17, 8))[0]
    topics = list(dict.fromkeys(rng.choices(TOPICS, cum_weights=_TOPIC_CUM, k=ntopics)))
    lines.append("topics:")
    lines += [f"  - {t}" for t in topics]
    if rng.random() < 0.01:
        lines.append("  - ")  # a null item, as in the real data
    lines.append("")

    if rng.random() < 0.2:
        lines.append("tags:")
        lines += [f"  - {w}" for w in dict.fromkeys(rng.choices(WORDS, k=rng.randint(1, 4)))]
        lines.append("")

    if rng.random() < 0.92:
        lines.append("images:")
        for _ in range(rng.choices((1, 2), weights=(85, 15))[0]):
            lines.append(f'  - url: "https://cdn.{pdomain}/uploads/{when:%Y/%m}/{rng.getrandbits(48):x}.jpg"')
            lines.append(f"    width: {rng.choice((600, 800, 1200, 1280, 1920))}")
            lines.append(f"    height: {rng.choice((400, 450, 675, 720, 1080))}")
            if rng.random() < 0.1:
                lines.append(f"    title: {q(sentence(rng, 2, 6))}")
            lines.append("    isCached: true")
        lines.append("")

    nrelated = rng.choices(range(7), weights=(43, 2, 3, 5, 8, 15, 24))[0]
    if nrelated:
        lines.append("related:")
        for _ in range(nrelated):
            lines += related_entry(rng, seed, index)
        lines.append("")

    lines.append(f"secured: {q(secured_blob(rng))}")
    lines.append("---")
    body = ""
    roll = rng.random()
    if roll < 0.15:
        body = markdown_body(rng)
    elif roll < 0.30:
        body = html_body(rng)
    text = "\n".join(lines) + "\n" + body
    if rng.random() < 0.03:
        text = text.replace("\n", "\r\n")  # CRLF files exist in the real data
    return f"{index:07d}_{rng.getrandbits(32):08x}.md", text


# --- story mode: one event covered by many providers, and look-alikes that are not one story -----------

_VERBS = (  # (present, infinitive, past participle, noun), so providers can word one event differently
    ("acquires", "acquire", "acquired", "acquisition"), ("delays", "delay", "delayed", "delay"),
    ("recalls", "recall", "recalled", "recall"), ("launches", "launch", "launched", "launch"),
    ("cancels", "cancel", "cancelled", "cancellation"), ("settles", "settle", "settled", "settlement"),
    ("unveils", "unveil", "unveiled", "unveiling"), ("bans", "ban", "banned", "ban"),
    ("sues", "sue", "sued", "lawsuit"), ("patches", "patch", "patched", "patch"),
)
_OBJECTS = ("flagship phone", "game", "data centre", "chip plant", "subscription plan", "browser", "satellite",
            "electric truck", "streaming service", "operating system", "vaccine", "drone", "headset", "search tool")
_DETAILS = ("investors", "regulators", "customers", "analysts", "employees", "shares", "billion", "quarter",
            "court", "outage", "security", "price", "europe", "lawmakers", "engineers", "suppliers", "contract")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_STORY_SPACING_MIN = 75  # minutes between two stories' first articles: ~72 articles a day, as the default corpus


def _entity(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


@functools.lru_cache(maxsize=4)
def _story_plan(seed: int, count: int) -> tuple[tuple[int, int, int], ...]:
    """Per article index: (story, member, story size).  Stories come one after
    another from a seeded stream, so a larger corpus starts with the same plan."""
    rng = random.Random(f"{seed}:story-plan")
    plan: list[tuple[int, int, int]] = []
    story = 0
    while len(plan) < count:
        roll = rng.random()
        if roll < 0.45:
            size = 1
        elif roll < 0.75:
            size = rng.randint(2, 4)
        else:
            size = min(40, int(rng.paretovariate(1.2) * 4))
        plan += [(story, member, size) for member in range(size)]
        story += 1
    return tuple(plan[:count])


def _story_title(rng: random.Random, who: str, what: str, verb: tuple[str, str, str, str], amount: int,
                 style: int) -> str:
    present, base, past, noun = verb
    return [
        f"{who} {present} {what}",
        f"{who} {present} its {what} after {amount} days",
        f"Report: {who} {present} {what}",
        f"{who} confirms it {past} the {what}",
        f"{what.capitalize()} {past} by {who}",
        f"{who}'s {what} {noun}: what we know",
        f"Why {who} {past} its {what}",
        f"{who} will {base} {what}, sources say",
    ][style % 8]


def _lookalike(rng: random.Random, seed: int, story: int, when: datetime) -> tuple[str, str, str, str]:
    """(title, excerpt, provider name, provider domain) of a templated notice: a series whose
    instances share their wording, each its own story."""
    kind = story % 4
    named = random.Random(f"{seed}:{story}:product")
    product = f"{_entity(named)} {named.choice(('Server', 'Cloud', 'Studio', 'Mobile'))}"
    date = f"{_MONTHS[when.month - 1]} {when.day}, {when.year + 1}"
    if kind == 0:
        return (f"Support for {product} is ending on {date}",
                f"After {date}, {product} will no longer receive security updates or technical support. "
                "Customers should plan their upgrade now.", "Kasoft Support", "support.kasoft.com")
    if kind == 1:
        return (f"{product} will be retired on {date}",
                f"We are retiring {product} on {date}. Existing deployments keep working until then; "
                "see the migration guide for the replacement.", "Kasoft Blog", "blog.kasoft.com")
    if kind == 2:
        day = _EPOCH + timedelta(days=story)  # one page per date
        return (f"Stats ({day:%Y-%m-%d})", f"The numbers of the week ending {day:%B %d, %Y}: visitors, "
                "downloads and the most read articles.", "Stats Weekly", "stats.example.net")
    return (f"The Tomorin Letter #{story}", f"Issue {story} of the weekly Tomorin Letter: this week's picks, "
            "links and the reader question.", "Tomorin", "tomorin.example.org")


def story_article(seed: int, index: int, count: int) -> tuple[str, str, int]:
    """(file name, file text, story id) of article ``index`` of a story corpus of ``count``."""
    story, member, size = _story_plan(seed, max(count, index + 1))[index]
    srng = random.Random(f"{seed}:{story}:story")  # what every member of the story shares
    rng = random.Random(f"{seed}:{index}:member")
    first = _EPOCH + timedelta(minutes=story * _STORY_SPACING_MIN)
    when = first + timedelta(minutes=0 if member == 0 else rng.randint(10, 60 * 60))  # over a few days
    topics = list(dict.fromkeys(srng.choices(TOPICS, cum_weights=_TOPIC_CUM, k=srng.choice((1, 1, 2)))))
    if size == 1 and srng.random() < 0.4:
        title, excerpt, pname, pdomain = _lookalike(rng, seed, story, first)
    else:
        who, what = _entity(srng), srng.choice(_OBJECTS)
        verb, amount = srng.choice(_VERBS), srng.randint(3, 90)
        # What the story is about beyond its headline: words of its own, and a few common ones.
        details = srng.sample(_DETAILS, 2) + [srng.choice(WORDS[len(_COMMON) * 3:]) for _ in range(6)]
        title = _story_title(rng, who, what, verb, amount, rng.randrange(8) if member else 0)
        said = rng.sample(details, 5)
        excerpt = (f"{sentence(rng, 3, 8)} {who} {rng.choice(verb[:3])} the {what}. {' '.join(said)}, "
                   f"{sentence(rng, 6, 14).lower()} ...")
        pname, pdomain = PROVIDERS[(srng.randrange(len(PROVIDERS)) + member * 7) % len(PROVIDERS)]
    url = f"https://www.{pdomain}/{when:%Y/%m}/{story}-{member}-{rng.getrandbits(24):06x}"
    lines = ["---", "category: news", f"title: {q(title)}", f"excerpt: {q(excerpt)}",
             f"publishedDateTime: {stamp(when)}", f"webUrl: {q(url)}", "type: article",
             f"quality: {rng.randint(0, 200)}", "heat: -1", "published: true", "",
             "provider:", f"  name: {pname}", f"  domain: {pdomain}", "", "topics:"]
    lines += [f"  - {t}" for t in topics]
    lines += ["", "images:", f'  - url: "https://cdn.{pdomain}/img/{rng.getrandbits(40):x}.jpg"',
              "    width: 1200", "    height: 675", ""]
    lines += [f"secured: {q(secured_blob(rng))}", "---"]
    return f"{index:07d}_{rng.getrandbits(32):08x}.md", "\n".join(lines) + "\n", story


def write_corpus(out: Path, count: int, seed: int = 1, start: int = 0, *,
                 truth: dict[str, int] | None = None) -> tuple[list[Path], int]:
    """Write articles ``start .. start+count-1`` under ``out``; return (paths, total bytes).
    With ``truth`` (a dict to fill), write a story corpus and record each file's story there
    (its path relative to ``out`` -> story id)."""
    paths: list[Path] = []
    total = 0
    made: set[int] = set()
    for index in range(start, start + count):
        folder = out / f"d{index // FILES_PER_DIR:04d}"
        if index // FILES_PER_DIR not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(index // FILES_PER_DIR)
        if truth is None:
            name, text = article(seed, index)
        else:
            name, text, story = story_article(seed, index, start + count)
            truth[f"{folder.name}/{name}"] = story
        data = text.encode("utf-8")
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
        total += len(data)
    return paths, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output folder (created if missing)")
    parser.add_argument("--count", type=int, required=True, help="number of files to write")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--start", type=int, default=0, help="index of the first file (to add files)")
    parser.add_argument("--stories", type=Path, metavar="TRUTH.json",
                        help="write a story corpus (events covered by many providers, templated look-alike "
                             "notices and numbered newsletters) and its ground truth, {file: story id}, here "
                             "(outside OUT_DIR, so that a build of OUT_DIR does not read it)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    truth: dict[str, int] | None = {} if args.stories else None
    paths, total = write_corpus(args.out, args.count, args.seed, args.start, truth=truth)
    if args.stories and truth is not None:
        known = json.loads(args.stories.read_text("utf-8")) if args.start and args.stories.exists() else {}
        args.stories.write_text(json.dumps({**known, **truth}, sort_keys=True, indent=0), "utf-8")
    elapsed = time.perf_counter() - t0
    avg = total / max(1, len(paths))
    print(
        f"wrote {len(paths)} files, {total / 1e6:.1f} MB, average {avg / 1024:.2f} KiB ({avg:.0f} B) "
        f"per file, in {elapsed:.1f} s ({len(paths) / max(elapsed, 1e-9):.0f} files/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
