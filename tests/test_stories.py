"""Story clustering: one item per story, through the CLI, checked with
independent parsers; its precision and recall on hand-labelled pairs of
../shared/realdata and on a generated story corpus with its ground truth;
and the properties of the clustering function."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any
from unittest.mock import patch

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from support import Project, article

from aggregator.model import Summary
from aggregator.ranking import candidates, stories
from aggregator.sources.local.articles import parse_article
from aggregator.tokens import gist
from aggregator.urls import canonical_url

ROOT = Path(__file__).resolve().parent.parent
REALDATA = Path("/work/shared/realdata")  # as the other realdata tests find it
NOW = "2026-11-10T12:00:00Z"
MANY = "feeds: {max_items: 10000}\n"  # every story's item in the combined feed, so all of them can be read back


def _json(path: Path) -> Any:
    return json.loads(path.read_bytes())


def _story(project: Project, name: str, title: str, provider: str, date: str, *, quality: float = 50,
           excerpt: str = "Acme Corp recalls its X1 phone after batteries overheated in tests.",
           extra: str = "") -> None:
    project.add(f"{name}.md", article(title, f"https://{provider.lower()}.example/{name}", date=date,
                                      topics=("Phones",), quality=quality,
                                      extra=f'excerpt: "{excerpt}"\nprovider: {{name: {provider}}}\n' + extra))


def _site(project: Project, extra: str = "") -> None:
    """A story five providers cover over two days, its withdrawn first
    version, and look-alikes: templated notices, weekly stats, a newsletter."""
    _story(project, "s0", "Acme recalls X1 phone over battery fires", "Gone", "2026-11-01T06:00:00Z",
           extra="removed: true")
    _story(project, "s1", "Acme recalls X1 phone over battery fires", "Wire", "2026-11-01T08:00:00Z")
    _story(project, "s2", "Acme recalls its X1 phone after battery fires", "Daily", "2026-11-01T09:00:00Z",
           quality=90)
    _story(project, "s3", "Battery fires: Acme recalls the X1 phone", "Post", "2026-11-01T12:00:00Z")
    _story(project, "s4", "Acme X1 phone recall: what we know about the battery fires", "Times",
           "2026-11-02T10:00:00Z")
    _story(project, "s5", "Acme recalls X1 phones, battery fires reported", "Herald", "2026-11-03T07:00:00Z")
    for n, product in enumerate(("Foo Server", "Bar Cloud")):
        _story(project, f"notice{n}", f"Support for {product} is ending on June 1, 2027", "Vendor",
               f"2026-11-02T0{n}:00:00Z", excerpt=f"After June 1, 2027, {product} gets no more updates.")
    for n, day in enumerate(("2026-11-02", "2026-11-03")):
        _story(project, f"stats{n}", f"Stats ({day})", "Stats", f"{day}T05:00:00Z",
               excerpt="Visitors, downloads and the most read articles of the week.")
    for n in (12, 13):
        _story(project, f"letter{n}", f"The Phone Letter #{n}", "Letter", f"2026-11-0{n - 10}T04:00:00Z",
               excerpt="This week's picks about phones, links and the reader question.")
    project.write_config("feeds: {archives: true}\n"
                         "custom_feeds: [{name: Phones, topics: [Phones]}]\n" + extra)


def _build(project: Project, *args: str) -> None:
    result = project.run("--now", NOW, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" or "written" in result.stdout


@pytest.fixture
def site(tmp_path: Path) -> Project:
    project = Project(tmp_path)
    _site(project)
    _build(project, "-q")
    return project


def _recall(item: dict[str, Any]) -> dict[str, Any]:
    return item["_aggregator"]["cluster"]


def test_one_item_per_story_in_every_format(site: Project) -> None:
    feed = _json(site.out / "all.json")
    items = {item["url"]: item for item in feed["items"]}
    recall = [item for item in feed["items"] if "cluster" in item.get("_aggregator", {})]
    assert len(recall) == 1, [i["title"] for i in recall]
    item = recall[0]
    # Shown by its best-ranked member (quality 90), under the id and date of its first live member.
    assert item["url"] == "https://daily.example/s2"
    assert item["id"] == "https://wire.example/s1" == _recall(item)["id"]
    assert item["date_published"] == "2026-11-01T08:00:00Z"
    assert item["date_modified"] == "2026-11-03T07:00:00Z"  # the newest coverage
    cluster = _recall(item)
    assert cluster["size"] == 5
    assert [m["url"] for m in cluster["members"]] == [
        "https://herald.example/s5", "https://times.example/s4", "https://post.example/s3", "https://wire.example/s1"]
    assert cluster["members"][0] == {"url": "https://herald.example/s5", "title": "Acme recalls X1 phones, "
                                     "battery fires reported", "provider": "Herald",
                                     "date_published": "2026-11-03T07:00:00Z"}
    # The withdrawn first version is nowhere: not an item, not a member, not the id.
    assert "https://gone.example/s0" not in items
    assert all("gone.example" not in m["url"] for m in cluster["members"])
    # The look-alikes are stories of their own.
    for name in ("vendor.example/notice0", "vendor.example/notice1", "stats.example/stats0", "stats.example/stats1",
                 "letter.example/letter12", "letter.example/letter13"):
        assert f"https://{name}" in items, name
    # RSS and Atom, read by feedparser (which sanitises as readers do), show the same items and ids.
    ids = [i["id"] for i in feed["items"]]
    for name in ("all.xml", "all.atom"):
        parsed = feedparser.parse((site.out / name).read_bytes())
        assert not parsed.bozo, parsed.bozo_exception
        assert [e.id for e in parsed.entries] == ids
        shown = next(e for e in parsed.entries if e.id == "https://wire.example/s1")
        html = shown.content[0].value
        assert "Also covered by" in html
        assert html.index("herald.example/s5") < html.index("times.example/s4") < html.index("wire.example/s1")
        assert "Herald: " in html


def test_also_covered_by_is_the_end_of_the_item_html(site: Project) -> None:
    item = next(i for i in _json(site.out / "all.json")["items"] if i["id"] == "https://wire.example/s1")
    tree = etree.HTML(item["content_html"])
    headings = [b.text for b in tree.iter("strong")]
    assert headings[-1] == "Also covered by"
    listed = tree.xpath("//ul")[-1]
    links = [a.get("href") for a in listed.iter("a")]
    assert links == [m["url"] for m in _recall(item)["members"]]
    rows = [li.xpath("string()") for li in listed.iter("li")]
    assert rows[0] == "Herald: Acme recalls X1 phones, battery fires reported"


def test_topic_custom_feeds_and_pages_agree_archives_list_every_member(site: Project) -> None:
    manifest = _json(site.out / "index.json")
    by_kind = {(f["kind"], f.get("month")): f for f in manifest["feeds"] if f["slug"] in ("phones", "all")}
    topic, custom = by_kind[("topic", None)], by_kind[("custom", None)]
    for info in (topic, custom):
        feed = _json(site.out / info["files"]["json"])
        assert info["items"] == len(feed["items"]) == 7  # the story once, six look-alikes
        assert sum("cluster" in i.get("_aggregator", {}) for i in feed["items"]) == 1
        page = (site.out / info["files"]["html"]).read_text("utf-8")
        assert "Acme recalls its X1 phone after battery fires" in page  # the story's shown member
        assert "Acme recalls X1 phones, battery fires reported" not in page  # a member, not an item
    archive = _json(site.out / by_kind[("archive", "2026-11")]["files"]["json"])
    assert {i["url"] for i in archive["items"]} >= {f"https://{p}.example/s{n}" for n, p in
                                                    enumerate(("gone", "wire", "daily", "post", "times", "herald"))
                                                    if n}


def test_a_better_member_changes_the_content_not_the_id_or_the_date(site: Project) -> None:
    before = next(i for i in _json(site.out / "all.json")["items"] if i["id"] == "https://wire.example/s1")
    _story(site, "s6", "Acme recalls every X1 phone as battery fires spread", "Journal", "2026-11-03T09:00:00Z",
           quality=200)
    _build(site, "-q")
    after = next(i for i in _json(site.out / "all.json")["items"] if i["id"] == "https://wire.example/s1")
    assert after["url"] == "https://journal.example/s6" != before["url"]
    assert after["date_published"] == before["date_published"]
    assert after["date_modified"] == "2026-11-03T09:00:00Z"
    assert _recall(after)["size"] == 6
    assert "https://daily.example/s2" in [m["url"] for m in _recall(after)["members"]]


def test_an_incremental_run_ends_where_a_fresh_build_does(site: Project, tmp_path: Path) -> None:
    _story(site, "s6", "Acme recalls every X1 phone as battery fires spread", "Journal", "2026-11-03T09:00:00Z",
           quality=200)
    (site.articles / "s3.md").unlink()
    _build(site, "-q")
    (tmp_path / "fresh").mkdir()
    fresh = Project(tmp_path / "fresh")
    for path in site.articles.iterdir():
        fresh.add(path.name, path.read_bytes())
    fresh.write_config(site.config.read_text("utf-8").split("state: state/state.db\n", 1)[1])
    _build(fresh, "-q")
    mine = {p.relative_to(site.out): p.read_bytes() for p in site.out.rglob("*") if p.is_file()}
    theirs = {p.relative_to(fresh.out): p.read_bytes() for p in fresh.out.rglob("*") if p.is_file()}
    assert mine.keys() == theirs.keys()
    assert [str(p) for p in mine if mine[p] != theirs[p]] == []


def test_max_per_provider_and_switching_clusters_off(tmp_path: Path) -> None:
    project = Project(tmp_path)
    _site(project, "ranking: {max_per_provider: 1, clusters: {enabled: false}}\n")
    for n in range(3):
        _story(project, f"extra{n}", f"Wire note {n} on a topic of its own", "Wire", f"2026-11-0{n + 4}T00:00:00Z",
               excerpt=f"Unrelated note {n}.")
    _build(project, "-q")
    feed = _json(project.out / "all.json")
    providers = [i["_aggregator"]["source"]["name"] for i in feed["items"]]
    assert len(providers) == len(set(providers))  # one item per provider
    assert not any("cluster" in i["_aggregator"] for i in feed["items"])  # no story: clustering is off


def test_explain_says_why_articles_are_one_story(site: Project) -> None:
    result = site.run("https://daily.example/s2", command="explain")
    assert result.returncode == 0, result.stderr
    assert "story https://wire.example/s1 (5 articles" in result.stdout
    assert "similarity" in result.stdout
    notice = site.run("https://vendor.example/notice0", command="explain").stdout
    assert "story: its own" in notice
    assert "one template, other values" in notice or "names what the other never mentions" in notice


# -- precision and recall --------------------------------------------------------------------------------


def _pairwise(groups: dict[str, str], truth: dict[str, Any]) -> tuple[float, float]:
    """Pairwise precision and recall of ``groups`` (URL -> cluster) against ``truth`` (URL -> story)."""
    clusters: dict[str, list[str]] = defaultdict(list)
    real: dict[Any, list[str]] = defaultdict(list)
    for url, cluster in groups.items():
        clusters[cluster].append(url)
        real[truth[url]].append(url)
    hits = sum(truth[a] == truth[b] for members in clusters.values() for a, b in itertools.combinations(members, 2))
    said = sum(len(m) * (len(m) - 1) // 2 for m in clusters.values())
    true = sum(len(m) * (len(m) - 1) // 2 for m in real.values())
    return hits / max(said, 1), hits / max(true, 1)


def _published_stories(out: Path) -> dict[str, str]:
    """URL -> the id of the item that shows it (its story), from the combined JSON Feed."""
    found = {}
    for item in _json(out / "all.json")["items"]:
        found[canonical_url(item["url"])] = item["id"]
        for member in item.get("_aggregator", {}).get("cluster", {}).get("members", ()):
            found[canonical_url(member["url"])] = item["id"]
    return found


def _url(path: Path) -> str:
    return canonical_url(parse_article(path.read_bytes(), str(path)).articles[0].url)


def test_generated_stories_precision_and_recall(tmp_path: Path) -> None:
    project = Project(tmp_path)
    truth_file = tmp_path / "truth.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), str(project.articles), "--count", "1500",
                    "--stories", str(truth_file)], check=True, capture_output=True)
    project.write_config(MANY)
    _build(project, "-q")
    truth = {_url(project.articles / path): story for path, story in _json(truth_file).items()}
    published = _published_stories(project.out)
    assert published.keys() == truth.keys()  # every article is an item or listed in its story's item
    precision, recall = _pairwise(published, truth)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)


@pytest.mark.slow
def test_labelled_realdata_pairs_precision_and_recall(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.config.write_text(project.config.read_text("utf-8").replace(
        "articles: [articles]", f"articles: [{json.dumps(str(REALDATA))}]") + MANY, "utf-8")
    _build(project, "-q")
    published = _published_stories(project.out)
    pairs = _json(ROOT / "tests" / "data" / "story_pairs.json")["pairs"]
    assert sum(p["same"] for p in pairs) >= 50 and sum(not p["same"] for p in pairs) >= 50
    tp = fp = fn = 0
    for pair in pairs:
        a, b = (published[_url(REALDATA / pair[k])] for k in ("a", "b"))
        tp += pair["same"] and a == b
        fp += not pair["same"] and a == b
        fn += pair["same"] and a != b
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)


# -- properties of the clustering function ----------------------------------------------------------------

_VOCABULARY = ["acme", "recall", "phone", "battery", "fire", "launch", "model", "robot", "delay", "game", "court"]
_TOPICS = [(), ("Phones",), ("Robots",)]


@st.composite
def _articles(draw: st.DrawFn, count: int = 12) -> list[Summary]:
    found = []
    for n in range(draw(st.integers(0, count))):
        title = " ".join(draw(st.lists(st.sampled_from(_VOCABULARY), min_size=1, max_size=5)))
        excerpt = "They said " + " ".join(draw(st.lists(st.sampled_from([*_VOCABULARY, "Acme", "Zeta"]), max_size=6)))
        hours = draw(st.integers(0, 150))
        found.append(Summary(id=f"https://example.org/{n}", origin="", published=hours * 3600.0,
                             updated=hours * 3600.0, title=title, digest="", topics=draw(st.sampled_from(_TOPICS)),
                             provider=draw(st.sampled_from(["A", "B", "C"])), gist=gist(title, excerpt)))
    return found


SETTINGS = stories.Settings(0.3, 3 * 86400.0)


def _clusters(items: list[Summary]) -> set[frozenset[str]]:
    found = stories.components([stories.sketch(i) for i in items], SETTINGS)
    groups: dict[str, set[str]] = defaultdict(set)
    for ident, cluster in found.items():
        groups[cluster].add(ident)
    return {frozenset(g) for g in groups.values()}


@settings(max_examples=200, deadline=None)
@given(_articles(), st.randoms())
def test_a_permutation_of_the_inputs_changes_nothing(items: list[Summary], rng: Any) -> None:
    shuffled = list(items)
    rng.shuffle(shuffled)
    assert stories.components([stories.sketch(i) for i in shuffled], SETTINGS) == \
        stories.components([stories.sketch(i) for i in items], SETTINGS)


@settings(max_examples=200, deadline=None)
@given(_articles(), st.integers(0, 150))
def test_an_unrelated_article_changes_no_other_cluster(items: list[Summary], hours: int) -> None:
    unrelated = Summary(id="https://example.org/other", origin="", published=hours * 3600.0, updated=0.0,
                        title="Zorblat quintessence", digest="", gist=gist("Zorblat quintessence", "Wibble."))
    assert _clusters([*items, unrelated]) == _clusters(items)


@settings(max_examples=300, deadline=None)
@given(_articles(), st.data())
def test_removing_a_member_that_is_not_the_only_link_keeps_the_rest_together(items: list[Summary],
                                                                             data: st.DataObject) -> None:
    sketches = {i.id: stories.sketch(i) for i in items}
    for cluster in _clusters(items):
        for gone in sorted(cluster):
            rest = cluster - {gone}
            if len(rest) < 2 or not _connected(rest, sketches):
                continue  # ``gone`` was the only link between some of them
            after = _clusters([i for i in items if i.id != gone])
            assert any(rest <= c for c in after), (gone, rest)


def _connected(ids: frozenset[str], sketches: dict[str, stories.Sketch]) -> bool:
    start = min(ids)
    seen, queue = {start}, [start]
    while queue:
        here = queue.pop()
        for there in ids - seen:
            if stories.linked(sketches[here], sketches[there], SETTINGS):
                seen.add(there)
                queue.append(there)
    return seen == ids


@settings(max_examples=200, deadline=None)
@given(_articles(count=6))
def test_the_fast_verdict_is_the_explained_one(items: list[Summary]) -> None:
    """``linked`` (every candidate pair) and ``why`` (what explain prints) decide alike."""
    sketches = [stories.sketch(i) for i in items]
    for a, b in itertools.combinations(sketches, 2):
        assert stories.linked(a, b, SETTINGS) == stories.why(a, b, SETTINGS)[0]


@settings(max_examples=300, deadline=None)
@given(_articles())
def test_the_clusters_are_the_connected_components_of_every_pair_linked(items: list[Summary]) -> None:
    """The candidates (probes, keys, the window) miss no linked pair: the
    clusters equal the components of the graph of all pairs ``linked`` decides."""
    assert _clusters(items) == _all_pairs(items, SETTINGS)


def _all_pairs(items: list[Summary], chosen: stories.Settings) -> set[frozenset[str]]:
    """The components of the graph of every pair ``linked`` accepts."""
    sketches = {i.id: stories.sketch(i) for i in items}
    groups = {i: {i} for i in sketches}
    for a, b in itertools.combinations(sorted(sketches), 2):
        if stories.linked(sketches[a], sketches[b], chosen) and groups[a] is not groups[b]:
            merged = groups[a] | groups[b]
            for member in merged:
                groups[member] = merged
    return {frozenset(g) for g in groups.values() if len(g) > 1}


@settings(max_examples=300, deadline=None)
@given(_articles(count=30), st.sampled_from([3600.0, 6 * 3600.0, 86400.0, 3 * 86400.0]), st.integers(1, 6))
def test_streamed_in_time_order_the_clusters_are_the_same(items: list[Summary], window: float,
                                                          prune_every: int) -> None:
    """A cold build streams the sketches in (published, id) order and holds
    only a window either side of the article being linked: the clusters are
    still the components of every linked pair, whatever the window and
    however often the old articles are forgotten."""
    chosen = stories.Settings(SETTINGS.threshold, window)
    ordered = sorted((stories.sketch(i) for i in items), key=lambda s: (s.published, s.id))
    with patch.object(candidates, "_PRUNE_EVERY", prune_every):
        found = stories.components(iter(ordered), chosen, in_order=True)
    groups: dict[str, set[str]] = defaultdict(set)
    for ident, cluster in found.items():
        groups[cluster].add(ident)
    assert {frozenset(g) for g in groups.values()} == _all_pairs(items, chosen)
    assert all(cluster == min(g, key=lambda i: (next(s.published for s in ordered if s.id == i), i))
               for cluster, g in groups.items())


def test_a_stream_out_of_time_order_is_refused() -> None:
    early, late = (stories.sketch(Summary(id=f"https://example.org/{n}", origin="", published=n * 3600.0,
                                          updated=0.0, title="Acme recalls phone", digest="",
                                          gist=gist("Acme recalls phone", "Acme recalls phone"))) for n in (1, 2))
    with pytest.raises(ValueError, match="out of"):
        stories.components(iter([late, early]), SETTINGS, in_order=True)
