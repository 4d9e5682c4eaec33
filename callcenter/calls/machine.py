"""One citizen's call as a state machine: `step(call, event) -> (call, actions)`.

Pure: no I/O, no clock. The controller turns ARI events into these events, runs `step`,
and performs the returned actions over ARI and the store. Times are the events'
own (Asterisk's timestamps), in epoch seconds.

    NEW -Arrived-> ANSWERING -Answered-> GREETING -greeting played-> QUEUED (the default: no menu)
    GREETING -greeting played, menu on-> MENU -key 0-4 / timeout-> QUEUED
    QUEUED -SeatOffered-> RINGING -SeatAnswered-> TALKING
    MENU -key / timeout, number flagged-> WARNING -warning played-> QUEUED (behind citizens)
    RINGING -SeatFailed-> QUEUED (the seat is paused: no-answer; not when the ring ended unseen)
    any -CallerHungUp-> ENDED (outcome from where it happened)
    TALKING: three-way calls (三方通话) with a responsible unit, see the region at the end

Recovery after the controller was away is part of the machine too: a call still in
Stasis is `Readopted` (back in line, or still talking with its seat), and a call that
ended meanwhile is `LostWhileAway` (its row completed from where it was).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from callcenter.vocabulary import Category, Outcome


class Phase(StrEnum):
    NEW = "new"
    ANSWERING = "answering"
    GREETING = "greeting"
    MENU = "menu"
    WARNING = "warning"  # a flagged nuisance number hears the polite warning
    LINE_FULL = "line_full"  # the line is full: the caller hears so and is hung up
    QUEUED = "queued"
    RINGING = "ringing"
    TALKING = "talking"
    ENDED = "ended"


# The menu of the seed's four kinds of call; 0 (or no key) goes straight to an operator.
MENU_CATEGORIES: dict[str, str] = {
    "1": Category.CONSULTATION, "2": Category.COMPLAINT, "3": Category.HELP, "4": Category.SUGGESTION,
}
MENU_KEYS = frozenset(MENU_CATEGORIES) | {"0"}
# Positions announced by number; further back the caller hears "many ahead".
POSITION_MAX = 30
# Hang-up causes (Q.850) that mean "the seat did not answer", as opposed to failing.
NO_ANSWER_CAUSES = frozenset({18, 19, 0})


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Arrived:
    at: float
    number: str
    name: str
    recording: str = ""
    flagged_rule: str = ""  # the nuisance rule the number is flagged by now, "" when not flagged
    over_limit: bool = False  # over the optional hard limit: warning, then hang-up
    line_full: bool = False  # callflow.max_waiting callers wait already: told so, then hang-up
    # Answered by the dialplan before Stasis (the hotline's extension answers at once, as
    # Asterisk's own Queue() flows do): nothing to ask Asterisk, nothing to wait for.
    up: bool = False


@dataclass(frozen=True)
class Answered:
    at: float


@dataclass(frozen=True)
class PlaybackFinished:
    at: float
    playback_id: str


@dataclass(frozen=True)
class Digit:
    at: float
    digit: str


@dataclass(frozen=True)
class TimerFired:
    at: float
    name: str
    position: int = 0  # for the "position" timer: the caller's place in line now


@dataclass(frozen=True)
class Enqueued:
    """The controller put the call in line; `position` is its place."""

    at: float
    position: int


@dataclass(frozen=True)
class SeatOffered:
    at: float
    seat: str
    shift: str
    operator: str = ""  # the 工号 logged in at the seat ("" none known)


@dataclass(frozen=True)
class SeatAnswered:
    at: float
    seat: str


@dataclass(frozen=True)
class SeatFailed:
    at: float
    seat: str
    cause: int
    # The ring ended while the controller heard no events (found gone at a reconnection):
    # why is unknown, so the seat is not paused for it.
    unseen: bool = False


@dataclass(frozen=True)
class SeatHungUp:
    at: float
    cause: int


@dataclass(frozen=True)
class CallerHungUp:
    at: float
    cause: int = 16
    cause_text: str = "Normal Clearing"


@dataclass(frozen=True)
class ActionFailed:
    """An ARI request for this call failed (the channel vanished, Asterisk refused)."""

    at: float
    what: str


@dataclass(frozen=True)
class PlaybackStarted:
    """Asterisk began playing a prompt to the caller: the proof, kept per call, that it was heard."""

    at: float
    playback_id: str
    prompt: str


@dataclass(frozen=True)
class Stored:
    """What the store knew of a call when the controller came back (times in epoch s)."""

    state: str  # the row's state: "ivr", "queued", "ringing" or "talking"
    number: str = ""
    name: str = ""
    category: str = ""
    seat: str = ""
    shift: str = ""
    operator: str = ""
    flagged_rule: str = ""
    arrived: float | None = None
    answered: float | None = None
    queued: float | None = None
    seat_answered: float | None = None


@dataclass(frozen=True)
class Readopted:
    """The controller came back and found the call still in its Stasis app.
    `still_bridged`: the caller is still in a bridge with the row's seat's channel."""

    at: float
    stored: Stored
    still_bridged: bool


@dataclass(frozen=True)
class LostWhileAway:
    """The call ended while the controller was away: only its row is left to complete."""

    at: float
    stored: Stored


# Three-way calls (三方通话): the operator's moves (checked first by `three_way_refusal`)
# and what the unit's channel does.


@dataclass(frozen=True)
class UnitRequested:
    """The operator asks to bring the unit (its code and phone) into the call."""

    at: float
    unit: str
    phone: str


@dataclass(frozen=True)
class UnitAnswered:
    at: float
    unit: str


@dataclass(frozen=True)
class UnitHungUp:
    """The unit's channel is gone: it never answered (busy, no answer) or it left the call."""

    at: float
    unit: str
    cause: int


