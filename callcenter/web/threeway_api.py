"""Three-way calls (三方通话, GB/T 33358) from the operator's screen: bring a responsible
unit into the live call on the operator's own seat, take it off again, or leave the
citizen and the unit talking. The controller dials and bridges (`calls.runner`); the
call's machine decides (`calls.machine`); this module checks who asks and maps refusals
to clear messages."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.calls.machine import NO_UNIT, NOT_JOINED, NOT_LIVE, UNIT_BUSY, ThreeWayRefused
from callcenter.tickets.directory import Unit
from callcenter.web.api import _body, _call_id, _call_row, reply
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, OPERATORS, Console, ThreeWayControl, add_route, session_of
from callcenter.web.openapi import CALL_ID, _error, _ok, _op, describe
from callcenter.web.openapi import _body as _body_schema

REFUSALS = {
    NOT_LIVE: "这通电话已不在本坐席通话中 (the call is no longer talking on your seat)",
    UNIT_BUSY: "已在呼叫或已接入一个单位：请先挂断单位 (a unit is already dialled or in the call)",
    NO_UNIT: "通话中没有单位 (no unit in this call)",
    NOT_JOINED: "单位尚未接通，不能退出：市民不能独自留在通话中 (the unit has not answered yet)",
}


def _conference_units(console: Console) -> list[Unit]:
    return [u for u in console.services.tickets.directory.units if u.active and u.phone]


async def _own_live_call(console: Console, request: web.Request) -> str:
    """The call id, once it is the call talking on the operator's own seat now:
    403 for another seat's call, 409 for one of the seat's that is over."""
    call_id = _call_id(request)
    row = await _call_row(console, call_id)
    seat = session_of(request).seat
    live = next((s.get("call") for s in console.floor.snapshot()["seats"] if s["seat"] == seat), None) or {}
    if live.get("call_id") != call_id:
        if row.get("seat") != seat:
            refuse(web.HTTPForbidden, "只能在本坐席正在进行的通话中操作三方通话 (only the live call on your own seat)")
        refuse(web.HTTPConflict, REFUSALS[NOT_LIVE])
    return call_id


def _control(console: Console) -> ThreeWayControl:
    if not isinstance(console.floor, ThreeWayControl):
        refuse(web.HTTPServiceUnavailable, "三方通话不可用：呼叫控制器未运行 (the call controller is not running)")
    return console.floor


def _move(console: Console, request: web.Request, call_id: str, move: str, unit: str = "", phone: str = "") -> None:
    try:
        _control(console).three_way(call_id, str(session_of(request).seat), move, unit, phone)
    except ThreeWayRefused as exc:
        refuse(web.HTTPConflict, REFUSALS.get(exc.reason, exc.reason))


async def units(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    return reply({"trunk": bool(console.settings.trunk_address),
                  "units": [{"code": u.code, "name": u.name, "kind": u.kind} for u in _conference_units(console)]})


async def add_unit(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    call_id = await _own_live_call(console, request)
    data = await _body(request)
    code = data.get("unit")
    unit = console.services.tickets.directory.get(code) if isinstance(code, str) else None
    if unit is None or not unit.active:
        refuse(web.HTTPBadRequest, "没有这个单位 (unknown unit)")
    if not unit.phone:
        refuse(web.HTTPConflict, f"{unit.name}未登记电话，不能三方通话 (the unit has no phone in config/units.toml)")
    if not console.settings.trunk_address:
        refuse(web.HTTPConflict, "未配置外线中继，不能呼叫单位 (no trunk: set [trunk] address)")
    _move(console, request, call_id, "add", unit.code, unit.phone)
    return reply({"call_id": call_id, "unit": unit.code, "state": "dialling"})


async def drop_unit(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    call_id = await _own_live_call(console, request)
    _move(console, request, call_id, "drop")
    return reply({"call_id": call_id, "state": "hanging_up_unit"})


async def leave(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    call_id = await _own_live_call(console, request)
    _move(console, request, call_id, "leave")
    return reply({"call_id": call_id, "state": "seat_left"})


@describe
def three_way_paths() -> dict[str, Any]:
    refused = {"403": _error("not the live call on your own seat (or no CSRF token)"),
               "404": _error("no such call"),
               "409": _error("the call does not allow it now (over, a unit already in it, ...), the unit has no"
                             " phone, or no trunk is configured; the message says which"),
               "503": _error("the call controller is not running")}
    return {
        "/api/operator/threeway/units": {"get": _op(
            "Units that can be brought into a call (those with a phone), and whether a trunk is configured",
            "operator", {"200": _ok("units")})},
        "/api/calls/{call_id}/threeway": {"post": _op(
            "Three-way call (三方通话): dial the unit and bring it into the live call on my seat", "operator",
            {"200": _ok("dialling"), "400": _error("unknown unit"), **refused}, parameters=[CALL_ID],
            requestBody=_body_schema({"type": "object", "required": ["unit"],
                                      "properties": {"unit": {"type": "string", "description": "the unit's code"}}}))},
        "/api/calls/{call_id}/threeway/hangup-unit": {"post": _op(
            "Take the unit off the call (挂断单位); citizen and operator carry on", "operator",
            {"200": _ok("hanging up the unit"), **refused}, parameters=[CALL_ID])},
        "/api/calls/{call_id}/threeway/leave": {"post": _op(
            "Leave citizen and unit talking (退出，由市民与单位通话); the seat goes to wrap-up", "operator",
            {"200": _ok("the seat left"), **refused}, parameters=[CALL_ID])},
    }


def add_three_way_routes(app: web.Application) -> None:
    for method, path, handler in (
        ("GET", "/api/operator/threeway/units", units),
        ("POST", "/api/calls/{call_id}/threeway", add_unit),
        ("POST", "/api/calls/{call_id}/threeway/hangup-unit", drop_unit),
        ("POST", "/api/calls/{call_id}/threeway/leave", leave),
    ):
        add_route(app, method, path, handler, OPERATORS)
