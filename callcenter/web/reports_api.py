"""The monthly briefing (简报) and the yearly summary in the console: the figures as JSON,
or the self-contained HTML page that `hotline report --html` writes, for any month or
year, to supervisors.

Built exactly as the command builds them (`callcenter.reports.build_briefing` on the
store thread, the units file's title, deadline and service-level threshold); a period
without calls is answered with the reason, as the command prints it.

The HTML is the one response of the console that may be framed: the reports page shows
it in a sandboxed iframe. `FRAMED_PATHS` and `FRAMED_CSP` tell `app._security_headers`
so: that page's own policy (nothing loaded, inline style only), framed by the console
alone."""

from __future__ import annotations

import html
import re
from typing import Any

from aiohttp import web

from callcenter.reports import Period, ReportError, build_briefing, format_html, parse_month, parse_year
from callcenter.web.api import reply
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, SUPERVISORS, Console, add_route
from callcenter.web.exports_api import attachment
from callcenter.web.openapi import _error, _ok, _op, _query, describe

MONTHLY, YEARLY = "/api/reports/monthly", "/api/reports/yearly"
FRAMED_PATHS = frozenset({MONTHLY, YEARLY})
# The report's own policy (its <meta> says the same), and framing by the console only.
FRAMED_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'self'")
_MONTH = re.compile(r"\d{4}-\d{2}")
_YEAR = re.compile(r"\d{4}")


def _period(console: Console, kind: str, text: str) -> Period:
    zone = console.settings.zone
    try:
        if kind == "monthly" and _MONTH.fullmatch(text):
            return parse_month(text, zone)
        if kind == "yearly" and _YEAR.fullmatch(text):
            return parse_year(text, zone)
    except ReportError:
        pass
    if kind == "monthly":
        refuse(web.HTTPBadRequest, f"month 须为实际存在的月份 YYYY-MM，如 2009-01 (no such month: {text!r})")
    refuse(web.HTTPBadRequest, f"year 须为四位年份 YYYY，如 2008 (no such year: {text!r})")


def _format(request: web.Request) -> str:
    kind = request.query.get("format", "json")
    if kind not in ("json", "html"):
        refuse(web.HTTPBadRequest, "format 须为 json 或 html (format must be json or html)")
    return kind


def _no_data(console: Console, period: Period, error: ReportError) -> str:
    # The command's own words, but for the database's path on the server.
    reason = str(error).replace(console.services.store.name, "the store")
    return f"{period.title}没有可统计的来电 ({reason})"


def _no_data_page(title: str, message: str) -> str:
    return ("<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
            f"<title>{html.escape(title)}</title><style>body{{font:15px/1.6 sans-serif;margin:24px;color:#333}}"
            f".empty{{color:#a61b1b}}</style></head>\n<body><h1>{html.escape(title)}</h1>"
            f"<p class=\"empty\" id=\"no-data\">{html.escape(message)}</p></body></html>\n")


async def _report(request: web.Request, kind: str, value: str) -> web.StreamResponse:
    console = request.app[CONSOLE]
    period = _period(console, kind, value)
    out = _format(request)
    directory = console.services.tickets.directory
    name = f"{'简报' if kind == 'monthly' else '年度简报'}_{period.label}.{out}"
    headers = {"Content-Disposition": attachment(name)} if request.query.get("download") == "1" else {}
    try:
        briefing = await build_briefing(console.services.store, period, zone=console.settings.zone,
                                        service_level_seconds=directory.service_level_seconds,
                                        deadline_working_days=directory.deadline_working_days,
                                        shifts=console.services.seats.roster.shifts,
                                        operator_names=console.services.seats.operator_names(),
                                        response_limits=console.services.tickets.limits)
    except ReportError as exc:
        message = _no_data(console, period, exc)
        if out == "html":
            return web.Response(text=_no_data_page(f"{directory.title} {period.title}", message),
                                content_type="text/html", status=404)
        refuse(web.HTTPNotFound, message)
    if out == "html":
        page = format_html(briefing, directory.title, directory.names())
        return web.Response(text=page, content_type="text/html", headers=headers)
    response = reply(briefing.to_json())
    response.headers.update(headers)
    return response


async def monthly(request: web.Request) -> web.StreamResponse:
    return await _report(request, "monthly", request.query.get("month", ""))


async def yearly(request: web.Request) -> web.StreamResponse:
    return await _report(request, "yearly", request.query.get("year", ""))


@describe
def report_paths() -> dict[str, Any]:
    common = [_query("format", "json (default: the keys of `hotline report --json`) or html (the page of "
                               "`hotline report --html`)", {"type": "string", "enum": ["json", "html"]}),
              _query("download", "1: as an attachment")]
    responses = {"200": {**_ok("the briefing"), "content": {"application/json": {}, "text/html": {}}},
                 "400": _error("no such month or year, or a bad format"),
                 "404": _error("no calls arrived in the period (or none in the store): the message says which")}
    return {
        MONTHLY: {"get": _op("The monthly briefing (简报) of any month", "supervisor", responses, parameters=[
            {**_query("month", "YYYY-MM, e.g. 2009-01"), "required": True}, *common])},
        YEARLY: {"get": _op("The yearly summary of any year", "supervisor", responses, parameters=[
            {**_query("year", "YYYY, e.g. 2008"), "required": True}, *common])},
    }


def add_report_routes(app: web.Application) -> None:
    add_route(app, "GET", MONTHLY, monthly, SUPERVISORS)
    add_route(app, "GET", YEARLY, yearly, SUPERVISORS)
