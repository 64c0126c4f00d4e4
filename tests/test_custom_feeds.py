"""Custom feeds (``custom_feeds:`` in the config) through the whole build.

Every build goes through the public API (``load_config`` + ``build``) or the
CLI, and every output folder is checked with ``specs.check_output_folder``;
a feed's items are read back from all three formats (strict ``json`` for
JSON Feed, feedparser for RSS and Atom), which must agree.

Each filter condition gets an article that passes it (in the feed) and one
that fails it (left out); a hypothesis property checks random filters
against an independent model of the README's rules.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from specs import check_output_folder
from support import NOW, Project

from aggregator import load_config
from aggregator.build.frame import build
from aggregator.report import Report

BASE = "https://example.org/feeds/"
NOW_DT = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
HALF_LIFE = 3 * 86400.0  # ranking.half_life default
DEFAULT_QUALITY = 50.0  # ranking.default_quality default


# -- helpers ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """One article file, with every field a custom-feed filter looks at."""

    n: int
    title: str = "Plain title"
    topics: tuple[str, ...] = ("AI",)
    quality: float | None = 50
    provider: str | None = None  # provider name
    pdomain: str | None = None  # provider domain
    host: str = "example.com"  # host of the link
    category: str | None = None
    kind: str | None = None  # front matter ``type``
    published: bool | None = None
    seconds: int = 0  # before NOW
    key: int | None = None  # the number in the URL (default ``n``): posts with one key are copies of one URL

    @property
    def url(self) -> str:
        return f"https://{self.host}/a/{self.n if self.key is None else self.key}"

    @property
    def id(self) -> str:
        """The item id: the canonical URL (host in lower case)."""
        return f"https://{self.host.lower()}/a/{self.n if self.key is None else self.key}"

    @property
    def when(self) -> datetime:
        return NOW_DT - timedelta(days=30, seconds=self.seconds)

    def text(self) -> str:
        fields: dict[str, Any] = {
            "title": self.title,
            "webUrl": self.url,
            "publishedDateTime": self.when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "topics": list(self.topics),
        }
        if self.quality is not None:
            fields["quality"] = self.quality
        if self.provider is not None:
            fields["provider"] = {"name": self.provider, **({"domain": self.pdomain} if self.pdomain else {})}
        if self.category is not None:
            fields["category"] = self.category
        if self.kind is not None:
            fields["type"] = self.kind
        if self.published is not None:
            fields["published"] = self.published
        # JSON is YAML: one key per line, every value quoted exactly.
        lines = [f"{key}: {json.dumps(value)}" for key, value in fields.items()]
        return "---\n" + "\n".join(lines) + "\n---\nBody.\n"


def write_site(project: Project, posts: list[Post], custom: list[dict[str, Any]], extra: str = "",
               stories: bool = False) -> None:
    """The posts share titles on purpose (the filters match on them), so
    story clustering, which would show them as one item, is off unless
    ``stories`` (tests/test_stories.py covers clustering in custom feeds)."""
    for post in posts:
        project.add(f"a{post.n:03d}.md", post.text())
    if not stories:
        extra = extra.replace("ranking: {", "ranking: {clusters: {enabled: false}, ") if "ranking: {" in extra \
            else extra + "ranking: {clusters: {enabled: false}}\n"
    project.write_config(extra + "custom_feeds: " + json.dumps(custom) + "\n")


def build_site(project: Project) -> tuple[Report, dict[str, Any]]:
    report = build(load_config(project.config), now=NOW_DT)
    assert report.exit_code == 0, [str(p) for p in report.problems]
    return report, check_output_folder(project.out)


def feed_ids(out: Path, stem: str) -> list[str]:
    """The item ids of ``stem``.json, .xml and .atom (which must agree), in feed order."""
    data = json.loads((out / f"{stem}.json").read_bytes())
    ids = [str(item["id"]) for item in data["items"]]
    for suffix in (".xml", ".atom"):
        parsed = feedparser.parse((out / f"{stem}{suffix}").read_bytes())
        assert not parsed.bozo, (stem + suffix, parsed.get("bozo_exception"))
        assert [entry.id for entry in parsed.entries] == ids, f"{stem}{suffix} disagrees with {stem}.json"
    return ids


def custom_ids(project: Project, slug: str) -> list[str]:
    return feed_ids(project.out, f"custom/{slug}")


# -- files and listings -------------------------------------------------------------------------------------------


class _Sections(HTMLParser):
    """Collects every element id of index.html, the text of the <h3> of each
    section with an id, and every href."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: Counter[str] = Counter()
        self.headings: dict[str, str] = {}
        self.hrefs: list[str] = []
        self._section: str | None = None
        self._in_h3 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids[str(attributes["id"])] += 1
        if attributes.get("href"):
            self.hrefs.append(str(attributes["href"]))
        if tag == "section":
            self._section = attributes.get("id")
        elif tag == "h3" and self._section:
            self._in_h3 = True
            self.headings[self._section] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "h3":
            self._in_h3 = False
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._in_h3 and self._section:
            self.headings[self._section] += data


