"""`hotline sms send|outbox`: a tester's signed message to the console's gateway door, and
the replies still queued or failed for good."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import aiohttp

from callcenter.cli.common import Commands, with_store
from callcenter.errors import HotlineError
from callcenter.settings import Settings
from callcenter.sms.repository import SmsRepository
from callcenter.sms.signature import signed_headers
from callcenter.store import Store, store_target
from callcenter.terminal import escape_text
from callcenter.web import console_url


def _send(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.sms.secret:
        raise HotlineError("HOTLINE_SMS_SECRET is not set: the message could not be signed")
    body = json.dumps({"from": args.sender, "text": args.text, "time": int(time.time()),
                       "id": args.id or f"cli-{uuid.uuid4().hex[:12]}"}, ensure_ascii=False).encode()
    url = (args.url or console_url(settings)).rstrip("/") + "/gateway/sms"

    async def post() -> tuple[int, str]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http, \
                http.post(url, data=body, headers=signed_headers(settings.sms.secret, body, time.time()),
                          ssl=False) as answer:
            return answer.status, await answer.text()

    try:
        status, text = asyncio.run(post())
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise HotlineError(f"cannot reach {url}: {exc}") from None
    print(f"{status} {text}")
    return 0 if status == 200 else 1


def _outbox(settings: Settings, args: argparse.Namespace) -> int:
    async def run(store: Store) -> list[str]:
        rows = await SmsRepository(store).outbox()
        if not rows:
            return ["no reply is waiting or failed"]
        return [f"#{row['id']} ticket {row['ticket_id']} to {escape_text(row['address'])} {row['status']}"
                f" ({row['attempts']} attempts{': ' + escape_text(row['error']) if row['error'] else ''})"
                f" {row['at']}: {escape_text(row['body'])[:60]}" for row in rows]

    print("\n".join(with_store(store_target(settings), run)))
    return 0


def register(commands: Commands) -> None:
    sms = commands.add_parser("sms", help="the SMS platform: send a test message, list the replies' outbox")
    actions = sms.add_subparsers(dest="sms_action", required=True, metavar="ACTION")
    send = actions.add_parser("send", help="post a message signed with HOTLINE_SMS_SECRET, as the gateway would")
    send.add_argument("--from", dest="sender", required=True, help="the citizen's number")
    send.add_argument("--text", required=True)
    send.add_argument("--id", help="the gateway's message id (default: a new one)")
    send.add_argument("--url", help="the console's address (default: the configured one)")
    send.set_defaults(handler=_send)
    actions.add_parser("outbox", help="replies queued or failed for good").set_defaults(handler=_outbox)
