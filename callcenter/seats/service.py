"""What supervisors, operators and `hotline seats` do to seats, in one place for the
console and the command line: log a seat in or out, pause it, follow the roster again,
edit the roster, and count each seat's calls today.

Commands are written to the seats table; the controller reads them on its next poll.
The roster lives here, and the controller reads `roster` at every decision, so a roster
saved from the console applies to the next call without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from callcenter.calls.repository import CallRepository
from callcenter.errors import ConfigError, HotlineError
from callcenter.seats import operators as rules
from callcenter.seats.operators import Operator
from callcenter.seats.repository import SeatRepository
from callcenter.seats.roster import Roster, load_roster, roster_toml, save_roster
from callcenter.settings import Settings
from callcenter.store import Row
from callcenter.users import ConsoleUsers, list_users, operators_of, users_path

# The seat commands and what each writes; "roster" clears a supervisor's login/logout.
COMMANDS: dict[str, dict[str, object]] = {
    "login": {"logged_in": 1},
    "logout": {"logged_in": 0},
    "roster": {"logged_in": None},
    "pause": {"paused": 1},
    "unpause": {"paused": 0, "pause_reason": ""},
}
DEFAULT_PAUSE_REASON = "break"

log = logging.getLogger(__name__)


class SeatError(HotlineError):
    """A seat command that cannot be done: unknown seat or command."""


class SeatService:
    def __init__(self, settings: Settings, seats: SeatRepository, calls: CallRepository,
                 roster: Roster | None = None) -> None:
        self.settings = settings
        self.repository = seats
        self.calls = calls
        self.roster = roster or load_roster(settings.paths.roster, settings.seat_names)
        self._roster_lock = asyncio.Lock()
        # The operator accounts, re-read when the users file changes (a stat a look).
        path = users_path(settings.paths.state_dir)
        try:
            accounts = list_users(settings.paths.state_dir)
        except ConfigError as exc:  # the console says the same; the seats go on by their rows
            log.error("seats: %s", exc)
            accounts = []
        self._accounts = ConsoleUsers(accounts, source=path)

    def operators(self) -> dict[str, Operator]:
        """The operators by 工号, as the users file has them now."""
        return operators_of(self._accounts.all())

    def operator_names(self) -> dict[str, str]:
        """Each operator's name by 工号 ("" for an account without one)."""
        return {badge: op.name for badge, op in self.operators().items()}

    async def log_in(self, badge: str, seat: str) -> dict[str, str | None]:
        """Operator `badge` sits at `seat` from now on (OperatorError when the rules refuse);
        returns the seat rows changed. The controller applies it at its next poll."""
        known = self.operators()
        return await self.repository.change_logins(
            lambda logins: rules.log_in(logins, known, self.names, badge, seat), self.names)

    async def log_out(self, badge: str) -> dict[str, str | None]:
        """Operator `badge` leaves their seat: nobody sits there, it is offered no calls."""
        known = self.operators()
        return await self.repository.change_logins(
            lambda logins: rules.log_out(logins, known, self.names, badge), self.names)

    async def back_to_defaults(self) -> dict[str, str | None]:
        """Every seat back to its default operator (as before anybody logged in)."""
        return await self.repository.change_logins(lambda logins: dict.fromkeys(logins), self.names)

    async def occupants(self) -> dict[str, str | None]:
        """Who sits at each seat now (a 工号, "" nobody, None no operator bound to it)."""
        rows = await self.repository.rows()
        logins = {seat: _login(rows.get(seat)) for seat in self.names}
        return rules.occupants(logins, self.operators().values(), self.names)

    @property
    def names(self) -> tuple[str, ...]:
        return self.settings.seat_names

    def check_seat(self, seat: str) -> str:
        if seat not in self.names:
            raise SeatError(f"unknown seat {seat!r}: the seats are {self.names[0]}..{self.names[-1]}")
        return seat

    async def command(self, seat: str, command: str, reason: str = "") -> dict[str, object]:
        """Apply one of COMMANDS to a seat; returns the fields written."""
        self.check_seat(seat)
        if command not in COMMANDS:
            raise SeatError(f"unknown seat command {command!r}: one of {', '.join(COMMANDS)}")
        changes = dict(COMMANDS[command])
        if command == "pause":
            changes["pause_reason"] = reason.strip() or DEFAULT_PAUSE_REASON
        await self.repository.update(seat, **changes)
        return changes

    async def rows(self) -> dict[str, Row]:
        """Each seat's row as last written (a seat never seen has none)."""
        return await self.repository.rows()

    async def answered_today(self, now: datetime | None = None) -> dict[str, int]:
        moment = now or datetime.now(self.settings.zone)
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return await self.calls.answered_per_seat_since(midnight, self.names)

    async def save_roster(self, shifts: Sequence[Mapping[str, object]]) -> Roster:
        """Validate and save a new roster (ConfigError naming the bad field); it applies
        at once. Saves are serialised: two supervisors never interleave their files."""
        async with self._roster_lock:
            text = roster_toml(shifts, self.names)
            self.roster = await asyncio.to_thread(save_roster, self.settings.paths.roster, text, self.names)
        return self.roster


def _login(row: Row | None) -> str | None:
    value = None if row is None else row.get("operator")
    return None if value is None else str(value)
