"""Operators at seats from the console (签入坐席): who sits where, an operator logging
themselves in at a seat or out of it, a supervisor doing it for any operator. The rules
are `seats.operators`'; the controller picks the change up within a second."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from callcenter.seats.operators import OperatorError
from callcenter.users import OPERATOR
from callcenter.web.api import _body, reply
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, STAFF, Console, add_route, own_badge, session_of
from callcenter.web.openapi import _body as _body_schema
from callcenter.web.openapi import _error, _ok, _op, describe


def _whom(console: Console, request: web.Request, data: dict[str, Any]) -> str:
    """The operator the request is about: an operator only ever themselves."""
    session = session_of(request)
    asked = data.get("badge")
    if asked is not None and not isinstance(asked, str):
        refuse(web.HTTPBadRequest, "badge 须为工号字符串 (badge must be a string)")
    if session.role == OPERATOR:
        own = own_badge(console, session)
        if own is None:
            refuse(web.HTTPForbidden, "本账号没有工号 (this account has no badge)")
        if asked not in (None, own):
            refuse(web.HTTPForbidden, "话务员只能为自己签入签出 (an operator may only log themselves in or out)")
        return own
    if not asked:
        refuse(web.HTTPBadRequest, "请指定话务员工号 (badge is required)")
    return asked


async def operators(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    seats = console.services.seats
    sitting = await seats.occupants()
    where = {badge: seat for seat, badge in sitting.items() if badge}
    moment = datetime.now(console.settings.zone)
    listed = [{"badge": badge, "name": op.name, "home": op.home, "seat": where.get(badge),
               "on_shift": seats.roster.operator_on_shift(badge, op.home, moment)}
              for badge, op in sorted(seats.operators().items())]
    return reply({"operators": listed, "seats": [{"seat": seat, "operator": badge} for seat, badge in sitting.items()],
                  "me": own_badge(console, session_of(request))})


async def operator_login(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    data = await _body(request)
    badge = _whom(console, request, data)
    seat = data.get("seat")
    if not isinstance(seat, str) or seat not in console.settings.seat_names:
        refuse(web.HTTPBadRequest, "没有这个坐席 (unknown seat)")
    try:
        changes = await console.services.seats.log_in(badge, seat)
    except OperatorError as exc:
        refuse(web.HTTPConflict, str(exc))
    return reply({"badge": badge, "seat": seat, "changed": changes})


async def operator_logout(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    badge = _whom(console, request, await _body(request))
    try:
        changes = await console.services.seats.log_out(badge)
    except OperatorError as exc:
        refuse(web.HTTPConflict, str(exc))
    return reply({"badge": badge, "changed": changes})


@describe
def operator_paths() -> dict[str, Any]:
    refused = {"400": _error("bad input"), "403": _error("an operator asking for another operator (or no CSRF token)"),
               "409": _error("the rules refuse it: the seat is taken, the operator sits nowhere; the message says why")}
    body = _body_schema({"type": "object", "properties": {
        "badge": {"type": "string", "description": "工号 (an operator: their own, or left out)"},
        "seat": {"type": "string"}}})
    return {
        "/api/operators": {"get": _op("The operators (工号, name, default seat), the seat each sits at now, and who"
                                      " sits at each seat", "supervisor, operator", {"200": _ok("operators")})},
        "/api/operators/login": {"post": _op("Log an operator in at a seat (moving them from any other)",
                                             "supervisor, operator (themselves)", {"200": _ok("done"), **refused},
                                             requestBody=body)},
        "/api/operators/logout": {"post": _op("Log an operator out of their seat (it is offered no calls)",
                                              "supervisor, operator (themselves)", {"200": _ok("done"), **refused},
                                              requestBody=body)},
    }


def add_operator_routes(app: web.Application) -> None:
    add_route(app, "GET", "/api/operators", operators, STAFF)
    add_route(app, "POST", "/api/operators/login", operator_login, STAFF)
    add_route(app, "POST", "/api/operators/logout", operator_logout, STAFF)