def parse_index(out: Path) -> _Sections:
    parser = _Sections()
    parser.feed((out / "index.html").read_text("utf-8"))
    parser.close()
    return parser


def opml_outlines(out: Path) -> dict[str, dict[str, str]]:
    """xmlUrl -> attributes of every outline of index.opml and topics.opml."""
    found = {}
    for name in ("index.opml", "topics.opml"):
        root = ET.fromstring((out / name).read_bytes())
        assert root.tag == "opml" and root.get("version") == "2.0"
        found.update({str(o.get("xmlUrl")): dict(o.attrib) for o in root.iter("outline") if o.get("xmlUrl")})
    return found


def test_custom_feed_files_manifest_opml_and_index(project: Project) -> None:
    posts = [Post(1, "Model one", quality=80), Post(2, "Other", topics=("Robots",)),
             Post(3, "Model two", topics=("ai",), quality=70, seconds=3600)]
    custom = [{"name": "Best AI picks", "slug": "best-ai", "topics": ["AI"], "min_quality": 60},
              {"name": "Robot News"}]  # slug made from the name
    write_site(project, posts, custom)
    _report, manifest = build_site(project)

    for slug in ("best-ai", "robot-news"):
        assert sorted(p.name for p in (project.out / "custom").glob(f"{slug}.*")) == \
            [f"{slug}.atom", f"{slug}.html", f"{slug}.json", f"{slug}.xml"]
    entries = {f["slug"]: f for f in manifest["feeds"] if f["kind"] == "custom"}
    assert set(entries) == {"best-ai", "robot-news"}
    best = entries["best-ai"]
    assert best["title"] == "Best AI picks" and best["topic"] is None and best["items"] == 2
    assert best["files"] == {"rss": "custom/best-ai.xml", "atom": "custom/best-ai.atom",
                             "json": "custom/best-ai.json", "html": "custom/best-ai.html"}
    assert best["updated"] == posts[0].when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert custom_ids(project, "best-ai") == [posts[0].id, posts[2].id]
    assert len(custom_ids(project, "robot-news")) == 3  # no condition: every eligible article

    json_feed = json.loads((project.out / "custom/best-ai.json").read_bytes())
    assert json_feed["title"] == "Best AI picks"
    assert json_feed["feed_url"] == BASE + "custom/best-ai.json"
    assert json_feed["home_page_url"] == BASE + "custom/best-ai.html"

    outlines = opml_outlines(project.out)
    for slug, name in (("best-ai", "Best AI picks"), ("robot-news", "Robot News")):
        outline = outlines[BASE + f"custom/{slug}.xml"]
        assert outline["title"] == name and outline["type"] == "rss"
        assert outline["htmlUrl"] == BASE + f"custom/{slug}.html"

    index = parse_index(project.out)
    assert index.ids["custom.best-ai"] == 1 and index.ids["custom.robot-news"] == 1
    assert index.headings["custom.best-ai"] == "Best AI picks"
    assert index.headings["custom.robot-news"] == "Robot News"
    for suffix in (".xml", ".atom", ".json"):
        assert f"custom/best-ai{suffix}" in index.hrefs
    anchors_lead_to_their_feeds(project.out)


