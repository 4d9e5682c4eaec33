"""A forum feed taken in: read from a file or an http(s) URL, each post not seen before
becomes a ticket of the forum channel (`TicketService.take_in`, the post's key as its
source id, so the same post never makes two tickets, even from two imports at once)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from callcenter.clock import iso_local
from callcenter.forum.feed import MAX_FEED_BYTES, FeedError, parse_feed
from callcenter.forum.repository import ForumRepository
from callcenter.tickets import TicketError, TicketService, WrittenMessage
from callcenter.vocabulary import Channel

FETCH_TIMEOUT = 30.0
ACTOR = "forum"


@dataclass(frozen=True)
class Imported:
    new: int
    known: int


async def read_source(source: str) -> bytes:
    """The feed's bytes from an http(s) URL or a file; FeedError naming the source."""
    if source.lower().startswith(("http://", "https://")):
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT)) as http, \
                    http.get(source) as answer:
                if answer.status != 200:
                    raise FeedError(f"{source}: HTTP {answer.status}")
                # read(n) gives what has arrived, up to n: read on to the end, or past the cap.
                data = bytearray()
                while len(data) <= MAX_FEED_BYTES and (chunk := await answer.content.read(64 * 1024)):
                    data += chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FeedError(f"{source}: cannot fetch ({type(exc).__name__}: {exc})") from None
        return bytes(data)
    if "://" in source:
        raise FeedError(f"{source}: only http(s) addresses and files are read")
    try:
        return await asyncio.to_thread(_read_file, Path(source))
    except OSError as exc:
        raise FeedError(f"{source}: cannot read ({exc.strerror or exc})") from None


def _read_file(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(MAX_FEED_BYTES + 1)


async def import_feed(source: str, tickets: TicketService, repository: ForumRepository,
                      progress: Callable[[str], None] = lambda _: None) -> Imported:
    posts = parse_feed(await read_source(source), source)
    known = await repository.known(p.key for p in posts)
    fresh = [p for p in posts if p.key not in known]
    progress(f"{source}: {len(posts)} posts, {len(fresh)} new")
    zone = tickets.settings.zone
    new = 0
    for post in fresh:
        now = time.time()
        try:
            ticket_id = await tickets.take_in(WrittenMessage(
                # The clock starts when the hotline reads the post, not when it was posted.
                Channel.FORUM, post.body, received_epoch=now,
                citizen_name=post.author, title=post.title, external_id=post.key, link=post.link, actor=ACTOR))
        except TicketError:
            continue  # taken in meanwhile by another import
        await repository.add({
            "post_key": post.key, "ticket_id": ticket_id, "link": post.link, "title": post.title,
            "author": post.author, "posted": iso_local(post.posted_epoch, zone) if post.posted_epoch else None,
            "posted_epoch": post.posted_epoch, "feed": source[:500], "imported": iso_local(now, zone),
            "imported_epoch": now})
        new += 1
    return Imported(new=new, known=len(posts) - new)
