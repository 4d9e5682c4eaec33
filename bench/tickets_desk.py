"""How fast does the supervisor's tickets desk answer with a year of tickets in the store?
(Target: p95 under 100 ms for every request below.)

    .venv/bin/python bench/tickets_desk.py [--calls 200000] [--tickets 20000] [--requests 300]

Builds a temporary store (the schema through the Store's own migrations, then synthetic
calls and tickets written through `CallRepository.insert_many` and
`TicketRepository.insert_many`, which also indexes the summaries' words), serves the
console on a free loopback port (`tests.web_helpers.console_running` with a fake floor:
no Asterisk), logs in as the supervisor and times HTTP requests from an aiohttp client,
one at a time, each until its body is read: the ticket list's first page under several
filter combinations, and the similar-ticket suggestion an operator gets while writing a
ticket. Prints p50 / p95 / max in milliseconds per request kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.calls.repository import CallRepository
from callcenter.demo.tickets import COUNTIES, TEMPLATES, VILLAGES
from callcenter.store import Store
from callcenter.tickets.deadlines import deadline_from
from callcenter.tickets.directory import Directory, load_directory, units_file
from callcenter.tickets.repository import TicketRepository
from callcenter.vocabulary import TicketState
from tests.web_helpers import FakeFloor, console_running, console_settings, http_session, log_in

DAY = 86400
STATES = [TicketState.CLOSED] * 55 + [TicketState.REPLIED] * 15 + [TicketState.FORWARDED] * 18 \
    + [TicketState.OPEN] * 7 + [TicketState.REOPENED] * 5  # 30 % in progress: most of them overdue


def summary_text(rng: random.Random) -> tuple[str, str]:
    """A summary like the demo's, and its unit's code."""
    _, unit, template = rng.choice(TEMPLATES)
    county = rng.choices(list(COUNTIES), weights=[w for _, _, w in COUNTIES.values()])[0]
    name, towns, _ = COUNTIES[county]
    text = template.format(county=name, town=rng.choice(towns), village=rng.choice(VILLAGES))
    return text, county if unit == "county" else unit


def iso(epoch: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(int(epoch), zone).isoformat(timespec="seconds")


async def fill(store: Store, zone: ZoneInfo, directory: Directory, calls: int, tickets: int, numbers: int,
               now: float, seed: int = 12345) -> list[dict[str, object]]:
    """Calls over the last year, tickets on a tenth of them; the ticket rows."""
    rng = random.Random(seed)
    start = now - 365 * DAY
    repository = CallRepository(store)
    call_rows: list[dict[str, object]] = []
    batch: list[dict[str, object]] = []
    for index in range(calls):
        arrived = start + (now - start - 3600) * index / calls
        answered = rng.random() < 0.9
        row: dict[str, object] = {
            "call_id": f"bench-{index}", "caller_number": f"13{rng.randrange(numbers):09d}",
            "arrived": iso(arrived, zone), "arrived_epoch": arrived,
            "seat_answered": iso(arrived + 15, zone) if answered else None,
            "ended": iso(arrived + 200, zone), "wait_seconds": 15, "talk_seconds": 180 if answered else 0,
            "total_seconds": 200, "outcome": "answered" if answered else "abandoned_queue",
            "seat": f"seat{rng.randrange(1, 7)}" if answered else None, "state": "done",
        }
        batch.append(row)
        if answered:
            call_rows.append(row)
        if len(batch) == 50_000 or index == calls - 1:
            await repository.insert_many(batch, [])
            batch = []
    chosen = sorted(rng.sample(range(len(call_rows)), tickets))
    rows: list[dict[str, object]] = []
    links: list[dict[str, object]] = []
    events: list[dict[str, object]] = []
    for number, position in enumerate(chosen, 1):
        call = call_rows[position]
        created = float(str(call["arrived_epoch"])) + 300
        text, unit = summary_text(rng)
        state = rng.choice(STATES)
        deadline = deadline_from(created, zone, 7)
        forwarded = state is not TicketState.OPEN
        rows.append({
            "ticket_id": number, "created": iso(created, zone), "created_epoch": created,
            "category": rng.choice(TEMPLATES)[0].value, "summary": text, "unit": unit,
            "unit_name": directory.find(unit).name,
            "state": str(state), "state_since": iso(created, zone), "state_since_epoch": created,
            "operator": call["seat"], "caller_number": call["caller_number"],
            "contact_number": call["caller_number"], "deadline": deadline.day.isoformat(),
            "deadline_epoch": deadline.end_epoch, "deadline_estimated": int(deadline.estimated),
            "forwarded": iso(created + 3600, zone) if forwarded else None,
            "forwarded_epoch": created + 3600 if forwarded else None,
            "channel": "phone", "merged_into": None,
        })
        links.append({"call_id": call["call_id"], "ticket_id": number, "linked": iso(created, zone),
                      "linked_epoch": created})
        events.append({"ticket_id": number, "at": iso(created, zone), "at_epoch": created, "kind": "created",
                       "state": str(TicketState.OPEN), "actor": call["seat"],
                       "data": json.dumps({"unit": unit}, ensure_ascii=False)})
    await TicketRepository(store).insert_many(rows, links, events, [])
    return rows


def summary(name: str, samples: list[float], target: float = 0.100) -> str:
    """One line: the verdict against `target` seconds at the 95th percentile, p50, p95, max."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    verdict = "ok" if p95 < target else "SLOW"
    return (f"{verdict:<4} {name:<44} n={len(samples):<5} p50={statistics.median(ordered) * 1000:7.1f} ms  "
            f"p95={p95 * 1000:7.1f} ms  max={ordered[-1] * 1000:7.1f} ms")


