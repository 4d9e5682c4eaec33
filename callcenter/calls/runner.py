"""The thin runner: ARI events in (decoded by `ari_events`), `machine.step` in the
middle, ARI requests and store writes out. It performs; the machines decide (the call's
in `machine`, each seat's in `callcenter.seats.seat`).

One asyncio task per call consumes that call's events in order, so a slow ARI request
for one caller never stalls the event reader or any other call. The queue and the
seats are shared; every decision about them (`_dispatch`) runs synchronously on the
event loop, between awaits, so two calls can never take the same seat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, TypeVar

from callcenter.ari import AriClient, AriError, AriNotFound
from callcenter.calls import ari_events as decoded
from callcenter.calls import machine as c
from callcenter.calls.queue import CallQueue, Waiting, assign
from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local, local, parse_ari_time
from callcenter.listen_in import session as listening
from callcenter.listen_in.repository import ListenInRepository
from callcenter.listen_in.runner import ListenIn, TalkingLeg
from callcenter.nodes import Nodes
from callcenter.nuisance import NuisanceService, Verdict
from callcenter.pbx import INSTANCE_MOUNT
from callcenter.recordings import recording_when_closed
from callcenter.recordings.wav import GatheredLooks
from callcenter.recordings.wav import status as recording_status
from callcenter.seats import IllegalSeatMove, Roster, Seat, SeatState, longest_idle
from callcenter.seats.operators import occupants
from callcenter.seats.service import SeatService
from callcenter.settings import TRUNK_ENDPOINT, Settings
from callcenter.store import StoreError
from callcenter.vocabulary import RecordingStatus

log = logging.getLogger(__name__)

# Phases of a caller not yet with a seat (the health report's callers_waiting; the line's
# limit, callflow.max_waiting, counts only QUEUED).
WAITING_PHASES = frozenset({c.Phase.ANSWERING, c.Phase.GREETING, c.Phase.MENU, c.Phase.WARNING, c.Phase.QUEUED})
# The hang-up cause of a call whose end the controller missed (no events were heard).
LOST_WHILE_DISCONNECTED = "lost while disconnected"
# The dialplan context that apologises to a caller whose call failed and clears the line.
APOLOGY_CONTEXT = "hotline-apology"

# Row fields that hold epoch seconds in the state machine and ISO local times in the store.
TIME_FIELDS = ("arrived", "answered", "queued", "seat_answered", "ended")
# A seat's bridge (kept between its calls) is named "seat-<seat>-<8 hex>".
SEAT_BRIDGE_PREFIX = "seat-"
# Seats are polled from the store for supervisor commands (`hotline seats pause ...`).
SEAT_POLL_SECONDS = 1.0
# In a cluster: a node whose ARI stays away this long is taken for dead, and its calls
# are ended as failed ("node lost") so that their seats serve the line again. Its
# Asterisk's own restart takes longer than this; a mere ARI blip reconnects well within.
NODE_LOST_SECONDS = 5.0


@dataclass
class CallRuntime:
    call: c.Call
    seq: int
    inbox: asyncio.Queue[c.Event] = field(default_factory=asyncio.Queue)
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    behind: bool = False
    bridge_id: str = ""
    arrival: c.Arrived | None = None  # handled first, once the nuisance check is done
    recording: str = ""  # the recording's path on this host ("" when the dialplan gave none)


@dataclass
class SeatLeg:
    """The channel ringing (then talking to) a seat on behalf of a call."""

    call_id: str
    seat: str
    channel_id: str
    answered: bool = False


@dataclass
class UnitLeg:
    """The channel ringing (then talking to) a responsible unit in a three-way call."""

    call_id: str
    unit: str
    channel_id: str
    answered: bool = False


AnyLeg = TypeVar("AnyLeg", SeatLeg, UnitLeg)


class CallbackChannels(Protocol):
    """The follow-up callbacks' runner, as the controller sees it: it owns the channels
    it originates, and their events go to it instead of the call flow."""

    def owns(self, channel_id: str) -> bool: ...

    def on_event(self, event: Mapping[str, Any]) -> None: ...


class Controller:
    def __init__(
        self,
        settings: Settings,
        ari: AriClient | Nodes,
        calls: CallRepository,
        seats: SeatService,
        nuisance: NuisanceService,
        callbacks: CallbackChannels | None = None,
        shift_clock: Callable[[], float] = time.time,
        listen_in_log: ListenInRepository | None = None,
    ) -> None:
        self.settings = settings
        # The Asterisk nodes (one by default); `ari` is the default node's client.
        self.nodes = ari if isinstance(ari, Nodes) else Nodes({settings.asterisk.system_name: ari})
        self.ari = self.nodes.client(self.nodes.default)
        self.repository = calls
        self.seat_service = seats
        self.nuisance = nuisance
        self.callbacks = callbacks
        self.zone = settings.zone
        # Which shift is on duty is read from this clock (tests move it); call times are Asterisk's.
        self.shift_clock = shift_clock
        self.timing = c.Timing(settings.callflow.menu_timeout, settings.callflow.position_interval,
                               menu=settings.callflow.menu)
        self.calls: dict[str, CallRuntime] = {}
        self.queue = CallQueue()
        self.seats: dict[str, Seat] = {name: Seat(name) for name in settings.seat_names}
        self.legs: dict[str, SeatLeg] = {}  # by seat channel id
        # Each seat's mixing bridge on each node, kept from call to call (see `_bridge`), by
        # (node, seat); only bridges known to exist in that node's Asterisk now.
        self.seat_bridges: dict[tuple[str, str], str] = {}
        self.unit_legs: dict[str, UnitLeg] = {}  # by unit channel id (three-way calls)
        self.hangup_causes: dict[str, tuple[int, str]] = {}
        self._next_seq = 1
        self._background: set[asyncio.Task[Any]] = set()
        self._looks = GatheredLooks()  # the recordings of many calls measured in one thread trip
        self._wrapups: dict[str, asyncio.TimerHandle] = {}
        self._seat_poller: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[], None]] = []
        # When the controller itself last changed a seat's admin fields (a no-answer pause):
        # a poll of the seats table that started before then must not undo it.
        self._seat_written: dict[str, float] = {}
        # Seats whose pause is not yet in the table (the store refusing writes: a full disk):
        # until it is, a poll must not take the table's "not paused" for a supervisor's word.
        self._pause_unwritten: set[str] = set()
        self._pause_retries: dict[str, asyncio.Task[None]] = {}
        # While re-adopting (nodes adopting now), no caller is offered a seat: a seat still
        # talking to a re-adopted call must be known busy before anyone else is dispatched.
        self._adopting = 0
        # Health: which nodes' events streams are connected, and when the last event came.
        self._connected: set[str] = set()
        # Seats whose phones each node sees online (a seat is registered if any node sees it).
        self._online: dict[str, set[str]] = {}
        # In a cluster: nodes away, their calls ended when NODE_LOST_SECONDS pass; calls
        # ended so, whose channels are hung up should the node come back with them.
        self._node_lost_timers: dict[str, asyncio.TimerHandle] = {}
        self._lost_on_node: dict[str, set[str]] = {}
        # In a cluster, no seat is offered until every node has been adopted (or taken for
        # dead): a seat may be talking on a node not yet heard from.
        self._awaiting_nodes: set[str] = set(self.nodes) if self.nodes.clustered else set()
        self.last_event_at: float | None = None  # monotonic
        # Counters for /metrics since this process started: connections made to ARI's
        # events (the first and every reconnect), calls finished by outcome, recordings
        # that failed (missing, empty or cut short); and for health, how many of the last
        # recordings failed in a row (the next good one ends the alarm).
        self.ari_connections = 0
        self.finished: dict[str, int] = {}
        self.recording_failures = 0
        self.recordings_failing = 0
        # Supervisors listening in on seats (监听/密语/强插): it owns its channels' events.
        self.listen_in = ListenIn(settings, self.nodes, listen_in_log or ListenInRepository(calls.store),
                                  self.talking_leg, self._changed)

    @property
    def ari_connected(self) -> bool:
        """Every node's events stream is connected."""
        return len(self._connected) == len(self.nodes)

    @property
    def roster(self) -> Roster:
        """The roster in force (the seat service holds it; a console edit applies at once)."""
        return self.seat_service.roster

    # ------------------------------------------------------------------ live view

    def snapshot(self) -> dict[str, Any]:
        """The floor right now, for the wallboard: who waits (in line order) and each seat."""
        now = time.time()
        waiting = []
        for index, entry in enumerate(self.queue.ordered(), start=1):
            runtime = self.calls.get(entry.call_id)
            if runtime is None:
                continue
            call = runtime.call
            waiting.append({
                "call_id": call.call_id, "position": index, "number": call.number, "name": call.name,
                "category": call.category, "waited": round(now - (call.queued or now)), "flagged": entry.behind,
            })
        in_call = {}
        for runtime in self.calls.values():
            call = runtime.call
            if call.seat and call.phase in (c.Phase.RINGING, c.Phase.TALKING) and not call.seat_left:
                in_call[call.seat] = {"call_id": call.call_id, "number": call.number, "name": call.name,
                                      "category": call.category, "phase": str(call.phase),
                                      "three_way": _three_way_view(call)}
        moment = self._moment()
        names = self.seat_service.operator_names()
        seats = []
        for name, seat in self.seats.items():
            seats.append({
                "seat": name, "state": str(seat.state), "since": round(seat.since, 3),
                "for_seconds": round(now - seat.since) if seat.since else None,
                "registered": seat.registered, "paused": seat.paused, "pause_reason": seat.pause_reason,
                # By the roster alone (a supervisor's log-in or log-out aside).
                "on_shift": replace(seat, logged_in=None).working(self.roster, moment),
                "logged_in": seat.logged_in,
                "shift": seat.shift(self.roster, moment), "call": in_call.get(name),
                "operator": seat.operator, "operator_name": names.get(seat.operator or "", ""),
            })
        in_ivr = sum(1 for r in self.calls.values() if r.call.phase in (c.Phase.ANSWERING, c.Phase.GREETING,
                                                                         c.Phase.MENU))
        return {"at": now, "waiting": waiting, "in_ivr": in_ivr, "seats": seats, "listen_in": self.listen_in.view()}

    def talking_leg(self, seat: str) -> TalkingLeg | None:
        """The seat's channel in the call it is talking in now (None: it is not talking)."""
        for leg in self.legs.values():
            runtime = self.calls.get(leg.call_id)
            if leg.seat == seat and leg.answered and runtime is not None \
                    and runtime.call.phase is c.Phase.TALKING and not runtime.call.seat_left:
                return TalkingLeg(leg.call_id, leg.channel_id)
        return None

    def on_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` (synchronously, cheaply) whenever the floor may have changed;
        returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("a floor listener failed")

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._next_seq = await self.repository.next_queue_seq()
        await self._load_seat_rows()
        self._seat_poller = asyncio.create_task(self._poll_seats(), name="seat-poller")
        if self._awaiting_nodes:
            self._node_lost_timers["(start)"] = asyncio.get_running_loop().call_later(
                NODE_LOST_SECONDS, self._stop_awaiting_nodes)

    def _stop_awaiting_nodes(self) -> None:
        self._node_lost_timers.pop("(start)", None)
        if self._awaiting_nodes:
            log.error("nodes %s not connected %.0f s after start: serving the line without them",
                      ", ".join(sorted(self._awaiting_nodes)), NODE_LOST_SECONDS)
            self._awaiting_nodes.clear()
            self._dispatch()

    async def stop(self) -> None:
        await self.listen_in.close()
        if self._seat_poller is not None:
            self._seat_poller.cancel()
        for runtime in list(self.calls.values()):
            if runtime.task is not None:
                runtime.task.cancel()
        for handle in [*self._wrapups.values(), *self._node_lost_timers.values()]:
            handle.cancel()
        for retry in self._pause_retries.values():
            retry.cancel()
        tasks = [t for t in [self._seat_poller, *(r.task for r in self.calls.values()),
                             *self._pause_retries.values()] if t is not None]
        await asyncio.gather(*tasks, *self._background, return_exceptions=True)
        await self.repository.flush()

    async def after_work_done(self) -> None:
        """Return once the work that follows calls (recordings measured, numbers judged,
        seat rows written) has finished, including work that work started."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ ARI events in

    def on_event(self, event: Mapping[str, Any], node: str = "") -> None:
        """Route one ARI event from `node` (default: the default node); never blocks
        (called by that node's event reader)."""
        self.last_event_at = time.monotonic()
        if self.callbacks is not None and self.callbacks.owns(decoded.channel_of(event)):
            self.callbacks.on_event(event)
            return
        if self.listen_in.owns(decoded.channel_of(event)):
            self.listen_in.on_event(event)
            return
        meaning = decoded.decode(event)
        if isinstance(meaning, decoded.ToCall):
            self._deliver(meaning.channel_id, meaning.event)
        elif isinstance(meaning, decoded.SeatLegEntered):
            if (leg := self._answered(self.legs, meaning.channel_id, node)) is not None:
                self._deliver(leg.call_id, c.SeatAnswered(meaning.at, leg.seat))
        elif isinstance(meaning, decoded.UnitLegEntered):
            if (unit_leg := self._answered(self.unit_legs, meaning.channel_id, node)) is not None:
                self._deliver(unit_leg.call_id, c.UnitAnswered(meaning.at, unit_leg.unit))
        elif isinstance(meaning, decoded.ListenInEntered):
            # A supervision's channel nobody runs (its controller stopped): no call of ours.
            self._spawn(self._hangup_quietly(meaning.channel_id, node), "stray-listen-in-hangup")
        elif isinstance(meaning, decoded.ChannelEntered):
            channel_id = str(meaning.channel.get("id", ""))
            if channel_id not in self.calls and channel_id not in self.legs and channel_id not in self.unit_legs:
                self._new_call(meaning.channel, meaning.at)
        elif isinstance(meaning, decoded.HangupRequested):
            self.hangup_causes[meaning.channel_id] = (meaning.cause, "")
        elif isinstance(meaning, decoded.ChannelGone):
            self._channel_gone(meaning)

    def _answered(self, legs: Mapping[str, AnyLeg], channel_id: str, node: str) -> AnyLeg | None:
        """The leg whose channel answered, marked so; a channel no call owns is hung up."""
        leg = legs.get(channel_id)
        if leg is None:
            self._spawn(self._hangup_quietly(channel_id, node), "stray-leg-hangup")
        else:
            leg.answered = True
        return leg

    def _channel_gone(self, gone: decoded.ChannelGone) -> None:
        channel_id = gone.channel_id
        cause, text = self.hangup_causes.pop(channel_id, (decoded.NORMAL_CLEARING, "Normal Clearing"))
        if gone.cause is not None:
            cause, text = gone.cause, gone.cause_text
        if channel_id in self.calls:
            self._deliver(channel_id, c.CallerHungUp(gone.at, cause, text or "Normal Clearing"))
        leg = self.legs.get(channel_id)
        if leg is not None:
            del self.legs[channel_id]
            event = c.SeatHungUp(gone.at, cause) if leg.answered else c.SeatFailed(gone.at, leg.seat, cause)
            self._deliver(leg.call_id, event)
        unit_leg = self.unit_legs.pop(channel_id, None)
        if unit_leg is not None:
            self._deliver(unit_leg.call_id, c.UnitHungUp(gone.at, unit_leg.unit, cause))
        # Told for every channel: a seat's leg may already be forgotten (HangupSeat) when it goes.
        self.listen_in.seat_gone(channel_id)

    def _deliver(self, call_id: str, event: c.Event) -> None:
        runtime = self.calls.get(call_id)
        if runtime is not None:
            runtime.inbox.put_nowait(event)

    def _new_call(self, channel: Mapping[str, Any], at: float, seq: int | None = None) -> CallRuntime:
        call_id = str(channel["id"])
        caller = channel.get("caller") or {}
        variables = channel.get("channelvars") or {}
        recording = self._host_recording(str(variables.get("HOTLINE_RECORDING") or ""))
        runtime = CallRuntime(c.Call(call_id, timing=self.timing), seq if seq is not None else self._take_seq(),
                              recording=recording)
        self.calls[call_id] = runtime
        runtime.task = asyncio.create_task(self._run_call(runtime), name=f"call-{call_id}")
        runtime.arrival = c.Arrived(at, str(caller.get("number", "")), str(caller.get("name", "")), recording,
                                    up=channel.get("state") == "Up")
        self.repository.save(call_id, queue_seq=runtime.seq, arrived_epoch=at, node=self.nodes.node_of(call_id))
        return runtime

    def _take_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def _host_recording(self, inside: str) -> str:
        if not inside:
            return ""
        # Asterisk writes inside its root; the host sees the same file in recordings_dir.
        return str(self.settings.paths.recordings_dir / PurePosixPath(inside).name)

    # ------------------------------------------------------------------ per-call task

    async def _arrive(self, runtime: CallRuntime, arrival: c.Arrived) -> None:
        """The first step of a call: is the number flagged (warning, behind citizens)?"""
        try:
            verdict = await self.nuisance.check_arrival(arrival.number)
        except Exception:  # the store failing must never keep a citizen from the hotline
            log.exception("call %s: nuisance check failed; treating the caller as a citizen", runtime.call.call_id)
            verdict = Verdict(None, False)
        runtime.behind = verdict.flag is not None
        event = replace(arrival, flagged_rule=verdict.flag.rule if verdict.flag else "", over_limit=verdict.over_limit,
                        line_full=self._callers_waiting(besides=runtime) >= self.settings.callflow.max_waiting)
        runtime.call, actions = c.step(runtime.call, event)
        for action in actions:
            await self._perform(runtime, action)

    def _callers_waiting(self, besides: CallRuntime) -> int:
        """Callers in line for a seat. Not those still hearing the greeting: at 27 calls/s
        a 4.6 s greeting holds about 120 callers while sixty seats stand idle, and
        counting them refused most of the soak's callers as "line full". (A burst is
        still bounded: asterisk.max_calls is the hard ceiling.)"""
        return sum(1 for other in self.calls.values() if other is not besides and other.call.phase is c.Phase.QUEUED)

    async def _run_call(self, runtime: CallRuntime) -> None:
        try:
            if runtime.arrival is not None:
                arrival, runtime.arrival = runtime.arrival, None
                await self._arrive(runtime, arrival)
            while runtime.call.phase is not c.Phase.ENDED:
                event = await runtime.inbox.get()
                runtime.call, actions = c.step(runtime.call, event)
                for action in actions:
                    await self._perform(runtime, action)
                self._changed()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("call %s: controller error", runtime.call.call_id)
            await self._fail_call(runtime, f"controller error: {type(exc).__name__}: {exc}")
        finally:
            for handle in runtime.timers.values():
                handle.cancel()
            if runtime.call.phase is c.Phase.ENDED:
                self.calls.pop(runtime.call.call_id, None)
                self.queue.remove(runtime.call.call_id)
                self._changed()

    async def _fail_call(self, runtime: CallRuntime, what: str) -> None:
        """A failure the call's own steps could not absorb: the machine ends the call as
        failed (the row completed with the cause, the seat freed, the caller apologised
        to); each of those actions is tried on its own, so one more failure stops none."""
        runtime.call, actions = c.step(runtime.call, c.ActionFailed(time.time(), what[:200]))
        for action in actions:
            try:
                await self._perform(runtime, action)
            except Exception:
                log.exception("call %s: %s failed while ending the failed call", runtime.call.call_id,
                              type(action).__name__)

    def _media(self, prompt: str) -> str:
        return f"sound:{INSTANCE_MOUNT}/sounds/{prompt}"

    async def _perform(self, runtime: CallRuntime, action: c.Action) -> None:
        call = runtime.call
        call_id = call.call_id
        now = time.time()
        try:
            if isinstance(action, c.Answer):
                try:
                    await self._ari(call_id).answer(call_id)
                except AriNotFound:
                    pass
                except AriError as exc:
                    self._deliver(call_id, c.ActionFailed(now, f"answer: {exc}"))
            elif isinstance(action, c.Play):
                try:
                    await self._ari(call_id).play(call_id, [self._media(action.prompt)], action.playback_id)
                except AriNotFound:
                    raise
                except AriError as exc:
                    # The call goes on without this prompt rather than wait for its end forever.
                    log.warning("call %s: playing %s failed: %s", call_id, action.prompt, exc)
                    self._deliver(call_id, c.PlaybackFinished(now, action.playback_id))
            elif isinstance(action, c.StopPlayback):
                await self._ari(call_id).stop_playback(action.playback_id)
            elif isinstance(action, c.StartMoh):
                await self._ari(call_id).start_moh(call_id)
            elif isinstance(action, c.StopMoh):
                await self._ari(call_id).stop_moh(call_id)
            elif isinstance(action, c.SetTimer):
                self._set_timer(runtime, action.name, action.seconds)
            elif isinstance(action, c.CancelTimer):
                handle = runtime.timers.pop(action.name, None)
                if handle is not None:
                    handle.cancel()
            elif isinstance(action, c.Enqueue):
                self.queue.add(Waiting(call_id, runtime.seq, runtime.behind))
                runtime.inbox.put_nowait(c.Enqueued(now, self.queue.position(call_id)))
                self._dispatch()
            elif isinstance(action, c.Dequeue):
                self.queue.remove(call_id)
            elif isinstance(action, c.RingSeat):
                await self._ring(runtime, action.seat)
            elif isinstance(action, c.CancelRing):
                for leg in [leg for leg in self.legs.values() if leg.call_id == call_id]:
                    await self._hangup_quietly(leg.channel_id)
            elif isinstance(action, c.BridgeWithSeat):
                try:
                    await self._bridge(runtime, action.seat)
                except AriNotFound:
                    raise
                except AriError as exc:  # caller and seat cannot talk: a defined end
                    self._deliver(call_id, c.ActionFailed(now, f"bridge: {exc}"))
            elif isinstance(action, c.HangupSeat):
                for leg in [leg for leg in self.legs.values() if leg.call_id == call_id]:
                    self.legs.pop(leg.channel_id, None)
                    await self._hangup_quietly(leg.channel_id)
            elif isinstance(action, c.HangupCaller):
                await self._hangup_quietly(call_id)
            elif isinstance(action, c.Apologise):
                try:
                    await self._ari(call_id).continue_in_dialplan(call_id, APOLOGY_CONTEXT)
                except AriError:
                    await self._hangup_quietly(call_id)
            elif isinstance(action, c.PauseSeat):
                self._pause(action.seat, action.reason)
            elif isinstance(action, c.AdoptSeat):
                self._move_seat(action.seat, lambda seat: seat.adopt_talking(now))
            elif isinstance(action, c.ReleaseSeat):
                seat_bridge = (self.nodes.node_of(call_id), action.seat)
                if call.phase is not c.Phase.ENDED and self.seat_bridges.get(seat_bridge) == runtime.bridge_id:
                    # The seat left citizen and unit talking in its bridge: the bridge is the
                    # call's now, and the seat's next call gets a new one.
                    del self.seat_bridges[seat_bridge]
                self._release(action.seat, action.answered, call_id)
            elif isinstance(action, c.LogEvent):
                self.repository.log(call_id, action.kind, action.at, iso_local(action.at, self.zone),
                                    seat=action.seat, data=dict(action.data))
            elif isinstance(action, c.SaveRow):
                fields = dict(action.fields)
                self.repository.save(call_id, **self._row_fields(fields))
                if fields.get("state") == "done" and fields.get("outcome"):
                    outcome = str(fields["outcome"])
                    self.finished[outcome] = self.finished.get(outcome, 0) + 1
            elif isinstance(action, c.MeasureRecording):
                # A call lost while the controller was away: when it ended is not known.
                self._spawn(self._measure_recording(call_id, runtime.recording, None), f"recording-{call_id}")
            elif isinstance(action, c.Finished):
                await self._finish(runtime)
            elif isinstance(action, c.DialUnit):
                await self._dial_unit(runtime, action.unit, action.phone)
            elif isinstance(action, c.BridgeUnit):
                await self._bridge_unit(runtime, action.unit)
            elif isinstance(action, c.HangupUnit):
                # The leg stays known until its channel is gone: that event tells the call it left.
                for unit_leg in [u for u in self.unit_legs.values() if u.call_id == call_id and u.unit == action.unit]:
                    await self._hangup_quietly(unit_leg.channel_id)
        except AriNotFound:
            pass  # the channel or playback is already gone; its hang-up event follows
        except AriError as exc:
            log.warning("call %s: %s failed: %s", call_id, type(action).__name__, exc)
        except IllegalSeatMove as exc:  # a bug, not the caller's problem: the call goes on
            log.error("call %s: %s", call_id, exc)

    def _row_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        for key in TIME_FIELDS:
            if isinstance(fields.get(key), float | int):
                fields[key] = iso_local(float(fields[key]), self.zone)
        return fields

    def _set_timer(self, runtime: CallRuntime, name: str, seconds: float) -> None:
        old = runtime.timers.pop(name, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            runtime.timers.pop(name, None)
            position = self.queue.position(runtime.call.call_id)
            runtime.inbox.put_nowait(c.TimerFired(time.time(), name, position))

        runtime.timers[name] = asyncio.get_running_loop().call_later(seconds, fire)

    def _ari(self, call_id: str) -> AriClient:
        """The ARI of the node the call is on (its legs, bridge and playbacks are there too)."""
        return self.nodes.of(call_id)

    async def _hangup_quietly(self, channel_id: str, node: str = "") -> None:
        with contextlib.suppress(AriError):
            await self.nodes.of(channel_id, node).hangup(channel_id)

    async def _ring(self, runtime: CallRuntime, seat: str) -> None:
        call = runtime.call
        channel_id = f"{call.call_id}-{seat}-{uuid.uuid4().hex[:8]}"
        leg = SeatLeg(call.call_id, seat, channel_id)
        self.legs[channel_id] = leg
        caller_id = f'"{_callerid_safe(call.name)}" <{_callerid_safe(call.number)}>'
        try:
            # In a cluster the node rings the seat through the SIP proxy, where it registered.
            await self._ari(call.call_id).originate(
                f"PJSIP/{seat}", channel_id, app_args=f"seat,{call.call_id}", caller_id=caller_id,
                timeout=int(self.settings.callflow.ring_timeout), originator=call.call_id,
            )
        except AriError as exc:
            log.warning("call %s: ringing %s failed: %s", call.call_id, seat, exc)
            if self.legs.pop(channel_id, None) is not None:
                self._deliver(call.call_id, c.SeatFailed(time.time(), seat, -1))

    async def _bridge(self, runtime: CallRuntime, seat: str) -> None:
        """Caller and seat into the seat's bridge, which is kept from call to call: making
        and destroying a bridge for every call were two of a call's nine ARI requests.
        The bridge is empty when the next call joins: a seat is offered a call only after
        its last one ended, whose channels the controller hung up before releasing the
        seat, and the new seat leg still has to ring and be answered."""
        call_id = runtime.call.call_id
        leg = next((leg for leg in self.legs.values() if leg.call_id == call_id and leg.seat == seat), None)
        if leg is None:
            return
        now = time.time()
        self._move_seat(seat, lambda s: s.connect(now))
        ari, key = self._ari(call_id), (self.nodes.node_of(call_id), seat)
        bridge_id = self.seat_bridges.get(key)
        if bridge_id is not None:
            try:
                await ari.add_to_bridge(bridge_id, [call_id, leg.channel_id])
                runtime.bridge_id = bridge_id
                return
            except AriNotFound:
                # Only the bridge answers 404 here (a missing channel is a 400): destroyed
                # by hand or by a bug. A new one.
                self.seat_bridges.pop(key, None)
        bridge_id = f"{SEAT_BRIDGE_PREFIX}{seat}-{uuid.uuid4().hex[:8]}"
        await ari.create_bridge(bridge_id, name=f"hotline seat {seat}")
        self.seat_bridges[key] = bridge_id
        runtime.bridge_id = bridge_id
        await ari.add_to_bridge(bridge_id, [call_id, leg.channel_id])

    # ------------------------------------------------------------------ three-way calls

    def three_way(self, call_id: str, seat: str, move: str, unit: str = "", phone: str = "") -> None:
        """The operator of `seat` makes a three-way move ("add" the unit with its phone,
        "drop" it, "leave" citizen and unit talking); ThreeWayRefused says why not. The
        move then goes through the call's inbox like any event."""
        runtime = self.calls.get(call_id)
        reason = c.three_way_refusal(runtime.call if runtime else None, seat, move)
        if reason is not None or runtime is None:
            raise c.ThreeWayRefused(reason or c.NOT_LIVE)
        now = time.time()
        event: c.Event = (c.UnitRequested(now, unit, phone) if move == "add" else c.UnitDropRequested(now)
                          if move == "drop" else c.SeatLeaveRequested(now))
        runtime.inbox.put_nowait(event)

    async def _dial_unit(self, runtime: CallRuntime, unit: str, phone: str) -> None:
        call_id = runtime.call.call_id
        channel_id = f"{call_id}-unit-{uuid.uuid4().hex[:8]}"
        self.unit_legs[channel_id] = UnitLeg(call_id, unit, channel_id)
        number = self.settings.hotline.number
        try:
            # The ring time-out is the originate's own: Asterisk gives up and destroys the
            # channel (its cause tells no answer from busy), which ends the attempt.
            await self._ari(call_id).originate(
                f"PJSIP/{phone}@{TRUNK_ENDPOINT}", channel_id, app_args=f"unit,{call_id},{unit}",
                caller_id=f"{number} <{number}>", timeout=int(self.settings.threeway.ring_seconds),
                originator=call_id,
            )
        except AriError as exc:
            log.warning("call %s: dialling unit %s failed: %s", call_id, unit, exc)
            if self.unit_legs.pop(channel_id, None) is not None:
                self._deliver(call_id, c.UnitHungUp(time.time(), unit, -1))

    async def _bridge_unit(self, runtime: CallRuntime, unit: str) -> None:
        call_id = runtime.call.call_id
        leg = next((u for u in self.unit_legs.values() if u.call_id == call_id and u.unit == unit), None)
        if leg is None:
            return
        try:
            await self._ari(call_id).add_to_bridge(runtime.bridge_id, [leg.channel_id])
        except AriError as exc:
            # The unit cannot join: hang it up; its channel's end tells the call it left.
            log.warning("call %s: unit %s could not join the bridge: %s", call_id, unit, exc)
            await self._hangup_quietly(leg.channel_id)

    async def _finish(self, runtime: CallRuntime) -> None:
        call = runtime.call
        # A seat's bridge stays for its next call; any other (a three-way call the seat
        # left, one adopted from an older controller) goes with its call.
        if runtime.bridge_id and runtime.bridge_id not in self.seat_bridges.values():
            with contextlib.suppress(AriError):
                await self._ari(call.call_id).destroy_bridge(runtime.bridge_id)
        self.queue.remove(call.call_id)
        lasted = call.ended - call.arrived if call.ended is not None and call.arrived is not None else None
        self._spawn(self._measure_recording(call.call_id, runtime.recording, lasted), f"recording-{call.call_id}")
        self._spawn(self._judge_number(call.number), f"nuisance-{call.call_id}")

    async def _judge_number(self, number: str) -> None:
        """After each call: does the number's recent history make it a nuisance number now?"""
        try:
            found = await self.nuisance.evaluate_after_call(number)
        except Exception:
            log.exception("nuisance evaluation of %s failed", number)
            return
        if found is not None:
            log.info("number %s flagged as nuisance (%s)", number, found.rule)

    async def _measure_recording(self, call_id: str, path: str, call_seconds: float | None) -> None:
        """Once Asterisk has closed the recording: its length, or why it failed, in the row.
        The path is the controller's own (not read back from the store, which may be
        unable to commit: the very disk-full that cost the recording)."""
        if not path:
            return
        found, seconds = await recording_when_closed(Path(path), look=self._looks.look)
        judged = recording_status(found, seconds, call_seconds)
        now = time.time()
        measured = round(seconds, 2) if seconds else None
        self.repository.save(call_id, recording_seconds=measured, recording_status=str(judged))
        if judged is RecordingStatus.OK:
            self.recordings_failing = 0
            self.repository.log(call_id, "RECORDING", now, iso_local(now, self.zone),
                                data={"path": path, "seconds": measured})
            return
        self.recording_failures += 1
        self.recordings_failing += 1
        self._changed()  # the wallboard's alarm
        log.error("call %s: the recording %s failed (%s, %s s of a %s s call)", call_id, path, judged, measured,
                  None if call_seconds is None else round(call_seconds))
        self.repository.log(call_id, "RECORDING_FAILED", now, iso_local(now, self.zone),
                            data={"path": path, "status": str(judged), "seconds": measured})

    # ------------------------------------------------------------------ seats

    def _moment(self) -> datetime:
        return local(self.shift_clock(), self.zone)

    def _dispatch(self) -> None:
        """Offer the callers at the head of the line to the free seats (longest idle first)."""
        waiting = len(self.queue)
        if self._adopting or self._awaiting_nodes or not waiting:
            return
        moment = self._moment()
        # In a cluster every free seat: the longest idle may not be one the head's node sees yet.
        free = longest_idle(self.seats, self.roster, moment, limit=None if self.nodes.clustered else waiting)
        if not free:
            return
        now = time.time()
        waiting_line, reaches = self.queue.ordered(), None
        if self.nodes.clustered:
            # Callers on a node that is away cannot be rung now: the rest go ahead of them.
            waiting_line = [w for w in waiting_line if self.nodes.node_of(w.call_id) in self._connected]
            reaches = self._reaches
        for call_id, seat in assign(waiting_line, free, reaches):
            self.queue.remove(call_id)
            self._move_seat(seat, lambda s: s.ring(now))
            shift = self.seats[seat].shift(self.roster, moment) or ""
            self._deliver(call_id, c.SeatOffered(now, seat, shift, self.seats[seat].operator or ""))

    def _reaches(self, call_id: str, seat: str) -> bool:
        """Whether the call's node sees the seat's phone: a node rings it only then (else
        ARI's originate answers "Allocation failed" and the seat would be paused)."""
        return seat in self._online.get(self.nodes.node_of(call_id), set())

    def _move_seat(self, name: str, move: Callable[[Seat], Seat]) -> None:
        """Apply one move of the seat's state machine (IllegalSeatMove if it has none)."""
        self._set_seat(name, move(self.seats[name]))

    def _set_seat(self, name: str, seat: Seat) -> None:
        self.seats[name] = seat
        self._changed()
        # A seat whose state never changed has no "since" (not 1970).
        since = iso_local(seat.since, self.zone) if seat.since else None
        self.seat_service.repository.save_state(
            name, state=str(seat.state), state_since=since, state_since_epoch=seat.since or None,
            registered=int(seat.registered), last_call_end_epoch=seat.idle_since,
        )

    def _pause(self, name: str, reason: str) -> None:
        self.seats[name] = self.seats[name].with_pause(reason)
        self._seat_written[name] = time.monotonic()
        self._pause_unwritten.add(name)
        self._changed()
        self._spawn(self._write_pause(name, reason), f"pause-{name}")

    async def _write_pause(self, name: str, reason: str) -> None:
        """The pause into the seats table; if the store refuses it, tried again by a task
        of its own until it takes it (one the controller's stop cancels, rather than waits
        for: the store may refuse for hours)."""
        try:
            await self.seat_service.repository.update(name, paused=1, pause_reason=reason)
        except StoreError as exc:
            log.warning("seat %s: its pause (%s) is not stored yet: %s; trying again", name, reason, exc)
            if (earlier := self._pause_retries.pop(name, None)) is not None:
                earlier.cancel()
            self._pause_retries[name] = asyncio.create_task(self._write_pause_again(name, reason),
                                                            name=f"pause-{name}-again")
            return
        except Exception:
            log.exception("seat %s: storing its pause failed", name)
        self._pause_stored(name)

    async def _write_pause_again(self, name: str, reason: str) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self.seat_service.repository.update(name, paused=1, pause_reason=reason)
            except StoreError as exc:
                delay = min(2 * delay, 30.0)
                log.warning("seat %s: its pause is still not stored: %s; trying again in %.0f s", name, exc, delay)
                continue
            except Exception:
                log.exception("seat %s: storing its pause failed", name)
            self._pause_retries.pop(name, None)
            self._pause_stored(name)
            return

    def _pause_stored(self, name: str) -> None:
        self._pause_unwritten.discard(name)
        self._seat_written[name] = time.monotonic()

    def _release(self, name: str, answered: bool, call_id: str) -> None:
        now = time.time()
        self._move_seat(name, lambda seat: seat.release(now, answered, self.settings.callflow.wrapup_seconds))
        if self.seats[name].state is SeatState.WRAPUP:

            def end_wrapup() -> None:
                self._wrapups.pop(name, None)
                if self.seats[name].state is SeatState.WRAPUP:
                    ended = time.time()
                    self._move_seat(name, lambda seat: seat.end_wrapup(ended))
                    # The operator's wrap-up after this call, for their figures in the briefing.
                    self.repository.save(call_id, wrapup_seconds=round(ended - now))
                    self._dispatch()

            self._wrapups[name] = asyncio.get_running_loop().call_later(
                self.settings.callflow.wrapup_seconds, end_wrapup)
        self._dispatch()

    def _registration(self, name: str, online: bool) -> None:
        if name in self.seats and self.seats[name].registered != online:
            self._set_seat(name, self.seats[name].with_registration(online))
            self._dispatch()

    async def refresh_registrations(self, node: str = "") -> None:
        """Which seats' phones are online, as the node (default: every connected node)
        sees them; a seat is registered when any node sees its phone."""
        errors: list[AriError] = []
        views_changed = False
        for name in [node] if node else [n for n in self.nodes if n in self._connected] or [self.nodes.default]:
            try:
                endpoints = await self.nodes.client(name).request("GET", "/endpoints/PJSIP")
            except AriError as exc:  # what it saw last stands until it is known away (`disconnected`)
                errors.append(exc)
                continue
            seen = {str(e.get("resource", "")) for e in endpoints or [] if e.get("state") == "online"}
            if self._online.get(name) != seen:
                self._online[name] = seen
                views_changed = True
        online = set().union(*self._online.values()) if self._online else set()
        for seat in self.seats:
            self._registration(seat, seat in online)
        if views_changed and self.nodes.clustered:
            self._dispatch()  # a node that now sees a seat may ring it for a caller held back
        if errors and not self._online:
            raise errors[0]

    async def _load_seat_rows(self) -> bool:
        read_at = time.monotonic()
        rows = await self.seat_service.rows()
        changed = self._seat_operators(rows)
        for name, row in rows.items():
            # The controller's own write is queued behind a task; give it a moment to land.
            if (name not in self.seats or name in self._pause_unwritten
                    or self._seat_written.get(name, 0.0) >= read_at - 2.0):
                continue
            seat = self.seats[name]
            logged = row.get("logged_in")
            updated = replace(
                seat,
                logged_in=None if logged is None else bool(logged),
                paused=bool(row.get("paused") or 0),
                pause_reason=str(row.get("pause_reason") or ""),
            )
            if seat.idle_since == 0.0 and row.get("last_call_end_epoch"):
                updated = replace(updated, idle_since=float(str(row["last_call_end_epoch"])))
            if updated != seat:
                self.seats[name] = updated
                changed = True
        return changed

    def _seat_operators(self, rows: Mapping[str, Mapping[str, Any]]) -> bool:
        """Who sits at each seat, from the log-ins in the seats table and the operator
        accounts: kept here, so that offering a call reads no table."""
        known = self.seat_service.operators()
        logins = {name: None if (rows.get(name) or {}).get("operator") is None else str(rows[name]["operator"])
                  for name in self.seats}
        changed = False
        for name, badge in occupants(logins, known.values(), self.seats).items():
            home = known[badge].home if badge and badge in known else ""
            seat = self.seats[name]
            if (seat.operator, seat.operator_home) != (badge, home):
                log.info("seat %s: operator %s", name, badge or "none")
                self.seats[name] = replace(seat, operator=badge, operator_home=home)
                changed = True
        return changed

    async def _poll_seats(self) -> None:
        # Registrations are polled rather than subscribed to: an ARI subscription to
        # endpoint:PJSIP also delivers every channel event of those endpoints a second time.
        while True:
            await asyncio.sleep(SEAT_POLL_SECONDS)
            try:
                await self.refresh_registrations()
            except AriError as exc:
                log.warning("reading seat registrations failed: %s", exc)
            try:
                if await self._load_seat_rows():
                    self._changed()
                    self._dispatch()
            except Exception:
                log.exception("reading seat commands failed")

    # ------------------------------------------------------------------ re-adoption

    def disconnected(self, node: str = "") -> None:
        """A node's events stream dropped (it reconnects by itself; `adopt` follows). In a
        cluster, a node away past NODE_LOST_SECONDS is taken for dead (`_node_lost`)."""
        node = node or self.nodes.default
        self._connected.discard(node)
        if self.nodes.clustered:
            self._online.pop(node, None)  # its view of the phones is gone with it
            if node not in self._node_lost_timers:
                self._node_lost_timers[node] = asyncio.get_running_loop().call_later(
                    NODE_LOST_SECONDS, self._node_lost, node)
        self._changed()

    def _node_lost(self, node: str) -> None:
        """A node's ARI stayed away: its Asterisk is taken for dead, and with it every
        call on it. Each is ended as failed ("node lost"): the row completed, the seat
        freed for the line. Should the node come back with any of them, they are hung up."""
        self._node_lost_timers.pop(node, None)
        now = time.time()
        lost = [call_id for call_id in self.calls if self.nodes.node_of(call_id) == node]
        if lost:
            log.error("node %s: no ARI for %.0f s; ending its %d calls as failed (node lost)", node,
                      NODE_LOST_SECONDS, len(lost))
        self._lost_on_node.setdefault(node, set()).update(lost)
        for call_id in lost:
            self._deliver(call_id, c.ActionFailed(now, f"node lost: {node}"))
        for key in [key for key in self.seat_bridges if key[0] == node]:
            del self.seat_bridges[key]

    def health(self) -> dict[str, Any]:
        """What the controller knows of its own health (`callcenter.health` judges it)."""
        age = None if self.last_event_at is None else round(time.monotonic() - self.last_event_at, 1)
        return {
            "ari_connected": self.ari_connected, "last_event_age": age,
            **({"nodes": {node: node in self._connected for node in self.nodes}} if self.nodes.clustered else {}),
            "seats_registered": sum(1 for seat in self.seats.values() if seat.registered),
            "seats": len(self.seats),
            "callers_waiting": sum(1 for r in self.calls.values() if r.call.phase in WAITING_PHASES),
            "recordings_failing": self.recordings_failing,
        }

    def counters(self) -> dict[str, Any]:
        """Counts since this process started, for /metrics."""
        return {"finished": dict(self.finished), "ari_connections": self.ari_connections,
                "recording_failures": self.recording_failures}

    async def adopt(self, node: str = "") -> None:
        """After a node's ARI (re)connected: take over its calls still in Stasis, in their
        queue order, and complete the rows of its calls that ended while the controller
        was away."""
        node = node or self.nodes.default
        timer = self._node_lost_timers.pop(node, None)
        if timer is not None:
            timer.cancel()
        self._connected.add(node)
        self._awaiting_nodes.discard(node)
        self.ari_connections += 1
        self._adopting += 1
        try:
            await self._adopt(node)
        finally:
            self._adopting -= 1
        self._dispatch()

    async def _adopt(self, node: str) -> None:
        ari = self.nodes.client(node)
        # Maybe another Asterisk: only the bridges adoption finds below.
        for key in [key for key in self.seat_bridges if key[0] == node]:
            del self.seat_bridges[key]
        await self.refresh_registrations(node)
        channels = {str(ch["id"]): ch for ch in await ari.list_channels()}
        bridges = await ari.list_bridges()
        in_bridge = {str(ch_id): str(b["id"]) for b in bridges for ch_id in b.get("channels", [])}
        rows = [row for row in await self.repository.open_calls() if self.nodes.node_of(str(row["call_id"])) == node]
        known_rows = {str(row["call_id"]) for row in rows}
        now = time.time()
        self._reconcile(node, channels, now)
        self.listen_in.reconcile(set(channels), node)
        # Calls ended as "node lost" whose channels the node still has: no call of ours now.
        for call_id in self._lost_on_node.pop(node, set()) & set(channels):
            await self._hangup_quietly(call_id)
            channels.pop(call_id, None)
        for row in rows:
            call_id = str(row["call_id"])
            if call_id in self.calls:
                continue
            stored = _stored(row)
            channel = channels.get(call_id)
            recording = str(row.get("recording_path") or "")
            if channel is None or not _in_our_app(channel, self.settings.asterisk.app):
                _, actions = c.step(c.Call(call_id, timing=self.timing), c.LostWhileAway(now, stored))
                await self._perform_detached(call_id, actions, recording)
                continue
            bridge_id = in_bridge.get(call_id)
            seat_channel = next((ch for ch, b in in_bridge.items() if b == bridge_id and ch != call_id
                                 and not _is_unit_leg(channels.get(ch, {}))), None)
            still_bridged = bool(bridge_id) and seat_channel is not None and seat_channel in channels
            seq = int(str(row.get("queue_seq") or 0)) or self._take_seq()
            runtime = CallRuntime(c.Call(call_id, timing=self.timing), seq, behind=bool(row.get("nuisance")),
                                  recording=recording)
            self.calls[call_id] = runtime
            runtime.call, actions = c.step(runtime.call, c.Readopted(now, stored, still_bridged))
            if runtime.call.phase is c.Phase.TALKING and bridge_id and seat_channel is not None:
                runtime.bridge_id = bridge_id
                self.legs[seat_channel] = SeatLeg(call_id, stored.seat, seat_channel, answered=True)
                if bridge_id.startswith(f"{SEAT_BRIDGE_PREFIX}{stored.seat}-"):
                    self.seat_bridges[node, stored.seat] = bridge_id
            for action in actions:
                await self._perform(runtime, action)
            if seq >= self._next_seq:
                self._next_seq = seq + 1
            runtime.task = asyncio.create_task(self._run_call(runtime), name=f"call-{call_id}")
        # A supervision does not survive its controller: its bridge goes (its channels below).
        # An empty seat bridge no adopted call talks in goes too: the seat gets a new one at
        # its next call (one with channels in it is a three-way call the seat left).
        for bridge in bridges:
            bridge_id = str(bridge.get("id", ""))
            stale_seat_bridge = (bridge_id.startswith(SEAT_BRIDGE_PREFIX) and not bridge.get("channels")
                                 and bridge_id not in self.seat_bridges.values())
            if (bridge_id.startswith(listening.PREFIX) and not self.listen_in.owns(bridge_id)) or stale_seat_bridge:
                with contextlib.suppress(AriError):
                    await ari.destroy_bridge(bridge_id)
        # Seat legs that no adopted call owns are hung up: their callers go back in line. A
        # unit's leg of a three-way call is hung up too: the machine did not survive to know it.
        for channel_id, channel in channels.items():
            if self.listen_in.owns(channel_id):
                continue  # a supervision this controller still runs
            if channel_id not in self.calls and channel_id not in self.legs and channel_id not in known_rows:
                if _in_our_app(channel, self.settings.asterisk.app) and not _is_leg(channel):
                    self._new_call(channel, parse_ari_time(str(channel.get("creationtime", ""))) or now)
                elif _is_leg(channel):
                    await self._hangup_quietly(channel_id, node)

    def _reconcile(self, node: str, channels: Mapping[str, Mapping[str, Any]], now: float) -> None:
        """Calls and seat legs on the node this controller still runs whose channels ended
        while it heard no events (ARI dropped, Asterisk restarted): each is told now, so
        the line, the wallboard and the seats equal what Asterisk has."""
        on_node = self.nodes.node_of
        for call_id in [call_id for call_id in self.calls if call_id not in channels and on_node(call_id) == node]:
            self._deliver(call_id, c.CallerHungUp(now, 0, LOST_WHILE_DISCONNECTED))
        for channel_id, leg in [(ch, leg) for ch, leg in self.legs.items()
                                if ch not in channels and on_node(leg.call_id) == node]:
            self.legs.pop(channel_id, None)
            self._deliver(leg.call_id, c.SeatHungUp(now, 0) if leg.answered
                          else c.SeatFailed(now, leg.seat, 0, unseen=True))

    async def _perform_detached(self, call_id: str, actions: list[c.Action], recording: str) -> None:
        """Perform the actions of a call the controller does not run (lost while away)."""
        runtime = CallRuntime(c.Call(call_id, timing=self.timing), 0, recording=recording)
        for action in actions:
            await self._perform(runtime, action)


def _stored(row: Mapping[str, Any]) -> c.Stored:
    """The machine's view of a call row: text as text, times as epoch seconds."""
    times = {key: _epoch(row.get(key)) for key in TIME_FIELDS}
    return c.Stored(
        state=str(row.get("state") or "ivr"), number=str(row.get("caller_number") or ""),
        name=str(row.get("caller_name") or ""), category=str(row.get("category") or ""),
        seat=str(row.get("seat") or ""), shift=str(row.get("shift") or ""), operator=str(row.get("operator") or ""),
        flagged_rule=str(row.get("nuisance_rule") or ""), arrived=times["arrived"], answered=times["answered"],
        queued=times["queued"], seat_answered=times["seat_answered"],
    )


def _in_our_app(channel: Mapping[str, Any], app: str) -> bool:
    dialplan = channel.get("dialplan") or {}
    app_data = str(dialplan.get("app_data", ""))
    return str(dialplan.get("app_name", "")).lower() == "stasis" and app_data.split(",")[0] == app


def _leg_args(channel: Mapping[str, Any]) -> str:
    return "," + str((channel.get("dialplan") or {}).get("app_data", "")) + ","


def _is_unit_leg(channel: Mapping[str, Any]) -> bool:
    return ",unit," in _leg_args(channel)


def _is_leg(channel: Mapping[str, Any]) -> bool:
    """A channel the controller originated for a call (a seat's or a unit's) or for a
    supervision (a supervisor's phone, a snoop), not a citizen's."""
    return (",seat," in _leg_args(channel) or _is_unit_leg(channel)
            or str(channel.get("id", "")).startswith(listening.PREFIX))


def _three_way_view(call: c.Call) -> dict[str, Any] | None:
    """The three-way part of a live call for the operator's screen (None: never tried)."""
    if not call.unit and not call.unit_note:
        return None
    return {"unit": call.unit or None, "joined": call.unit_joined, "note": call.unit_note or None,
            "last_unit": call.unit_last or None}


def _epoch(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _callerid_safe(text: str) -> str:
    # The caller's number is shown on the operator's phone: no quotes or angle brackets
    # from a hostile caller id may break the header Asterisk builds from it.
    return "".join(ch for ch in text if ch.isprintable() and ch not in '"<>\\')[:64]
