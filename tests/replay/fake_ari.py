"""Replay a capture (`callcenter/ari_capture.py`) through the real controller: no Asterisk,
no root, no network, in virtual time.

Three parts, as in panoramisk's `testing.Manager(stream=...)`:

- `ReplayedAri`, an `AriClient` whose `request()` answers from the capture. A request that
  changes something (POST, DELETE) takes the next recorded one of the same method and path;
  a GET is answered with the last answer recorded up to that moment (state, not a step).
  Every request is kept, and every difference from the capture is noted as a divergence.
- `VirtualClockLoop`, an event loop whose clock moves only when the replay moves it: the
  controller's timers (menu time-out, position announcements, wrap-up, the seat poll)
  fire at the capture's moments, however fast the replay runs.
- `Replay`, the driver: it moves the clock to each captured event and delivers it through
  the controller's `on_event`, once everything the previous one set off has settled
  (every task waits on an empty inbox or on the clock; nothing sleeps a fixed time).

Ids: caller channel ids and playback ids ("<call_id>-p<n>") come from the capture's own
events, so they match by themselves. Seat legs are named by the controller with a random
part ("<call_id>-seat1-<8 hex>"): the first originate of a recorded leg's shape binds the
recorded id to the live one, and events and replies are rewritten with the live id.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import threading
import types
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVarTuple, cast

import aiohttp

from callcenter.ari import AriClient, AriConfig, AriError, AriNotFound, AriUnauthorized, Event
from callcenter.calls.ari_events import EVENTS_READ
from callcenter.calls.repository import CallRepository
from callcenter.calls.runner import Controller
from callcenter.clock import parse_ari_time
from callcenter.recordings.wav import GatheredLooks
from callcenter.seats.repository import SeatRepository
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store
from tests.harness import HOME, settings_for

Line = dict[str, Any]
CAPTURES = Path(__file__).resolve().parent / "captures"
# The columns of a call row a replay reproduces exactly, as the real run stored them (the
# recording's path is compared by file name: the replay's recordings folder is another).
ROW_FIELDS = (
    "caller_number", "caller_name", "arrived", "answered", "queued", "seat_answered", "ended", "wait_seconds",
    "talk_seconds", "total_seconds", "outcome", "hangup_cause", "seat", "shift", "category", "nuisance",
    "queue_seq", "state",
)

# A seat leg's channel id, as the controller makes it: "<call_id>-<seat>-<8 hex>".
LEG = re.compile(r"[\w.-]+?-seat\d+-[0-9a-f]{8}(?![0-9A-Za-z])")
LEG_TAIL = re.compile(r"(-seat\d+-)[0-9a-f]{8}(?![0-9A-Za-z])")
# How far (in replay seconds) the clock may run ahead for the controller to ring a seat
# whose leg the capture's next event names, before the replay calls it a divergence.
LEG_PATIENCE = 30.0
# A replay still running after this long (real seconds) is stopped.
STALL_SECONDS = 20.0


class ReplayDiverged(AssertionError):
    """The controller did something the capture cannot answer."""


# ----------------------------------------------------------------------------- the capture


@dataclass
class Session:
    """One controller's part of a capture: from its "start" line to the next."""

    lines: list[Line]

    @property
    def requests(self) -> list[Line]:
        return sorted((line for line in self.lines if line["kind"] == "request"), key=lambda line: line["t"])

    @property
    def stimuli(self) -> list[Line]:
        """What the replay does, in time order: connects, events, and the seat polls (each
        recorded poll is replayed at its moment, so a registration lands when it did: the
        controller's own poll ticks in replay time, but a few ms off the recorded ticks)."""
        chosen = [line for line in self.lines if line["kind"] in ("connected", "event") or _is_poll(line)]
        return sorted(chosen, key=lambda line: line["t"])

    @property
    def originated(self) -> set[str]:
        """The recorded ids of the seat legs this session's controller created."""
        return {line["path"].rsplit("/", 1)[-1] for line in self.lines if _is_originate(line)}


def _is_poll(line: Line) -> bool:
    return (line["kind"], line.get("method"), line.get("path")) == ("request", "GET", "/endpoints/PJSIP")