@dataclass(frozen=True)
class UnitDropRequested:
    """The operator takes the unit off the call (挂断单位); citizen and operator carry on."""

    at: float


@dataclass(frozen=True)
class SeatLeaveRequested:
    """The operator leaves the citizen and the unit talking (退出，由市民与单位通话)."""

    at: float


Event = (
    Arrived | Answered | PlaybackFinished | PlaybackStarted | Digit | TimerFired | Enqueued | SeatOffered
    | SeatAnswered | SeatFailed | SeatHungUp | CallerHungUp | ActionFailed | Readopted | LostWhileAway
    | UnitRequested | UnitAnswered | UnitHungUp | UnitDropRequested | SeatLeaveRequested
)

# ----------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Answer:
    pass


@dataclass(frozen=True)
class Play:
    playback_id: str
    prompt: str  # a prompt name, e.g. "greeting", "position_3"


@dataclass(frozen=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True)
class StartMoh:
    pass


@dataclass(frozen=True)
class StopMoh:
    pass


@dataclass(frozen=True)
class SetTimer:
    name: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class Enqueue:
    pass


@dataclass(frozen=True)
class Dequeue:
    pass


@dataclass(frozen=True)
class RingSeat:
    seat: str


@dataclass(frozen=True)
class CancelRing:
    seat: str


@dataclass(frozen=True)
class BridgeWithSeat:
    seat: str


@dataclass(frozen=True)
class HangupSeat:
    seat: str


@dataclass(frozen=True)
class HangupCaller:
    pass


@dataclass(frozen=True)
class Apologise:
    """The call failed: the caller hears an apology from Asterisk's dialplan, then the
    line is cleared (nothing of ours has to work for that)."""


@dataclass(frozen=True)
class PauseSeat:
    seat: str
    reason: str


@dataclass(frozen=True)
class AdoptSeat:
    """A re-adopted call is still talking with this seat: the seat is busy with it."""

    seat: str


@dataclass(frozen=True)
class MeasureRecording:
    """Measure the call's recording once Asterisk has closed the file."""


@dataclass(frozen=True)
class ReleaseSeat:
    """The seat's call is over: wrap-up, then idle. `answered` False: it never connected."""

    seat: str
    answered: bool


@dataclass(frozen=True)
class LogEvent:
    kind: str
    at: float
    seat: str | None = None
    data: tuple[tuple[str, str | int | float], ...] = ()


