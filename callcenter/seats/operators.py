"""Operators are people, seats are phones. Who sits at which seat, and the rules of
logging in and out there; pure (the seats table keeps the log-ins, `service` applies
these rules inside one transaction).

A seat's row holds the operator logged in there:
- NULL (`DEFAULT_BINDING`): nobody logged in or out since the seat was set up; the
  operator whose default seat it is sits there, unless they logged in elsewhere. An
  installation that never logs anybody in works exactly as before operators existed.
- '' (`NOBODY`): the operator logged out (or moved away): the seat is offered no calls.
- a 工号: that operator is logged in there.

One operator at one seat at a time, one operator per seat: logging in elsewhere moves the
operator (the old seat is left with nobody); a seat where somebody else logged in must be
freed (they log out, or a supervisor logs them out) before another operator takes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from callcenter.errors import HotlineError

DEFAULT_BINDING: None = None
NOBODY = ""
# A 工号: digits (the seed's operators wear theirs on their chest), at most 8.
BADGE = re.compile(r"[0-9]{1,8}")


class OperatorError(HotlineError):
    """A log-in or log-out that the rules refuse (the message says why and what to do)."""


@dataclass(frozen=True)
class Operator:
    badge: str  # 工号
    name: str  # 姓名
    home: str  # the seat they sit at when nobody logs anybody in


def default_badge(seat: str) -> str:
    """The 工号 of a seat's generated operator account: seat3 -> 1003."""
    digits = seat.removeprefix("seat")
    return str(1000 + int(digits)) if digits.isdigit() else ""


def occupants(logins: Mapping[str, str | None], operators: Iterable[Operator],
              seats: Iterable[str]) -> dict[str, str | None]:
    """Who sits at each seat: a 工号, NOBODY, or None where the seat has neither a log-in
    nor an operator account bound to it (it follows the roster by seat, as it always did)."""
    homes = {op.home: op.badge for op in operators}
    logged_somewhere = {badge for badge in logins.values() if badge}
    out: dict[str, str | None] = {}
    for seat in seats:
        login = logins.get(seat)
        if login is not None:
            out[seat] = login
        elif seat not in homes:
            out[seat] = None
        else:
            out[seat] = NOBODY if homes[seat] in logged_somewhere else homes[seat]
    return out


def seat_of(badge: str, logins: Mapping[str, str | None], operators: Iterable[Operator],
            seats: Iterable[str]) -> str | None:
    """The seat where the operator sits now, or None."""
    return next((seat for seat, who in occupants(logins, operators, seats).items() if who == badge), None)


def log_in(logins: Mapping[str, str | None], operators: Mapping[str, Operator], seats: Iterable[str],
           badge: str, seat: str) -> dict[str, str | None]:
    """The seat rows to write so that `badge` sits at `seat` (empty when already there)."""
    seats = list(seats)
    operator = operators.get(badge)
    if operator is None:
        raise _no_such(badge)
    if seat not in seats:
        raise OperatorError(f"没有坐席 {seat} (unknown seat {seat!r}: the seats are {seats[0]}..{seats[-1]})")
    sitting = occupants(logins, operators.values(), seats)
    if sitting[seat] == badge and logins.get(seat) == badge:
        return {}
    other = logins.get(seat)
    if other and other != badge:
        taker = f"{other} {operators[other].name if other in operators else ''}".rstrip()
        raise OperatorError(f"{seat} 已由话务员 {taker} 签入，请其先签出或由主管签出 "
                            f"({seat} is taken by operator {taker}: they log out first, or a supervisor logs them out)")
    changes: dict[str, str | None] = {seat: badge}
    for elsewhere, who in sitting.items():
        if who == badge and elsewhere != seat:
            changes[elsewhere] = NOBODY  # moving frees the old seat
    # Their own default seat, unclaimed, is not kept for them: left, it would take them
    # back as soon as they log out here.
    if operator.home in sitting and operator.home != seat and logins.get(operator.home) is None:
        changes[operator.home] = NOBODY
    return changes


def log_out(logins: Mapping[str, str | None], operators: Mapping[str, Operator], seats: Iterable[str],
            badge: str) -> dict[str, str | None]:
    """The seat rows to write so that `badge` sits nowhere."""
    if badge not in operators:
        raise _no_such(badge)
    sitting = occupants(logins, operators.values(), seats)
    changes: dict[str, str | None] = {seat: NOBODY for seat, who in sitting.items() if who == badge}
    if not changes:
        who = f"{badge} {operators[badge].name}".rstrip()
        raise OperatorError(f"话务员 {who} 未在任何坐席签入 (operator {who} is not logged in at any seat)")
    return changes


def _no_such(badge: str) -> OperatorError:
    return OperatorError(f"没有工号为 {badge} 的话务员 (no operator with 工号 {badge!r}: "
                         "`hotline operators list` shows them)")