def anchors_lead_to_their_feeds(out: Path) -> None:
    """Every OPML outline's htmlUrl is the feed's own page, whose title names
    the feed; every feed's section of index.html links to that page."""
    index = parse_index(out)
    for outline in opml_outlines(out).values():
        page = outline["htmlUrl"]
        assert page.startswith(BASE) and page.endswith(".html") and "#" not in page, outline
        html = (out / page[len(BASE):]).read_text("utf-8")
        assert "<h1 dir=\"auto\">" in html and outline["xmlUrl"] in html, outline
        assert page[len(BASE):] in index.hrefs, outline


def test_custom_anchor_is_the_custom_feed_even_next_to_a_topic_named_like_it(project: Project) -> None:
    # The topic "Custom Best" is slugged "custom-best": the very anchor of the custom feed "best".
    write_site(project, [Post(1, "About it", topics=("Custom Best",))], [{"name": "Best of all", "slug": "best"}])
    _report, manifest = build_site(project)
    assert [f["title"] for f in manifest["feeds"] if f["kind"] == "custom"] == ["Best of all"]
    outline = opml_outlines(project.out)[BASE + "custom/best.xml"]
    assert outline["htmlUrl"] == BASE + "custom/best.html"
    assert parse_index(project.out).ids["custom.best"] == 1  # the anchor stays the custom feed's, as documented
    anchors_lead_to_their_feeds(project.out)


def test_no_custom_feeds_no_custom_folder(project: Project) -> None:
    project.add("a.md", Post(1).text())
    _report, manifest = build_site(project)
    assert not (project.out / "custom").exists()
    assert not [f for f in manifest["feeds"] if f["kind"] == "custom"]


# -- one test per condition: a passing article is in, a failing one is out -------------------------------------