@dataclass(frozen=True)
class SaveRow:
    fields: tuple[tuple[str, str | int | float | None], ...]


@dataclass(frozen=True)
class Finished:
    """The call is over; the controller tears down its bridge, forgets the call, measures
    the recording and judges the number."""


@dataclass(frozen=True)
class DialUnit:
    """Originate to the unit's phone over the trunk, into the Stasis app."""

    unit: str
    phone: str


@dataclass(frozen=True)
class BridgeUnit:
    """Add the unit's answered channel to the call's mixing bridge: all three talk."""

    unit: str


@dataclass(frozen=True)
class HangupUnit:
    unit: str


Action = (
    Answer | Play | StopPlayback | StartMoh | StopMoh | SetTimer | CancelTimer | Enqueue | Dequeue | RingSeat
    | CancelRing | BridgeWithSeat | HangupSeat | HangupCaller | PauseSeat | AdoptSeat | ReleaseSeat | LogEvent
    | SaveRow | MeasureRecording | Finished | DialUnit | BridgeUnit | HangupUnit | Apologise
)

# ----------------------------------------------------------------------------- the call


@dataclass(frozen=True)
class Timing:
    menu_timeout: float = 5.0
    position_interval: float = 30.0
    # The DTMF menu is a setting, off by default: GB/T 33358 says telephone intake should
    # not use an IVR menu, and the caller must reach a person within 15 s.
    menu: bool = False


@dataclass(frozen=True)
class Call:
    call_id: str
    phase: Phase = Phase.NEW
    number: str = ""
    name: str = ""
    arrived: float | None = None
    answered: float | None = None
    queued: float | None = None
    seat_answered: float | None = None
    ended: float | None = None
    category: str = ""
    seat: str = ""
    shift: str = ""
    operator: str = ""  # the 工号 at the seat when it was offered the call
    playing: str = ""  # the playback in progress, "" when none
    playback_count: int = 0
    on_hold: bool = False  # music on hold is playing
    seat_hung_up: bool = False
    flagged_rule: str = ""
    over_limit: bool = False
    warned: bool = False
    refused: bool = False  # hung up by us after the warning: over the hard limit
    line_full: bool = False  # refused at arrival: the line was full
    # A three-way call: the unit dialled or in the call ("" none), whether it answered,
    # whether the operator asked it off, the last failure for the operator's screen
    # ("busy", "no_answer", "failed"), and whether the seat left citizen and unit talking.
    unit: str = ""
    unit_joined: bool = False
    unit_dropping: bool = False
    unit_note: str = ""
    unit_last: str = ""  # the unit last dialled, which `unit_note` is about
    seat_left: bool = False
    timing: Timing = field(default_factory=Timing)

    def next_playback(self, prompt: str) -> tuple[Call, Play]:
        count = self.playback_count + 1
        playback_id = f"{self.call_id}-p{count}"
        return replace(self, playing=playback_id, playback_count=count), Play(playback_id, prompt)


def callers_ahead_prompt(ahead: int) -> str:
    """The name of the prompt announcing how many callers wait ahead (0: "you are next");
    the prompts built from ivr/prompts.toml carry these names."""
    if ahead < 0:
        raise ValueError(f"callers ahead cannot be negative, got {ahead}")
    if ahead == 0:
        return "position_next"
    return f"position_{ahead}" if ahead <= POSITION_MAX else "position_many"


def step(call: Call, event: Event) -> tuple[Call, list[Action]]:
    """The next state of the call and what to do, for one event."""
    if call.phase is Phase.ENDED:
        return call, []
    if isinstance(event, CallerHungUp):
        return _caller_hung_up(call, event)
    if isinstance(event, PlaybackStarted):
        return call, [LogEvent("PLAYBACK", event.at, data=(("prompt", event.prompt), ("playback", event.playback_id)))]
    if isinstance(event, Readopted | LostWhileAway):
        return _recovered(call, event) if call.phase is Phase.NEW else (call, [])
    if isinstance(event, ActionFailed):
        return _caller_hung_up(call, CallerHungUp(event.at, 0, f"failed: {event.what}"), failed=True)
    handler = _HANDLERS.get(call.phase)
    return handler(call, event) if handler else (call, [])


