"""Follow-up callbacks (回访): once a unit has replied to a ticket, the hotline calls the
citizen back, plays a question and takes their satisfaction by DTMF (1 satisfied,
2 basically satisfied, 3 dissatisfied), records the call like any other, and stores the
answer on the ticket (`tickets.record_callback`). No answer: retried as configured,
never at night.

The call goes out through ARI (originate into the Stasis app) over the `callback-trunk`
PJSIP endpoint (settings [callbacks] trunk); the recording is started through AMI
(MixMonitor), because an originated channel does not pass the dialplan that records
citizens' calls. Which ticket is due is a pure decision (`due`); one task per callback
call plays the prompts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock_time
from pathlib import PurePosixPath
from typing import Any

from callcenter import tickets
from callcenter.ami import ami_session
from callcenter.ari import AriClient, AriError
from callcenter.clock import iso_local, local
from callcenter.pbx import INSTANCE_MOUNT
from callcenter.settings import CallbacksSection, Settings
from callcenter.store import Store

log = logging.getLogger(__name__)

ANSWERS = {"1": tickets.Satisfaction.SATISFIED, "2": tickets.Satisfaction.BASICALLY_SATISFIED,
           "3": tickets.Satisfaction.DISSATISFIED}
PREFIX = "callback-"
# Q.850 causes of an unanswered or refused call leg.
BUSY_CAUSES = frozenset({17})


def _minute(text: str) -> int:
    parsed = clock_time.fromisoformat(text)
    return parsed.hour * 60 + parsed.minute


def quiet(moment: datetime, rules: CallbacksSection) -> bool:
    """Night: no citizen is called back between quiet_start and quiet_end (local time)."""
    start, end, minute = _minute(rules.quiet_start), _minute(rules.quiet_end), moment.hour * 60 + moment.minute
    if start == end:
        return False
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def due(ticket: Mapping[str, Any], last_attempt: float | None, now: float, moment: datetime,
        rules: CallbacksSection) -> bool:
    """A replied ticket whose citizen has not answered yet, with attempts left, the retry
    interval passed since the last attempt, and not at night."""
    if str(ticket.get("state")) != tickets.State.REPLIED or ticket.get("satisfaction"):
        return False
    if not str(ticket.get("caller_number") or "").strip():
        return False
    if int(ticket.get("callback_attempts") or 0) >= rules.max_attempts:
        return False
    if last_attempt is not None and now - last_attempt < rules.retry_minutes * 60:
        return False
    return not quiet(moment, rules)


@dataclass
class CallbackCall:
    ticket_id: int
    channel_id: str
    number: str
    answered: bool = False
    digits: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    playbacks: dict[str, asyncio.Event] = field(default_factory=dict)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    cause: int = 0
    task: asyncio.Task[None] | None = None


class CallbackRunner:
    """Places due callbacks and runs them; the controller hands it the events of its channels."""

    def __init__(self, settings: Settings, ari: AriClient, store: Store, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.rules = settings.callbacks
        self.ari = ari
        self.store = store
        self.clock = clock
        self.calls: dict[str, CallbackCall] = {}
        self._context: tickets.Context | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def context(self) -> tickets.Context:
        if self._context is None:
            directory = tickets.load_directory(tickets.units_file(self.settings))
            self._context = tickets.Context(directory, self.settings.zone)
        return tickets.Context(self._context.directory, self.settings.zone, time.time())

    # ------------------------------------------------------------------ scheduling

    async def run(self) -> None:
        """Every poll interval, call back the citizens whose tickets are due."""
        if not self.rules.trunk:
            log.info("callbacks off: no [callbacks] trunk configured")
            return
        while True:
            try:
                await self.place_due()
            except Exception:
                log.exception("placing callbacks failed")
            await asyncio.sleep(self.rules.poll_seconds)

    async def place_due(self) -> list[int]:
        now = time.time()
        moment = local(self.clock(), self.settings.zone)
        rows = await self.store.query(
            "SELECT t.*, (SELECT max(at_epoch) FROM ticket_callbacks c WHERE c.ticket_id = t.ticket_id) AS last_try "
            "FROM tickets t WHERE t.state = 'replied' AND t.satisfaction IS NULL AND t.callback_attempts < ?",
            (self.rules.max_attempts,))
        placed = []
        busy_tickets = {call.ticket_id for call in self.calls.values()}
        for row in rows:
            ticket_id = int(str(row["ticket_id"]))
            last = float(str(row["last_try"])) if row.get("last_try") is not None else None
            if ticket_id in busy_tickets or not due(row, last, now, moment, self.rules):
                continue
            await self.place(ticket_id, str(row["caller_number"]), int(str(row["callback_attempts"] or 0)) + 1)
            placed.append(ticket_id)
        return placed

    async def place(self, ticket_id: int, number: str, attempt: int) -> None:
        channel_id = f"{PREFIX}{ticket_id}-{attempt}-{int(time.time())}"
        call = CallbackCall(ticket_id, channel_id, number)
        self.calls[channel_id] = call
        dial_number = "".join(ch for ch in number if ch.isdigit() or ch in "+*#")
        try:
            await self.ari.originate(
                f"PJSIP/{dial_number}@callback-trunk", channel_id, app_args=f"callback,{ticket_id}",
                caller_id=f"{self.rules.caller_id} <{self.rules.caller_id}>", timeout=int(self.rules.ring_seconds))
        except AriError as exc:
            del self.calls[channel_id]
            log.warning("callback for ticket %s could not be placed: %s", ticket_id, exc)
            await self._record(call, tickets.CallbackResult.FAILED, None, note=str(exc)[:200])
            return
        self._spawn(self._follow(call), f"callback-{ticket_id}")

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ events in

    def owns(self, channel_id: str) -> bool:
        return channel_id in self.calls

    def on_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        channel = event.get("channel") or {}
        call = self.calls.get(str(channel.get("id", "")))
        if kind == "PlaybackFinished":
            playback = event.get("playback") or {}
            target = str(playback.get("target_uri", ""))[len("channel:"):]
            call = self.calls.get(target)
            if call is not None and str(playback.get("id")) in call.playbacks:
                call.playbacks[str(playback.get("id"))].set()
            return
        if call is None:
            return
        if kind == "StasisStart":
            call.answered = True
            self._spawn(self._record_audio(call, str(channel.get("name", ""))), f"mixmonitor-{call.channel_id}")
        elif kind == "ChannelDtmfReceived":
            call.digits.put_nowait(str(event.get("digit", "")))
        elif kind in ("ChannelDestroyed", "StasisEnd"):
            if "cause" in event:
                call.cause = int(event.get("cause") or 0)
            call.hung_up.set()

    # ------------------------------------------------------------------ one call

    def _recording_inside(self, call: CallbackCall) -> str:
        stamp = datetime.now(self.settings.zone).strftime("%Y%m%d-%H%M%S")
        return f"{INSTANCE_MOUNT}/recordings/{stamp}_{call.channel_id}.wav"

    async def _record_audio(self, call: CallbackCall, channel_name: str) -> None:
        if not channel_name:
            return
        inside = self._recording_inside(call)
        try:
            async with ami_session(self.settings) as ami:
                await ami.action("MixMonitor", Channel=channel_name, File=inside)
        except Exception as exc:
            log.warning("callback %s: recording could not start: %s", call.channel_id, exc)
            return
        host = self.settings.paths.recordings_dir / PurePosixPath(inside).name
        now = time.time()
        self.store.put_event(call.channel_id, "RECORDING_STARTED", now, iso_local(now, self.settings.zone),
                             data={"path": str(host), "ticket": call.ticket_id})

    async def _play(self, call: CallbackCall, prompt: str) -> None:
        playback_id = f"{call.channel_id}-{prompt}"
        done = asyncio.Event()
        call.playbacks[playback_id] = done
        await self.ari.play(call.channel_id, [f"sound:{INSTANCE_MOUNT}/sounds/{prompt}"], playback_id)
        finished = asyncio.create_task(done.wait())
        gone = asyncio.create_task(call.hung_up.wait())
        await asyncio.wait({finished, gone}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        for task in (finished, gone):
            task.cancel()

    async def _follow(self, call: CallbackCall) -> None:
        """Wait for the answer (or not), ask, take the digit, store the result."""
        deadline = time.monotonic() + self.rules.ring_seconds + 15
        while not call.answered and not call.hung_up.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        try:
            if not call.answered:
                result = tickets.CallbackResult.BUSY if call.cause in BUSY_CAUSES else tickets.CallbackResult.NO_ANSWER
                await self._record(call, result, None, note=f"cause {call.cause}")
                return
            satisfaction = await self._ask(call)
            await self._record(call, tickets.CallbackResult.REACHED, satisfaction,
                               note=None if satisfaction else "no answer given")
        finally:
            self.calls.pop(call.channel_id, None)
            if not call.hung_up.is_set():
                try:
                    await self.ari.hangup(call.channel_id)
                except AriError:
                    pass

    async def _ask(self, call: CallbackCall) -> tickets.Satisfaction | None:
        try:
            await self._play(call, "callback_intro")
            for _ in range(10):  # keys other than 1-3 are ignored
                try:
                    digit = await asyncio.wait_for(call.digits.get(), self.rules.answer_timeout)
                except TimeoutError:
                    return None
                if digit in ANSWERS:
                    await self._play(call, "callback_thanks")
                    return ANSWERS[digit]
        except AriError as exc:
            log.info("callback %s: %s", call.channel_id, exc)
        return None

    async def _record(self, call: CallbackCall, result: tickets.CallbackResult,
                      satisfaction: tickets.Satisfaction | None, note: str | None = None) -> None:
        attempts_left = True
        if result is not tickets.CallbackResult.REACHED:
            rows = await self.store.query("SELECT callback_attempts FROM tickets WHERE ticket_id = ?",
                                          (call.ticket_id,))
            attempts_left = bool(rows) and int(str(rows[0]["callback_attempts"] or 0)) + 1 < self.rules.max_attempts
            if not attempts_left:
                note = f"{note or result}; given up after {self.rules.max_attempts} attempts"
        await tickets.record_callback(self.store, self.context(), call.ticket_id, result=result,
                                      satisfaction=satisfaction, call_id=call.channel_id, actor="callback",
                                      note=note)
        log.info("callback ticket %s: %s %s%s", call.ticket_id, result, satisfaction or "",
                 "" if attempts_left else " (given up)")