CASES: list[tuple[str, dict[str, Any], list[tuple[Post, bool]]]] = [
    ("topics-any", {"topics": ["ai", "ROBOTS"]}, [
        (Post(1, topics=("AI",)), True),
        (Post(2, topics=("robots", "Biology")), True),
        (Post(3, topics=("Biology",)), False),
        (Post(4, topics=()), False),
    ]),
    ("topics-all", {"topics": ["AI", "robots"], "topics_match": "all"}, [
        (Post(1, topics=("ai", "Robots", "Biology")), True),
        (Post(2, topics=("AI",)), False),
        (Post(3, topics=("Robots",)), False),
    ]),
    ("topics-spacing", {"topics": ["machine   LEARNING"]}, [
        (Post(1, topics=("Machine Learning",)), True),
        (Post(2, topics=("Machine",)), False),
    ]),
    ("min-quality", {"min_quality": 60}, [
        (Post(1, quality=60), True),  # at least: the bound itself passes
        (Post(2, quality=95.5), True),
        (Post(3, quality=59.9), False),
        (Post(4, quality=None), False),  # default quality 50
    ]),
    ("providers", {"providers": ["alpha", "Gamma News"]}, [
        (Post(1, provider="Alpha"), True),
        (Post(2, provider="GAMMA NEWS"), True),
        (Post(3, provider="Beta"), False),
        (Post(4, provider=None, host="alpha.com"), False),  # no provider name at all
    ]),
    ("exclude-providers", {"exclude_providers": ["BETA"]}, [
        (Post(1, provider="Alpha"), True),
        (Post(2, provider=None), True),
        (Post(3, provider="beta"), False),
        (Post(4, provider="Beta"), False),
    ]),
    ("domains", {"domains": ["Alpha.com"]}, [
        (Post(1, provider="A", pdomain="alpha.com", host="mirror.example.net"), True),
        (Post(2, provider="A", pdomain="news.alpha.com"), True),  # subdomain of the provider's domain
        (Post(3, provider="A", host="www.alpha.com"), True),  # no provider domain: the link's host
        (Post(4, host="alpha.com"), True),
        (Post(5, provider="B", pdomain="beta.org", host="alpha.com"), False),  # the provider's domain decides
        (Post(6, host="notalpha.com"), False),  # a suffix is not a subdomain
        (Post(7, host="alpha.com.evil.net"), False),
    ]),
    ("exclude-domains", {"exclude_domains": ["alpha.com"]}, [
        (Post(1, host="notalpha.com"), True),
        (Post(2, provider="B", pdomain="beta.org", host="alpha.com"), True),
        (Post(3, host="sub.alpha.com"), False),
        (Post(4, provider="A", pdomain="alpha.com", host="beta.org"), False),
        (Post(5, host="ALPHA.com"), False),  # hosts are case-insensitive
    ]),
    ("categories", {"categories": ["News"]}, [
        (Post(1, category="news"), True),
        (Post(2, category="NEWS"), True),
        (Post(3, category="Research"), False),
        (Post(4, category=None), False),
    ]),
    ("types", {"types": ["Video"]}, [
        (Post(1, kind="video"), True),
        (Post(2, kind="article"), False),
        (Post(3, kind=None), False),
    ]),
    ("published-only", {"published_only": True}, [
        (Post(1, published=True), True),
        (Post(2, published=False), False),
        (Post(3, published=None), False),
    ]),
    ("keywords", {"keywords": ["Model", "open dataset"]}, [
        (Post(1, "New MODEL released"), True),
        (Post(2, "An Open Dataset for robots"), True),
        (Post(3, "Weekly news"), False),
        (Post(4, "Open data set"), False),  # a phrase matches as a whole
        (Post(5, "Remodeled kitchens"), False),  # whole words only
        (Post(6, "Model-based control"), True),
    ]),
    ("empty-lists-mean-no-condition", {"topics": [], "providers": [], "domains": [], "categories": [],
                                       "types": [], "keywords": []}, [
        (Post(1, topics=()), True),
        (Post(2, provider="Beta", category="Research", kind="article"), True),
    ]),
    ("all-conditions-at-once", {"topics": ["ai"], "min_quality": 40, "providers": ["alpha"],
                                "domains": ["alpha.com"], "categories": ["news"], "types": ["video"],
                                "published_only": True, "keywords": ["model"]}, [
        (Post(1, "A model", provider="Alpha", pdomain="alpha.com", category="News", kind="Video", published=True),
         True),
        # Each fails exactly one condition.
        (Post(2, "A model", topics=("Robots",), provider="Alpha", pdomain="alpha.com", category="News",
              kind="Video", published=True), False),
        (Post(3, "A model", quality=39, provider="Alpha", pdomain="alpha.com", category="News", kind="Video",
              published=True), False),
        (Post(4, "A model", provider="Beta", pdomain="alpha.com", category="News", kind="Video", published=True),
         False),
        (Post(5, "A model", provider="Alpha", pdomain="beta.org", category="News", kind="Video", published=True),
         False),
        (Post(6, "A model", provider="Alpha", pdomain="alpha.com", category="Sport", kind="Video", published=True),
         False),
        (Post(7, "A model", provider="Alpha", pdomain="alpha.com", category="News", kind="Text", published=True),
         False),
        (Post(8, "A model", provider="Alpha", pdomain="alpha.com", category="News", kind="Video", published=False),
         False),
        (Post(9, "A story", provider="Alpha", pdomain="alpha.com", category="News", kind="Video", published=True),
         False),
    ]),
]