def _new(call: Call, event: Event) -> tuple[Call, list[Action]]:
    if not isinstance(event, Arrived):
        return call, []
    call = replace(call, phase=Phase.ANSWERING, number=event.number, name=event.name, arrived=event.at,
                   flagged_rule=event.flagged_rule, over_limit=event.over_limit, line_full=event.line_full)
    actions: list[Action] = [
        LogEvent("ARRIVED", event.at, data=(("number", event.number), ("name", event.name))),
        SaveRow((("caller_number", event.number), ("caller_name", event.name), ("arrived", event.at),
                 ("recording_path", event.recording), ("state", "ivr"),
                 ("nuisance", 1 if event.flagged_rule else 0), ("nuisance_rule", event.flagged_rule or None))),
    ]
    if event.flagged_rule:
        actions.append(LogEvent("NUISANCE_FLAGGED", event.at, data=(("rule", event.flagged_rule),
                                                                   ("over_limit", int(event.over_limit)))))
    if event.up:
        call, answered = _answering(call, Answered(event.at))
        return call, [*actions, *answered]
    return call, [*actions, Answer()]


def _answering(call: Call, event: Event) -> tuple[Call, list[Action]]:
    if not isinstance(event, Answered):
        return call, []
    if call.line_full:
        # Overload: no greeting, no line; the caller is told and the line cleared.
        call, play = replace(call, phase=Phase.LINE_FULL, answered=event.at).next_playback("line_busy")
        return call, [LogEvent("ANSWERED", event.at), LogEvent("LINE_FULL", event.at),
                      SaveRow((("answered", event.at),)), play]
    call = replace(call, phase=Phase.GREETING, answered=event.at)
    call, play = call.next_playback("greeting")
    return call, [LogEvent("ANSWERED", event.at), SaveRow((("answered", event.at),)), play]


def _greeting(call: Call, event: Event) -> tuple[Call, list[Action]]:
    if isinstance(event, PlaybackFinished) and event.playback_id == call.playing:
        if not call.timing.menu:
            # Straight to the line: the operator sets the category.
            call, queued = _to_queue(replace(call, playing=""), event.at, "")
            return call, [LogEvent("GREETING", event.at), *queued]
        call = replace(call, phase=Phase.MENU)
        call, play = call.next_playback("menu")
        return call, [LogEvent("GREETING", event.at), play]
    if isinstance(event, Digit):
        if not call.timing.menu:
            # No menu, so no key means anything: the greeting (with its notice that the
            # call is recorded) plays to its end.
            return call, [LogEvent("DTMF_IGNORED", event.at, data=(("digit", event.digit[:8]),))]
        return _menu_key(call, event)
    return call, []


def _menu(call: Call, event: Event) -> tuple[Call, list[Action]]:
    if isinstance(event, PlaybackFinished) and event.playback_id == call.playing:
        return replace(call, playing=""), [SetTimer("menu", call.timing.menu_timeout)]
    if isinstance(event, Digit):
        return _menu_key(call, event)
    if isinstance(event, TimerFired) and event.name == "menu":
        return _to_queue(call, event.at, "")
    return call, []


def _menu_key(call: Call, event: Digit) -> tuple[Call, list[Action]]:
    if event.digit not in MENU_KEYS:
        # Garbage DTMF is noted and otherwise ignored: the menu keeps waiting.
        return call, [LogEvent("DTMF_IGNORED", event.at, data=(("digit", event.digit[:8]),))]
    actions: list[Action] = [StopPlayback(call.playing)] if call.playing else []
    call = replace(call, playing="")
    new_call, more = _to_queue(call, event.at, MENU_CATEGORIES.get(event.digit, ""), key=event.digit)
    return new_call, [*actions, CancelTimer("menu"), *more]


