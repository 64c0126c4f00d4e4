"""Making untrusted text safe to publish: plain text and HTML fragments.

Every string that reaches a writer passes through :func:`clean_text` (plain
text) or :func:`sanitize_html` (markup).  Both are pure.
"""

from __future__ import annotations

import contextvars
import html
import re
import unicodedata

import nh3

from aggregator.urls import resolve_url, strip_tracking

# Code points outside the XML 1.0 ``Char`` production (C0 controls except
# tab/LF/CR, surrogates, U+FFFE/U+FFFF) make XML output ill-formed; C1
# controls and DEL are legal XML but render as garbage in readers, and
# strict JSON consumers choke on lone surrogates.  Strip them all.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")

TITLE_MAX = 300
SUMMARY_MAX = 2000
NAME_MAX = 200


def strip_illegal(text: str) -> str:
    """Remove XML-illegal and control code points (keeps tab, LF, CR)."""
    if text.isascii() and text.isprintable():
        return text  # the usual case, without a regex pass
    # Search before substituting: clean multi-line text (HTML bodies) is
    # then returned as is, not copied.
    return _ILLEGAL.sub("", text) if _ILLEGAL.search(text) else text


def clean_text(text: str, limit: int | None = None, *, single_line: bool = True) -> str:
    """Plain text for titles, summaries, names: legal characters, NFC,
    whitespace collapsed (when ``single_line``), capped at ``limit``
    characters on a character boundary with an ellipsis."""
    if text.isascii() and text.isprintable():  # no controls, already NFC: skip two passes
        if single_line and "  " in text:
            text = _SPACE.sub(" ", text)
        text = text.strip()
    else:
        text = unicodedata.normalize("NFC", strip_illegal(text))
        text = _SPACE.sub(" ", text).strip() if single_line else text.strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


# Elements nested deeper than this are flattened before any HTML is
# sanitised: html5ever (nh3) is quadratic in nesting depth (50,000 nested
# block quotes took 53 s).  Real bodies nest a dozen levels at most.
MAX_HTML_DEPTH = 100
_TAG_TOKEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*?(/?)>")
# Elements that never nest by markup: void ones, and those whose end tag is
# optional (a <p> or <li> closes the one before it; they would be counted
# again and again without ever closing).
_FLAT = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup", "colgroup",
    "caption", "rb", "rt", "rtc", "rp", "html", "head", "body",
})


def html_depth(fragment: str) -> int:
    """How deeply ``fragment``'s elements nest (an upper bound, by a flat
    scan of its tags: linear, no tree)."""
    if fragment.count("<") <= MAX_HTML_DEPTH:
        return min(fragment.count("<"), MAX_HTML_DEPTH)  # cannot be deeper than it has tags
    depth = deepest = 0
    for tag in _TAG_TOKEN.finditer(fragment):
        closing, name, self_closing = tag.groups()
        if self_closing or name.lower() in _FLAT:
            continue
        if closing:
            depth -= depth > 0
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def cap_nesting(fragment: str, limit: int = MAX_HTML_DEPTH) -> str:
    """``fragment`` with the tags of elements deeper than ``limit`` removed:
    their text is kept, at the depth of their parent.  What is left goes to
    the sanitiser, which mends any structure this leaves odd."""
    if fragment.count("<") <= limit:
        return fragment
    depth = dropped = 0
    pieces: list[str] = []
    kept_to = 0
    for tag in _TAG_TOKEN.finditer(fragment):
        closing, name, self_closing = tag.groups()
        if self_closing or name.lower() in _FLAT:
            continue
        if closing:
            if dropped:
                dropped -= 1
            elif depth:
                depth -= 1
                continue
            else:
                continue
        elif depth < limit:
            depth += 1
            continue
        else:
            dropped += 1
        pieces.append(fragment[kept_to:tag.start()])
        kept_to = tag.end()
    if not pieces:
        return fragment
    pieces.append(fragment[kept_to:])
    return "".join(pieces)


