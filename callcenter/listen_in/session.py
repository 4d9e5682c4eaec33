"""One supervisor's supervision of one seat, as a pure machine: `step(session, event) ->
(session, actions)`. The runner performs the actions over ARI and the store.

The supervisor's phone is called first; once it answers it is put in a mixing bridge of
its own with a snoop channel on the seat's channel (never in the call's bridge, so the
call is never touched). Each mode is one snoop; switching mode replaces the snoop while
the supervisor's phone stays up. Each stretch in one mode is one line of the log
(a "period"), from when the phone answered (or the switch) to its end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from callcenter.listen_in.vocabulary import EndReason, Mode

# Every channel and bridge of a supervision is named from this prefix: the controller
# knows them as not a citizen's (a stray one found after a restart is hung up).
PREFIX = "listen-"
# The Stasis app arguments of the supervisor's phone and of the snoop channels.
APP_ARG = "listen_in"


class Direction(StrEnum):
    """ARI snoop's directions, seen from the snooped channel: `in` is what its phone sends
    into Asterisk (the operator's voice), `out` what Asterisk sends to its phone (the
    citizen's voice, from the call's bridge)."""

    NONE = "none"
    IN = "in"
    OUT = "out"
    BOTH = "both"


# Snooped on the seat's channel. spy=both: the supervisor hears the operator (in) and the
# citizen (out). whisper=out: the supervisor's voice is added to what the seat's phone
# receives, so only the operator hears it. Barge is whisper=both: added to the seat's
# outgoing audio too, i.e. to what the seat sends into the call's bridge, so the citizen
# hears it as well; this keeps the supervisor out of the call's bridge (whose members
# the controller counts and re-adopts) and makes switching mode one snoop replaced.
# tests/test_listen_in_audio.py proves each with tones.
DIRECTIONS: dict[Mode, tuple[Direction, Direction]] = {
    Mode.LISTEN: (Direction.BOTH, Direction.NONE),
    Mode.WHISPER: (Direction.BOTH, Direction.OUT),
    Mode.BARGE: (Direction.BOTH, Direction.BOTH),
}


class Phase(StrEnum):
    RINGING = "ringing"  # the supervisor's phone is called
    CONNECTED = "connected"  # it answered: it hears the seat's call (and maybe speaks)
    ENDED = "ended"


@dataclass(frozen=True)
class Session:
    session_id: str
    supervisor: str  # the console account, also the name of its phone's endpoint
    seat: str
    call_id: str
    seat_channel: str
    mode: Mode
    phase: Phase = Phase.RINGING
    snoops: int = 0  # snoop channels made so far (the current one is the last)
    periods: int = 1  # log lines so far (the current one is the last)
    end_reason: EndReason | None = None

    @property
    def phone_channel(self) -> str:
        return f"{PREFIX}{self.session_id}-phone"

    @property
    def bridge_id(self) -> str:
        return f"{PREFIX}{self.session_id}"

    @property
    def snoop_channel(self) -> str:
        """The current snoop channel ("" before the phone answered)."""
        return f"{PREFIX}{self.session_id}-snoop-{self.snoops}" if self.snoops else ""

    @property
    def period_id(self) -> str:
        return f"{self.session_id}-{self.periods}"


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class PhoneAnswered:
    at: float


@dataclass(frozen=True)
class ModeChosen:
    at: float
    mode: Mode


@dataclass(frozen=True)
class StopRequested:
    at: float


@dataclass(frozen=True)
class PhoneGone:
    """The supervisor's channel ended: hung up, or (still ringing) not answered."""

    at: float


@dataclass(frozen=True)
class SnoopGone:
    """A snoop channel ended: the current one ends when the seat's channel does."""

    at: float
    channel_id: str


@dataclass(frozen=True)
class SeatGone:
    """The seat's channel in the call ended (the call is over or the operator left it)."""

    at: float


@dataclass(frozen=True)
class StepFailed:
    """Asterisk refused a step (the seat's channel already gone: `seat_gone`)."""

    at: float
    seat_gone: bool = False