def _to_queue(call: Call, at: float, category: str, key: str = "") -> tuple[Call, list[Action]]:
    """The menu (if any) is done: log the choice; a flagged number hears the warning first."""
    data: tuple[tuple[str, str | int | float], ...] = (("category", category or "none"),)
    if key:
        data += (("key", key),)
    chosen: list[Action] = []
    if call.timing.menu:
        chosen.append(LogEvent("CATEGORY" if category else "MENU_TIMEOUT" if not key else "OPERATOR", at,
                               data=data))
    call = replace(call, category=category)
    if call.flagged_rule and not call.warned:
        call, play = replace(call, phase=Phase.WARNING).next_playback("nuisance_warning")
        return call, [*chosen, LogEvent("NUISANCE_WARNING", at, data=(("rule", call.flagged_rule),)), play]
    call, queued = _enter_queue(call, at)
    return call, chosen + queued


def _enter_queue(call: Call, at: float) -> tuple[Call, list[Action]]:
    call = replace(call, phase=Phase.QUEUED, queued=at)
    return call, [
        LogEvent("ENTERQUEUE", at, data=(("behind", int(bool(call.flagged_rule))),)),
        SaveRow((("queued", at), ("category", call.category or None), ("state", "queued"))),
        Enqueue(),
    ]


def _warning(call: Call, event: Event) -> tuple[Call, list[Action]]:
    if isinstance(event, PlaybackFinished) and event.playback_id == call.playing:
        call = replace(call, playing="", warned=True)
        if call.over_limit:
            # The optional hard limit: warned, then hung up (never silently).
            return replace(call, refused=True), [LogEvent("HARD_LIMIT", event.at), HangupCaller()]
        return _enter_queue(call, event.at)
    return call, []


def _line_full(call: Call, event: Event) -> tuple[Call, list[Action]]:
    if isinstance(event, PlaybackFinished) and event.playback_id == call.playing:
        return replace(call, playing=""), [HangupCaller()]
    return call, []


def _queued(call: Call, event: Event) -> tuple[Call, list[Action]]:
    if isinstance(event, Enqueued | TimerFired) and (not isinstance(event, TimerFired) or event.name == "position"):
        position = event.position
        actions: list[Action] = [LogEvent("POSITION", event.at, data=(("position", position),))]
        if call.on_hold:
            actions.append(StopMoh())
        if call.playing:
            actions.append(StopPlayback(call.playing))
        call, play = replace(call, on_hold=False).next_playback(callers_ahead_prompt(max(position - 1, 0)))
        return call, [*actions, play, SetTimer("position", call.timing.position_interval)]
    if isinstance(event, PlaybackFinished) and event.playback_id == call.playing:
        return replace(call, playing="", on_hold=True), [StartMoh()]
    if isinstance(event, SeatOffered):
        # A position announcement in progress goes on while the seat rings (every caller
        # hears where they are); music on hold follows it.
        actions = [CancelTimer("position")]
        if not call.playing and not call.on_hold:
            actions.append(StartMoh())
        call = replace(call, phase=Phase.RINGING, seat=event.seat, shift=event.shift, operator=event.operator,
                       on_hold=call.on_hold or not call.playing)
        return call, [*actions, LogEvent("RINGSEAT", event.at, seat=event.seat, data=_operator_data(call)),
                      RingSeat(event.seat)]
    return call, []


def _ringing(call: Call, event: Event) -> tuple[Call, list[Action]]:
    if isinstance(event, PlaybackFinished) and event.playback_id == call.playing:
        return replace(call, playing="", on_hold=True), [StartMoh()]
    if isinstance(event, SeatAnswered) and event.seat == call.seat:
        stop: list[Action] = [StopPlayback(call.playing)] if call.playing else []
        if call.on_hold:
            stop.append(StopMoh())
        call = replace(call, phase=Phase.TALKING, seat_answered=event.at, playing="", on_hold=False)
        wait = _seconds(call.queued, event.at)
        return call, [
            *stop,
            BridgeWithSeat(call.seat),
            LogEvent("CONNECT", event.at, seat=call.seat, data=(("wait", wait), *_operator_data(call))),
            SaveRow((("seat_answered", event.at), ("seat", call.seat), ("shift", call.shift), *_operator_data(call),
                     ("wait_seconds", wait), ("answer_seconds", _seconds(call.arrived, event.at)),
                     ("state", "talking"))),
        ]
    if isinstance(event, SeatFailed) and event.seat == call.seat:
        no_answer = event.cause in NO_ANSWER_CAUSES
        actions: list[Action] = [
            LogEvent("RINGLOST", event.at, seat=call.seat),
            ReleaseSeat(call.seat, answered=False),
        ] if event.unseen else [
            LogEvent("RINGNOANSWER" if no_answer else "RINGFAILED", event.at, seat=call.seat,
                     data=(("cause", event.cause),)),
            PauseSeat(call.seat, "no-answer" if no_answer else "unreachable"),
            ReleaseSeat(call.seat, answered=False),
        ]
        call = replace(call, phase=Phase.QUEUED, seat="", shift="", operator="")
        return call, [*actions, Enqueue()]
    return call, []


