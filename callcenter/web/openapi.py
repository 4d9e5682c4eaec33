"""The console's JSON API as an OpenAPI 3.1 document, written by hand. A test checks that
every /api route the app registers is here and that the pages' scripts call only these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callcenter.vocabulary import CATEGORY_ORDER, Outcome, RecordingStatus

JSON = "application/json"


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema or {"type": "object"}}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


CALL_ID = _path("call_id", "the call's id (Asterisk's channel id)")
DENIED = {"401": _error("not logged in"), "403": _error("not allowed for this role, or no CSRF token")}
CATEGORY = {"type": "string", "enum": [str(category) for category in CATEGORY_ORDER]}


def _op(summary: str, role: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "description": f"Role: {role}.", "responses": {**responses, **DENIED}, **extra}


def openapi_document() -> dict[str, Any]:
    calls_query = [
        _query("from", "first day (YYYY-MM-DD, the hotline's time zone)", {"type": "string", "format": "date"}),
        _query("to", "last day, inclusive", {"type": "string", "format": "date"}),
        _query("number", "caller number starts with"),
        _query("seat", "seat name, e.g. seat1"),
        _query("outcome", f"{', '.join(Outcome)}, or abandoned (any abandon)"),
        _query("category", f"{', '.join(CATEGORY_ORDER)}, or none"),
        _query("page", "1-based page", {"type": "integer", "minimum": 1}),
        _query("per_page", "calls a page (1-100, default 20)", {"type": "integer", "minimum": 1, "maximum": 100}),
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "12345 hotline console API", "version": "1",
                 "description": "Behind the console's pages. Every operation needs a session cookie from "
                                "POST /login; every non-GET needs the session's CSRF token in X-CSRF-Token."},
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "hotline_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
                "Call": {"type": "object", "properties": {
                    "call_id": {"type": "string"}, "caller_number": {"type": ["string", "null"]},
                    "caller_name": {"type": ["string", "null"]}, "arrived": {"type": ["string", "null"]},
                    "seat_answered": {"type": ["string", "null"]}, "ended": {"type": ["string", "null"]},
                    "wait_seconds": {"type": ["integer", "null"]}, "talk_seconds": {"type": ["integer", "null"]},
                    "total_seconds": {"type": ["integer", "null"]}, "outcome": {"type": ["string", "null"]},
                    "seat": {"type": ["string", "null"]}, "category": {"type": ["string", "null"]},
                    "recording_seconds": {"type": ["number", "null"]}, "has_recording": {"type": "boolean"},
                    "recording_pruned": {"type": ["string", "null"], "description": (
                        "when the recording was deleted, past recordings.retention_days")},
                    "recording_status": {"type": ["string", "null"], "description": "ok, or why the recording "
                                         f"failed: {', '.join(s for s in RecordingStatus if s != 'ok')}"}}},
                "Floor": {"type": "object", "properties": {
                    "at": {"type": "number"}, "in_ivr": {"type": "integer"},
                    "waiting": {"type": "array", "items": {"type": "object"}},
                    "seats": {"type": "array", "items": {"type": "object"}}}},
                "Figures": {"type": "object", "properties": {
                    "calls": {"type": "integer"}, "answered": {"type": "integer"}, "abandoned": {"type": "integer"},
                    "average_wait": {"type": "number"}, "service_level": {"type": ["number", "null"]},
                    "service_level_seconds": {"type": "integer"},
                    "standard": {"type": "object", "description": (
                        "GB/T 33358: answer_seconds (15), target_pct (95), last_24h and today "
                        "({offered, connected, answered_within, connection_pct, answer_rate_pct}), by_shift[] "
                        "(today, by arrival), by_seat[] ({seat, rung, connected, answered_within, ...}), alarm "
                        "(the last 24 hours' connection rate under the target)")}}},
            },
        },
        "security": [{"session": []}],
        "paths": {
            "/api/openapi.json": {"get": _op("This document", "any", {"200": _ok("OpenAPI 3.1")})},
            "/api/me": {"get": _op("Who is logged in, and the CSRF token", "any", {"200": _ok("the user")})},
            "/api/floor": {"get": _op("The floor now and today's figures", "supervisor", {"200": _ok(
                "floor", {"type": "object", "properties": {"floor": {"$ref": "#/components/schemas/Floor"},
                                                           "figures": {"$ref": "#/components/schemas/Figures"}}})})},
            "/api/floor/ws": {"get": _op(
                "WebSocket: the same as /api/floor, pushed on every change (at most 4 a second) and every second",
                "supervisor", {"101": {"description": "switching to WebSocket"}})},
            "/api/calls": {"get": _op("Search the call log, newest first, a page at a time", "supervisor",
                                      {"200": _ok("a page of calls"), "400": _error("a bad filter")},
                                      parameters=calls_query)},
            "/api/calls/{call_id}": {"get": _op("One call, its timeline (call_events) and summary", "supervisor",
                                                {"200": _ok("the call"), "404": _error("no such call")},
                                                parameters=[CALL_ID])},
            "/api/calls/{call_id}/summary": {"post": _op(
                "Save the category and summary of a call (stored as a SUMMARY call event)",
                "supervisor, or the operator of the call's seat",
                {"200": _ok("saved"), "400": _error("bad input"), "404": _error("no such call")},
                parameters=[CALL_ID], requestBody=_body({"type": "object", "required": ["category"], "properties": {
                    "category": CATEGORY, "summary": {"type": "string", "maxLength": 500}}}))},
            "/api/calls/{call_id}/nuisance": {"post": _op(
                "Mark the call as nuisance (two marks within the window flag the number)",
                "supervisor, or the operator of the call's seat",
                {"200": _ok("marked"), "400": _error("withheld number"), "404": _error("no such call")},
                parameters=[CALL_ID])},
            "/api/seats": {"get": _op("Every seat: state, since, shift, registration, pause, calls today",
                                      "supervisor", {"200": _ok("seats")})},
            "/api/seats/{seat}": {"post": _op(
                "Log a seat in or out, back to the roster, pause or unpause it", "supervisor",
                {"200": _ok("applied (the controller reads it within a second)"), "404": _error("no such seat")},
                parameters=[_path("seat", "seat1..seatN")],
                requestBody=_body({"type": "object", "required": ["action"], "properties": {
                    "action": {"type": "string", "enum": ["login", "logout", "roster", "pause", "unpause"]},
                    "reason": {"type": "string", "maxLength": 100}}}))},
            "/api/roster": {
                "get": _op("The shift roster", "supervisor", {"200": _ok("shifts")}),
                "put": _op("Replace the shift roster (validated, written atomically, applied at once)", "supervisor",
                           {"200": _ok("the saved roster"), "400": _error("an invalid roster")},
                           requestBody=_body({"type": "object", "required": ["shifts"], "properties": {
                               "shifts": {"type": "array", "items": {"type": "object", "properties": {
                                   "name": {"type": "string"}, "start": {"type": "string", "example": "08:00"},
                                   "end": {"type": "string", "example": "16:00"},
                                   "seats": {"type": "array", "items": {"type": "string"}}}}}}})),
            },
            "/api/nuisance": {"get": _op("Numbers flagged now", "supervisor", {"200": _ok("flags")})},
            "/api/nuisance/history": {"get": _op(
                "Every flag, clear and mark of a number, and its recent calls", "supervisor",
                {"200": _ok("history"), "400": _error("bad number")},
                parameters=[{**_query("number", "the caller number"), "required": True}])},
            "/api/nuisance/flag": {"post": _op(
                "Flag a number by hand", "supervisor", {"200": _ok("flagged"), "400": _error("bad input")},
                requestBody=_body({"type": "object", "required": ["number", "reason"], "properties": {
                    "number": {"type": "string"}, "reason": {"type": "string", "maxLength": 100}}}))},
            "/api/nuisance/clear": {"post": _op(
                "Clear a number's flag (the history stays)", "supervisor",
                {"200": _ok("cleared"), "404": _error("no flag in force")},
                requestBody=_body({"type": "object", "required": ["number"], "properties": {
                    "number": {"type": "string"}, "reason": {"type": "string", "maxLength": 100}}}))},
            "/api/operator/now": {"get": _op(
                "My seat's view once, as /api/operator/ws pushes it: its state, the call on it now (or the last "
                "one), the caller card",
                "operator", {"200": _ok("my seat")})},
            "/api/operator/pause": {"post": _op(
                "Pause or unpause my seat", "operator", {"200": _ok("applied")},
                requestBody=_body({"type": "object", "required": ["paused"], "properties": {
                    "paused": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 100}}}))},
            **ticket_paths(),
            **{path: entry for more in _MORE_PATHS for path, entry in more().items()},
        },
    }


_MORE_PATHS: list[Callable[[], dict[str, Any]]] = []


def describe(paths: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Add a feature module's API paths to the document (a decorator on a function that
    returns them): each API module describes its own routes beside their handlers."""
    _MORE_PATHS.append(paths)
    return paths