@pytest.mark.parametrize(("conditions", "posts"), [pytest.param(c, p, id=name) for name, c, p in CASES])
def test_filter_condition(project: Project, conditions: dict[str, Any], posts: list[tuple[Post, bool]]) -> None:
    write_site(project, [p for p, _in in posts], [{"name": "Filtered", "slug": "filtered", **conditions}])
    build_site(project)
    found = set(custom_ids(project, "filtered"))
    wanted = {p.id for p, keep in posts if keep}
    left_out = {p.id for p, keep in posts if not keep}
    assert found == wanted, (sorted(found - wanted), sorted(wanted - found))
    # Left out of the custom feed, not of the site: the all-topics feed has every article.
    assert left_out <= set(feed_ids(project.out, "all"))


@pytest.mark.parametrize(("default_quality", "included"), [(50, False), (60, True), (75, True)])
def test_min_quality_applies_the_default_quality(project: Project, default_quality: int, included: bool) -> None:
    posts = [Post(1, quality=None), Post(2, quality=61)]
    write_site(project, posts, [{"name": "Good", "min_quality": 60}],
               extra=f"ranking: {{default_quality: {default_quality}}}\n")
    build_site(project)
    assert set(custom_ids(project, "good")) == ({p.id for p in posts} if included else {posts[1].id})


def test_global_filters_apply_before_custom_filters(project: Project) -> None:
    posts = [Post(1, quality=90), Post(2, quality=30), Post(3, quality=90, published=True)]
    write_site(project, posts, [{"name": "Any"}], extra="filters: {min_quality: 40}\n")
    build_site(project)
    assert set(custom_ids(project, "any")) == {posts[0].id, posts[2].id}


# -- ranking, provider cap, max_items -----------------------------------------------------------------------------


def mixed_posts() -> list[Post]:
    """Qualities and ages that make score order differ from date order."""
    posts = []
    for n in range(14):
        topics = ("AI",) if n % 3 else ("ai", "Robots")
        quality = None if n % 5 == 0 else (n * 37) % 100
        posts.append(Post(n, f"Story {n}", topics=topics, quality=quality, seconds=(n * 7919) % 500_000))
    posts.append(Post(20, "Robots only", topics=("Robots",), quality=99))
    return posts


@pytest.mark.parametrize("mode", ["score", "latest"])
def test_custom_feed_ranks_like_the_topic_feed(project: Project, mode: str) -> None:
    write_site(project, mixed_posts(), [{"name": "AI again", "slug": "ai-again", "topics": ["Ai"]},
                                        {"name": "AI long", "slug": "ai-long", "topics": ["AI"], "max_items": 14}],
               extra=f"feeds: {{max_items: 6}}\nranking: {{mode: {mode}}}\n")
    build_site(project)
    topic = feed_ids(project.out, "ai")
    assert len(topic) == 6
    assert custom_ids(project, "ai-again") == topic  # max_items defaults to feeds.max_items
    longer = custom_ids(project, "ai-long")
    assert len(longer) == 14 and longer[:6] == topic


def test_max_items(project: Project) -> None:
    posts = mixed_posts()
    write_site(project, posts, [{"name": "Two", "max_items": 2}, {"name": "Many", "max_items": 100}],
               extra="feeds: {max_items: 4}\n")
    _report, manifest = build_site(project)
    everything = custom_ids(project, "many")
    assert len(everything) == len(posts)  # max_items is per custom feed, above feeds.max_items too
    assert custom_ids(project, "two") == everything[:2]
    assert feed_ids(project.out, "all") == everything[:4]
    assert {f["slug"]: f["items"] for f in manifest["feeds"] if f["kind"] == "custom"} == \
        {"two": 2, "many": len(posts)}


