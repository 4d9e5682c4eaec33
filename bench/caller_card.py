"""The caller card's latency under load: from the seat's ring (the controller's
RINGSEAT, the moment the seat moves to ringing) to the card received by the operator's
WebSocket, with every seat's operator logged in.

    .venv/bin/python bench/caller_card.py                     # 60 seats, 20 calls/s for 20 s
    .venv/bin/python bench/caller_card.py --seats 60 --rate 30 --hold 30

Reuses `bench/callflow.py`'s `Bench` (a throw-away Asterisk, N SIPp seats, SIPp
citizens who press 0), but runs as the controller this script itself with `--serve`:
the controller with the console beside it in one process, as `hotline up` has them.
Then one aiohttp client per seat logs in as that seat's operator and opens
`/api/operator/ws`; while the step runs, each socket notes when the first view carrying
a call's card arrives. After the step the store's RINGSEAT times give the latency of
each card (same machine, same clock). Prints p50 / p99 / max and the cards missing, and
the step's own line (StasisStart->answer p50/p99, CPU per call) to compare with a run of
`bench/callflow.py` at the same rate without operators.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HOME = Path(__file__).resolve().parent.parent
if str(HOME) not in sys.path:  # run as a script: make `callcenter`, `bench` and `tests` importable
    sys.path.insert(0, str(HOME))

import aiohttp  # noqa: E402

from bench.callflow import Bench, Options, missing_prerequisite, percentile, say, step_line  # noqa: E402
from bench.repository import BenchStore  # noqa: E402
from callcenter.settings import Settings, load_settings  # noqa: E402
from callcenter.users import read_generated_passwords  # noqa: E402
from tests.harness import LOOPBACK, free_port  # noqa: E402
from tests.web_helpers import http_session, log_in  # noqa: E402


async def serve(settings: Settings) -> None:
    """The controller and the console in one process, against the bench's Asterisk."""
    import logging

    from callcenter.app import controller_running, services_running
    from callcenter.web import web_running

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with services_running(settings) as services, \
            controller_running(settings, services) as controller, \
            web_running(settings, services, controller) as url:
        print(f"controller connected, console at {url}", flush=True)
        await stop.wait()


class Operators:
    """One logged-in operator socket per seat; when each call's card first reached it."""

    def __init__(self, url: str, passwords: dict[str, str], seats: int) -> None:
        self.url = url
        self.passwords = passwords
        self.seats = [f"seat{n}" for n in range(1, seats + 1)]
        self.received: dict[tuple[str, str], float] = {}  # (call id, seat) -> epoch received
        self.dropped = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._sessions: list[aiohttp.ClientSession] = []

    async def open(self) -> None:
        ready: list[asyncio.Future[None]] = []
        for seat in self.seats:
            http = http_session()
            self._sessions.append(http)
            response = await log_in(http, self.url, seat, self.passwords[seat])
            if response.status != 303:
                raise RuntimeError(f"{seat} could not log in (HTTP {response.status})")
            opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            ready.append(opened)
            self._tasks.append(asyncio.create_task(self._listen(http, seat, opened), name=f"operator-{seat}"))
        await asyncio.gather(*ready)

    async def _listen(self, http: aiohttp.ClientSession, seat: str, opened: asyncio.Future[None]) -> None:
        async with http.ws_connect(f"{self.url}/api/operator/ws", origin=self.url) as ws:
            opened.set_result(None)
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                at = time.time()
                view = message.json()
                card = view.get("card") if view.get("type") == "seat" else None
                call = view.get("call") or {}
                if card and call.get("live"):
                    self.received.setdefault((str(card["call_id"]), seat), at)
        self.dropped += 1

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for http in self._sessions:
            await http.close()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The caller card's latency from the seat's ring to the operator's "
                                                 "WebSocket, under the call-flow load.")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the bench's controller
    parser.add_argument("--seats", type=int, default=60, help="seat phones and logged-in operators (default 60)")
    parser.add_argument("--rate", type=float, default=20.0, help="calls/s offered (default 20)")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds the rate is offered (default 20)")
    parser.add_argument("--talk-ms", type=int, default=1000, help="seat talk time (default 1000)")
    parser.add_argument("--answer-ms", type=int, default=300, help="seat ringing time before it answers (default 300)")
    parser.add_argument("--max-load", type=float, default=2.0,
                        help="refuse to start while the 1-minute load average is above this (default 2.0)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary state folder")
    return parser.parse_args(argv)


async def measure(bench: Bench, args: argparse.Namespace) -> int:
    settings = bench.settings
    url = f"http://{LOOPBACK}:{settings.web.port}"
    operators = Operators(url, read_generated_passwords(settings.paths.state_dir), args.seats)
    await operators.open()
    say(f"{args.seats} operators logged in, each with the workspace socket open")
    first_rowid = BenchStore(settings.paths.database).last_call_rowid()
    try:
        step = await asyncio.to_thread(bench.run_step, args.rate)
        await asyncio.sleep(1.0)  # the last views of the step still on their way
    finally:
        await operators.close()
    say(step_line(step))
    rings = BenchStore(settings.paths.database).seat_rings(first_rowid)
    latencies = [(operators.received[(call_id, seat)] - rang) * 1000 for call_id, seat, rang in rings
                 if (call_id, seat) in operators.received]
    missing = len(rings) - len(latencies)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    worst = max(latencies) if latencies else None

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    say(f"caller card, ring -> operator's socket: {len(latencies)} cards, p50 {ms(p50)}, p99 {ms(p99)}, "
        f"max {ms(worst)}; {missing} rings without a card (a ring given up before its view was built), "
        f"{operators.dropped} sockets dropped; load {os.getloadavg()[0]:.1f}")
    return 0 if latencies and step.passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        asyncio.run(serve(load_settings(env=dict(os.environ))))
        return 0
    missing = missing_prerequisite()
    if missing:
        say(missing)
        return 2
    load = os.getloadavg()[0]
    if load > args.max_load:
        say(f"the load average is {load:.1f} (over {args.max_load:g}): other work would skew every number")
        return 2
    web = (("HOTLINE_WEB_BIND", LOOPBACK), ("HOTLINE_WEB_PORT", str(free_port())))
    options = Options(args.seats, args.hold, args.talk_ms, args.answer_ms, max_wait=10.0, max_calls=5000,
                      ring_timeout=5.0, keep=args.keep,
                      controller_cmd=(sys.executable, str(Path(__file__).resolve()), "--serve"), env=web)
    bench = Bench(options)
    try:
        bench.start()
        return asyncio.run(measure(bench, args))
    finally:
        bench.stop()


if __name__ == "__main__":
    sys.exit(main())
