"""Live supervision from the wallboard (监听 / 密语 / 强插): a supervisor picks a talking
seat and a mode; the controller calls the supervisor's own phone and snoops on the
seat's channel (`callcenter.listen_in`). Supervisors only; every stretch is logged, and
the log is read here too."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.listen_in.repository import LogSearch
from callcenter.listen_in.runner import ListenIn, ListenInRefused
from callcenter.listen_in.vocabulary import REFUSAL_LABELS, Mode, labels
from callcenter.store import Row
from callcenter.web.api import _body, day_range, paging, reply
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, SUPERVISORS, Console, add_route, session_of
from callcenter.web.openapi import _body as _body_schema
from callcenter.web.openapi import _error, _ok, _op, _query, describe

NAME_MAX = 64


def _listen_in(console: Console) -> ListenIn:
    listen_in = getattr(console.floor, "listen_in", None)
    if not isinstance(listen_in, ListenIn):
        refuse(web.HTTPServiceUnavailable, "监听不可用：呼叫控制器未运行 (the call controller is not running)")
    return listen_in


def _seat(console: Console, request: web.Request) -> str:
    seat = request.match_info["seat"]
    if seat not in console.settings.seat_names:
        refuse(web.HTTPNotFound, "没有这个坐席 (no such seat)")
    return seat


async def choose(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    seat = _seat(console, request)
    data = await _body(request)
    try:
        mode = Mode(str(data.get("mode")))
    except ValueError:
        refuse(web.HTTPBadRequest, "mode 须为 listen（监听）、whisper（密语）或 barge（强插）")
    try:
        session = await _listen_in(console).choose(session_of(request).user, seat, mode)
    except ListenInRefused as exc:
        refuse(web.HTTPConflict, REFUSAL_LABELS[exc.reason])
    return reply({"seat": seat, "call_id": session.call_id, "mode": str(mode), "phase": str(session.phase)})


async def stop(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    seat = _seat(console, request)
    try:
        await _listen_in(console).stop(session_of(request).user, seat)
    except ListenInRefused as exc:
        refuse(web.HTTPConflict, REFUSAL_LABELS[exc.reason])
    return reply({"seat": seat, "state": "ended"})


async def state(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    user = session_of(request).user
    listen_in = getattr(console.floor, "listen_in", None)
    going_on = listen_in.view() if isinstance(listen_in, ListenIn) else []
    return reply({"phone": user if user in console.settings.supervisor_phones else None,
                  "sessions": going_on, "labels": labels()})


def _entry(row: Row) -> dict[str, Any]:
    return {key: row.get(key) for key in ("supervisor", "call_id", "seat", "mode", "requested", "started", "ended",
                                          "end_reason")}


async def log_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    query = request.query
    since, until = day_range(console, query)
    page, per_page = paging(query)
    supervisor, call_id = query.get("supervisor", "").strip(), query.get("call_id", "").strip()
    for name, value in (("supervisor", supervisor), ("call_id", call_id)):
        if len(value) > NAME_MAX or any(ch < " " or ch == "\x7f" for ch in value):
            refuse(web.HTTPBadRequest, f"{name} 须为不超过 {NAME_MAX} 个字符的名称 (too long, or control characters)")
    rows, total = await console.services.listen_in.log(
        LogSearch(supervisor, call_id, since, until, per_page, (page - 1) * per_page))
    return reply({"entries": [_entry(row) for row in rows], "total": total, "page": page, "per_page": per_page,
                  "labels": labels()})


@describe
def listen_in_paths() -> dict[str, Any]:
    seat = {"name": "seat", "in": "path", "required": True, "schema": {"type": "string"}}
    refused = {"403": _error("not a supervisor (or no CSRF token)"), "404": _error("no such seat"),
               "503": _error("the call controller is not running")}
    return {
        "/api/seats/{seat}/listen-in": {
            "post": _op(
                "Listen in on the seat's live call (监听), whisper to its operator (密语) or barge in (强插), on my "
                "own registered phone (called now; the same mode again changes nothing, another mode switches "
                "without calling again)", "supervisor",
                {"200": _ok("the supervision asked for"), "400": _error("mode is not listen, whisper or barge"),
                 "409": _error("the seat is not talking, my account has no phone, or my phone is not registered"),
                 **refused}, parameters=[seat],
                requestBody=_body_schema({"type": "object", "required": ["mode"], "properties": {
                    "mode": {"type": "string", "enum": [str(m) for m in Mode]}}})),
            "delete": _op("End my supervision of the seat (结束): my phone is hung up", "supervisor",
                          {"200": _ok("ended"), "409": _error("I am not supervising this seat"), **refused},
                          parameters=[seat]),
        },
        "/api/listen-in": {"get": _op(
            "Supervisions going on now, whether my account has a phone, and the labels", "supervisor",
            {"200": _ok("the supervisions")})},
        "/api/listen-in/log": {"get": _op(
            "The log of supervision (监听记录): who listened, whispered or barged into which call, from when to "
            "when and why it ended, newest first", "supervisor",
            {"200": _ok("a page of entries"), "400": _error("a bad filter")},
            parameters=[_query("supervisor", "one supervisor's account (exact)"),
                        _query("call_id", "one call"),
                        _query("from", "first day (YYYY-MM-DD)", {"type": "string", "format": "date"}),
                        _query("to", "last day, inclusive", {"type": "string", "format": "date"}),
                        _query("page", "1-based page", {"type": "integer", "minimum": 1}),
                        _query("per_page", "entries a page (1-100, default 20)",
                               {"type": "integer", "minimum": 1, "maximum": 100})])},
    }


def add_listen_in_routes(app: web.Application) -> None:
    for method, path, handler in (
        ("POST", "/api/seats/{seat}/listen-in", choose),
        ("DELETE", "/api/seats/{seat}/listen-in", stop),
        ("GET", "/api/listen-in", state),
        ("GET", "/api/listen-in/log", log_page),
    ):
        add_route(app, method, path, handler, SUPERVISORS)