# Every element name of HTML (current and obsolete), and SVG and MathML's
# roots: a tag with one of these names is markup wherever it appears.  A
# tag-like run with another name is markup only when it carries attributes
# (``<foo onmouseover=...>`` runs in a browser; ``Vector<int>`` is text).
_ELEMENTS = (
    "a", "abbr", "acronym", "address", "applet", "area", "article", "aside", "audio", "b", "base", "basefont",
    "bdi", "bdo", "bgsound", "big", "blink", "blockquote", "body", "br", "button", "canvas", "caption", "center",
    "cite", "code", "col", "colgroup", "data", "datalist", "dd", "del", "details", "dfn", "dialog", "dir", "div",
    "dl", "dt", "em", "embed", "fieldset", "figcaption", "figure", "font", "footer", "form", "frame", "frameset",
    "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "i", "iframe", "ilayer", "image",
    "img", "input", "ins", "isindex", "kbd", "keygen", "label", "layer", "legend", "li", "link", "listing", "main",
    "map", "mark", "marquee", "math", "menu", "menuitem", "meta", "meter", "multicol", "nav", "nextid", "nobr",
    "noembed", "noframes", "noscript", "object", "ol", "optgroup", "option", "output", "p", "param", "picture",
    "plaintext", "portal", "pre", "progress", "q", "rb", "rp", "rt", "rtc", "ruby", "s", "samp", "script", "search",
    "section", "select", "slot", "small", "source", "spacer", "span", "strike", "strong", "style", "sub", "summary",
    "sup", "svg", "table", "tbody", "td", "template", "textarea", "tfoot", "th", "thead", "time", "title", "tr",
    "track", "tt", "u", "ul", "var", "video", "wbr", "xmp"
)
_MARKUP = re.compile(
    r"<!--.*?(?:-->|$)|<!\[CDATA\[.*?(?:\]\]>|$)|<[!?][^>]*(?:>|$)"
    r"|</?(?:" + "|".join(_ELEMENTS) + r")(?=[\s/>]|$)[^>]*(?:>|$)"
    r"|<[A-Za-z][\w:-]*[\s/][^>]*=[^>]*(?:>|$)", re.I | re.S)
# Liquid (Jekyll) tags: published as text they are noise.  What {% raw %}
# wraps is kept: it is what the author wanted shown.
_LIQUID = re.compile(r"\{%-?\s*raw\s*-?%\}(.*?)\{%-?\s*endraw\s*-?%\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
# A character reference left after one decoding: the text was escaped twice.
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|amp|lt|gt|quot|apos|nbsp);")
_SCRIPT_SCHEME = re.compile(r"(java|vb)script:", re.I)


def strip_liquid(text: str) -> str:
    """``text`` without Liquid tags (``{% ... %}``, ``{{ ... }}``); what
    ``{% raw %}`` and ``{% endraw %}`` enclose is kept."""
    if "{%" not in text and "{{" not in text:
        return text
    return _LIQUID.sub(lambda m: m.group(1) or "", text)


def plain_text(value: str, limit: int | None = None, *, single_line: bool = True, decode: bool = True) -> str:
    """Plain text from any input's text field (a title, summary, name,
    category): character references decoded (twice when the text was
    escaped twice, as real excerpts are), then HTML elements and comments
    removed with their text kept, Liquid tags dropped, controls removed,
    whitespace collapsed, capped at ``limit``.  Nothing left can become
    markup when a reader decodes the published field once and renders it
    as HTML, as many readers do with RSS titles and JSON summaries.
    ``decode=False``: the references were decoded already (by the caller)."""
    if decode and "&" in value:
        value = html.unescape(value)
        if "&" in value and _REFERENCE.search(value):
            value = html.unescape(value)
    if "<" in value:
        for _pass in range(8):  # "<<b>b>" leaves "<b>": strip until nothing is left to strip
            stripped = _MARKUP.sub(" ", value)
            if stripped == value:
                break
            value = stripped
        else:
            value = value.replace("<", " ")
    value = strip_liquid(value)
    if ":" in value:
        value = _SCRIPT_SCHEME.sub(r"\1script :", value)  # never a live script URL, even as text
    return clean_text(value, limit, single_line=single_line)


def html_to_text(fragment: str, limit: int | None = None) -> str:
    """Plain text of an HTML fragment (tags dropped, entities decoded once,
    then :func:`plain_text`: what the decoding turned into markup goes too)."""
    text = _TEXT_CLEANER.clean(cap_nesting(strip_illegal(fragment)))
    return plain_text(html.unescape(_TAG.sub(" ", text)), limit, decode=False)


_TEXT_CLEANER = nh3.Cleaner(tags=set(), clean_content_tags={"script", "style", "noscript"})


