"""One seat's live state and the moves it may make, and which free seat takes the next
caller. Pure: the controller feeds in events and the time, and performs the result.

    IDLE -ring-> RINGING -connect-> TALKING -release-> WRAPUP -end_wrapup-> IDLE
    RINGING -release (never connected)-> IDLE, keeping its place in the idle order
    TALKING -release, no wrap-up configured-> IDLE
    IDLE or WRAPUP -adopt_talking-> TALKING (a call re-adopted after a restart)

Any other move is a bug in the caller and raises `IllegalSeatMove`. A seat is available
when it works now (its operator on shift, or the seat logged in by a supervisor and not
logged out; see `seats.operators` for who sits where), its phone
is registered, it is not paused, and it is idle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from callcenter.seats.roster import Roster
from callcenter.vocabulary import SeatState


class IllegalSeatMove(RuntimeError):
    """A seat was asked to move where its state machine does not go."""


_ALLOWED: dict[str, frozenset[SeatState]] = {
    "ring": frozenset({SeatState.IDLE}),
    "connect": frozenset({SeatState.RINGING}),
    "release": frozenset({SeatState.RINGING, SeatState.TALKING}),
    "end_wrapup": frozenset({SeatState.WRAPUP}),
    "adopt_talking": frozenset({SeatState.IDLE, SeatState.WRAPUP}),
}


@dataclass(frozen=True)
class Seat:
    """A seat's live state, as the controller knows it."""

    name: str
    registered: bool = False
    logged_in: bool | None = None  # None: follow the roster
    paused: bool = False
    pause_reason: str = ""
    state: SeatState = SeatState.IDLE
    since: float = 0.0  # epoch of the last state change; 0: none since start-up
    idle_since: float = 0.0  # end of its last call (or wrap-up), for longest-idle
    # Who sits here (`seats.operators.occupants`): a 工号, "" nobody, None no operator
    # account bound to the seat (it follows the roster by seat name); `home` is that
    # operator's default seat, for a roster that lists seats rather than operators.
    operator: str | None = None
    operator_home: str = ""

    def working(self, roster: Roster, moment: datetime) -> bool:
        if self.logged_in is not None:
            return self.logged_in
        if self.operator is None:
            return roster.on_shift(self.name, moment)
        return bool(self.operator) and roster.operator_on_shift(self.operator, self.operator_home, moment)

    def shift(self, roster: Roster, moment: datetime) -> str | None:
        """The shift of the operator sitting here (or of the seat, with no operator known)."""
        if self.operator:
            return roster.operator_shift(self.operator, self.operator_home, moment)
        return roster.shift_of(self.name, moment)

    @property
    def ready(self) -> bool:
        """Its phone registered, not paused, idle: available if it also works now."""
        return self.registered and not self.paused and self.state is SeatState.IDLE

    def available(self, roster: Roster, moment: datetime) -> bool:
        return self.ready and self.working(roster, moment)

    # --- moves of the state machine -----------------------------------------------------

    def _check(self, move: str) -> None:
        if self.state not in _ALLOWED[move]:
            allowed = " or ".join(sorted(_ALLOWED[move]))
            raise IllegalSeatMove(f"{self.name}: cannot {move} a seat that is {self.state} (only when {allowed})")

    def ring(self, at: float) -> Seat:
        self._check("ring")
        return replace(self, state=SeatState.RINGING, since=at)

    def connect(self, at: float) -> Seat:
        self._check("connect")
        return replace(self, state=SeatState.TALKING, since=at)

    def release(self, at: float, answered: bool, wrapup_seconds: float) -> Seat:
        """The seat's call is over. After a conversation it wraps up (when configured)
        and its idle time starts now; a seat that never connected keeps its place in the
        longest-idle order."""
        self._check("release")
        if answered and wrapup_seconds > 0:
            return replace(self, state=SeatState.WRAPUP, since=at)
        return replace(self, state=SeatState.IDLE, since=at, idle_since=at if answered else self.idle_since)

    def end_wrapup(self, at: float) -> Seat:
        self._check("end_wrapup")
        return replace(self, state=SeatState.IDLE, since=at, idle_since=at)

    def adopt_talking(self, at: float) -> Seat:
        self._check("adopt_talking")
        return replace(self, state=SeatState.TALKING, since=at)

    # --- what supervisors and the phone change (no state move) ----------------------------

    def with_registration(self, online: bool) -> Seat:
        return replace(self, registered=online)

    def with_pause(self, reason: str) -> Seat:
        return replace(self, paused=True, pause_reason=reason)


def longest_idle(seats: Mapping[str, Seat], roster: Roster, moment: datetime, limit: int | None = None) -> list[str]:
    """Available seats, the one idle longest first (ties by seat name, for determinism);
    with `limit`, only that many from the head.

    The roster is asked last and only as far as needed: with one caller waiting and sixty
    idle seats that is one question, not sixty (the controller runs this at every arrival
    in the line and every seat release)."""
    idle = [seat for seat in seats.values() if seat.ready]
    # Ties (every seat idle since start-up) go in seat order: seat2 before seat10.
    idle.sort(key=lambda s: (s.idle_since, len(s.name), s.name))
    free: list[str] = []
    for seat in idle:
        if limit is not None and len(free) >= limit:
            break
        if seat.working(roster, moment):
            free.append(seat.name)
    return free