def _is_originate(line: Line) -> bool:
    return (line["kind"], line.get("method")) == ("request", "POST") and \
        re.fullmatch(r"/channels/" + LEG.pattern, str(line["path"])) is not None


@dataclass(frozen=True)
class Capture:
    name: str
    sessions: list[Session]
    expected: dict[str, Any]  # the .json beside it: settings, and what the real run stored

    @property
    def callers(self) -> list[str]:
        """The caller channel ids, in the order they arrived."""
        found: list[str] = []
        for session in self.sessions:
            for line in session.lines:
                event = line.get("event") or {}
                if event.get("type") == "StasisStart" and (event.get("args") or [""])[0] != "seat":
                    channel_id = str(event["channel"]["id"])
                    if channel_id not in found:
                        found.append(channel_id)
        return found

    @property
    def first_moment(self) -> float:
        for session in self.sessions:
            for line in session.lines:
                stamp = (line.get("event") or {}).get("timestamp")
                if stamp:
                    return parse_ari_time(str(stamp))
        raise ValueError(f"capture {self.name} has no event")


def load_capture(name: str, folder: Path = CAPTURES) -> Capture:
    sessions: list[Session] = []
    for text in (folder / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        line = json.loads(text)
        if line["kind"] == "start" or not sessions:
            sessions.append(Session([]))
        sessions[-1].lines.append(line)
    expected = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    return Capture(name, sessions, expected)


# ----------------------------------------------------------------------------- ids


class LegIds:
    """Recorded seat-leg ids and the live ids the controller chose for them."""

    def __init__(self) -> None:
        self.live_of: dict[str, str] = {}

    def bind(self, recorded: str, live: str) -> None:
        self.live_of[recorded] = live

    def to_live(self, text: str) -> str:
        for recorded, live in self.live_of.items():
            text = text.replace(recorded, live)
        return text

    def to_recorded(self, text: str) -> str:
        for recorded, live in self.live_of.items():
            text = text.replace(live, recorded)
        return text

    def unbound(self, text: str, originated: set[str]) -> list[str]:
        """Legs the text names that this session's controller has yet to ring."""
        return [leg for leg in LEG.findall(text) if leg in originated and leg not in self.live_of]


# ----------------------------------------------------------------------------- the fake ARI


@dataclass(frozen=True)
class Sent:
    """A request the controller made during the replay (live ids)."""

    session: int
    t: float
    method: str
    path: str
    params: Mapping[str, Any]
    body: Mapping[str, Any] | None


class ReplayedAri(AriClient):
    def __init__(self, app: str, legs: LegIds) -> None:
        # No connection is ever opened: every request is answered from the capture.
        super().__init__(AriConfig("http://replay.invalid/ari", "replay", "replay", app),
                         cast(aiohttp.ClientSession, None))
        self.legs = legs
        self.sent: list[Sent] = []
        self.divergences: list[str] = []
        self._index = -1
        self._clock: Callable[[], float] = lambda: 0.0
        self._changes: list[Line] = []
        self._states: dict[str, list[Line]] = {}

    def begin(self, index: int, session: Session, clock: Callable[[], float]) -> None:
        self._index, self._clock = index, clock
        self._changes = [line for line in session.requests if line["method"] != "GET"]
        self._states = {}
        for line in session.requests:
            if line["method"] == "GET":
                self._states.setdefault(_state_key(line["path"], line["params"]), []).append(line)

    def end(self) -> None:
        for line in self._changes:
            self.divergences.append(f"session {self._index + 1}: the controller never sent "
                                    f"{line['method']} {line['path']} (recorded at {line['t']} s)")
        self._changes = []

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int | float | bool] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        now = self._clock()
        self.sent.append(Sent(self._index, round(now, 3), method, path, dict(params or {}), body))
        recorded_path = self.legs.to_recorded(path)
        line = self._state(recorded_path, params, now) if method == "GET" else self._take(method, path, recorded_path)
        if line is None:
            self.divergences.append(f"session {self._index + 1} at {now:.3f} s: {method} {path} is not in the capture")
            return None
        mine = json.loads(self.legs.to_recorded(json.dumps({"params": dict(params or {}), "body": body})))
        if method != "GET" and mine != {"params": line["params"], "body": line["body"]}:
            self.divergences.append(f"session {self._index + 1}: {method} {path} sent {mine}, recorded "
                                    f"{ {'params': line['params'], 'body': line['body']} }")
        status = int(line["status"])
        if status >= 400 or status == 0:
            message = self.legs.to_live(str(line["error"] or f"ARI {method} {path}: {status}"))
            if status == 404:
                raise AriNotFound(message, status)
            if status == 401:
                raise AriUnauthorized(message, status)
            raise AriError(message, status)
        return json.loads(self.legs.to_live(json.dumps(line["reply"])))

    def _state(self, recorded_path: str, params: Mapping[str, Any] | None, now: float) -> Line | None:
        answers = self._states.get(_state_key(recorded_path, dict(params or {})), [])
        before = [line for line in answers if line["t"] <= now]
        return before[-1] if before else (answers[0] if answers else None)

    def _take(self, method: str, path: str, recorded_path: str) -> Line | None:
        for index, line in enumerate(self._changes):
            if line["method"] == method and line["path"] == recorded_path:
                return self._changes.pop(index)
        # A leg the controller rings now: the first recorded one of that shape, not yet bound.
        shape = LEG_TAIL.sub(r"\1*", path)
        for index, line in enumerate(self._changes):
            recorded_legs = LEG.findall(line["path"])
            if line["method"] == method and LEG_TAIL.sub(r"\1*", line["path"]) == shape and recorded_legs \
                    and recorded_legs[0] not in self.legs.live_of:
                live_legs = LEG.findall(path)
                if live_legs:
                    self.legs.bind(recorded_legs[0], live_legs[0])
                return self._changes.pop(index)
        return None


