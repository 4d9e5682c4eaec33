"""The thin runner of live supervision: requests from the console and ARI events in,
`session.step` in the middle, ARI requests and log lines out.

It owns its channels (the supervisors' phones and the snoops): the controller hands it
their events before its own call flow sees them. One task per supervision performs its
actions in order; nothing here ever raises into the call it supervises: a failing
step ends the supervision, never the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.ari import AriClient, AriError, AriNotFound
from callcenter.clock import iso_local
from callcenter.listen_in import session as s
from callcenter.listen_in.repository import ListenInRepository
from callcenter.listen_in.vocabulary import Mode, Refusal
from callcenter.nodes import Nodes
from callcenter.settings import Settings

log = logging.getLogger(__name__)

# Seconds past listen_in.answer_seconds after which a phone still ringing is given up.
RINGING_GRACE = 5.0
# Seconds a new snoop channel has to enter Stasis before the supervision gives up on it.
SNOOP_ENTRY_SECONDS = 5.0
# The log's times kept as epoch seconds in the machine, written as local ISO times too.
_TIMES = ("requested", "started", "ended")


@dataclass(frozen=True)
class TalkingLeg:
    """The seat's channel in a call it is talking in."""

    call_id: str
    channel_id: str


class ListenInRefused(Exception):
    """Supervision cannot start or stop as asked; `reason` says why."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass
class _Running:
    session: s.Session
    inbox: asyncio.Queue[s.Event]
    task: asyncio.Task[None] | None = None


class ListenIn:
    """Every supervision going on now, by id; `talking_leg(seat)` is the controller's
    view of the seat's live call (None when it is not talking)."""

    def __init__(self, settings: Settings, nodes: Nodes, repository: ListenInRepository,
                 talking_leg: Callable[[str], TalkingLeg | None], changed: Callable[[], None],
                 ringing_grace: float = RINGING_GRACE, snoop_entry_seconds: float = SNOOP_ENTRY_SECONDS) -> None:
        self.settings = settings
        # A supervision happens on the node of the seat's call: the snoop must be where
        # the seat's channel is, and that node rings the supervisor's phone.
        self.nodes = nodes
        self.repository = repository
        self.talking_leg = talking_leg
        self.changed = changed  # the wallboard shows who supervises whom
        self.ringing_grace = ringing_grace
        self.snoop_entry_seconds = snoop_entry_seconds
        self.running: dict[str, _Running] = {}
        self._channels: dict[str, str] = {}  # phone and snoop channel ids -> session id
        # Snoops asked for whose StasisStart has not come yet (see `_snoop`).
        self._snoops_entering: dict[str, asyncio.Future[None]] = {}
        # One request at a time: two quick clicks must not ring the supervisor's phone twice.
        self._requests = asyncio.Lock()

    # ------------------------------------------------------------------ requests

    async def choose(self, supervisor: str, seat: str, mode: Mode) -> s.Session:
        """The supervisor listens to, whispers to or barges into the seat's call: a new
        supervision (its phone rings), or the mode of the one going on changed."""
        async with self._requests:
            return await self._choose(supervisor, seat, mode)

    async def _choose(self, supervisor: str, seat: str, mode: Mode) -> s.Session:
        if supervisor not in self.settings.supervisor_phones:
            raise ListenInRefused(Refusal.NO_PHONE)
        leg = self.talking_leg(seat)
        if leg is None:
            raise ListenInRefused(Refusal.NOT_TALKING)
        now = time.time()
        current = self._of(supervisor)
        if current is not None and current.session.seat == seat and current.session.call_id == leg.call_id:
            current.inbox.put_nowait(s.ModeChosen(now, mode))
            return current.session
        try:
            state = await self.nodes.of(leg.channel_id).endpoint_state("PJSIP", supervisor)
        except AriError:
            state = ""
        if state != "online":
            raise ListenInRefused(Refusal.PHONE_OFFLINE)
        if current is not None:  # one supervision per supervisor: the other seat's ends first
            await self._stop_and_wait(current, now)
        session = s.Session(uuid.uuid4().hex[:12], supervisor, seat, leg.call_id, leg.channel_id, mode)
        running = _Running(session, asyncio.Queue())
        self.running[session.session_id] = running
        self._channels[session.phone_channel] = session.session_id
        running.task = asyncio.create_task(self._run(running, s.begin(session, now)),
                                           name=f"listen-in-{session.session_id}")
        return session

    async def stop(self, supervisor: str, seat: str) -> None:
        """End the supervisor's supervision of the seat (结束); ListenInRefused if there is none."""
        async with self._requests:
            current = self._of(supervisor)
            if current is None or current.session.seat != seat:
                raise ListenInRefused(Refusal.NOT_SUPERVISING)
            await self._stop_and_wait(current, time.time())

    async def _stop_and_wait(self, running: _Running, now: float) -> None:
        running.inbox.put_nowait(s.StopRequested(now))
        if running.task is not None:
            await asyncio.wait({running.task}, timeout=15)

    def _of(self, supervisor: str) -> _Running | None:
        return next((r for r in self.running.values() if r.session.supervisor == supervisor), None)

    def view(self) -> list[dict[str, Any]]:
        """Each supervision going on, for the wallboard."""
        return [{"supervisor": r.session.supervisor, "seat": r.session.seat, "call_id": r.session.call_id,
                 "mode": str(r.session.mode), "phase": str(r.session.phase)} for r in self.running.values()]

    # ------------------------------------------------------------------ events in

    def owns(self, channel_id: str) -> bool:
        """A supervisor's phone or a snoop of a supervision going on (by channel or bridge id)."""
        return channel_id in self._channels or any(r.session.bridge_id == channel_id for r in self.running.values())

    def reconcile(self, channel_ids: set[str], node: str = "") -> None:
        """After a node's ARI (re)connected: a supervision on it whose channels ended while
        no events came is told now."""
        now = time.time()
        for running in self.running.values():
            session = running.session
            if self.nodes.node_of(session.seat_channel) != (node or self.nodes.default):
                continue
            if session.seat_channel not in channel_ids:
                running.inbox.put_nowait(s.SeatGone(now))
            elif session.phone_channel not in channel_ids:
                running.inbox.put_nowait(s.PhoneGone(now))
            elif session.snoop_channel and session.snoop_channel not in channel_ids:
                running.inbox.put_nowait(s.SnoopGone(now, session.snoop_channel))

    def on_event(self, event: Mapping[str, Any]) -> None:
        """An ARI event of one of its channels (never blocks)."""
        channel_id = str((event.get("channel") or {}).get("id", ""))
        running = self.running.get(self._channels.get(channel_id, ""))
        if running is None:
            return
        kind = str(event.get("type", ""))
        now = time.time()
        phone = channel_id == running.session.phone_channel
        if kind == "StasisStart" and phone:
            running.inbox.put_nowait(s.PhoneAnswered(now))
        elif kind == "StasisStart":
            entering = self._snoops_entering.pop(channel_id, None)
            if entering is not None and not entering.done():
                entering.set_result(None)
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            running.inbox.put_nowait(s.PhoneGone(now) if phone else s.SnoopGone(now, channel_id))

    def seat_gone(self, channel_id: str) -> None:
        """The controller saw a seat's channel end: its supervisions end with it."""
        for running in self.running.values():
            if running.session.seat_channel == channel_id:
                running.inbox.put_nowait(s.SeatGone(time.time()))

    async def close(self) -> None:
        """End every supervision (the controller stops): phones hung up, snoops and bridges gone."""
        now = time.time()
        for running in list(self.running.values()):
            running.inbox.put_nowait(s.StopRequested(now))
        tasks = [r.task for r in self.running.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=15)
        await self.repository.flush()

    # ------------------------------------------------------------------ the task

    async def _run(self, running: _Running, first: list[s.Action]) -> None:
        try:
            await self._perform_all(running, first)
            # Asterisk's originate time-out ends the ringing; this deadline is the backstop
            # should its end never be heard (the supervisor is never left ringing forever).
            give_up = time.monotonic() + self.settings.listen_in.answer_seconds + self.ringing_grace
            while running.session.phase is not s.Phase.ENDED:
                event = await self._next(running, give_up)
                running.session, actions = s.step(running.session, event)
                await self._perform_all(running, actions)
                self.changed()
        except Exception:
            log.exception("listen-in %s: failed; ending it", running.session.session_id)
            running.session, actions = s.step(running.session, s.StepFailed(time.time()))
            with contextlib.suppress(Exception):
                await self._perform_all(running, actions)
        finally:
            session = running.session
            self.running.pop(session.session_id, None)
            for channel_id in [ch for ch, sid in self._channels.items() if sid == session.session_id]:
                del self._channels[channel_id]
            self.changed()
            log.info("listen-in %s: %s of %s (call %s) ended: %s", session.session_id, session.supervisor,
                     session.seat, session.call_id, session.end_reason)

    @staticmethod
    async def _next(running: _Running, give_up: float) -> s.Event:
        if running.session.phase is not s.Phase.RINGING:
            return await running.inbox.get()
        try:
            return await asyncio.wait_for(running.inbox.get(), max(0.0, give_up - time.monotonic()))
        except TimeoutError:
            return s.PhoneGone(time.time())

    async def _perform_all(self, running: _Running, actions: list[s.Action]) -> None:
        for action in actions:
            failed = await self._perform(running.session, action)
            if failed is not None:
                running.session, more = s.step(running.session, failed)
                await self._perform_all(running, more)
                return

    async def _perform(self, session: s.Session, action: s.Action) -> s.StepFailed | None:
        """Perform one action; the failure to feed back when Asterisk refused it."""
        now = time.time()
        try:
            if isinstance(action, s.SavePeriod):
                self._save(action)
            elif isinstance(action, s.DialPhone):
                # The ring time-out is the originate's own: Asterisk gives up and destroys
                # the channel, whose end is the PhoneGone that ends the supervision.
                await self._ari(session).originate(
                    f"PJSIP/{action.endpoint}", action.channel_id, app_args=f"{s.APP_ARG},{session.session_id}",
                    caller_id=f'"listen {session.seat}" <{session.seat}>',
                    timeout=max(1, round(self.settings.listen_in.answer_seconds)))
            elif isinstance(action, s.Connect):
                await self._ari(session).create_bridge(action.bridge_id,
                                                       name=f"listen-in {session.seat} {session.supervisor}")
                await self._snoop(session, action.snoop_channel, action.seat_channel, action.mode)
                await self._ari(session).add_to_bridge(action.bridge_id, [action.phone_channel, action.snoop_channel])
            elif isinstance(action, s.ReplaceSnoop):
                await self._hangup(action.old_snoop, session)
                await self._snoop(session, action.new_snoop, action.seat_channel, action.mode)
                await self._ari(session).add_to_bridge(action.bridge_id, [action.new_snoop])
            elif isinstance(action, s.TearDown):
                for channel_id in (action.phone_channel, action.snoop_channel):
                    if channel_id:
                        await self._hangup(channel_id, session)
                with contextlib.suppress(AriError):
                    await self._ari(session).destroy_bridge(action.bridge_id)
        except AriNotFound as exc:
            # The snoop's target gone means the seat's call ended; anything else is a failure.
            log.info("listen-in %s: %s: %s", session.session_id, type(action).__name__, exc)
            return s.StepFailed(now, seat_gone=isinstance(action, s.Connect | s.ReplaceSnoop))
        except AriError as exc:
            log.warning("listen-in %s: %s failed: %s", session.session_id, type(action).__name__, exc)
            return s.StepFailed(now)
        return None

    async def _snoop(self, session: s.Session, snoop_channel: str, seat_channel: str, mode: Mode) -> None:
        self._channels[snoop_channel] = session.session_id
        spy, whisper = s.DIRECTIONS[mode]
        # Asterisk answers the snoop request before the snoop's own thread has put the
        # channel into Stasis; bridging it in that gap fails with 422 "Channel not in
        # Stasis application". Its StasisStart is the sign it can be bridged.
        entering: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._snoops_entering[snoop_channel] = entering
        try:
            await self._ari(session).snoop(seat_channel, snoop_channel, str(spy), str(whisper),
                                 app_args=f"{s.APP_ARG},{session.session_id}")
            await asyncio.wait_for(entering, self.snoop_entry_seconds)
        except TimeoutError:
            raise AriError(f"snoop {snoop_channel} never entered Stasis") from None
        finally:
            self._snoops_entering.pop(snoop_channel, None)

    def _ari(self, session: s.Session) -> AriClient:
        return self.nodes.of(session.seat_channel)

    async def _hangup(self, channel_id: str, session: s.Session) -> None:
        with contextlib.suppress(AriError):
            await self._ari(session).hangup(channel_id)

    def _save(self, action: s.SavePeriod) -> None:
        fields = dict(action.fields)
        for name in _TIMES:
            at = fields.get(f"{name}_epoch")
            if isinstance(at, float | int):
                fields[name] = iso_local(float(at), self.settings.zone)
        self.repository.save(action.period_id, **fields)
