"""How fast do the written channels answer, with a store that already holds their tickets?

    .venv/bin/python bench/written_channels.py [--tickets 5000] [--requests 300] [--cases 346]

Builds a temporary store with `--tickets` mailbox and SMS tickets (taken in through
`TicketService.take_in`, as the site and the gateway do) and `--cases` published cases
(the Jincheng report's 346 a year, published through `CaseService`), then serves the
public site and the console on free loopback ports (no Asterisk) and times, one request
at a time from an aiohttp client, each until its body is read:
- the mailbox form posted (a new ticket, its query code hashed: PBKDF2 off the event loop),
  each from its own address as the reverse proxy reports it (X-Forwarded-For), so the
  rate limit does not refuse them;
- the status looked up with a right ticket number and code;
- a signed SMS from the gateway (`/gateway/sms`: signature, new ticket, acknowledgement queued);
- the Atom feed of the published cases.
Prints p50 / p95 / max in milliseconds per kind.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from callcenter.cases.repository import CaseRepository
from callcenter.cases.service import CaseService
from callcenter.sms.signature import signed_headers
from callcenter.store import Store
from callcenter.tickets import WrittenMessage
from callcenter.vocabulary import Channel
from tests.public_helpers import public_site_running
from tests.web_helpers import FakeFloor, console_running, console_settings

SECRET = "bench-secret"
RECEIPT = re.compile(r'id="ticket-number">(\d+)<.*?id="query-code">([0-9A-Z]+)<', re.S)


def _line(kind: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"{kind:<28} n={len(ms):<5} p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms"


async def _timed(n: int, request: Callable[[int], Awaitable[None]]) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        await request(i)
        times.append(time.perf_counter() - start)
    return times


async def main(tickets: int, requests: int, cases: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        plain = console_settings(Path(folder))
        settings = dataclasses.replace(plain, sms=dataclasses.replace(plain.sms, secret=SECRET))
        async with Store(settings.paths.database) as store:
            floor = FakeFloor(settings, store)
            desk = floor.services.tickets
            started = time.perf_counter()
            for i in range(tickets):
                channel = Channel.MAILBOX if i % 2 else Channel.SMS
                await desk.take_in(WrittenMessage(channel, f"第{i}号来信：小区路灯坏了，请尽快修复。",
                                                  contact_number=f"139{i:08d}"))
            publisher = CaseService(settings, CaseRepository(store))
            for i in range(cases):
                ticket_id = await desk.take_in(WrittenMessage(Channel.MAILBOX, f"案例{i}：井盖缺失"))
                await desk.forward(ticket_id, unit="zezhou", actor="bench")
                await desk.reply(ticket_id, "zezhou", "已补装井盖。", actor="bench")
                await desk.close(ticket_id, actor="bench")
                await publisher.publish(ticket_id, f"井盖缺失案例{i}", "市民反映井盖缺失，承办单位已补装。",
                                        confirm=True, actor="bench")
            print(f"store: {tickets + cases} written tickets, {cases} published cases "
                  f"(filled in {time.perf_counter() - started:.1f} s)", flush=True)

            async with console_running(settings, floor) as console, \
                    public_site_running(settings, floor.services) as public, aiohttp.ClientSession() as http:
                receipts: list[tuple[str, str]] = []

                async def submit(i: int) -> None:
                    form = {"name": "王女士", "phone": f"138{i:08d}", "problem": f"第{i}次测试：楼道灯不亮。",
                            "category": "help", "place": "凤台街", "website": ""}
                    headers = {"X-Forwarded-For": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"}
                    async with http.post(f"{public.url}/mailbox", data=form, headers=headers) as answer:
                        found = RECEIPT.search(await answer.text())
                        assert answer.status == 200 and found, answer.status
                        receipts.append((found.group(1), found.group(2)))

                async def status(i: int) -> None:
                    number, code = receipts[i % len(receipts)]
                    async with http.post(f"{public.url}/status", data={"ticket": number, "code": code},
                                         headers={"X-Forwarded-For": "10.200.0.1"}) as answer:
                        text = await answer.text()
                        assert answer.status == 200 and 'id="ticket-state"' in text, answer.status

                async def sms(i: int) -> None:
                    body = json.dumps({"from": f"137{i:08d}", "text": "路灯不亮", "time": int(time.time()),
                                       "id": f"bench-{i}"}).encode()
                    async with http.post(f"{console.url}/gateway/sms", data=body,
                                         headers=signed_headers(SECRET, body, time.time())) as answer:
                        await answer.read()
                        assert answer.status == 200, answer.status

                async def feed(_: int) -> None:
                    async with http.get(f"{public.url}/cases.atom") as answer:
                        assert answer.status == 200 and len(await answer.read()) > 1000

                for kind, request in (("mailbox form posted", submit), ("status by number + code", status),
                                      ("signed SMS taken in", sms), ("Atom feed of cases", feed)):
                    print(_line(kind, await _timed(requests, request)), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cases", type=int, default=346)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.tickets, arguments.requests, arguments.cases))