async def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = console_settings(Path(folder))
        zone = settings.zone
        now = time.time()
        month = datetime.fromtimestamp(now, zone).strftime("%Y-%m")
        print(f"filling a store with {args.calls:,} calls and {args.tickets:,} tickets...", flush=True)
        started = time.perf_counter()
        async with Store(settings.paths.database) as store:
            rows = await fill(store, zone, load_directory(units_file(settings)), args.calls, args.tickets,
                              args.numbers, now)
        print(f"  filled in {time.perf_counter() - started:.1f} s", flush=True)
        in_progress = [r for r in rows if r["state"] in ("open", "forwarded", "reopened")]
        recent = [r for r in in_progress if float(str(r["created_epoch"])) > now - 30 * DAY]
        print(f"  {len(in_progress):,} tickets in progress, {len(recent):,} of them made in the last 30 days",
              flush=True)
        rng = random.Random(7)
        lists = {
            "list: all, page 1": {},
            "list: state=forwarded": {"state": "forwarded"},
            "list: unit=zezhou": {"unit": "zezhou"},
            "list: state=forwarded&unit=zezhou": {"state": "forwarded", "unit": "zezhou"},
            "list: overdue=1": {"overdue": "1"},
            f"list: category=complaint&month={month}": {"category": "complaint", "month": month},
            "list: state=closed&unit=housing&page=3": {"state": "closed", "unit": "housing", "page": "3"},
        }
        async with Store(settings.paths.database) as store:
            floor = FakeFloor(settings, store)
            async with console_running(settings, floor) as console, http_session() as http:
                response = await log_in(http, console.url, "supervisor", console.passwords["supervisor"])
                assert response.status in (302, 303), response.status

                async def timed(path: str) -> float:
                    t0 = time.perf_counter()
                    async with http.get(f"{console.url}{path}") as reply:
                        await reply.read()
                        assert reply.status == 200, (path, reply.status)
                    return time.perf_counter() - t0

                results: list[str] = []
                for name, query in lists.items():
                    path = f"/api/tickets?{urlencode(query)}" if query else "/api/tickets"
                    for _ in range(20):  # warm the page cache and the statements
                        await timed(path)
                    results.append(summary(name, [await timed(path) for _ in range(args.requests)]))

                def similar_path(kind: str) -> str:
                    ticket = rng.choice(recent or in_progress)
                    text, _ = summary_text(rng)
                    query = {"number": str(ticket["caller_number"]), "summary": text} if kind == "both" else \
                        {"number": f"13{rng.randrange(args.numbers):09d}"} if kind == "number" else {"summary": text}
                    return f"/api/tickets/similar?{urlencode(query)}"

                for kind, name in (("both", "similar: number + summary"), ("number", "similar: number only"),
                                   ("summary", "similar: summary only")):
                    for _ in range(20):
                        await timed(similar_path(kind))
                    results.append(summary(name, [await timed(similar_path(kind)) for _ in range(args.requests)]))
        print(f"{args.calls:,} calls and {args.tickets:,} tickets in the store; one request at a time over "
              "loopback HTTP, logged in as the supervisor:")
        for line in results:
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--numbers", type=int, default=60_000, help="distinct caller numbers")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per kind")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