def test_max_per_provider_caps_a_prolific_provider(project: Project) -> None:
    prolific = [Post(n, f"Prolific {n}", quality=95, provider="PROLIFIC" if n % 4 == 0 else "Prolific",
                     pdomain="prolific.example", seconds=n * 600) for n in range(10)]
    others = [Post(100 + n, f"Other {n}", quality=40, provider=f"Other {n % 3}", host=f"o{n}.example",
                   seconds=n * 50_000) for n in range(6)]
    write_site(project, prolific + others, [
        {"name": "Capped", "max_per_provider": 3, "max_items": 8},
        {"name": "Uncapped", "max_items": 8},
    ])
    build_site(project)
    ranked = feed_ids(project.out, "all")  # every article (16 < 50), in rank order
    assert ranked[:10] == [p.id for p in sorted(prolific, key=lambda p: p.seconds)]  # they outrank everyone
    assert custom_ids(project, "uncapped") == ranked[:8]

    capped = custom_ids(project, "capped")
    prolific_ids = {p.id for p in prolific}
    assert len(capped) == 8
    assert [u for u in capped if u in prolific_ids] == ranked[:3]  # the provider's best three, case-insensitively
    assert [u for u in capped if u not in prolific_ids] == [u for u in ranked if u not in prolific_ids][:5]
    assert capped == [u for u in ranked if u in set(capped)]  # still in rank order
    per_provider = Counter(next(p.provider for p in prolific + others if p.id == u).casefold() for u in capped)
    assert max(per_provider.values()) <= 3


def test_max_per_provider_counts_by_name_else_domain(project: Project) -> None:
    posts = [
        Post(1, quality=90, provider="Alpha", pdomain="shared.example"),
        Post(2, quality=89, provider="Beta", pdomain="shared.example"),  # another name: another provider
        Post(3, quality=88, host="blog.example.net"),  # no provider: its link's host
        Post(4, quality=87, host="blog.example.net"),
        Post(5, quality=86, host="other.example.net"),
    ]
    write_site(project, posts, [{"name": "One each", "max_per_provider": 1}])
    build_site(project)
    assert custom_ids(project, "one-each") == [posts[0].id, posts[1].id, posts[2].id, posts[4].id]


# -- config errors ------------------------------------------------------------------------------------------------

CONFIG_ERRORS = [
    pytest.param('custom_feeds:\n  - name: "X"\n    slug: "Bad_Slug"\n', 7, "custom_feeds[0].slug:", id="bad-slug"),
    pytest.param('custom_feeds:\n  - name: "X"\n    slug: "-x"\n', 7, "custom_feeds[0].slug:", id="bad-slug-dash"),
    pytest.param('custom_feeds:\n  - name: "X"\n    slug: same\n  - name: "Y"\n    slug: same\n', 9,
                 "custom_feeds[1].slug: slug 'same' is already used by custom_feeds[0]", id="duplicate-slug"),
    pytest.param('custom_feeds:\n  - name: "Robot News"\n  - name: "Y"\n    slug: robot-news\n', 8,
                 "custom_feeds[1].slug: slug 'robot-news' is already used", id="duplicate-made-slug"),
    pytest.param('custom_feeds:\n  - name: "X"\n    max_per_provider: 0\n', 7,
                 "custom_feeds[0].max_per_provider: must be in the range 1 to 10,000, got 0", id="max-per-provider-0"),
    pytest.param('custom_feeds:\n  - name: "X"\n    max_items: 0\n', 7,
                 "custom_feeds[0].max_items: must be in the range 1 to 10,000, got 0", id="max-items-0"),
    pytest.param('custom_feeds:\n  - name: "X"\n    topic: [AI]\n', 7, "custom_feeds[0].topic: unknown key",
                 id="unknown-key"),
    pytest.param('custom_feeds:\n  - name: "X"\n    topics_match: most\n', 7, "custom_feeds[0].topics_match:",
                 id="bad-topics-match"),
    pytest.param("custom_feeds:\n  - slug: x\n", 6, "custom_feeds[0].name: required key is missing",
                 id="missing-name"),
]