Event = PhoneAnswered | ModeChosen | StopRequested | PhoneGone | SnoopGone | SeatGone | StepFailed


# ----------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class DialPhone:
    channel_id: str
    endpoint: str


@dataclass(frozen=True)
class Connect:
    """A bridge of its own; a snoop on the seat's channel; both phone and snoop in it."""

    bridge_id: str
    phone_channel: str
    snoop_channel: str
    seat_channel: str
    mode: Mode


@dataclass(frozen=True)
class ReplaceSnoop:
    """The old snoop hung up first (never two modes at once), then the new one bridged."""

    bridge_id: str
    old_snoop: str
    new_snoop: str
    seat_channel: str
    mode: Mode


@dataclass(frozen=True)
class TearDown:
    phone_channel: str
    snoop_channel: str
    bridge_id: str


@dataclass(frozen=True)
class SavePeriod:
    """Create or update one line of the log (only the given fields change)."""

    period_id: str
    fields: Mapping[str, object] = field(default_factory=dict)


Action = DialPhone | Connect | ReplaceSnoop | TearDown | SavePeriod


def begin(session: Session, at: float) -> list[Action]:
    """The first actions of a new supervision: its log line, then ring the phone."""
    return [_new_period(session, at), DialPhone(session.phone_channel, session.supervisor)]


def _new_period(session: Session, at: float, connected: bool = False) -> SavePeriod:
    return SavePeriod(session.period_id, {
        "session_id": session.session_id, "supervisor": session.supervisor, "call_id": session.call_id,
        "seat": session.seat, "mode": str(session.mode), "requested_epoch": at,
        "started_epoch": at if connected else None,
    })


def _end(session: Session, at: float, reason: EndReason) -> tuple[Session, list[Action]]:
    ended = replace(session, phase=Phase.ENDED, end_reason=reason)
    return ended, [
        TearDown(session.phone_channel, session.snoop_channel, session.bridge_id),
        SavePeriod(session.period_id, {"ended_epoch": at, "end_reason": str(reason)}),
    ]


def step(session: Session, event: Event) -> tuple[Session, list[Action]]:
    """The next state of the supervision and what to do; an event that changes nothing
    (a late hang-up of a channel already replaced, anything once ended) gives no action."""
    if session.phase is Phase.ENDED:
        return session, []
    ringing = session.phase is Phase.RINGING
    if isinstance(event, PhoneAnswered):
        if not ringing:
            return session, []
        connected = replace(session, phase=Phase.CONNECTED, snoops=1)
        return connected, [
            SavePeriod(session.period_id, {"started_epoch": event.at}),
            Connect(connected.bridge_id, connected.phone_channel, connected.snoop_channel, connected.seat_channel,
                    connected.mode),
        ]
    if isinstance(event, ModeChosen):
        if event.mode is session.mode:
            return session, []
        if ringing:  # not yet heard anything: the same line, in the new mode
            return replace(session, mode=event.mode), [SavePeriod(session.period_id, {"mode": str(event.mode)})]
        switched = replace(session, mode=event.mode, snoops=session.snoops + 1, periods=session.periods + 1)
        return switched, [
            SavePeriod(session.period_id, {"ended_epoch": event.at, "end_reason": str(EndReason.SWITCHED)}),
            _new_period(switched, event.at, connected=True),
            ReplaceSnoop(switched.bridge_id, session.snoop_channel, switched.snoop_channel, switched.seat_channel,
                         switched.mode),
        ]
    if isinstance(event, StopRequested):
        return _end(session, event.at, EndReason.STOPPED)
    if isinstance(event, PhoneGone):
        return _end(session, event.at, EndReason.NO_ANSWER if ringing else EndReason.SUPERVISOR_HUNG_UP)
    if isinstance(event, SnoopGone):
        if event.channel_id != session.snoop_channel:
            return session, []  # the snoop a mode switch replaced
        return _end(session, event.at, EndReason.CALL_ENDED)
    if isinstance(event, SeatGone):
        return _end(session, event.at, EndReason.CALL_ENDED)
    return _end(session, event.at, EndReason.CALL_ENDED if event.seat_gone else EndReason.FAILED)
