"""Images and videos as readers should see them.  Pure.

- Placeholder images (a site's default picture, YouTube's "unsupported
  browser" dinosaur) are recognised by URL patterns (``images.placeholders``)
  and never published.
- A video is watched on its site: an embedded player (``<iframe>``, which
  feed readers strip) becomes the URL of the video's page, and a YouTube
  video's thumbnail comes from its id.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from fnmatch import translate
from urllib.parse import parse_qs, urlsplit

from aggregator.model import Image

# A YouTube video id: 11 characters of the URL-safe base64 alphabet.
_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_YOUTUBE_HOSTS = ("youtube.com", "www.youtube.com", "m.youtube.com", "youtube-nocookie.com",
                  "www.youtube-nocookie.com", "youtu.be")
_SITES = {"youtube.com": "YouTube", "youtube-nocookie.com": "YouTube", "youtu.be": "YouTube", "vimeo.com": "Vimeo",
          "dailymotion.com": "Dailymotion", "spotify.com": "Spotify"}
_IFRAME_SRC = re.compile(r"<iframe\b[^>]*?\ssrc=\"([^\"]+)\"", re.I)
YOUTUBE_THUMBNAIL = (480, 360)  # hqdefault.jpg, which every video has


@functools.lru_cache(maxsize=16)
def _placeholder_pattern(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(translate(p) for p in patterns), re.I) if patterns else None


def is_placeholder(url: str, patterns: Sequence[str]) -> bool:
    """Whether ``url`` matches one of the placeholder ``patterns``."""
    pattern = _placeholder_pattern(tuple(patterns))
    return pattern is not None and pattern.match(url) is not None


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def youtube_id(url: str) -> str | None:
    """The id of the YouTube video ``url`` shows or embeds, if it is one."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host not in _YOUTUBE_HOSTS:
        return None
    if host == "youtu.be":
        candidate = parts.path.strip("/").split("/")[0]
    elif parts.path == "/watch":
        candidate = (parse_qs(parts.query).get("v") or [""])[0]
    else:
        segments = parts.path.strip("/").split("/")
        candidate = segments[1] if len(segments) > 1 and segments[0] in ("embed", "shorts", "v", "live") else ""
    return candidate if _YOUTUBE_ID.fullmatch(candidate) else None


def video_page(embed: str) -> str | None:
    """The page to watch the video an embedded player's URL plays."""
    video = youtube_id(embed)
    if video:
        return f"https://www.youtube.com/watch?v={video}"
    parts = urlsplit(embed)
    host, segments = _host(embed), parts.path.strip("/").split("/")
    if host == "player.vimeo.com" and len(segments) >= 2 and segments[0] == "video" and segments[1].isdigit():
        return f"https://vimeo.com/{segments[1]}"
    if host == "dailymotion.com" and len(segments) >= 3 and segments[:2] == ["embed", "video"]:
        return f"https://www.dailymotion.com/video/{segments[2]}"
    if host == "open.spotify.com" and len(segments) >= 3 and segments[0] == "embed":
        return f"https://open.spotify.com/{'/'.join(segments[1:3])}"
    return None


def embedded_video(fragment: str) -> str | None:
    """The page of the first video an (already sanitised) embed plays."""
    for match in _IFRAME_SRC.finditer(fragment):
        page = video_page(match.group(1).replace("&amp;", "&"))
        if page:
            return page
    return None


def video_thumbnail(url: str | None) -> Image | None:
    """A YouTube video's own thumbnail (from its id), for ``url`` that shows
    or embeds one."""
    video = youtube_id(url) if url else None
    if video is None:
        return None
    width, height = YOUTUBE_THUMBNAIL
    return Image(f"https://i.ytimg.com/vi/{video}/hqdefault.jpg", width, height)


def video_site(url: str, fallback: str | None = None) -> str:
    """The name to show for where a video is watched: the site's (YouTube,
    Vimeo...), else ``fallback`` (the provider's), else the host."""
    host = _host(url)
    for domain, name in _SITES.items():
        if host == domain or host.endswith("." + domain):
            return name
    return fallback or host or url