TICKET_ID = _path("ticket_id", "the ticket's number")
REFUSED = {"404": _error("no such ticket (or not your unit's)"),
           "409": _error("the ticket's state does not allow this move; the message says why")}


def _text_body(*required: str, **fields: int) -> dict[str, Any]:
    return _body({"type": "object", "required": list(required),
                  "properties": {name: {"type": "string", "maxLength": limit} for name, limit in fields.items()}})


def _move(summary: str, role: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"parameters": [TICKET_ID]}
    if body is not None:
        extra["requestBody"] = body
    return {"post": _op(summary, role, {"200": _ok("done"), "400": _error("bad input"), **REFUSED}, **extra)}


def ticket_paths() -> dict[str, Any]:
    """The tickets desk (工单): operators, the supervisor's desk, the responsible units."""
    listing = [_query("state", "open, forwarded, replied, closed, reopened, or active (default)"),
               _query("unit", "a unit's code"), _query("category", ", ".join(CATEGORY_ORDER)),
               _query("channel", "phone, mailbox, sms, forum, manual"), _query("month", "YYYY-MM (created)"),
               _query("overdue", "1: only overdue ones"), _query("page", "1-based page"),
               _query("per_page", "1-100, default 20")]
    return {
        "/api/units": {"get": _op("Responsible units whose code, name or alias contains q", "staff",
                                  {"200": _ok("units")}, parameters=[_query("q", "search text")])},
        "/api/tickets/similar": {"get": _op(
            "Open tickets like this one: the same number in the last 30 days, then similar summaries", "staff",
            {"200": _ok("suggestions"), "400": _error("neither number nor summary")},
            parameters=[_query("number", "the citizen's number"), _query("summary", "the draft summary")])},
        "/api/calls/{call_id}/ticket": {"post": _op(
            "Write a ticket (留单) from a call", "supervisor, or the operator of the call's seat",
            {"201": _ok("the new ticket's number"), "400": _error("bad input"), "404": _error("no such call"),
             "409": _error("refused (unknown unit, call on another ticket...)")},
            parameters=[CALL_ID], requestBody=_body({"type": "object", "required": ["category", "summary", "unit"],
                                                     "properties": {
                "category": CATEGORY, "summary": {"type": "string", "maxLength": 500},
                "unit": {"type": "string", "description": "code, name or alias"},
                "citizen_name": {"type": "string", "maxLength": 50},
                "contact_number": {"type": "string", "maxLength": 32}, "address": {"type": "string",
                                                                                   "maxLength": 200},
                "confidential": {"type": "boolean", "description": "the citizen asks for secrecy (保密): the unit "
                                                                   "never sees their name, numbers or address"}}}))},
        "/api/tickets/{ticket_id}/calls": _move("Link another call about the same problem to the ticket",
                                                "supervisor, or the operator of the call's seat",
                                                _text_body("call_id", call_id=96)),
        "/api/tickets": {"get": _op("The ticket list: overdue first, working days left before each deadline "
                                    "(a confidential ticket's citizen fields are null)",
                                    "supervisor", {"200": _ok("a page of tickets"), "400": _error("a bad filter")},
                                    parameters=listing),
                         "post": _op(
            "Enter a ticket with no call: typed in by hand (channel manual, to the unit named) or a written "
            "message that came another way (mailbox, sms, forum: held by the intake unit, its response due)",
            "staff", {"201": _ok("the new ticket's number"), "400": _error("bad input"),
                      "409": _error("refused (unknown unit...)")},
            requestBody=_body({"type": "object", "required": ["channel", "category", "summary"], "properties": {
                "channel": {"type": "string", "enum": ["manual", "mailbox", "sms", "forum"]}, "category": CATEGORY,
                "summary": {"type": "string", "maxLength": 500},
                "unit": {"type": "string", "description": "manual: code, name or alias (required)"},
                "citizen_name": {"type": "string", "maxLength": 50},
                "contact_number": {"type": "string", "maxLength": 32},
                "address": {"type": "string", "maxLength": 200}, "confidential": {"type": "boolean"}}}))},
        "/api/tickets/awaiting-response": {"get": _op(
            "Written tickets no person has answered yet, soonest due first: channel, seconds_left, standing "
            "(waiting, nearing, late) against GB/T 33358's limits", "staff", {"200": _ok("tickets")})},
        "/api/tickets/{ticket_id}/respond": {"post": _op(
            "Respond to the citizen on a written ticket (an SMS is queued for the gateway; a mailbox or forum "
            "response shows on the status page); a person's first response stops the response clock", "staff",
            {"200": _ok("the message's id"), "400": _error("empty text, or a phone ticket"), **REFUSED},
            parameters=[TICKET_ID], requestBody=_text_body("text", text=2000))},
        "/api/tickets/forward": {"post": _op(
            "Forward several tickets at once (each on its own; the answer says which failed and why)",
            "supervisor", {"200": _ok("forwarded and failed"), "400": _error("bad input")},
            requestBody=_body({"type": "object", "required": ["ids"],
                               "properties": {"ids": {"type": "array", "items": {"type": "integer"}}}}))},
        "/api/tickets/{ticket_id}": {"get": _op(
            "One ticket: its calls, timeline (ticket_events) and callbacks; reading a confidential one is "
            "logged in its timeline (revealed)", "supervisor",
            {"200": _ok("the ticket"), "404": _error("no such ticket")}, parameters=[TICKET_ID])},
        "/api/tickets/{ticket_id}/forward": _move("Review and forward (转办) to the unit, or to another unit",
                                                  "supervisor", _text_body(unit=50, note=500)),
        "/api/tickets/{ticket_id}/merge": _move("Merge duplicate tickets into this one (their calls move)",
                                                "supervisor", _body({"type": "object", "required": ["others"],
                                                                     "properties": {"others": {
                                                                         "type": "array",
                                                                         "items": {"type": "integer"}}}})),
        "/api/tickets/{ticket_id}/close": _move("Close a replied ticket (办结)", "supervisor", _text_body(note=500)),
        "/api/tickets/{ticket_id}/reopen": _move("Reopen a replied or closed ticket (a new deadline)", "supervisor",
                                                 _text_body("reason", reason=500)),
        "/api/tickets/{ticket_id}/return": _move("Return an open ticket to its operator with a note", "supervisor",
                                                 _text_body("note", note=500)),
        "/api/tickets/{ticket_id}/urge": _move("Urge (督办) the unit on a ticket in progress", "supervisor",
                                               _text_body(note=500)),
        "/api/tickets/{ticket_id}/extension": _move(
            "Grant or refuse the unit's request for more time (a grant moves the deadline)", "supervisor",
            _body({"type": "object", "required": ["grant"], "properties": {
                "grant": {"type": "boolean"}, "days": {"type": "integer", "minimum": 1, "maximum": 30}}})),
        "/api/tickets/{ticket_id}/confidential": _move(
            "Make the ticket confidential (保密) or clear it: a confidential ticket's unit never sees the citizen's "
            "name, numbers or address", "supervisor",
            _body({"type": "object", "required": ["confidential"], "properties": {
                "confidential": {"type": "boolean"}, "note": {"type": "string", "maxLength": 500}}})),
        "/api/unit/tickets": {"get": _op("My unit's tickets (forwarded to it, replied, closed)", "unit",
                                         {"200": _ok("a page of tickets")},
                                         parameters=[_query("state", "all (default), in_hand, forwarded, "
                                                                     "reopened, replied or closed"),
                                                     _query("overdue", "1: only overdue ones"),
                                                     _query("page", "1-based page"),
                                                     _query("per_page", "1-100, default 20")])},
        "/api/unit/tickets/{ticket_id}": {"get": _op(
            "One of my unit's tickets: the matter, the citizen's contact (of a confidential one, none: "
            "contact_note says to go through the hotline), the deadline, the timeline", "unit",
            {"200": _ok("the ticket"), "404": _error("no such ticket for this unit")}, parameters=[TICKET_ID])},
        "/api/unit/tickets/{ticket_id}/reply": _move("Reply (答复) to the ticket", "unit",
                                                     _text_body("text", text=4000)),
        "/api/unit/tickets/{ticket_id}/extension": _move(
            "Ask for more time, with the reason", "unit",
            _body({"type": "object", "required": ["days", "reason"], "properties": {
                "days": {"type": "integer", "minimum": 1, "maximum": 30},
                "reason": {"type": "string", "maxLength": 500}}})),
        "/api/unit/tickets/{ticket_id}/return": _move("Return a ticket that is not this unit's business", "unit",
                                                      _text_body("reason", reason=500)),
    }
