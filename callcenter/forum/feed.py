"""A forum feed read into posts: feedparser does the parsing (RSS 0.9x/1.0/2.0, Atom);
here a feed that is not one is refused with the reason, and each entry's HTML becomes
plain text (the ticket keeps what the citizen wrote, never markup)."""

from __future__ import annotations

import calendar
import html
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import feedparser  # type: ignore[import-untyped]

from callcenter.errors import HotlineError

MAX_FEED_BYTES = 8 * 1024 * 1024


class FeedError(HotlineError):
    """The source is not a feed the hotline can read: the message names it and says why."""


@dataclass(frozen=True)
class Post:
    key: str  # the entry's id (guid), else its link
    title: str
    link: str | None
    author: str | None
    body: str
    posted_epoch: float | None


class _Text(HTMLParser):
    """The text of an HTML fragment: tags dropped, script and style left out, blocks on lines."""

    _SKIP = frozenset({"script", "style"})
    _BLOCK = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def plain_text(fragment: str) -> str:
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _link(value: object) -> str | None:
    text = str(value or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else None


def _epoch(entry: Any) -> float | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return float(calendar.timegm(parsed)) if parsed else None


def parse_feed(data: bytes, source: str) -> list[Post]:
    """The posts of the feed in `data`; FeedError when it is not a feed."""
    if not data.strip():
        raise FeedError(f"{source}: empty, not a feed")
    if len(data) > MAX_FEED_BYTES:
        raise FeedError(f"{source}: larger than {MAX_FEED_BYTES // (1024 * 1024)} MB, not read")
    parsed = feedparser.parse(data)
    version = str(parsed.get("version") or "")
    if not version:
        reason = parsed.get("bozo_exception")
        raise FeedError(f"{source}: not an RSS or Atom feed" + (f" ({reason})" if reason else ""))
    posts: list[Post] = []
    for entry in parsed.entries:
        link = _link(entry.get("link"))
        key = str(entry.get("id") or "").strip() or link
        if not key:
            continue  # nothing names the post: it could not be told from the next import's copy
        contents = entry.get("content") or []
        fragment = str(contents[0].get("value", "")) if contents else str(entry.get("summary", ""))
        title = plain_text(html.escape(str(entry.get("title", "")), quote=False)) or "（无标题）"
        body = plain_text(fragment) or title
        posts.append(Post(key=key[:500], title=title[:200], link=link, author=str(entry.get("author") or "") or None,
                          body=body, posted_epoch=_epoch(entry)))
    return posts
