"""The JSON API behind the pages (described in openapi.py; the pages call nothing else).

Handlers check their input, call the repositories and services (`console.services`) or
the controller's floor snapshot, and map domain errors to HTTP here, once."""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from aiohttp import web

from callcenter.calls.repository import CallSearch
from callcenter.clock import iso_local
from callcenter.errors import ConfigError
from callcenter.nuisance import NuisanceError
from callcenter.seats.roster import Roster, coverage_gaps, describe_gaps, roster_json
from callcenter.seats.service import COMMANDS as SEAT_ACTIONS
from callcenter.store import Row
from callcenter.vocabulary import ABANDONED, Category, Outcome
from callcenter.web.auth import refuse
from callcenter.web.context import (
    CONSOLE,
    LOGGED_IN,
    OPERATORS,
    PUBLIC,
    SUPERVISORS,
    Console,
    HealthSource,
    add_route,
    session_of,
)
from callcenter.web.live import FloorFeed, day_bounds, health_report, today_figures
from callcenter.web.metrics import Snapshot, metrics_response
from callcenter.web.openapi import openapi_document
from callcenter.web.pushing import hold_open, same_origin_only

CATEGORIES = tuple(str(c) for c in Category)
OUTCOMES = tuple(str(o) for o in Outcome)
CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
NUMBER = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
SUMMARY_MAX, REASON_MAX = 500, 100
PER_PAGE_MAX = 100
FEED = web.AppKey("floor_feed", FloorFeed)


def reply(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda value: json.dumps(value, ensure_ascii=False))


def path_number(request: web.Request, key: str, refusal: type[web.HTTPException], message: str) -> int:
    """The whole number in the path's `key` (1 to 2**53); `refusal` with `message` for anything else."""
    text = request.match_info[key]
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 2**53:
        refuse(refusal, message)
    return int(text)


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        refuse(web.HTTPUnsupportedMediaType, "请求体须为 JSON (send application/json)")
    try:
        data = await request.json()
    except ValueError:
        refuse(web.HTTPBadRequest, "请求体不是合法的 JSON (the body is not valid JSON)")
    if not isinstance(data, dict):
        refuse(web.HTTPBadRequest, "请求体须为 JSON 对象 (send a JSON object)")
    return data


def _text(data: dict[str, Any], key: str, limit: int, required: bool = False) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        refuse(web.HTTPBadRequest, f"{key} 须为文本 ({key} must be a string)")
    # Control characters (but line breaks in a summary) never reach the store.
    value = "".join(ch for ch in value if ch in "\n" or (ch >= " " and ch != "\x7f")).strip()
    if required and not value:
        refuse(web.HTTPBadRequest, f"{key} 不能为空 ({key} is required)")
    if len(value) > limit:
        refuse(web.HTTPBadRequest, f"{key} 最多 {limit} 个字 ({key} is longer than {limit} characters)")
    return value


def _call_id(request: web.Request) -> str:
    call_id = request.match_info["call_id"]
    if not CALL_ID.fullmatch(call_id):
        refuse(web.HTTPBadRequest, "通话编号无效 (bad call id)")
    return call_id


async def _call_row(console: Console, call_id: str) -> Row:
    row = await console.services.calls.get(call_id)
    if row is None:
        refuse(web.HTTPNotFound, "没有这通电话 (no such call)")
    return row


