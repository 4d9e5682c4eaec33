"""The console's JSON API as an OpenAPI 3.1 document, written by hand. A test checks that
every /api route the app registers is here and that the pages' scripts call only these."""

from __future__ import annotations

from typing import Any

from callcenter.vocabulary import CATEGORY_ORDER, Outcome

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
                    "recording_seconds": {"type": ["number", "null"]}, "has_recording": {"type": "boolean"}}},
                "Floor": {"type": "object", "properties": {
                    "at": {"type": "number"}, "in_ivr": {"type": "integer"},
                    "waiting": {"type": "array", "items": {"type": "object"}},
                    "seats": {"type": "array", "items": {"type": "object"}}}},
                "Figures": {"type": "object", "properties": {
                    "calls": {"type": "integer"}, "answered": {"type": "integer"}, "abandoned": {"type": "integer"},
                    "average_wait": {"type": "number"}, "service_level": {"type": ["number", "null"]},
                    "service_level_seconds": {"type": "integer"}}},
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
            "/api/calls/{call_id}/recording": {"get": _op(
                "The call's recording (audio/wav; Range requests answered with 206)", "supervisor",
                {"200": {"description": "the WAV file", "content": {"audio/wav": {}}},
                 "206": {"description": "part of it", "content": {"audio/wav": {}}},
                 "404": _error("no recording")},
                parameters=[CALL_ID, _query("download", "1: as an attachment")])},
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
                "The call on my seat now (or the last one), the caller's earlier calls, my seat's state",
                "operator", {"200": _ok("my seat")})},
            "/api/operator/pause": {"post": _op(
                "Pause or unpause my seat", "operator", {"200": _ok("applied")},
                requestBody=_body({"type": "object", "required": ["paused"], "properties": {
                    "paused": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 100}}}))},
        },
    }