def _state_key(path: str, params: Mapping[str, Any]) -> str:
    return json.dumps([path, {k: str(v) for k, v in params.items()}], sort_keys=True)


# ----------------------------------------------------------------------------- the clock


_Ts = TypeVarTuple("_Ts")


class _Timer:
    def __init__(self, when: float) -> None:
        self.when = when
        self.fired = False
        self.handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        return not self.fired and self.handle is not None and not self.handle.cancelled()


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose `time()` is the replay's clock, moved only by `set_time`."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0
        self._timers: list[_Timer] = []

    def time(self) -> float:
        return self._now

    def set_time(self, when: float) -> None:
        self._now = max(self._now, when)

    def call_at(self, when: float, callback: Callable[[*_Ts], object], *args: *_Ts,
                context: contextvars.Context | None = None) -> asyncio.TimerHandle:
        timer = _Timer(when)

        def fire() -> None:
            timer.fired = True
            callback(*args)

        timer.handle = super().call_at(when, fire, context=context)
        self._timers = [t for t in self._timers if t.pending]
        self._timers.append(timer)
        return timer.handle

    def next_timer(self) -> float | None:
        pending = [t.when for t in self._timers if t.pending]
        return min(pending) if pending else None

    def timer_due(self) -> bool:
        upcoming = self.next_timer()
        return upcoming is not None and upcoming <= self._now


# Where an idle task waits: its call's inbox, or the clock (a recording's look waits for
# the gathering's timer before its thread trip).
_IDLE_CODES = frozenset({asyncio.Queue.get.__code__, asyncio.sleep.__code__, GatheredLooks.look.__code__})


def _innermost_code(task: asyncio.Task[Any]) -> types.CodeType | None:
    awaited: Any = task.get_coro()
    code = None
    while awaited is not None and hasattr(awaited, "cr_code"):
        code, awaited = awaited.cr_code, awaited.cr_await
    return code


# ----------------------------------------------------------------------------- the controller


@dataclass(frozen=True)
class Replayed:
    """What the driver needs of a controller; `build_controller` maps it onto the real one."""

    start: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]]
    on_event: Callable[[Event], None]
    adopt: Callable[[], Awaitable[None]]
    poll_registrations: Callable[[], Awaitable[None]]


