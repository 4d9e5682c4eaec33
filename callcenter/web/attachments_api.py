"""The files of a unit's reply over HTTP: the unit uploads them (multipart, streamed),
the hotline's staff and the unit whose ticket it is download them.

The console takes request bodies of at most 256 KB (`client_max_size`, applied when a
handler reads the body whole). The upload route never does: it reads
`request.multipart()`, which streams, one chunk at a time, and holds each file to
10 MB while it reads, so a large upload neither fills memory nor lifts the cap of any
other route. (The CSRF token must come in its header: the gate would otherwise read the
form whole, and a body that large is refused.)

The reply page uploads the files first and posts the reply's text after: a refused file
is then told before the reply moves the ticket on (once replied, no file is taken), and
the reply stays the plain JSON operation every other client uses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from callcenter.store import Row
from callcenter.tickets.attachments import (
    CHUNK,
    MAX_BYTES,
    MAX_PER_REPLY,
    AttachmentError,
    BadName,
    BadType,
    NoSuchTicket,
    NotYours,
    Received,
    TicketAttachments,
    TooLarge,
    TooMany,
)
from callcenter.web.api import reply
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, STAFF, UNITS, Console, Roles, add_route, session_of
from callcenter.web.openapi import TICKET_ID, _error, _ok, _op, _path, describe
from callcenter.web.tickets_api import _ticket_id, _unit_of

log = logging.getLogger(__name__)

# Five files of 10 MB and their multipart headers: a longer body is refused before it is read.
MAX_UPLOAD = MAX_PER_REPLY * MAX_BYTES + 64 * 1024
FIELD = "file"

class PayloadTooLarge(web.HTTPClientError):
    """413 with our own message (aiohttp's HTTPRequestEntityTooLarge writes its own)."""

    status_code = 413


_STATUS: tuple[tuple[type[AttachmentError], type[web.HTTPException]], ...] = (
    (NoSuchTicket, web.HTTPNotFound), (NotYours, web.HTTPForbidden), (BadName, web.HTTPBadRequest),
    (BadType, web.HTTPUnsupportedMediaType),
    (TooLarge, PayloadTooLarge), (TooMany, web.HTTPConflict), (AttachmentError, web.HTTPConflict),
)


def _attachments(console: Console) -> TicketAttachments:
    return TicketAttachments.on(console.settings, console.services.store)


def _refuse(exc: AttachmentError) -> NoReturn:
    """An attachment refusal of the domain as HTTP, once."""
    status = next(status for kind, status in _STATUS if isinstance(exc, kind))
    if isinstance(exc, NotYours):
        refuse(status, "这不是本单位的工单，不能上传附件 (not your unit's ticket)")
    if isinstance(exc, NoSuchTicket):
        refuse(status, "没有这张工单 (no such ticket)")
    refuse(status, f"无法上传：{exc}" if type(exc) is AttachmentError else str(exc))


def _attachment_id(request: web.Request) -> int:
    text = request.match_info["attachment_id"]
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 2**53:
        refuse(web.HTTPBadRequest, "附件编号无效 (bad attachment number)")
    return int(text)


async def upload(request: web.Request) -> web.Response:
    """POST multipart/form-data with 1-5 parts named `file`: all are taken, or none."""
    console = request.app[CONSOLE]
    ticket_id, unit = _ticket_id(request), _unit_of(request)
    attachments = _attachments(console)
    received: list[Received] = []
    try:
        await attachments.check_open(ticket_id, unit)
        if request.content_type != "multipart/form-data":
            refuse(web.HTTPUnsupportedMediaType, "请以 multipart/form-data 上传文件 (send multipart/form-data)")
        if request.content_length is not None and request.content_length > MAX_UPLOAD:
            refuse(PayloadTooLarge, f"一次最多上传 {MAX_PER_REPLY} 个文件，每个不超过"
                   f" {MAX_BYTES // (1024 * 1024)} MB (upload too large)")
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != FIELD or part.filename is None:
                refuse(web.HTTPBadRequest, f"只接受名为 {FIELD} 的文件 (only file parts named {FIELD!r})")
            if len(received) == MAX_PER_REPLY:
                raise TooMany(f"一次最多上传 {MAX_PER_REPLY} 个附件 (at most {MAX_PER_REPLY} files a reply)")
            file = attachments.receive(ticket_id, part.filename)
            received.append(file)
            while chunk := await part.read_chunk(CHUNK):
                file.write(chunk)
            file.finish()
        if not received:
            refuse(web.HTTPBadRequest, "请选择要上传的文件 (no file in the upload)")
        described = await attachments.record(ticket_id, unit, session_of(request).user, received)
    except AttachmentError as exc:
        _refuse(exc)
    except HttpProcessingError as exc:
        # aiohttp's parser refuses a part's header itself, e.g. a file name holding control characters.
        refuse(web.HTTPBadRequest, f"上传内容格式不正确（文件名不能包含控制字符）(malformed upload: {exc.message})")
    finally:
        # Refused, broken off mid-stream (the read raises) or cancelled: no partial file stays.
        for file in received:
            file.discard()
    return reply({"ticket_id": ticket_id, "attachments": described}, status=201)


def _serve(console: Console, row: Row) -> web.StreamResponse:
    path = _attachments(console).path_of(row)
    if not path.is_file():
        log.error("tickets: attachment %s of ticket %s is missing its file %s", row["id"], row["ticket_id"], path)
        refuse(web.HTTPNotFound, "附件文件已丢失，请联系热线管理员 (the attachment's file is missing)")
    ascii_name = f"ticket{row['ticket_id']}-{row['id']}{path.suffix}"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(str(row['display_name']))}"
    return web.FileResponse(path, headers={"Content-Type": str(row["content_type"]),
                                           "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"})