@pytest.mark.parametrize(("extra", "line", "message"), CONFIG_ERRORS)
def test_config_error_exits_2_with_key_and_line(project: Project, extra: str, line: int, message: str) -> None:
    # write_config puts four lines before ``extra``: its first line is line 5.
    project.add("a.md", Post(1).text())
    project.write_config(extra)
    result = project.run()
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"config.yaml:{line}: {message}" in result.stderr, result.stderr
    assert not project.out.exists()


# -- property: random articles, random filters --------------------------------------------------------------------

TITLES = ["New model released", "A DATASET for robots", "Weekly news", "Open Source models", "Opinion"]
TOPICS = ["AI", "ai", "Robots", "Machine Learning", "machine  learning", "Biology"]
PROVIDERS = ["Alpha", "alpha", "Beta", "Gamma News"]
HOSTS = ["alpha.com", "www.alpha.com", "beta.org", "gamma.net", "notalpha.com"]


def topic_key(name: str) -> str:
    """README: NFC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def folded(values: list[str]) -> set[str]:
    return {v.casefold() for v in values}


def effective_quality(post: Post) -> float:
    return max(DEFAULT_QUALITY if post.quality is None else float(post.quality), 0.0)


def domain_of(post: Post) -> str:
    return (post.pdomain if post.provider and post.pdomain else post.host).lower()


def in_domains(domain: str, domains: list[str]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in folded(domains))


def satisfies(post: Post, f: dict[str, Any], topics: tuple[str, ...] | None = None) -> bool:
    """The README's custom-feed conditions, written out independently
    (``topics``: the topics merged over every copy of the URL)."""
    if f.get("topics"):
        keys = {topic_key(t) for t in (post.topics if topics is None else topics)}
        wanted = {topic_key(t) for t in f["topics"]}
        if not (wanted <= keys if f.get("topics_match") == "all" else wanted & keys):
            return False
    if "min_quality" in f and effective_quality(post) < f["min_quality"]:
        return False
    name = (post.provider or "").casefold()
    if f.get("providers") and name not in folded(f["providers"]):
        return False
    if f.get("exclude_providers") and name and name in folded(f["exclude_providers"]):
        return False
    if f.get("domains") and not in_domains(domain_of(post), f["domains"]):
        return False
    if f.get("exclude_domains") and in_domains(domain_of(post), f["exclude_domains"]):
        return False
    if f.get("categories") and (post.category or "").casefold() not in folded(f["categories"]):
        return False
    if f.get("types") and (post.kind or "").casefold() not in folded(f["types"]):
        return False
    if f.get("published_only") and post.published is not True:
        return False
    title = post.title.casefold()
    return not f.get("keywords") or any(
        re.search(r"(?<!\w)" + re.escape(k.strip().casefold()) + r"(?!\w)", title) for k in f["keywords"] if k.strip())


def rank_key(post: Post) -> tuple[float, float, str]:
    """README "Ranking": by log2(1 + q') + t / half_life, then newer, then id."""
    t = post.when.timestamp()
    return (-(math.log2(1.0 + effective_quality(post)) + t / HALF_LIFE), -t, post.id)


def who(post: Post) -> str:
    return (post.provider or "").casefold() or domain_of(post)


post_strategy = st.lists(
    st.builds(
        Post,
        n=st.just(0),
        title=st.sampled_from(TITLES),
        topics=st.lists(st.sampled_from(TOPICS), max_size=3, unique=True).map(tuple),
        quality=st.one_of(st.none(), st.integers(0, 100)),
        provider=st.one_of(st.none(), st.sampled_from(PROVIDERS)),
        pdomain=st.one_of(st.none(), st.sampled_from(["alpha.com", "news.alpha.com", "beta.org"])),
        host=st.sampled_from(HOSTS),
        category=st.one_of(st.none(), st.sampled_from(["News", "news", "Research"])),
        kind=st.one_of(st.none(), st.sampled_from(["video", "Video", "article"])),
        published=st.one_of(st.none(), st.booleans()),
        seconds=st.integers(0, 20 * 86400),
    ),
    min_size=1,
    max_size=14,
).map(lambda posts: [dataclasses.replace(p, n=i) for i, p in enumerate(posts)])


@st.composite
def posts_strategy(draw: st.DrawFn) -> list[Post]:
    """Random posts; some are copies of an earlier post's URL (its host in
    another case, anything else of their own)."""
    posts = draw(post_strategy)
    for i in range(1, len(posts)):
        original = draw(st.one_of(st.none(), st.integers(0, i - 1)))
        if original is not None:
            first = posts[original]
            host = first.host.upper() if draw(st.booleans()) else first.host
            posts[i] = dataclasses.replace(posts[i], key=first.n if first.key is None else first.key, host=host)
    return posts


def deduplicated(posts: list[Post]) -> dict[str, tuple[Post, tuple[str, ...]]]:
    """README "Article format": one article per URL; the higher-quality copy
    wins, then the newer, then the first path; it carries every copy's topics."""
    copies: dict[str, list[Post]] = {}
    for post in posts:
        copies.setdefault(post.id, []).append(post)
    return {url: (min(group, key=lambda p: (-effective_quality(p), -p.when.timestamp(), p.n)),
                  tuple(t for p in group for t in p.topics))
            for url, group in copies.items()}


def _names(values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), max_size=2)


