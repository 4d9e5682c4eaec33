"""The console's pages: HTML shells in Chinese whose scripts fetch their data from /api."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from callcenter.errors import ConfigError
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import ROLE_LABELS, SUPERVISOR, UNIT
from callcenter.vocabulary import labels
from callcenter.web.auth import landing, login, login_page, logout
from callcenter.web.context import (
    ANY_USER,
    CONSOLE,
    OPERATORS,
    PUBLIC,
    STAFF,
    SUPERVISORS,
    UNITS,
    add_route,
    session_of,
)

# (path, template, title, nav label or None) of the supervisor's pages, in menu order.
SUPERVISOR_PAGES = (
    ("/wallboard", "wallboard.html", "实时监控", "实时监控"),
    ("/calls", "calls.html", "通话记录", "通话记录"),
    ("/seats", "seats.html", "坐席与排班", "坐席与排班"),
    ("/nuisance", "nuisance.html", "骚扰号码", "骚扰号码"),
    ("/tickets", "tickets.html", "工单管理", "工单管理"),
    ("/reports", "reports.html", "简报", "简报"),
    ("/recordings/access", "recording_access.html", "录音调阅记录", "录音调阅记录"),
    ("/listen-in", "listen_in_log.html", "监听记录", "监听记录"),
    ("/publishing", "cases.html", "典型案例发布", "典型案例"),
)
KNOWLEDGE_NAV = ("/knowledge", "政务信息库")  # its pages are in knowledge_api
# Scripts a page loads besides its own: the wallboard's panel of today's most-used articles.
EXTRA_SCRIPTS = {"/wallboard": ["knowledge_top.js"]}


def _context(request: web.Request, title: str, script: str, **extra: Any) -> dict[str, Any]:
    session = session_of(request)
    settings = request.app[CONSOLE].settings
    if session.role == SUPERVISOR:
        nav = [(path, label) for path, _, _, label in SUPERVISOR_PAGES] + [("/operators", "话务员签入"), KNOWLEDGE_NAV]
    elif session.role == UNIT:
        nav = [("/unit", "本单位工单"), KNOWLEDGE_NAV]
    else:
        nav = [("/operator", "我的坐席"), ("/operators", "签入坐席"), KNOWLEDGE_NAV]
    return {"title": title, "script": script, "user": session.user, "role": session.role,
            "role_label": ROLE_LABELS.get(session.role, session.role), "seat": session.seat,
            "csrf": session.csrf, "nav": nav, "here": request.path,
            "hotline": settings.hotline.number, "today": datetime.now(settings.zone).date().isoformat(),
            "seats": settings.seat_names, "labels": labels(), "labels_json": _LABELS_JSON,
            "extra_scripts": EXTRA_SCRIPTS.get(request.path, []), **extra}


# The browser's labels come from the vocabulary, in a JSON block the pages' scripts read
# (a type="application/json" script is data: the CSP's script-src does not apply to it).
# "</" is escaped so no label can close the block.
_LABELS_JSON = json.dumps(labels(), ensure_ascii=False).replace("</", "<\\/")


def _page(template: str, title: str) -> Any:
    script = template.replace(".html", ".js")

    async def handler(request: web.Request) -> web.Response:
        return aiohttp_jinja2.render_template(template, request, _context(request, title, script))

    return handler


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(landing(session_of(request)))


async def call_page(request: web.Request) -> web.Response:
    # The id is only echoed into a data attribute (escaped); the script validates it via the API.
    return aiohttp_jinja2.render_template("call.html", request, _context(
        request, "通话详情", "call.js", call_id=request.match_info["call_id"][:100]))


async def ticket_page(request: web.Request) -> web.Response:
    # As with a call: the number is only echoed into a data attribute; the script asks the API.
    # `here` keeps 工单管理 lit in the menu on a ticket's own page.
    return aiohttp_jinja2.render_template("ticket.html", request, _context(
        request, "工单详情", "ticket.js", ticket_id=request.match_info["ticket_id"][:20], here="/tickets"))


async def unit_page(request: web.Request) -> web.Response:
    # The unit's name comes from the directory as it is now (a renamed unit shows its new name).
    code = session_of(request).unit or ""
    try:
        unit = load_directory(units_file(request.app[CONSOLE].settings)).get(code)
    except ConfigError:
        unit = None
    return aiohttp_jinja2.render_template("unit.html", request, _context(
        request, "本单位工单", "unit.js", unit_code=code, unit_name=unit.name if unit else "",
        unit_active=bool(unit and unit.active)))


async def unit_ticket_page(request: web.Request) -> web.Response:
    # The number is only echoed into a data attribute; the API says whether it is this unit's.
    # `here` keeps 本单位工单 lit in the menu.
    return aiohttp_jinja2.render_template("unit_ticket.html", request, _context(
        request, "工单办理", "unit_ticket.js", ticket_id=request.match_info["ticket_id"][:20], here="/unit"))


def add_page_routes(app: web.Application) -> None:
    add_route(app, "GET", "/login", login_page, PUBLIC)
    add_route(app, "POST", "/login", login, PUBLIC)
    add_route(app, "POST", "/logout", logout, ANY_USER)
    add_route(app, "GET", "/", home, ANY_USER)
    for path, template, title, _ in SUPERVISOR_PAGES:
        add_route(app, "GET", path, _page(template, title), SUPERVISORS)
    add_route(app, "GET", "/calls/{call_id}", call_page, SUPERVISORS)
    add_route(app, "GET", "/tickets/{ticket_id}", ticket_page, SUPERVISORS)
    add_route(app, "GET", "/operator", _page("operator.html", "我的坐席"), OPERATORS)
    add_route(app, "GET", "/operators", _page("operators.html", "话务员签入"), STAFF)
    add_route(app, "GET", "/unit", unit_page, UNITS)
    add_route(app, "GET", "/unit/tickets/{ticket_id}", unit_ticket_page, UNITS)
