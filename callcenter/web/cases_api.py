"""Published cases for supervisors: the closed tickets that may be published, the
suggested public text with what redaction removed, publication (confirmed), withdrawal,
and the log. Supervisors only; the public site shows what is published."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.cases.redaction import Redacted
from callcenter.cases.repository import CaseRepository
from callcenter.cases.service import CaseError, CaseNotFound, CaseService
from callcenter.web.api import _body, path_number, reply
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, SUPERVISORS, add_route, session_of
from callcenter.web.openapi import _body as _body_schema
from callcenter.web.openapi import _error, _ok, _op, _path, describe


def _service(request: web.Request) -> CaseService:
    console = request.app[CONSOLE]
    return CaseService(console.settings, CaseRepository(console.services.store))


def _number(request: web.Request, key: str) -> int:
    return path_number(request, key, web.HTTPBadRequest, "编号无效 (bad number)")


def _shown(done: Redacted) -> dict[str, Any]:
    return {"text": done.text, "removed": [{"kind": r.kind, "text": r.text, "start": r.start, "end": r.end}
                                           for r in done.removals]}


def _refused(exc: CaseError) -> None:
    refuse(web.HTTPNotFound if isinstance(exc, CaseNotFound) else web.HTTPConflict, str(exc))


async def candidates(request: web.Request) -> web.Response:
    repository = CaseRepository(request.app[CONSOLE].services.store)
    return reply({"candidates": await repository.candidates(), "published": await repository.published()})


async def suggestion(request: web.Request) -> web.Response:
    try:
        found = await _service(request).suggest(_number(request, "ticket_id"))
    except CaseError as exc:
        _refused(exc)
    return reply({"ticket_id": found.ticket_id, "title": _shown(found.title), "body": _shown(found.body)})


async def publish(request: web.Request) -> web.Response:
    body = await _body(request)
    ticket_id, title, text, confirm = body.get("ticket_id"), body.get("title"), body.get("body"), body.get("confirm")
    if not isinstance(ticket_id, int) or isinstance(ticket_id, bool) or not isinstance(title, str) \
            or not isinstance(text, str) or not isinstance(confirm, bool):
        refuse(web.HTTPBadRequest, "需要 ticket_id（整数）、title、body（文本）和 confirm（true/false）")
    try:
        case_id, stored_title, stored_body = await _service(request).publish(
            ticket_id, title, text, confirm, session_of(request).user)
    except CaseError as exc:
        _refused(exc)
    return reply({"case_id": case_id, "title": _shown(stored_title), "body": _shown(stored_body)})


async def withdraw(request: web.Request) -> web.Response:
    body = await _body(request)
    reason = body.get("reason")
    if not isinstance(reason, str):
        refuse(web.HTTPBadRequest, "需要撤回原因 reason（文本）")
    try:
        await _service(request).withdraw(_number(request, "case_id"), reason, session_of(request).user)
    except CaseError as exc:
        _refused(exc)
    return reply({"withdrawn": True})


async def case_log(request: web.Request) -> web.Response:
    return reply({"log": await CaseRepository(request.app[CONSOLE].services.store).log()})


def add_case_routes(app: web.Application) -> None:
    for method, path, handler in (
        ("GET", "/api/cases", candidates),
        ("GET", "/api/cases/suggestion/{ticket_id}", suggestion),
        ("POST", "/api/cases", publish),
        ("POST", "/api/cases/{case_id}/withdraw", withdraw),
        ("GET", "/api/cases/log", case_log),
    ):
        add_route(app, method, path, handler, SUPERVISORS)


@describe
def case_paths() -> dict[str, Any]:
    ticket = _path("ticket_id", "the closed ticket's number")
    case = _path("case_id", "the published case's number")
    refused = {"404": _error("no such ticket or case"), "409": _error("not closed, not confirmed, or empty")}
    return {
        "/api/cases": {
            "get": _op("Closed tickets that may be published, and the cases published or withdrawn", "supervisor",
                       {"200": _ok("candidates and published")}),
            "post": _op("Publish a closed ticket as a typical case with the edited text (redacted again; nothing "
                        "is published without confirm = true)", "supervisor",
                        {"200": _ok("the case and the texts as stored, with what was removed"),
                         "400": _error("ticket_id, title, body, confirm missing or of the wrong type"), **refused},
                        requestBody=_body_schema({"type": "object", "required": ["ticket_id", "title", "body",
                                                                                 "confirm"]})),
        },
        "/api/cases/suggestion/{ticket_id}": {"get": _op(
            "The suggested public title and text of a closed ticket, redacted, with what was removed", "supervisor",
            {"200": _ok("the suggestion"), **refused}, parameters=[ticket])},
        "/api/cases/{case_id}/withdraw": {"post": _op(
            "Withdraw a published case (logged with the reason)", "supervisor",
            {"200": _ok("withdrawn"), "400": _error("no reason"), **refused}, parameters=[case],
            requestBody=_body_schema({"type": "object", "required": ["reason"]}))},
        "/api/cases/log": {"get": _op("Every publication and withdrawal, newest first", "supervisor",
                                      {"200": _ok("the log")})},
    }