# An allowlist in the spirit of Miniflux's sanitizer: structure, text
# semantics, media and tables; no forms, no scripts, no styles, no frames
# except the iframe embeds handled in ``sanitize_embed``.
_TAGS = {
    "a", "abbr", "acronym", "address", "article", "aside", "b", "bdi", "bdo", "blockquote", "br",
    "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div",
    "dl", "dt", "em", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "picture", "pre", "q", "rp",
    "rt", "ruby", "s", "samp", "section", "small", "source", "span", "strike", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u",
    "ul", "var", "wbr", "audio", "video",
}
_ATTRIBUTES = {
    "*": {"title", "lang", "dir"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height", "srcset", "sizes"},
    "source": {"src", "srcset", "type", "media", "sizes"},
    "audio": {"src", "controls"},
    "video": {"src", "controls", "poster", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "reversed", "type"},
    "time": {"datetime"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
}
_URL_ATTRIBUTES = {("a", "href"), ("img", "src"), ("source", "src"), ("audio", "src"),
                   ("video", "src"), ("video", "poster"), ("blockquote", "cite"), ("q", "cite"),
                   ("del", "cite"), ("ins", "cite"), ("iframe", "src")}
_SCHEMES = {"http", "https", "mailto"}


def sanitize_html(fragment: str, base_url: str | None = None, strip_params: tuple[str, ...] = ()) -> str:
    """Allowlist-sanitise an HTML fragment for publication.

    Drops scripts, styles, event handlers, forms and frames (with the content
    of script/style), keeps only http(s)/mailto links, resolves relative URLs
    against ``base_url`` (or drops them when there is none) and adds
    ``rel="noopener noreferrer"`` to links, whose query parameters named by
    ``strip_params`` (tracking) are removed.
    """

    token = _BASE_URL.set((base_url, strip_params))
    try:
        cleaned = _HTML_CLEANER.clean(cap_nesting(strip_illegal(fragment))).strip()
    finally:
        _BASE_URL.reset(token)
    return _PIXEL.sub("", cleaned) if "<img" in cleaned else cleaned


# A tracking pixel: an image one pixel wide or high (as Miniflux drops them).
# Matched on the sanitiser's output, whose attributes are quoted and clean.
_PIXEL = re.compile(r'<img(?=[^>]*\s(?:width|height)="[01]")[^>]*>')


# The base URL of the fragment being cleaned.  The cleaners are built once
# (building one per call -- converting the allowlists -- cost more than the
# cleaning itself), so their URL callbacks read the base from here.
_BASE_URL: contextvars.ContextVar[tuple[str | None, tuple[str, ...]]] = contextvars.ContextVar(
    "base_url", default=(None, ()))


def _fix_url(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "srcset":
        return None  # candidate lists are hard to resolve safely; src remains
    if (tag, attribute) not in _URL_ATTRIBUTES:
        return value
    if value.startswith("mailto:") and tag == "a":
        return value
    base, strip_params = _BASE_URL.get()
    url = resolve_url(value, base)
    return strip_tracking(url, strip_params) if url and tag == "a" and strip_params else url


_HTML_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    clean_content_tags={"script", "style", "noscript", "template", "title", "head"},
    url_schemes=_SCHEMES,
    attribute_filter=_fix_url,
    link_rel="noopener noreferrer",
    strip_comments=True,
)


_EMBED_HOSTS = (
    "www.youtube.com", "youtube.com", "www.youtube-nocookie.com", "player.vimeo.com",
    "www.dailymotion.com", "open.spotify.com",
)


def sanitize_embed(fragment: str, base_url: str | None = None) -> str:
    """Sanitise a featured embed: like :func:`sanitize_html`, but an
    ``<iframe>`` from a known video host is kept (sandboxed); any other
    iframe is replaced by a plain link to its ``src``."""
    tags = _TAGS | {"iframe"}
    attributes = dict(_ATTRIBUTES)
    attributes["iframe"] = {"src", "width", "height", "allowfullscreen", "title"}

    def fix_url(tag: str, attribute: str, value: str) -> str | None:
        if (tag, attribute) not in _URL_ATTRIBUTES:
            return value
        url = resolve_url(value, base_url)
        if tag == "iframe" and url is not None:
            host = url.split("/")[2].split(":")[0].lower()
            if host not in _EMBED_HOSTS:
                return None
        return url

    cleaned = nh3.clean(
        cap_nesting(strip_illegal(fragment)),
        tags=tags,
        attributes=attributes,
        clean_content_tags={"script", "style", "noscript", "template"},
        url_schemes={"http", "https"},
        attribute_filter=fix_url,
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()
    # An iframe whose src was refused is useless: drop it entirely.
    cleaned = re.sub(r"<iframe(?![^>]*\ssrc=)[^>]*>\s*</iframe>", "", cleaned).strip()
    # Added here rather than by nh3's set_tag_attribute_values, whose
    # attribute order varies from run to run (a hash map): output must be
    # byte-stable.
    return cleaned.replace("<iframe ", f"<iframe {_IFRAME_EXTRA} ")


_IFRAME_EXTRA = ('sandbox="allow-scripts allow-same-origin allow-presentation" '
                 'referrerpolicy="strict-origin-when-cross-origin"')