async def staff_download(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    row = await _attachments(console).find(_ticket_id(request), _attachment_id(request))
    if row is None:
        refuse(web.HTTPNotFound, "没有这个附件 (no such attachment)")
    return _serve(console, row)


async def unit_download(request: web.Request) -> web.StreamResponse:
    """Only the unit the ticket is with now: another unit is told there is no such file."""
    console = request.app[CONSOLE]
    unit = _unit_of(request)
    row = await _attachments(console).find(_ticket_id(request), _attachment_id(request))
    if row is None:
        refuse(web.HTTPNotFound, "没有这个附件 (no such attachment)")
    if row["ticket_unit"] != unit:
        refuse(web.HTTPForbidden, "这不是本单位的工单，无权下载 (not your unit's ticket)")
    return _serve(console, row)


ROUTES: tuple[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]], Roles], ...] = (
    ("POST", "/api/unit/tickets/{ticket_id}/attachments", upload, UNITS),
    ("GET", "/api/unit/tickets/{ticket_id}/attachments/{attachment_id}", unit_download, UNITS),
    ("GET", "/api/tickets/{ticket_id}/attachments/{attachment_id}", staff_download, STAFF),
)


def add_attachment_routes(app: web.Application) -> None:
    for method, path, handler, roles in ROUTES:
        add_route(app, method, path, handler, roles)

    async def sweep(app: web.Application) -> None:
        removed = _attachments(app[CONSOLE]).sweep()
        if removed:
            log.warning("tickets: removed %d half-received attachment file(s) left by an earlier run", removed)

    app.on_startup.append(sweep)


ATTACHMENT_ID = _path("attachment_id", "the attachment's number (from the ticket's `attachments`)")
_FILE = {"description": "the file (Content-Disposition: attachment)",
         "content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}


@describe
def attachment_paths() -> dict[str, Any]:
    return {
        "/api/unit/tickets/{ticket_id}/attachments": {"post": _op(
            "Attach 1-5 files (PDF, JPEG, PNG by content; 10 MB each; 5 a reply) to my unit's ticket in hand",
            "unit", {"201": _ok("the files recorded"), "400": _error("a bad name or no file"),
                     "404": _error("no such ticket for this unit"), "409": _error("not in hand, or too many"),
                     "413": _error("a file over 10 MB"), "415": _error("not a PDF, JPEG or PNG")},
            parameters=[TICKET_ID], requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "properties": {"file": {"type": "array", "maxItems": MAX_PER_REPLY,
                                                          "items": {"type": "string", "format": "binary"}}}}}}})},
        "/api/unit/tickets/{ticket_id}/attachments/{attachment_id}": {"get": _op(
            "Download an attachment of my unit's ticket", "unit",
            {"200": _FILE, "404": _error("no such attachment for this unit")}, parameters=[TICKET_ID, ATTACHMENT_ID])},
        "/api/tickets/{ticket_id}/attachments/{attachment_id}": {"get": _op(
            "Download an attachment of a ticket", "supervisor, operator",
            {"200": _FILE, "404": _error("no such attachment")}, parameters=[TICKET_ID, ATTACHMENT_ID])},
    }

