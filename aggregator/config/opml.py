"""Subscription lists: a ``sources:`` entry ``{opml: FILE, ...}`` stands for
every feed the OPML file lists.

Each outline with an ``xmlUrl`` becomes a source named by its ``title`` or
``text``; the outline's ``category`` (OPML 2.0: comma-separated, each a
``/``-separated path) adds the last segment of each path to its topics,
after the entry's own ``topics``.  The entry's other keys (``quality``,
``category_topics``, ``max_items``...) apply to every feed of the file.
The file is read with entities left unexpanded and no network access.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aggregator.config.settings import Lines

MAX_OPML_BYTES = 4 * 1024 * 1024
MAX_FEEDS = 10_000


def expand_opml(sources: object, root: Path, lines: Lines) -> object:
    """``sources`` with every ``{opml: FILE}`` entry replaced by its feeds."""
    if not isinstance(sources, list) or not any(isinstance(s, dict) and "opml" in s for s in sources):
        return sources
    expanded: list[Any] = []
    for i, entry in enumerate(sources):
        if not (isinstance(entry, dict) and "opml" in entry):
            expanded.append(entry)
            continue
        if "url" in entry:
            raise lines.error(("sources", i, "opml"), "an entry names either a url or an opml file, not both")
        path = entry["opml"]
        if not isinstance(path, str) or not path.strip():
            raise lines.error(("sources", i, "opml"), "expected the path of an OPML file")
        shared = {k: v for k, v in entry.items() if k != "opml"}
        feeds = read_opml(root / path, lines, ("sources", i, "opml"))
        for url, name, categories in feeds:
            source = dict(shared, url=url)
            if name and "name" not in shared:
                source["name"] = name
            topics = list(shared.get("topics") or []) if isinstance(shared.get("topics"), list) else []
            source["topics"] = topics + [c for c in categories if c not in topics]
            expanded.append(source)
    return expanded


def read_opml(path: Path, lines: Lines, key: tuple[str | int, ...]) -> list[tuple[str, str | None, list[str]]]:
    """(feed URL, name, categories) of every outline with an ``xmlUrl``, in order."""
    from lxml import etree  # only a config with an OPML entry pays for it

    try:
        data = path.read_bytes()[:MAX_OPML_BYTES + 1]
    except OSError as exc:
        raise lines.error(key, f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_OPML_BYTES:
        raise lines.error(key, f"{path} is larger than {MAX_OPML_BYTES} bytes")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        tree = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise lines.error(key, f"{path} is not well-formed OPML: {exc}") from None
    if tree is None or not isinstance(tree.tag, str) or etree.QName(tree).localname != "opml":
        raise lines.error(key, f"{path} is not an OPML file (its root element is not <opml>)")
    feeds = []
    for outline in tree.iter("{*}outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue
        name = (outline.get("title") or outline.get("text") or "").strip() or None
        categories = [segment for part in (outline.get("category") or "").split(",")
                      if (segment := part.strip().strip("/").rpartition("/")[2].strip())]
        feeds.append((url, name, categories))
        if len(feeds) > MAX_FEEDS:
            raise lines.error(key, f"{path} lists more than {MAX_FEEDS} feeds")
    return feeds