def _talking(call: Call, event: Event) -> tuple[Call, list[Action]]:
    if isinstance(event, SeatHungUp) and not call.seat_hung_up and not call.seat_left:
        if call.unit_joined:  # the operator put the phone down in a three-way call: citizen and unit go on
            return _seat_leaves(call, event.at, "hangup")
        call = replace(call, seat_hung_up=True)
        return call, [LogEvent("COMPLETEAGENT", event.at, seat=call.seat), HangupCaller()]
    return _three_way(call, event)


def _operator_data(call: Call) -> tuple[tuple[str, str], ...]:
    """The operator in a step's data (the ticket timeline names who took the call)."""
    return (("operator", call.operator),) if call.operator else ()


def _seconds(start: float | None, end: float | None) -> int:
    if start is None or end is None:
        return 0
    return max(0, int(end) - int(start))


def _caller_hung_up(call: Call, event: CallerHungUp, failed: bool = False) -> tuple[Call, list[Action]]:
    actions: list[Action] = [CancelTimer("menu"), CancelTimer("position")]
    phase = call.phase
    if failed:
        # Our side failed (an ARI request, the store, a bug): `failed` with the cause,
        # wherever the call was; the talk so far is still counted.
        outcome = Outcome.FAILED
    elif phase is Phase.TALKING:
        outcome = Outcome.ANSWERED  # an operator answered: never "abandoned"
    elif call.refused:
        outcome = Outcome.FAILED  # refused by the nuisance hard limit, after the warning
    elif call.line_full:
        outcome = Outcome.LINE_FULL
    elif phase in (Phase.NEW, Phase.ANSWERING) and call.answered is None and call.arrived is None:
        outcome = Outcome.FAILED
    else:
        outcome = _abandon_outcome(phase)
    if phase is Phase.QUEUED:
        actions.append(Dequeue())
    if phase is Phase.RINGING:
        actions += [CancelRing(call.seat), ReleaseSeat(call.seat, answered=False)]
    if phase is Phase.TALKING:
        if not call.seat_hung_up and not call.seat_left:
            actions += [LogEvent("COMPLETECALLER", event.at, seat=call.seat), HangupSeat(call.seat)]
        if not call.seat_left:  # a seat that left a three-way call was released then
            actions.append(ReleaseSeat(call.seat, answered=True))
        actions += _unit_off_with_the_caller(call, event.at)
    if failed:
        # An answered caller is told what happened; one not yet answered is refused.
        actions.append(Apologise() if call.answered is not None else HangupCaller())
    cause_text = ("refused: nuisance hard limit" if call.refused
                  else "refused: the line is full" if call.line_full and not failed else event.cause_text)
    ended = event.at
    talked = outcome is Outcome.ANSWERED or (failed and phase is Phase.TALKING)
    talk = _seconds(call.seat_answered, ended) if talked else 0
    wait_end = call.seat_answered if talked else ended
    wait = _seconds(call.queued, wait_end) if call.queued is not None else 0
    kind = ("HANGUP" if outcome is Outcome.ANSWERED else "FAILED" if outcome is Outcome.FAILED
            else "REFUSED" if outcome is Outcome.LINE_FULL else "ABANDON")
    actions += [
        LogEvent(kind, ended, seat=call.seat or None,
                 data=(("outcome", str(outcome)), ("phase", str(phase)), ("cause", event.cause))),
        SaveRow((
            ("ended", ended), ("outcome", str(outcome)), ("hangup_cause", f"{event.cause} {cause_text}"),
            ("wait_seconds", wait), ("talk_seconds", talk),
            ("total_seconds", _seconds(call.arrived if call.arrived is not None else ended, ended)),
            ("state", "done"),
        )),
        Finished(),
    ]
    return replace(call, phase=Phase.ENDED, ended=ended, playing=""), actions


