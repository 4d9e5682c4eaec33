"""The knowledge base (政务信息库) in the console: search, an article with its history,
the edit form, and an operator's 「已据此答复」 on a call; its pages and its JSON API.

Everyone logged in reads (operators never see an article that is not valid today, a
unit's account sees its own unit's); supervisors and the owning unit's accounts edit
(`knowledge.service.may_edit`); an operator links articles only to calls their seat took."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, NoReturn

import aiohttp_jinja2
from aiohttp import web

from callcenter.knowledge.article import KnowledgeError, article_of
from callcenter.knowledge.rendering import body_html
from callcenter.knowledge.search import QUERY_MAX
from callcenter.knowledge.service import Conflict, Editor, KnowledgeService, NotAllowed, NotFound
from callcenter.users import SUPERVISOR, UNIT
from callcenter.vocabulary import KNOWLEDGE_KIND_LABELS, KnowledgeKind
from callcenter.web.api import _body, _call_id, path_number, reply
from callcenter.web.auth import refuse
from callcenter.web.context import ANY_USER, CONSOLE, STAFF, add_route, session_of
from callcenter.web.openapi import CALL_ID, _error, _ok, _op, _path, _query, describe
from callcenter.web.openapi import _body as _body_schema
from callcenter.web.pages import _context

EDITORS = frozenset({SUPERVISOR, UNIT})
ARTICLE_IDS_MAX = 20


def _service(request: web.Request) -> KnowledgeService:
    return request.app[CONSOLE].services.knowledge


def _editor(request: web.Request) -> Editor:
    session = session_of(request)
    return Editor(session.user, session.role, session.unit, session.seat)


def _refuse(exc: KnowledgeError) -> NoReturn:
    status: type[web.HTTPException] = web.HTTPBadRequest
    if isinstance(exc, NotAllowed):
        status = web.HTTPForbidden
    elif isinstance(exc, NotFound):
        status = web.HTTPNotFound
    elif isinstance(exc, Conflict):
        status = web.HTTPConflict
    refuse(status, str(exc))


def _article_id(request: web.Request) -> int:
    return path_number(request, "article_id", web.HTTPNotFound, "没有这个条目 (no such article)")


def _filters(request: web.Request, query: Mapping[str, str]) -> tuple[str | None, str | None, int]:
    unit_text, kind_text, limit_text = query.get("unit", ""), query.get("kind", ""), query.get("limit", "20")
    unit = None
    if unit_text:
        found = _service(request).directory.get(unit_text)
        if found is None:
            refuse(web.HTTPBadRequest, "没有这个单位 (unknown unit code)")
        unit = found.code
    if kind_text and kind_text not in {str(k) for k in KnowledgeKind}:
        refuse(web.HTTPBadRequest, f"kind 须为 {', '.join(KnowledgeKind)} 之一 (unknown kind)")
    if not (limit_text.isascii() and limit_text.isdigit()) or not 1 <= int(limit_text) <= 100:
        refuse(web.HTTPBadRequest, "limit 须为 1-100 (limit must be 1-100)")
    return unit, kind_text or None, int(limit_text)


# ---------------------------------------------------------------------------- the API


async def search(request: web.Request) -> web.Response:
    text = request.query.get("q", "")
    unit, kind, limit = _filters(request, request.query)
    found = await _service(request).search(text, _editor(request), unit, kind, limit)
    return reply({"query": text[:QUERY_MAX], "truncated": len(text) > QUERY_MAX, "total": found.total,
                  "results": [asdict(hit) for hit in found.hits]})


async def top(request: web.Request) -> web.Response:
    limit_text = request.query.get("limit", "5")
    if not (limit_text.isascii() and limit_text.isdigit()) or not 1 <= int(limit_text) <= 100:
        refuse(web.HTTPBadRequest, "limit 须为 1-100 (limit must be 1-100)")
    rows = await _service(request).top(int(limit_text))
    return reply([{key: row[key] for key in ("id", "title", "unit", "unit_name", "uses")} for row in rows])


async def article(request: web.Request) -> web.Response:
    service, editor, article_id = _service(request), _editor(request), _article_id(request)
    try:
        row = await service.article(article_id, editor)
        versions = await service.history(article_id, editor)
    except KnowledgeError as exc:
        _refuse(exc)
    keys = ("article_id", "title", "unit", "unit_name", "kind", "kind_label", "body", "keywords", "valid_from",
            "valid_until", "owner", "version", "updated_at", "updated_by", "validity", "may_edit")
    return reply({**{key: row[key] for key in keys}, "body_html": body_html(str(row["body"])),
                  "versions": [{key: v[key] for key in ("version", "title", "saved_at", "saved_by", "body")}
                               for v in versions]})


def _article_fields(data: dict[str, Any]) -> dict[str, object]:
    return {key: data.get(key) for key in ("title", "unit", "kind", "body", "keywords", "valid_from",
                                           "valid_until", "owner")}


async def create(request: web.Request) -> web.Response:
    service, editor = _service(request), _editor(request)
    data = await _body(request)
    try:
        article_id = await service.create(article_of(_article_fields(data), service.directory), editor)
    except KnowledgeError as exc:
        _refuse(exc)
    return reply({"id": article_id, "version": 1}, status=201)


async def update(request: web.Request) -> web.Response:
    service, editor, article_id = _service(request), _editor(request), _article_id(request)
    data = await _body(request)
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        refuse(web.HTTPBadRequest, "version 须为所编辑的版本号 (version: the version you edited)")
    try:
        saved = await service.update(article_id, article_of(_article_fields(data), service.directory), version,
                                     editor)
    except KnowledgeError as exc:
        _refuse(exc)
    return reply({"id": article_id, "version": saved})


async def answered_from_base(request: web.Request) -> web.Response:
    call_id = _call_id(request)
    data = await _body(request)
    ids = data.get("article_ids")
    if (not isinstance(ids, list) or not 1 <= len(ids) <= ARTICLE_IDS_MAX
            or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**62 for i in ids)):
        refuse(web.HTTPBadRequest, f"article_ids 须为 1-{ARTICLE_IDS_MAX} 个条目编号 (a list of article ids)")
    seat = session_of(request).seat
    floor = request.app[CONSOLE].floor.snapshot()["seats"]
    live = next((s.get("call") for s in floor if s["seat"] == seat), None) or {}
    try:
        articles = await _service(request).answered(call_id, ids, _editor(request),
                                                    live_on_seat=seat is not None and live.get("call_id") == call_id)
    except KnowledgeError as exc:
        _refuse(exc)
    return reply({"call_id": call_id, "articles": articles})


async def choices(request: web.Request) -> web.Response:
    """The filters' choices: the units (a unit's account: its own) and the kinds."""
    service, session = _service(request), session_of(request)
    units = [u for u in service.directory.units if u.active and (session.role != UNIT or u.code == session.unit)]
    return reply({"units": [{"code": u.code, "name": u.name} for u in units],
                  "kinds": [{"code": str(k), "label": label} for k, label in KNOWLEDGE_KIND_LABELS.items()],
                  "may_create": session.role in EDITORS})


# ---------------------------------------------------------------------------- the pages


async def search_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("knowledge.html", request, _context(
        request, "政务信息库", "knowledge.js", here="/knowledge"))


async def article_page(request: web.Request) -> web.Response:
    # The number is only echoed into a data attribute; the script asks the API.
    return aiohttp_jinja2.render_template("knowledge_article.html", request, _context(
        request, "信息库条目", "knowledge_article.js", article_id=request.match_info["article_id"][:20],
        here="/knowledge"))


async def edit_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("knowledge_edit.html", request, _context(
        request, "编辑信息库条目", "knowledge_edit.js", article_id=request.match_info.get("article_id", "")[:20],
        here="/knowledge"))


@describe
def knowledge_paths() -> dict[str, Any]:
    article_id = _path("article_id", "the article's number")
    fields = {"type": "object", "required": ["title", "unit", "kind", "body"], "properties": {
        "title": {"type": "string"}, "unit": {"type": "string", "description": "the unit's code, name or alias"},
        "kind": {"type": "string", "enum": [str(k) for k in KnowledgeKind]},
        "body": {"type": "string", "description": "Markdown"},
        "keywords": {"type": "string", "description": "separated by commas"},
        "valid_from": {"type": "string", "format": "date"}, "valid_until": {"type": "string", "format": "date"},
        "owner": {"type": "string"}, "version": {"type": "integer", "description": "update: the version edited"}}}
    return {
        "/api/knowledge/search": {"get": _op(
            "Search the knowledge base: {query, total, results: [{id, title, unit, kind, kind_label, snippet_html"
            " (escaped, hits in <mark>), updated_at, ...}]}; operators never get articles not valid today",
            "any", {"200": _ok("the best articles"), "400": _error("unknown unit or kind, bad limit")},
            parameters=[_query("q", "words or a phrase (the first 100 characters are looked at)"),
                        _query("unit", "a unit's code"), _query("kind", ", ".join(KnowledgeKind)),
                        _query("limit", "1-100, default 20", {"type": "integer"})])},
        "/api/knowledge/top": {"get": _op(
            "Today's most used articles [{id, title, unit, unit_name, uses}]", "supervisor, operator",
            {"200": _ok("articles", {"type": "array"}), "400": _error("bad limit")},
            parameters=[_query("limit", "1-100, default 5", {"type": "integer"})])},
        "/api/knowledge/choices": {"get": _op(
            "The units and kinds to filter by, and whether the user may add articles", "any",
            {"200": _ok("choices")})},
        "/api/knowledge/articles": {"post": _op(
            "Add an article (a unit: of its own unit)", "supervisor, unit",
            {"201": _ok("{id, version}"), "400": _error("a field is wrong"), "403": _error("another unit's")},
            requestBody=_body_schema(fields))},
        "/api/knowledge/articles/{article_id}": {
            "get": _op("An article, its body as HTML, its versions", "any",
                       {"200": _ok("the article"), "404": _error("no such article (or not visible to you)")},
                       parameters=[article_id]),
            "put": _op("Save an edit made from `version`", "supervisor, the article's unit",
                       {"200": _ok("{id, version}"), "400": _error("a field is wrong"),
                        "403": _error("another unit's article"), "404": _error("no such article"),
                        "409": _error("saved by someone else since that version")},
                       parameters=[article_id], requestBody=_body_schema(fields))},
        "/api/calls/{call_id}/knowledge": {"post": _op(
            "Answered from the base (已据此答复): link the articles to the call, mark it settled on the call",
            "the operator whose seat took the call, supervisor",
            {"200": _ok("{call_id, articles: [{id, title}]}"), "400": _error("bad body"),
             "403": _error("another seat's call"), "404": _error("no such call or article")},
            parameters=[CALL_ID], requestBody=_body_schema({"type": "object", "required": ["article_ids"],
                                                            "properties": {"article_ids": {
                                                                "type": "array", "items": {"type": "integer"}}}}))},
    }


def add_knowledge_routes(app: web.Application) -> None:
    editors = frozenset(EDITORS)
    for method, path, handler, roles in (
        ("GET", "/knowledge", search_page, ANY_USER),
        ("GET", "/knowledge/new", edit_page, editors),
        ("GET", "/knowledge/{article_id}", article_page, ANY_USER),
        ("GET", "/knowledge/{article_id}/edit", edit_page, editors),
        ("GET", "/api/knowledge/search", search, ANY_USER),
        ("GET", "/api/knowledge/top", top, STAFF),
        ("GET", "/api/knowledge/choices", choices, ANY_USER),
        ("POST", "/api/knowledge/articles", create, editors),
        ("GET", "/api/knowledge/articles/{article_id}", article, ANY_USER),
        ("PUT", "/api/knowledge/articles/{article_id}", update, editors),
        ("POST", "/api/calls/{call_id}/knowledge", answered_from_base, STAFF),
    ):
        add_route(app, method, path, handler, roles)