def call_json(row: Row, operator_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A call row for the pages; `operator_names` (by 工号) adds the name of who took it."""
    keys = ("call_id", "caller_number", "caller_name", "arrived", "answered", "queued", "seat_answered", "ended",
            "arrived_epoch", "wait_seconds", "talk_seconds", "total_seconds", "outcome", "hangup_cause", "seat",
            "shift", "operator", "category", "nuisance", "nuisance_rule", "recording_seconds", "recording_status",
            "state")
    out = {key: row.get(key) for key in keys}
    out["operator_name"] = (operator_names or {}).get(str(row.get("operator") or ""), "")
    # A recording deleted past the retention period is no recording: the pages say why.
    out["has_recording"] = bool(row.get("recording_path")) and not row.get("recording_pruned")
    out["recording_pruned"] = row.get("recording_pruned")
    return out


# ----------------------------------------------------------------------------- who and the floor


async def me(request: web.Request) -> web.Response:
    session = session_of(request)
    return reply({"user": session.user, "role": session.role, "seat": session.seat, "csrf_token": session.csrf})


async def floor(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    return reply({"floor": console.floor.snapshot(),
                  "figures": await today_figures(console.services, console.settings.zone)})


async def healthz(request: web.Request) -> web.Response:
    """The hotline's health for monitoring: no log-in, but answered to this machine only."""
    if not _this_machine(request):
        refuse(web.HTTPForbidden, "仅限本机访问 (this machine only)")
    console = request.app[CONSOLE]
    report = health_report(console.settings, console.floor, console.services.store, console.space)
    return web.json_response(report, status=200 if report["ok"] else 503,
                             dumps=lambda data: json.dumps(data, ensure_ascii=False))


async def metrics(request: web.Request) -> web.Response:
    """Prometheus' text format: no log-in, this machine only (as /healthz)."""
    if not _this_machine(request):
        refuse(web.HTTPForbidden, "仅限本机访问 (this machine only)")
    console = request.app[CONSOLE]
    health = health_report(console.settings, console.floor, console.services.store, console.space)
    floor = console.floor
    counters = floor.counters() if isinstance(floor, HealthSource) else {}
    # Today's counts by outcome only: the wallboard's figures would cost more reads than this needs.
    since, until = day_bounds(console.settings.zone, time.time())
    today = await console.services.calls.figures(since, until, console.services.tickets.directory.service_level_seconds)
    return metrics_response(Snapshot(health, floor.snapshot(), counters, today))


def _this_machine(request: web.Request) -> bool:
    """A request from this machine: over loopback, or to the console's own address from it."""
    remote = request.remote
    sockname: Any = request.transport.get_extra_info("sockname") if request.transport is not None else None
    own = str(sockname[0]) if isinstance(sockname, tuple | list) and sockname else ""
    try:
        return remote is not None and (ipaddress.ip_address(remote).is_loopback or remote == own)
    except ValueError:
        return False


async def floor_socket(request: web.Request) -> web.StreamResponse:
    same_origin_only(request)
    feed, token = request.app[FEED], session_of(request).token

    async def first() -> list[str]:
        return [await feed.message()]

    return await hold_open(request, lambda ws: feed.add(ws, token), feed.remove, first)


# ----------------------------------------------------------------------------- the call log


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        refuse(web.HTTPBadRequest, f"{name} 须为日期，如 2026-11-28 ({name} must be a date like 2026-11-28)")


def _int(text: str, name: str, default: int, low: int, high: int) -> int:
    if not text:
        return default
    # isdigit() alone takes "²" and other digits int() refuses.
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        refuse(web.HTTPBadRequest, f"{name} 须为 {low}-{high} 的整数 ({name} must be a whole number {low}-{high})")
    return int(text)


def day_range(console: Console, query: Mapping[str, str]) -> tuple[float | None, float | None]:
    """The filters `from` and `to` (days, both included, in the hotline's zone) as the
    epoch seconds they span; 400 for a bad date."""
    zone = console.settings.zone
    first, last = _day(query.get("from", ""), "from"), _day(query.get("to", ""), "to")
    since = datetime.combine(first, clock_time(), zone).timestamp() if first else None
    until = datetime.combine(last + timedelta(days=1), clock_time(), zone).timestamp() if last else None
    return since, until


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """The filters `page` (from 1) and `per_page` (1-100, 20 by default); 400 when out of range."""
    return (_int(query.get("page", ""), "page", 1, 1, 100000),
            _int(query.get("per_page", ""), "per_page", 20, 1, PER_PAGE_MAX))


def call_search(console: Console, query: Mapping[str, str], limit: int, offset: int = 0) -> CallSearch:
    """The call log's filters (from, to, number, seat, outcome, category), checked as
    `GET /api/calls` checks them."""
    since, until = day_range(console, query)
    outcome = query.get("outcome", "")
    if outcome and outcome not in (*OUTCOMES, "abandoned"):
        refuse(web.HTTPBadRequest, f"outcome 须为 {', '.join(OUTCOMES)} 或 abandoned")
    outcomes = [str(o) for o in ABANDONED] if outcome == "abandoned" else ([outcome] if outcome else [])
    seat = query.get("seat", "")
    if seat and seat not in console.settings.seat_names:
        refuse(web.HTTPBadRequest, "没有这个坐席 (unknown seat)")
    category = query.get("category")
    if category not in (None, "", "none", *CATEGORIES):
        refuse(web.HTTPBadRequest, f"category 须为 {', '.join(CATEGORIES)} 或 none")
    return CallSearch(since, until, query.get("number", "").strip()[:64], seat, outcomes,
                      "" if category == "none" else (category or None), limit, offset)


async def calls(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    query = request.query
    page, per_page = paging(query)
    rows, total = await console.services.calls.search(call_search(console, query, per_page, (page - 1) * per_page))
    names = console.services.seats.operator_names()
    return reply({"calls": [call_json(row, names) for row in rows], "total": total, "page": page,
                  "per_page": per_page})


def summary_of(events: list[Row]) -> dict[str, Any] | None:
    summaries = [e for e in events if e.get("kind") == "SUMMARY" and isinstance(e.get("data"), dict)]
    if not summaries:
        return None
    latest = summaries[-1]
    data = latest["data"]
    assert isinstance(data, dict)
    return {**data, "at": latest.get("at")}


def _unit_named(console: Console, event: Row) -> object:
    """An event's data, with the unit's name beside its code (a three-way call's steps)."""
    data = event.get("data")
    if isinstance(data, dict) and isinstance(data.get("unit"), str):
        unit = console.services.tickets.directory.get(data["unit"])
        return {**data, "unit_name": unit.name if unit is not None else data["unit"]}
    return data


async def call_detail(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    row = await _call_row(console, _call_id(request))
    events = await console.services.calls.events(str(row["call_id"]))
    names = console.services.seats.operator_names()
    timeline = [{"at": e.get("at"), "kind": e.get("kind"), "seat": e.get("seat"),
                 "data": _operator_named(names, _unit_named(console, e))} for e in events]
    return reply({"call": call_json(row, names), "events": timeline, "summary": summary_of(events)})


def _operator_named(names: Mapping[str, str], data: object) -> object:
    """An event's data, with the operator's name beside their 工号 (who took the call)."""
    if isinstance(data, dict) and isinstance(data.get("operator"), str):
        return {**data, "operator_name": names.get(data["operator"], "")}
    return data


def _may_touch(console: Console, request: web.Request, row: Row) -> None:
    """An operator may only write about calls on their own seat (now or before)."""
    session = session_of(request)
    if session.role != "operator":
        return
    live = next((s for s in console.floor.snapshot()["seats"] if s["seat"] == session.seat), None)
    live_call = (live or {}).get("call") or {}
    if row.get("seat") != session.seat and live_call.get("call_id") != row.get("call_id"):
        refuse(web.HTTPForbidden, "只能处理本坐席的电话 (only calls on your own seat)")


async def save_summary(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    row = await _call_row(console, _call_id(request))
    _may_touch(console, request, row)
    data = await _body(request)
    category = data.get("category")
    if category not in CATEGORIES:
        refuse(web.HTTPBadRequest, f"category 须为 {', '.join(CATEGORIES)} 之一")
    summary = _text(data, "summary", SUMMARY_MAX)
    session = session_of(request)
    calls, now = console.services.calls, time.time()
    call_id = str(row["call_id"])
    calls.log(call_id, "SUMMARY", now, iso_local(now, console.settings.zone), seat=session.seat,
              data={"summary": summary, "category": category, "by": session.user})
    calls.save(call_id, category=str(category))
    await calls.flush()
    return reply({"call_id": call_id, "category": category, "summary": summary, "by": session.user})


async def mark_nuisance(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    row = await _call_row(console, _call_id(request))
    _may_touch(console, request, row)
    try:
        number, flag = await console.services.nuisance.mark_call(str(row["call_id"]), session_of(request).user)
    except NuisanceError as exc:
        refuse(web.HTTPBadRequest, str(exc))
    await console.services.calls.flush()
    return reply({"number": number, "flagged": flag is not None, "flag": None if flag is None else asdict(flag)})


# ----------------------------------------------------------------------------- seats and roster


async def _seat_rows(console: Console) -> list[dict[str, Any]]:
    today = await console.services.seats.answered_today()
    return [{**seat, "calls_today": today.get(seat["seat"], 0)} for seat in console.floor.snapshot()["seats"]]


async def seats(request: web.Request) -> web.Response:
    return reply({"seats": await _seat_rows(request.app[CONSOLE])})


async def seat_command(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    seat = request.match_info["seat"]
    if seat not in console.settings.seat_names:
        refuse(web.HTTPNotFound, "没有这个坐席 (unknown seat)")
    data = await _body(request)
    action = data.get("action")
    if not isinstance(action, str) or action not in SEAT_ACTIONS:
        refuse(web.HTTPBadRequest, f"action 须为 {', '.join(SEAT_ACTIONS)} 之一")
    reason = _text(data, "reason", REASON_MAX) if action == "pause" else ""
    changes = await console.services.seats.command(seat, action, reason)
    return reply({"seat": seat, "action": action, "applied": changes})


def _roster_reply(roster: Roster, seat_names: list[str]) -> web.Response:
    # `gaps`: hours of the week with no seat on duty, in Chinese (GB/T 33358: 7 x 24).
    return reply({"shifts": roster_json(roster), "seats": seat_names, "gaps": describe_gaps(coverage_gaps(roster))})


async def get_roster(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    return _roster_reply(console.services.seats.roster, list(console.settings.seat_names))


async def put_roster(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    data = await _body(request)
    shifts = data.get("shifts")
    if not isinstance(shifts, list) or not all(isinstance(s, dict) for s in shifts):
        refuse(web.HTTPBadRequest, "shifts 须为班次列表 (shifts must be a list of objects)")
    try:
        roster = await console.services.seats.save_roster(shifts)
    except ConfigError as exc:
        refuse(web.HTTPBadRequest, f"排班无效：{exc}")
    return _roster_reply(roster, list(console.settings.seat_names))


# ----------------------------------------------------------------------------- nuisance numbers


def _number(value: object) -> str:
    if not isinstance(value, str) or not NUMBER.fullmatch(value.strip()):
        refuse(web.HTTPBadRequest, "号码无效 (bad number)")
    return value.strip()


async def nuisance_flags(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    flags = await console.services.nuisance.active_flags()
    return reply({"flags": [asdict(flag) for flag in flags]})


async def nuisance_history(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    number = _number(request.query.get("number", ""))
    events = await console.services.nuisance.history(number)
    calls_of_number = await console.services.calls.recent(number=number, limit=20)
    return reply({"number": number, "events": events, "calls": [call_json(r) for r in calls_of_number]})


async def nuisance_flag(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    data = await _body(request)
    number, reason = _number(data.get("number")), _text(data, "reason", REASON_MAX, required=True)
    try:
        flag = await console.services.nuisance.flag(number, reason, session_of(request).user)
    except NuisanceError as exc:
        refuse(web.HTTPBadRequest, str(exc))
    return reply({"flag": asdict(flag)})


async def nuisance_clear(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    data = await _body(request)
    number, reason = _number(data.get("number")), _text(data, "reason", REASON_MAX)
    cleared = await console.services.nuisance.clear(number, session_of(request).user, reason)
    if not cleared:
        refuse(web.HTTPNotFound, "该号码当前未被标记 (the number has no flag in force)")
    return reply({"number": number, "cleared": True})


# ----------------------------------------------------------------------------- the operator's seat


async def operator_pause(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    session = session_of(request)
    data = await _body(request)
    paused = data.get("paused")
    if not isinstance(paused, bool):
        refuse(web.HTTPBadRequest, "paused 须为 true 或 false")
    reason = _text(data, "reason", REASON_MAX) if paused else ""
    await console.services.seats.command(str(session.seat), "pause" if paused else "unpause", reason)
    return reply({"seat": session.seat, "paused": paused})


async def openapi(request: web.Request) -> web.Response:
    return reply(openapi_document())


def add_api_routes(app: web.Application) -> None:
    for method, path, handler, roles in (
        ("GET", "/api/openapi.json", openapi, LOGGED_IN),
        ("GET", "/healthz", healthz, PUBLIC),
        ("GET", "/metrics", metrics, PUBLIC),
        ("GET", "/api/me", me, LOGGED_IN),
        ("GET", "/api/floor", floor, SUPERVISORS),
        ("GET", "/api/floor/ws", floor_socket, SUPERVISORS),
        ("GET", "/api/calls", calls, SUPERVISORS),
        ("GET", "/api/calls/{call_id}", call_detail, SUPERVISORS),
        ("POST", "/api/calls/{call_id}/summary", save_summary, LOGGED_IN),
        ("POST", "/api/calls/{call_id}/nuisance", mark_nuisance, LOGGED_IN),
        ("GET", "/api/seats", seats, SUPERVISORS),
        ("POST", "/api/seats/{seat}", seat_command, SUPERVISORS),
        ("GET", "/api/roster", get_roster, SUPERVISORS),
        ("PUT", "/api/roster", put_roster, SUPERVISORS),
        ("GET", "/api/nuisance", nuisance_flags, SUPERVISORS),
        ("GET", "/api/nuisance/history", nuisance_history, SUPERVISORS),
        ("POST", "/api/nuisance/flag", nuisance_flag, SUPERVISORS),
        ("POST", "/api/nuisance/clear", nuisance_clear, SUPERVISORS),
        ("POST", "/api/operator/pause", operator_pause, OPERATORS),
    ):
        add_route(app, method, path, handler, roles)