def _abandon_outcome(phase: Phase) -> Outcome:
    if phase is Phase.QUEUED:
        return Outcome.ABANDONED_QUEUE
    if phase is Phase.RINGING:
        return Outcome.ABANDONED_RINGING
    return Outcome.ABANDONED_IVR


# A call that ended while the controller was away ended where its row says it was.
_LOST_OUTCOMES = {"talking": Outcome.ANSWERED, "queued": Outcome.ABANDONED_QUEUE, "ringing": Outcome.ABANDONED_RINGING}


def _recovered(call: Call, event: Readopted | LostWhileAway) -> tuple[Call, list[Action]]:
    stored = event.stored
    at = event.at
    if isinstance(event, LostWhileAway):
        outcome = _LOST_OUTCOMES.get(stored.state, Outcome.ABANDONED_IVR)
        return replace(call, phase=Phase.ENDED, ended=at), [
            SaveRow((("ended", at), ("outcome", str(outcome)), ("state", "done"),
                     ("hangup_cause", "lost while the controller was down"))),
            LogEvent("LOST", at, data=(("state", stored.state),)),
            MeasureRecording(),
        ]
    call = replace(call, number=stored.number, name=stored.name, arrived=stored.arrived,
                   answered=stored.answered or at, queued=stored.queued or at, category=stored.category,
                   flagged_rule=stored.flagged_rule, warned=True)  # a flagged caller heard the warning already
    actions: list[Action] = [LogEvent("READOPTED", at, data=(("state", stored.state),))]
    if stored.state == "talking" and event.still_bridged and stored.seat:
        call = replace(call, phase=Phase.TALKING, seat=stored.seat, shift=stored.shift, operator=stored.operator,
                       seat_answered=stored.seat_answered or at)
        return call, [*actions, AdoptSeat(stored.seat)]
    # Anywhere else (the menu, ringing a seat that is gone): back in line, in its old place.
    call = replace(call, phase=Phase.QUEUED)
    if stored.state != "queued":
        actions.append(SaveRow((("queued", at), ("state", "queued"))))
    return call, [*actions, Enqueue()]


# ----------------------------------------------------------------------------- three-way calls
# GB/T 33358's 三方通话: the operator, the citizen and the responsible unit on one call. The
# unit's channel joins the call's mixing bridge; the caller's MixMonitor records what the
# caller hears, so the recording holds all three. When the seat has left and the unit
# hangs up (or the citizen does), one party would be left alone: the call ends.

# Why a three-way move is refused, for the operator's screen (the console words them).
NOT_LIVE = "not_live"  # the call is not talking on that seat (ended, ringing, another seat, seat left)
UNIT_BUSY = "unit_busy"  # a unit is already dialled or in the call
NO_UNIT = "no_unit"  # nothing to take off or leave to: no unit in the call
NOT_JOINED = "not_joined"  # the unit has not answered yet: the seat cannot leave the citizen alone
BUSY_CAUSE = 17  # Q.850 user busy


