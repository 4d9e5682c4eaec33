"""`hotline forum import|results`: the city forum's posts taken in as tickets, and the
results of the settled ones as text for the forum's moderators to post back."""

from __future__ import annotations

import argparse
import time

from callcenter.cli.common import Commands, who, with_store
from callcenter.clock import iso_local
from callcenter.errors import HotlineError
from callcenter.forum.importer import import_feed
from callcenter.forum.repository import ForumRepository
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store, store_target
from callcenter.terminal import escape_text


def _import(settings: Settings, args: argparse.Namespace) -> int:
    async def run(store: Store) -> list[str]:
        done = await import_feed(args.source, Services.on(settings, store).tickets, ForumRepository(store),
                                 progress=lambda line: print(escape_text(line), flush=True))
        return [f"{done.new} new, {done.known} already taken in"]

    print("\n".join(with_store(store_target(settings), run)))
    return 0


def _mark(settings: Settings, args: argparse.Namespace) -> int:
    async def run(store: Store) -> list[str]:
        tickets = Services.on(settings, store).tickets
        ticket = (await tickets.detail(args.ticket)).ticket
        text = (args.text or str(ticket["reply"] or "")).strip()
        if not text:
            raise HotlineError(f"ticket {args.ticket} has no reply yet: give the result with --text")
        now = time.time()
        if not await ForumRepository(store).mark_result(args.ticket, text, iso_local(now, settings.zone), now,
                                                        who(args)):
            raise HotlineError(f"ticket {args.ticket} did not come from a forum post")
        return [f"ticket {args.ticket}: the result will be posted back ({len(text)} characters)"]

    print("\n".join(with_store(store_target(settings), run)))
    return 0


def _results(settings: Settings, args: argparse.Namespace) -> int:
    async def run(store: Store) -> list[str]:
        repository = ForumRepository(store)
        posts = await repository.marked(include_exported=args.all)
        lines: list[str] = []
        for post in posts:
            lines += [f"【{escape_text(post['title'])}】 {escape_text(post['link'] or post['post_key'])}",
                      f"工单 {post['ticket_id']}，承办单位：{escape_text(post['unit_name'])}",
                      f"办理结果：{escape_text(post['result'])}", ""]
        if not args.all:
            await repository.exported([str(p["post_key"]) for p in posts], time.time())
        return lines or ["no result is marked to post back"]

    print("\n".join(with_store(store_target(settings), run)))
    return 0


def register(commands: Commands) -> None:
    forum = commands.add_parser("forum", help="the city forum: import its feed, export results to post back")
    actions = forum.add_subparsers(dest="forum_action", required=True, metavar="ACTION")
    imports = actions.add_parser("import", help="take in the posts of an RSS/Atom feed (a URL or a file)")
    imports.add_argument("source", metavar="FEED_URL_OR_FILE")
    imports.set_defaults(handler=_import)
    mark = actions.add_parser("mark", help="mark the result to post back on a forum ticket (supervisor)")
    mark.add_argument("ticket", type=int)
    mark.add_argument("--text", help="the result (default: the unit's reply)")
    mark.add_argument("--by", help="who marks it (default: the login name)")
    mark.set_defaults(handler=_mark)
    results = actions.add_parser("results", help="the marked results, as text for the moderators (then exported)")
    results.add_argument("--all", action="store_true", help="every marked result again, exported or not")
    results.set_defaults(handler=_results)


