"""Recordings in the console: a call's recording, played or downloaded by a supervisor,
and the log of every such access (录音调阅记录), which only supervisors read.

Each listening is written to `recording_access` with who, when, from where and how,
once however many Range requests the player makes (`callcenter.recordings.access`). A
recording deleted past the retention period answers 410 with the reason."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from callcenter.clock import iso_local
from callcenter.recordings.files import servable_recording
from callcenter.recordings.repository import Access, AccessSearch
from callcenter.store import Row
from callcenter.users import ROLE_LABELS
from callcenter.vocabulary import RecordingUse
from callcenter.web.api import _call_id, _call_row, day_range, paging, reply
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, SUPERVISORS, add_route, session_of
from callcenter.web.openapi import CALL_ID, _error, _ok, _op, _query, describe

USER_MAX = 64


async def recording(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    row = await _call_row(console, _call_id(request))
    if row.get("recording_pruned"):
        refuse(web.HTTPGone, "录音已过保存期删除 (the recording was deleted after the retention period)")
    path = await asyncio.to_thread(servable_recording, console.settings.paths.recordings_dir,
                                   str(row.get("recording_path") or ""))
    if path is None:
        refuse(web.HTTPNotFound, "没有可播放的录音 (no recording for this call)")
    use = RecordingUse.DOWNLOAD if request.query.get("download") == "1" else RecordingUse.PLAY
    _log_access(request, str(row["call_id"]), path, use)
    # A recording is the WAV Asterisk wrote, or the MP3 it was compressed into after the call.
    kind = "audio/mpeg" if path.suffix == ".mp3" else "audio/wav"
    headers = {"Content-Type": kind, "Cache-Control": "private, no-store"}
    if use is RecordingUse.DOWNLOAD:
        headers["Content-Disposition"] = f'attachment; filename="{path.name}"'  # the name passed a strict pattern
    # FileResponse answers Range requests (206), which the audio element needs to seek.
    return web.FileResponse(path, headers=headers)


def _log_access(request: web.Request, call_id: str, path: Path, use: RecordingUse) -> None:
    console = request.app[CONSOLE]
    session = session_of(request)
    now = time.time()
    if console.listening.starts(session.user, call_id, use, now):
        console.services.recordings.log_access(Access(
            now, iso_local(now, console.settings.zone), session.user, session.role, call_id, path.name,
            request.remote, use))


def _entry(row: Row) -> dict[str, Any]:
    role = str(row.get("role") or "")
    return {"at": row.get("at"), "user": row.get("user"), "role": role, "role_label": ROLE_LABELS.get(role, role),
            "call_id": row.get("call_id"), "recording": row.get("recording"), "address": row.get("address"),
            "kind": row.get("kind")}


async def access_log(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    query = request.query
    since, until = day_range(console, query)
    page, per_page = paging(query)
    user = query.get("user", "").strip()
    if len(user) > USER_MAX or any(ch < " " or ch == "\x7f" for ch in user):
        refuse(web.HTTPBadRequest, f"user 须为不超过 {USER_MAX} 个字符的用户名 (user must be an account name)")
    rows, total = await console.services.recordings.access_log(
        AccessSearch(user, since, until, per_page, (page - 1) * per_page))
    return reply({"entries": [_entry(row) for row in rows], "total": total, "page": page, "per_page": per_page})


@describe
def recording_paths() -> dict[str, Any]:
    return {
        "/api/calls/{call_id}/recording": {"get": _op(
            "The call's recording (audio/wav; Range requests answered with 206). Each listening is written to "
            "the recording access log, once however many requests it takes", "supervisor",
            {"200": {"description": "the WAV file", "content": {"audio/wav": {}}},
             "206": {"description": "part of it", "content": {"audio/wav": {}}},
             "404": _error("no recording"),
             "410": _error("the recording was deleted after the retention period (recordings.retention_days)")},
            parameters=[CALL_ID, _query("download", "1: as an attachment")])},
        "/api/recordings/access": {"get": _op(
            "The recording access log (录音调阅记录): who played or downloaded which call's recording, when and "
            "from which address, newest first", "supervisor",
            {"200": _ok("a page of entries", {"type": "object", "properties": {
                "entries": {"type": "array", "items": {"type": "object", "properties": {
                    "at": {"type": "string"}, "user": {"type": "string"}, "role": {"type": "string"},
                    "role_label": {"type": "string"}, "call_id": {"type": "string"},
                    "recording": {"type": "string"}, "address": {"type": ["string", "null"]},
                    "kind": {"type": "string", "enum": [str(use) for use in RecordingUse]}}}},
                "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}}}),
             "400": _error("a bad filter")},
            parameters=[_query("user", "one account's name (exact)"),
                        _query("from", "first day (YYYY-MM-DD, the hotline's time zone)",
                               {"type": "string", "format": "date"}),
                        _query("to", "last day, inclusive", {"type": "string", "format": "date"}),
                        _query("page", "1-based page", {"type": "integer", "minimum": 1}),
                        _query("per_page", "entries a page (1-100, default 20)",
                               {"type": "integer", "minimum": 1, "maximum": 100})])},
    }


def add_recording_routes(app: web.Application) -> None:
    add_route(app, "GET", "/api/calls/{call_id}/recording", recording, SUPERVISORS)
    add_route(app, "GET", "/api/recordings/access", access_log, SUPERVISORS)