class ThreeWayRefused(Exception):
    """An operator's three-way move the call does not allow now; `reason` is one of the above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def three_way_refusal(call: Call | None, seat: str, move: str) -> str | None:
    """Why the operator of `seat` may not make `move` ("add", "drop", "leave") on the call
    now, or None when they may."""
    if call is None or call.phase is not Phase.TALKING or call.seat != seat or call.seat_left or call.seat_hung_up:
        return NOT_LIVE
    if move == "add":
        return UNIT_BUSY if call.unit else None
    if not call.unit:
        return NO_UNIT
    if move == "leave" and not call.unit_joined:
        return NOT_JOINED
    return None


def _three_way(call: Call, event: Event) -> tuple[Call, list[Action]]:
    """The talking call's three-way events (the machine's part; the runner dials and bridges)."""
    if isinstance(event, UnitRequested):
        if three_way_refusal(call, call.seat, "add") is not None:
            return call, []
        call = replace(call, unit=event.unit, unit_joined=False, unit_dropping=False, unit_note="",
                       unit_last=event.unit)
        return call, [LogEvent("UNIT_DIALLED", event.at, seat=call.seat, data=(("unit", event.unit),)),
                      DialUnit(event.unit, event.phone)]
    if isinstance(event, UnitAnswered) and event.unit == call.unit and not call.unit_joined:
        if call.unit_dropping:  # taken off while it rang: answered too late
            return call, [HangupUnit(call.unit)]
        call = replace(call, unit_joined=True)
        return call, [BridgeUnit(call.unit),
                      LogEvent("UNIT_JOINED", event.at, seat=call.seat, data=(("unit", call.unit),))]
    if isinstance(event, UnitHungUp) and event.unit == call.unit:
        return _unit_gone(call, event)
    if isinstance(event, UnitDropRequested) and call.unit and not call.seat_left:
        return replace(call, unit_dropping=True), [HangupUnit(call.unit)]
    if isinstance(event, SeatLeaveRequested) and three_way_refusal(call, call.seat, "leave") is None:
        return _seat_leaves(call, event.at, "operator")
    return call, []


def _unit_gone(call: Call, event: UnitHungUp) -> tuple[Call, list[Action]]:
    unit = call.unit
    base = replace(call, unit="", unit_joined=False, unit_dropping=False)
    if not call.unit_joined:
        # Never answered: busy, no answer within the ring time, or the trunk failed; or the
        # operator took it off while it rang. The call goes on; the screen says why.
        result = ("cancelled" if call.unit_dropping else "busy" if event.cause == BUSY_CAUSE
                  else "no_answer" if event.cause in NO_ANSWER_CAUSES else "failed")
        note = "" if call.unit_dropping else result
        return replace(base, unit_note=note), [
            LogEvent("UNIT_FAILED", event.at, seat=call.seat,
                     data=(("unit", unit), ("result", result), ("cause", event.cause)))]
    by = "seat" if call.unit_dropping else "unit"
    actions: list[Action] = [LogEvent("UNIT_LEFT", event.at, seat=call.seat,
                                      data=(("unit", unit), ("by", by), ("cause", event.cause)))]
    if call.seat_left:
        actions.append(HangupCaller())  # the citizen would be alone in the bridge: the call ends
    return base, actions


def _seat_leaves(call: Call, at: float, how: str) -> tuple[Call, list[Action]]:
    """The seat leaves citizen and unit talking: its channel goes, the seat is released
    (wrap-up, as after any call); the call goes on until the citizen or the unit hangs up."""
    call = replace(call, seat_left=True)
    return call, [LogEvent("SEAT_LEFT", at, seat=call.seat, data=(("unit", call.unit), ("by", how))),
                  HangupSeat(call.seat), ReleaseSeat(call.seat, answered=True)]


def _unit_off_with_the_caller(call: Call, at: float) -> list[Action]:
    """The citizen's call ends: a unit still dialled or in it is hung up too."""
    if not call.unit:
        return []
    logged: list[Action] = []
    if call.unit_joined:
        logged.append(LogEvent("UNIT_LEFT", at, seat=call.seat, data=(("unit", call.unit), ("by", "caller"))))
    return [*logged, HangupUnit(call.unit)]


_HANDLERS = {
    Phase.NEW: _new,
    Phase.ANSWERING: _answering,
    Phase.GREETING: _greeting,
    Phase.MENU: _menu,
    Phase.WARNING: _warning,
    Phase.LINE_FULL: _line_full,
    Phase.QUEUED: _queued,
    Phase.RINGING: _ringing,
    Phase.TALKING: _talking,
}
