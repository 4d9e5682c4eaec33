"""Exports of the supervisor's lists: the ticket list (`/api/tickets/export`) and the call
log (`/api/calls/export`) as CSV or XLSX, with the same filters as the lists themselves.

The rows are read in one snapshot on the store thread; the file is written in a worker
thread (50,000 rows of XLSX take seconds), so the event loop goes on serving the floor."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from callcenter.exports import MAX_ROWS, Table, call_table, ticket_table
from callcenter.exports import csv as csv_export
from callcenter.exports import xlsx as xlsx_export
from callcenter.vocabulary import Channel
from callcenter.web.api import CATEGORIES, OUTCOMES, call_search
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, SUPERVISORS, add_route
from callcenter.web.openapi import _error, _op, _query, describe
from callcenter.web.tickets_api import _listing_filters

FORMATS: dict[str, tuple[str, Callable[[Table], bytes]]] = {
    "csv": (f"{csv_export.MEDIA_TYPE}; charset=utf-8", csv_export.to_csv),
    "xlsx": (xlsx_export.MEDIA_TYPE, xlsx_export.to_xlsx),
}


def _format(query: Mapping[str, str]) -> str:
    kind = query.get("format", "")
    if kind not in FORMATS:
        refuse(web.HTTPBadRequest, "format 须为 csv 或 xlsx (format must be csv or xlsx)")
    return kind


def _within_cap(total: int) -> None:
    if total > MAX_ROWS:
        refuse(web.HTTPBadRequest, f"符合条件的共 {total} 行，超过导出上限 {MAX_ROWS} 行，请缩小筛选范围 "
                                   f"({total} rows match; an export holds at most {MAX_ROWS}: narrow the filters)")


def attachment(name: str) -> str:
    """Content-Disposition for a download named in Chinese (RFC 6266 and 5987): an ASCII
    fallback for old clients, the real name in filename*."""
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _send(table_of: Callable[[], Table], kind: str, stem: str) -> web.Response:
    media_type, write = FORMATS[kind]
    body = await asyncio.to_thread(lambda: write(table_of()))
    return web.Response(body=body, headers={"Content-Type": media_type,
                                            "Content-Disposition": attachment(f"{stem}.{kind}")})


# ----------------------------------------------------------------------------- the ticket list


async def export_tickets(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    kind = _format(request.query)
    filters = _listing_filters(console, request.query)
    tickets, now = console.services.tickets, time.time()
    _, total = await tickets.listing(now=now, limit=0, **filters)
    _within_cap(total)
    rows, _ = await tickets.listing(now=now, limit=MAX_ROWS, **filters)
    today = datetime.fromtimestamp(now, console.settings.zone).date().isoformat()
    return await _send(lambda: ticket_table(rows), kind, f"工单_{request.query.get('month') or today}")


# ----------------------------------------------------------------------------- the call log


async def export_calls(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    kind = _format(request.query)
    calls = console.services.calls
    _, total = await calls.search(call_search(console, request.query, limit=0))
    _within_cap(total)
    rows, _ = await calls.search(call_search(console, request.query, limit=MAX_ROWS))
    confidential = await console.services.tickets.repository.confidential_call_ids()
    first, last = request.query.get("from", ""), request.query.get("to", "")
    span = first if first == last else "_".join(day for day in (first, last) if day)
    today = datetime.now(console.settings.zone).date().isoformat()
    return await _send(lambda: call_table(rows, confidential), kind, f"通话记录_{span or today}")


@describe
def export_paths() -> dict[str, Any]:
    kind = _query("format", "csv (UTF-8 with BOM) or xlsx", {"type": "string", "enum": list(FORMATS)})
    files: dict[str, Any] = {"content": {"text/csv": {}, xlsx_export.MEDIA_TYPE: {}}}
    refused = _error(f"a bad filter or format, or more than {MAX_ROWS} rows (the message says how many)")
    tickets = [_query("state", "open, forwarded, replied, closed, reopened, or active (default)"),
               _query("unit", "a unit's code"), _query("category", ", ".join(CATEGORIES)),
               _query("channel", ", ".join(str(c) for c in Channel)), _query("month", "YYYY-MM (created)"),
               _query("overdue", "1: only overdue ones")]
    calls = [_query("from", "first day (YYYY-MM-DD)", {"type": "string", "format": "date"}),
             _query("to", "last day, inclusive", {"type": "string", "format": "date"}),
             _query("number", "caller number starts with"), _query("seat", "seat name, e.g. seat1"),
             _query("outcome", f"{', '.join(OUTCOMES)}, or abandoned"),
             _query("category", f"{', '.join(CATEGORIES)}, or none")]
    return {
        "/api/tickets/export": {"get": _op(
            "The ticket list with the filters of /api/tickets, every matching ticket, as a CSV or XLSX download "
            "(工单编号, 创建时间, 渠道 ... 满意度; a confidential ticket's citizen columns blank, 保密 said)",
            "supervisor",
            {"200": {"description": "the file, as an attachment", **files}, "400": refused},
            parameters=[{**kind, "required": True}, *tickets])},
        "/api/calls/export": {"get": _op(
            "The call log with the filters of /api/calls, every matching call, as a CSV or XLSX download "
            "(来电时间, 来电号码 ... 骚扰标记, 保密: the caller of a call on a confidential ticket left blank)",
            "supervisor",
            {"200": {"description": "the file, as an attachment", **files}, "400": refused},
            parameters=[{**kind, "required": True}, *calls])},
    }


def add_export_routes(app: web.Application) -> None:
    add_route(app, "GET", "/api/tickets/export", export_tickets, SUPERVISORS)
    add_route(app, "GET", "/api/calls/export", export_calls, SUPERVISORS)
    # The pages show the cap beside their export links ({{ export_max_rows }}).
    aiohttp_jinja2.get_env(app).globals["export_max_rows"] = MAX_ROWS