def build_controller(settings: Settings, ari: AriClient, store: Store, shift_clock: Callable[[], float]) -> Replayed:
    """The real controller over the replayed ARI and a real store: the one place that knows
    how the controller is built (adapt it here when that changes)."""
    services = Services.on(settings, store)
    controller = Controller(settings, ari, services.calls, services.seats, services.nuisance, shift_clock=shift_clock)
    return Replayed(start=controller.start, stop=controller.stop, on_event=controller.on_event,
                    adopt=controller.adopt, poll_registrations=controller.refresh_registrations)


@dataclass(frozen=True)
class Stored:
    calls: list[dict[str, Any]]  # in arrival order
    events: dict[str, list[dict[str, Any]]]  # by call id, in the order they were put
    seats: dict[str, dict[str, Any]]


async def read_stored(store: Store) -> Stored:
    """What the store holds after the replay, read through the repositories."""
    calls = CallRepository(store)
    await calls.flush()
    rows = sorted((dict(row) for row in await calls.recent(limit=1000)),
                  key=lambda row: float(str(row["arrived_epoch"])))
    events = {str(row["call_id"]): [dict(e) for e in await calls.events(str(row["call_id"]))] for row in rows}
    seats = {name: dict(row) for name, row in (await SeatRepository(store).rows()).items()}
    return Stored(rows, events, seats)


def replay_settings(workdir: Path, overrides: Mapping[str, str]) -> Settings:
    return settings_for({
        "HOTLINE_HOME": str(HOME),
        "HOTLINE_PATHS_STATE_DIR": str(workdir),
        "HOTLINE_PATHS_RECORDINGS_DIR": str(workdir / "recordings"),
        "HOTLINE_PATHS_DATABASE": str(workdir / "hotline.db"),
        # The captures walk the DTMF menu (recorded with it on, before it became a setting).
        "HOTLINE_CALLFLOW_MENU": "true",
        **overrides,
    })


# ----------------------------------------------------------------------------- the driver


@dataclass
class Result:
    capture: Capture
    stored: Stored
    sent: list[Sent]
    divergences: list[str]
    aliases: dict[str, str] = field(default_factory=dict)

    def described(self, gets: bool = False) -> list[str]:
        """The requests the controller made, ids normalised (see `describe`)."""
        return [describe(s.method, s.path, s.params, self.aliases) for s in self.sent if gets or s.method != "GET"]

    def recorded(self, gets: bool = False) -> list[str]:
        """The requests of the real run, normalised the same way."""
        return [describe(line["method"], line["path"], line["params"], self.aliases)
                for session in self.capture.sessions for line in session.requests if gets or line["method"] != "GET"]


def describe(method: str, path: str, params: Mapping[str, Any], aliases: Mapping[str, str]) -> str:
    """`POST /channels/{caller}/play/{caller}-p1 greeting`: callers by alias, seat legs'
    random part as {leg}, and the one parameter that tells what was asked (prompt, endpoint)."""
    text = LEG_TAIL.sub(r"\1{leg}", path)
    for channel_id, alias in aliases.items():
        text = text.replace(channel_id, alias)
    if "media" in params:
        text += " " + str(params["media"]).rsplit("/", 1)[-1]
    if "endpoint" in params:
        text += " " + str(params["endpoint"])
    return f"{method} {text}"