filter_strategy = st.fixed_dictionaries({}, optional={
    "topics": _names(["ai", "AI", "robots", "Machine Learning", "Chemistry"]),
    "topics_match": st.sampled_from(["any", "all"]),
    "min_quality": st.integers(0, 100),
    "providers": _names(["ALPHA", "beta", "Gamma News", "Nobody"]),
    "exclude_providers": _names(["alpha", "BETA"]),
    "domains": _names(["alpha.com", "beta.org", "www.alpha.com"]),
    "exclude_domains": _names(["alpha.com", "gamma.net"]),
    "categories": _names(["NEWS", "research"]),
    "types": _names(["VIDEO", "article"]),
    "published_only": st.booleans(),
    "keywords": _names(["model", "DATASET", "open source"]),
    "max_per_provider": st.integers(1, 3),
    "max_items": st.integers(1, 8),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(posts=posts_strategy(), filters=st.lists(filter_strategy, min_size=1, max_size=3))
def test_property_custom_feed_is_the_filtered_capped_ranking(posts: list[Post], filters: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Project(Path(tmp))
        custom = [{"name": f"Feed {i}", "slug": f"f{i}", **f} for i, f in enumerate(filters)]
        write_site(project, posts, custom)
        build_site(project)
        articles = deduplicated(posts)
        by_id = {url: post for url, (post, _topics) in articles.items()}
        for i, f in enumerate(filters):
            ids = custom_ids(project, f"f{i}")
            limit = f.get("max_items", 50)
            cap = f.get("max_per_provider")
            assert len(ids) == len(set(ids)) <= limit
            assert all(satisfies(articles[u][0], f, articles[u][1]) for u in ids), "an item fails the filter"
            matching = sorted((p for p, topics in articles.values() if satisfies(p, f, topics)), key=rank_key)
            if cap is None and len(ids) < limit:
                assert set(ids) == {p.id for p in matching}, "a matching article is missing"
            if cap is not None:
                assert max(Counter(who(by_id[u]) for u in ids).values(), default=0) <= cap
            # The whole feed: the matching articles in rank order, skipping a
            # provider's extra ones, up to max_items.
            expected: list[str] = []
            taken: Counter[str] = Counter()
            for post in matching:
                if cap is not None and taken[who(post)] >= cap:
                    continue
                taken[who(post)] += 1
                expected.append(post.id)
            assert ids == expected[:limit]
