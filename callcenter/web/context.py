"""What every console handler reaches through `request.app[CONSOLE]`, and the route
table's roles (default deny: a route registered without roles is refused to everyone)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import AbstractRoute

from callcenter.free_space import FreeSpace
from callcenter.recordings.access import ListeningRuns
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.users import OPERATOR, SUPERVISOR, UNIT, ConsoleUsers
from callcenter.web.sessions import LoginThrottle, Session, Sessions


class FloorSource(Protocol):
    """The part of the controller the console uses: the live floor (tests pass a fake)."""

    def snapshot(self) -> dict[str, Any]: ...

    def on_change(self, listener: Callable[[], None]) -> Callable[[], None]: ...


@runtime_checkable
class HealthSource(Protocol):
    """The controller's own health facts and counters (`Controller.health`, `.counters`),
    when it runs beside the console."""

    def health(self) -> dict[str, Any]: ...

    def counters(self) -> dict[str, Any]: ...


@runtime_checkable
class ThreeWayControl(Protocol):
    """The controller's three-way moves (三方通话), when the console runs beside it: "add"
    the unit at its phone, "drop" it, or "leave" citizen and unit talking. Raises
    `callcenter.calls.machine.ThreeWayRefused` with the reason when the call does not allow it."""

    def three_way(self, call_id: str, seat: str, move: str, unit: str = "", phone: str = "") -> None: ...


Roles = frozenset[str]
PUBLIC: Roles = frozenset({"anyone"})
SUPERVISORS: Roles = frozenset({SUPERVISOR})
OPERATORS: Roles = frozenset({OPERATOR})
UNITS: Roles = frozenset({UNIT})
# The call centre's own people: the floor, calls, recordings and numbers are theirs only.
STAFF: Roles = frozenset({SUPERVISOR, OPERATOR})
# LOGGED_IN stays the staff (every route registered with it before the units came keeps
# refusing a unit); a route a unit may use too says so with ANY_USER.
LOGGED_IN: Roles = STAFF
ANY_USER: Roles = frozenset({SUPERVISOR, OPERATOR, UNIT})


@dataclass
class Console:
    settings: Settings
    services: Services
    floor: FloorSource
    users: ConsoleUsers
    sessions: Sessions
    throttle: LoginThrottle
    clock: Callable[[], float]
    space: FreeSpace  # the disks of the recordings and the database, for the health report
    route_roles: dict[AbstractRoute, Roles] = field(default_factory=dict)
    # scrypt costs 16 MiB and ~50 ms a check: a burst of log-ins must not take every core.
    password_checks: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    # Which fetches of a recording begin a new line of its access log.
    listening: ListeningRuns = field(default_factory=ListeningRuns)


CONSOLE = web.AppKey("console", Console)
SESSION = web.RequestKey("session", Session)


def add_route(app: web.Application, method: str, path: str, handler: Handler, roles: Roles) -> None:
    route = app.router.add_route(method, path, handler)
    app[CONSOLE].route_roles[route] = roles


def session_of(request: web.Request) -> Session:
    return request[SESSION]


def own_badge(console: Console, session: Session) -> str | None:
    """The 工号 of the session's operator account (None for other roles)."""
    user = console.users.get(session.user)
    return user.badge if user is not None and user.role == OPERATOR else None


def seat_now(console: Console, session: Session) -> str | None:
    """The seat where the session's operator sits now: the seat follows the operator's
    log-in (hot-desking); the account's default seat while no seat on the floor names
    them (logged out, or a floor that knows no operators)."""
    badge = own_badge(console, session)
    if badge is None:
        return session.seat
    here = next((s["seat"] for s in console.floor.snapshot()["seats"] if s.get("operator") == badge), None)
    return here or session.seat
