"""`hotline forum import|results`: the city forum's posts taken in as tickets, and the
results of the settled ones as text for the forum's moderators to post back."""

from __future__ import annotations

import argparse

from callcenter.cli.common import Commands, with_store
from callcenter.forum.importer import import_feed
from callcenter.forum.repository import ForumRepository
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.terminal import escape_text
from callcenter.vocabulary import COMPLETED


def _import(settings: Settings, args: argparse.Namespace) -> int:
    async def run(store: Store) -> list[str]:
        done = await import_feed(args.source, Services.on(settings, store).tickets, ForumRepository(store),
                                 progress=lambda line: print(escape_text(line), flush=True))
        return [f"{done.new} new, {done.known} already taken in"]

    print("\n".join(with_store(settings.paths.database, run)))
    return 0


def _results(settings: Settings, args: argparse.Namespace) -> int:
    async def run(store: Store) -> list[str]:
        lines: list[str] = []
        for post in await ForumRepository(store).posts():
            if str(post["state"]) not in {str(s) for s in COMPLETED} or not post["reply"]:
                continue
            lines += [f"【{escape_text(post['title'])}】 {escape_text(post['link'] or post['post_key'])}",
                      f"工单 {post['ticket_id']}，承办单位：{escape_text(post['unit_name'])}",
                      f"办理结果：{escape_text(post['reply'])}", ""]
        return lines or ["no forum post has a result yet"]

    print("\n".join(with_store(settings.paths.database, run)))
    return 0


def register(commands: Commands) -> None:
    forum = commands.add_parser("forum", help="the city forum: import its feed, export results to post back")
    actions = forum.add_subparsers(dest="forum_action", required=True, metavar="ACTION")
    imports = actions.add_parser("import", help="take in the posts of an RSS/Atom feed (a URL or a file)")
    imports.add_argument("source", metavar="FEED_URL_OR_FILE")
    imports.set_defaults(handler=_import)
    actions.add_parser("results", help="the units' replies on forum posts, as text for the moderators").set_defaults(
        handler=_results)