class Replay:
    def __init__(self, capture: Capture, workdir: Path) -> None:
        self.capture = capture
        self.settings = replay_settings(workdir, capture.expected["settings"])
        self.legs = LegIds()
        self.ari = ReplayedAri(self.settings.asterisk.app, self.legs)
        moment = datetime.fromtimestamp(capture.first_moment, self.settings.zone)
        hour, minute = (int(part) for part in str(capture.expected["shift_time"]).split(":"))
        on_duty = moment.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()
        self.shift_clock: Callable[[], float] = lambda: on_duty

    @property
    def loop(self) -> VirtualClockLoop:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop), "run the replay with run_replay()"
        return loop

    async def run(self) -> Result:
        # A safety net for a hung replay (a bug), never a way to wait for something.
        me = asyncio.current_task()
        assert me is not None
        guard = threading.Timer(STALL_SECONDS, self.loop.call_soon_threadsafe, args=(me.cancel,))
        guard.daemon = True
        guard.start()
        store = Store(self.settings.paths.database)
        await store.start()
        try:
            for index, session in enumerate(self.capture.sessions):
                await self._session(index, session, store)
            stored = await read_stored(store)
        except asyncio.CancelledError:
            raise ReplayDiverged(f"{self.capture.name}: the replay did not end within {STALL_SECONDS:.0f} s") from None
        finally:
            guard.cancel()
            await store.stop()
        aliases = {cid: "{caller}" if n == 0 else f"{{caller{n + 1}}}" for n, cid in enumerate(self.capture.callers)}
        return Result(self.capture, stored, self.ari.sent, self.ari.divergences, aliases)

    async def _session(self, index: int, session: Session, store: Store) -> None:
        base = self.loop.time()
        self.ari.begin(index, session, lambda: self.loop.time() - base)
        controller = build_controller(self.settings, self.ari, store, self.shift_clock)
        await controller.start()
        try:
            for line in session.stimuli:
                await self.advance_to(base + float(line["t"]))
                if line["kind"] == "connected":
                    # As `callcenter.app` does at every connection: the event filter, then adoption.
                    await self.ari.receive_only(EVENTS_READ)
                    await controller.adopt()
                elif line["kind"] == "event":
                    await self._deliver(controller, line, session)
                else:
                    await controller.poll_registrations()
                await self.settle()
        finally:
            await self._stop(controller)
            self.ari.end()

    async def _deliver(self, controller: Replayed, line: Line, session: Session) -> None:
        text = json.dumps(line["event"], ensure_ascii=False)
        waiting = self.legs.unbound(text, session.originated)
        if waiting:
            await self._until_rung(waiting, line)
        controller.on_event(json.loads(self.legs.to_live(text)))

    async def _until_rung(self, legs: list[str], line: Line) -> None:
        """The capture's next event names a seat leg the controller has not rung yet (its
        ring came a little later in the replay): run the clock on until it has."""
        deadline = self.loop.time() + LEG_PATIENCE
        while any(leg not in self.legs.live_of for leg in legs):
            upcoming = self.loop.next_timer()
            if upcoming is None or upcoming > deadline:
                raise ReplayDiverged(f"{self.capture.name}: the controller never rang {legs[0]}, which the capture's "
                                     f"{line['event'].get('type')} at {line['t']} s names")
            self.loop.set_time(upcoming)
            await self.settle()

    async def _stop(self, controller: Replayed) -> None:
        """The clock stops with the capture: whatever still waits for it (the seat poll, a
        recording that will never appear) is cancelled, then the controller stops."""
        await self.settle()
        me = asyncio.current_task()
        waiting = [task for task in asyncio.all_tasks() if task is not me and not task.done()]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        await controller.stop()

    async def advance_to(self, when: float) -> None:
        """Move the clock to `when`, through every timer due on the way, in order."""
        while True:
            await self.settle()
            upcoming = self.loop.next_timer()
            if upcoming is None or upcoming > when:
                break
            self.loop.set_time(upcoming)
        self.loop.set_time(when)
        await self.settle()

    async def settle(self) -> None:
        """Return when every other task waits on an empty inbox or on the clock, and no
        timer is due: what the last event set off has been done."""
        me = asyncio.current_task()
        while True:
            await asyncio.sleep(0)  # let what is ready run (woken tasks, due timers)
            ready = False
            waits: list[asyncio.Future[Any]] = []
            for task in asyncio.all_tasks():
                if task is me or task.done():
                    continue
                # asyncio keeps the future a task waits on in `_fut_waiter` (CPython,
                # both implementations); without it, a task counts as ready.
                waiter: asyncio.Future[Any] | None = getattr(task, "_fut_waiter", None)
                if waiter is None or waiter.done():
                    ready = True
                elif _innermost_code(task) not in _IDLE_CODES:
                    waits.append(waiter)  # the store thread, a worker thread, a lock
            if ready:
                continue
            if waits:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                continue
            if not self.loop.timer_due():
                return


def run_replay(name: str, workdir: Path, folder: Path = CAPTURES) -> Result:
    """Replay the capture `name` through the controller on a virtual clock."""
    capture = load_capture(name, folder)
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        return runner.run(Replay(capture, workdir).run())
