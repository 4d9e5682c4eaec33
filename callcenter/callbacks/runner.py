"""The callback runner: places the due callbacks over ARI and runs each call.

The call goes out through ARI (originate into the Stasis app) over the trunk's PJSIP
endpoint (settings [trunk] address, or the older [callbacks] trunk); the recording is started through AMI
(MixMonitor), because an originated channel does not pass the dialplan that records
citizens' calls. One task per callback call plays the prompts and takes the key; the
answer is stored on the ticket through `tickets.service.record_callback`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from callcenter.ami import ami_session
from callcenter.ari import AriClient, AriError
from callcenter.callbacks.policy import ANSWERS, attempts_left, due, national_number, refusal, unanswered_result
from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local, local
from callcenter.pbx import INSTANCE_MOUNT
from callcenter.settings import TRUNK_ENDPOINT, Settings
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.tickets.repository import TicketRepository
from callcenter.tickets.service import Context, record_callback
from callcenter.vocabulary import CallbackResult, Satisfaction

log = logging.getLogger(__name__)

# Channel ids of callback calls start with this: the controller hands their events here.
PREFIX = "callback-"


@dataclass
class CallbackCall:
    ticket_id: int
    channel_id: str
    number: str
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    digits: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    playbacks: dict[str, asyncio.Event] = field(default_factory=dict)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    cause: int = 0


async def _first_of(*events: asyncio.Event) -> None:
    """Return as soon as any of `events` is set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


class CallbackRunner:
    """Places due callbacks and runs them; the controller hands it the events of its channels."""

    def __init__(self, settings: Settings, ari: AriClient, store: Store, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.rules = settings.callbacks
        self.ari = ari
        self.store = store
        self.clock = clock
        self.calls: dict[str, CallbackCall] = {}
        self._call_log = CallRepository(store)
        self._tickets = TicketRepository(store)
        self._context: Context | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def context(self) -> Context:
        """The ticket context now (the directory is read once)."""
        if self._context is None:
            self._context = Context(load_directory(units_file(self.settings)), self.settings.zone)
        return Context(self._context.directory, self.settings.zone, time.time())

    # ------------------------------------------------------------------ scheduling

    async def run(self) -> None:
        """Every poll interval, call back the citizens whose tickets are due."""
        if not self.settings.trunk_address:
            log.info("callbacks off: no trunk configured ([trunk] address)")
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
        rows = await self._tickets.awaiting_callback(self.rules.max_attempts)
        placed: list[int] = []
        busy_tickets = {call.ticket_id for call in self.calls.values()}
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        placed_today = await self._tickets.callbacks_since(midnight)
        for row in rows:
            ticket_id = int(str(row["ticket_id"]))
            last = float(str(row["last_try"])) if row.get("last_try") is not None else None
            if ticket_id in busy_tickets or not due(row, last, now, moment, self.rules):
                continue
            number = str(row["caller_number"])
            reason = refusal(number, self.rules)
            if reason is not None:
                # Never dialled, and never will be (the number does not change): stored once
                # as a refused attempt with the reason, and no retry follows.
                log.warning("callback for ticket %s %s; given up", ticket_id, reason)
                await record_callback(self.store, self.context(), ticket_id, result=CallbackResult.FAILED,
                                      actor="callback", note=f"{reason}; given up (never dialled)",
                                      no_more_than=self.rules.max_attempts)
                continue
            if len(self.calls) >= self.rules.max_concurrent:
                break  # the rest wait for the next poll
            if placed_today >= self.rules.max_per_day:
                log.warning("callbacks: the day's cap of %d is reached; the rest wait for tomorrow",
                            self.rules.max_per_day)
                break
            await self.place(ticket_id, number, int(str(row["callback_attempts"] or 0)) + 1)
            placed.append(ticket_id)
            placed_today += 1
        return placed

    async def place(self, ticket_id: int, number: str, attempt: int) -> None:
        channel_id = f"{PREFIX}{ticket_id}-{attempt}-{int(time.time())}"
        call = CallbackCall(ticket_id, channel_id, number)
        self.calls[channel_id] = call
        dial_number = national_number(number)  # checked against the number plan (policy.refusal)
        try:
            await self.ari.originate(
                f"PJSIP/{dial_number}@{TRUNK_ENDPOINT}", channel_id, app_args=f"callback,{ticket_id}",
                caller_id=f"{self.rules.caller_id} <{self.rules.caller_id}>", timeout=int(self.rules.ring_seconds))
        except AriError as exc:
            del self.calls[channel_id]
            log.warning("callback for ticket %s could not be placed: %s", ticket_id, exc)
            await self._record(call, CallbackResult.FAILED, None, note=str(exc)[:200])
            return
        self._spawn(self._follow(call), f"callback-{ticket_id}")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        # A callback task that died must not die silently: its ticket would wait for the next poll unexplained.
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

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
            call.answered.set()
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
        self._call_log.log(call.channel_id, "RECORDING_STARTED", now, iso_local(now, self.settings.zone),
                           data={"path": str(host), "ticket": call.ticket_id})

    async def _play(self, call: CallbackCall, prompt: str) -> None:
        playback_id = f"{call.channel_id}-{prompt}"
        done = asyncio.Event()
        call.playbacks[playback_id] = done
        await self.ari.play(call.channel_id, [f"sound:{INSTANCE_MOUNT}/sounds/{prompt}"], playback_id)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):
                await _first_of(done, call.hung_up)

    async def _follow(self, call: CallbackCall) -> None:
        """Wait for the answer (or not), ask, take the digit, store the result."""
        # An unanswered originate ends with the channel destroyed, its cause telling busy from
        # no answer; the margin past the ring time covers that event arriving late.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.rules.ring_seconds + 15):
                await _first_of(call.answered, call.hung_up)
        try:
            if not call.answered.is_set():
                await self._record(call, unanswered_result(call.cause), None, note=f"cause {call.cause}")
                return
            satisfaction = await self._ask(call)
            await self._record(call, CallbackResult.REACHED, satisfaction,
                               note=None if satisfaction else "no answer given")
        finally:
            self.calls.pop(call.channel_id, None)
            if not call.hung_up.is_set():
                with contextlib.suppress(AriError):
                    await self.ari.hangup(call.channel_id)

    async def _ask(self, call: CallbackCall) -> Satisfaction | None:
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

    async def _record(self, call: CallbackCall, result: CallbackResult, satisfaction: Satisfaction | None,
                      note: str | None = None) -> None:
        more = True
        if result is not CallbackResult.REACHED:
            attempts = await self._tickets.callback_attempts(call.ticket_id)
            more = attempts is not None and attempts_left(attempts, self.rules)
            if not more:
                note = f"{note or result}; given up after {self.rules.max_attempts} attempts"
        await record_callback(self.store, self.context(), call.ticket_id, result=result, satisfaction=satisfaction,
                              call_id=call.channel_id or None, actor="callback", note=note)
        log.info("callback ticket %s: %s %s%s", call.ticket_id, result, satisfaction or "",
                 "" if more else " (given up)")
