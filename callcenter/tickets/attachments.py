"""The files a unit attaches to its reply (附件): what a file may be, what its name may
say, where it is kept, and the one operation that records the files of an upload.

A file's type is read from its first bytes (PDF, JPEG, PNG), never from its name or the
browser's word for it. It is received into a temporary file in the ticket's own folder
and renamed into place only once it is whole and checked, so a refused or broken-off
upload leaves nothing behind; the name the clerk gave it is kept only as text to show.

    <state_dir>/attachments/<ticket_id>/<32 hex digits>.<pdf|jpg|png>     (mode 0600)
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from callcenter.clock import iso_local
from callcenter.settings import Settings
from callcenter.store import Row, Store
from callcenter.tickets.repository import AttachmentRepository, AttachmentTables
from callcenter.tickets.states import WITH_UNIT, TicketError
from callcenter.vocabulary import TICKET_STATE_LABELS, TicketState

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # a file
MAX_PER_REPLY = 5  # the files of one reply: those uploaded since the unit was given the ticket
NAME_MAX = 120
CHUNK = 64 * 1024
FOLDER = "attachments"
PARTIAL = ".upload-"  # a file being received: `.upload-<random>.part`


@dataclass(frozen=True)
class Kind:
    content_type: str
    extension: str
    magic: bytes


KINDS = (
    Kind("application/pdf", "pdf", b"%PDF-"),
    Kind("image/jpeg", "jpg", b"\xff\xd8\xff"),
    Kind("image/png", "png", b"\x89PNG\r\n\x1a\n"),
)
MAGIC_MAX = max(len(kind.magic) for kind in KINDS)
STORED_NAME = re.compile(r"[0-9a-f]{32}\.(pdf|jpg|png)")


class AttachmentError(TicketError):
    """A file refused: the message says why, in words a clerk can act on."""


class BadName(AttachmentError):
    pass


class BadType(AttachmentError):
    pass


class TooLarge(AttachmentError):
    pass


class TooMany(AttachmentError):
    pass


class NotYours(AttachmentError):
    """A ticket that is not with this unit (403)."""


class NoSuchTicket(AttachmentError):
    """No such ticket (404)."""


def kind_of(head: bytes) -> Kind | None:
    """The file's kind by its magic bytes, or None."""
    return next((kind for kind in KINDS if head.startswith(kind.magic)), None)


def display_name(raw: str | None) -> str:
    """The name the clerk's file had, fit to show: refused (BadName) when it climbs out
    of a folder, names one, holds control characters or is longer than 120 characters.
    Nothing is silently cut: a name that is refused is refused whole."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    if not name:
        raise BadName("文件没有名称 (the file has no name)")
    if "../" in name or "..\\" in name or name == "..":
        raise BadName(f"文件名不能包含“../”：{name[:60]!r} (a name may not climb out of a folder)")
    if "/" in name or "\\" in name:
        raise BadName(f"文件名不能包含“/”或“\\”：{name[:60]!r} (a name may not name a folder)")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise BadName("文件名不能包含控制字符 (the name holds control characters)")
    if len(name) > NAME_MAX:
        raise BadName(f"文件名最多 {NAME_MAX} 个字符，此文件名有 {len(name)} 个 (the name is too long)")
    if name == ".":
        raise BadName("文件名无效 (bad file name)")
    return name


def public(row: Row) -> dict[str, Any]:
    """What the ticket's JSON says of an attachment (never where it is stored)."""
    return {"attachment_id": row["id"], "name": row["display_name"], "content_type": row["content_type"],
            "size": row["size"], "sha256": row["sha256"], "uploaded_by": row["uploaded_by"],
            "unit": row["unit"], "uploaded": row["uploaded"]}


class Received:
    """One file of an upload, received chunk by chunk: nothing is written until its
    first bytes show a kind we take; the size cap holds while it is read. `discard`
    removes whatever is on disk unless the file was `placed`."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name
        self.size = 0
        self.kind: Kind | None = None
        self._head = b""
        self._digest = hashlib.sha256()
        self._file: BinaryIO | None = None
        self.partial: Path | None = None
        self.placed: Path | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > MAX_BYTES:
            raise TooLarge(f"“{self.name}”超过 {MAX_BYTES // (1024 * 1024)} MB，请压缩后再上传 (file too large)")
        self._digest.update(chunk)
        file = self._file
        if file is None:
            self._head += chunk
            if len(self._head) < MAGIC_MAX:
                return
            file = self._open()
            chunk, self._head = self._head, b""
        file.write(chunk)

    def _open(self) -> BinaryIO:
        self.kind = kind_of(self._head)
        if self.kind is None:
            raise BadType(f"“{self.name}”不是 PDF、JPEG 或 PNG 文件（按文件内容判断，与扩展名无关）"
                          " (only PDF, JPEG and PNG files are taken, judged by their content)")
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.partial = self.folder / f"{PARTIAL}{secrets.token_hex(8)}.part"
        descriptor = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        self._file = os.fdopen(descriptor, "wb")
        return self._file

    def finish(self) -> None:
        """The file is whole: checked (a file shorter than any magic is still judged) and flushed."""
        file = self._file
        if file is None:
            if self.size == 0:
                raise BadType(f"“{self.name}”是空文件 (the file is empty)")
            file = self._open()
            file.write(self._head)
            self._head = b""
        file.flush()
        os.fsync(file.fileno())
        file.close()
        self._file = None

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def place(self) -> str:
        """Rename the finished file into place; its stored name."""
        assert self.partial is not None and self.kind is not None and self._file is None
        stored = f"{secrets.token_hex(16)}.{self.kind.extension}"
        target = self.folder / stored
        os.rename(self.partial, target)
        self.placed, self.partial = target, None
        return stored

    def unplace(self) -> None:
        """Take a placed file away again (its row was not written)."""
        if self.placed is not None:
            self.placed.unlink(missing_ok=True)
            self.placed = None

    def discard(self) -> None:
        """Remove the half-received file, if any (a placed one is the store's to keep)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.partial is not None:
            self.partial.unlink(missing_ok=True)
            self.partial = None


class TicketAttachments:
    """The attachments of tickets: receiving a unit's files, listing and finding them."""

    def __init__(self, root: Path, repository: AttachmentRepository, settings: Settings) -> None:
        self.root = root
        self.repository = repository
        self.settings = settings

    @classmethod
    def on(cls, settings: Settings, store: Store) -> TicketAttachments:
        return cls(settings.paths.state_dir / FOLDER, AttachmentRepository(store), settings)

    def folder(self, ticket_id: int) -> Path:
        return self.root / str(ticket_id)

    def path_of(self, row: Row) -> Path:
        stored = str(row["stored_name"])
        if not STORED_NAME.fullmatch(stored):  # the row is ours, but a path is never built from unchecked text
            raise AttachmentError(f"attachment {row['id']} has a bad stored name")
        return self.folder(_whole(row["ticket_id"])) / stored

    def receive(self, ticket_id: int, raw_name: str | None) -> Received:
        return Received(self.folder(ticket_id), display_name(raw_name))

    async def check_open(self, ticket_id: int, unit: str) -> None:
        """Refuse early (before a byte is read) what `record` would refuse anyway."""
        row = await self.repository.ticket(ticket_id)
        _check_ticket(row, ticket_id, unit)

    async def record(self, ticket_id: int, unit: str, actor: str, files: Sequence[Received]) -> list[dict[str, Any]]:
        """Place the received files and record them, all or none, while the unit has the
        ticket and this reply holds at most 5 files. Their public descriptions."""
        now = time.time()
        at = iso_local(now, self.settings.zone)

        def write(tables: AttachmentTables) -> list[dict[str, Any]]:
            row = tables.ticket(ticket_id)
            _check_ticket(row, ticket_id, unit)
            assert row is not None
            already = tables.attachments_since(ticket_id, _number(row["state_since_epoch"]))
            if already + len(files) > MAX_PER_REPLY:
                raise TooMany(f"一次答复最多 {MAX_PER_REPLY} 个附件，本次答复已有 {already} 个"
                              f" (at most {MAX_PER_REPLY} files a reply)")
            ids = []
            try:
                for received in files:
                    assert received.kind is not None
                    ids.append(tables.add_attachment({
                        "ticket_id": ticket_id, "stored_name": received.place(), "display_name": received.name,
                        "content_type": received.kind.content_type, "size": received.size,
                        "sha256": received.sha256, "uploaded_by": actor, "unit": unit, "uploaded": at,
                        "uploaded_epoch": now}))
                # Every step a person takes is in the ticket's history, who and when.
                tables.add_event(ticket_id, at, now, "attached", str(row["state"]), actor,
                                 {"unit": unit, "files": [received.name for received in files]})
            except BaseException:  # the transaction rolls back: so do the renames
                for received in files:
                    received.unplace()
                raise
            return [public(r) for r in tables.attachments(ticket_id) if r["id"] in ids]

        described = await self.repository.write(write)
        log.info("tickets: %s attached %d file(s) to ticket %d", actor, len(files), ticket_id)
        return described

    async def listing(self, ticket_id: int) -> list[dict[str, Any]]:
        return [public(row) for row in await self.repository.of_ticket(ticket_id)]

    async def find(self, ticket_id: int, attachment_id: int) -> Row | None:
        """The attachment with the unit its ticket is with now (`ticket_unit`), or None."""
        return await self.repository.one(ticket_id, attachment_id)

    def sweep(self) -> int:
        """Remove files left half-received by a process that stopped mid-upload; how many."""
        removed = 0
        for path in self.root.glob(f"*/{PARTIAL}*.part"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed


def _whole(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _check_ticket(row: Row | None, ticket_id: int, unit: str) -> None:
    if row is None or row["merged_into"] is not None:
        raise NoSuchTicket(f"no ticket {ticket_id}")
    if row["unit"] != unit:
        raise NotYours(f"ticket {ticket_id} is not with unit {unit}")
    state = TicketState(str(row["state"]))
    if state not in WITH_UNIT:
        raise AttachmentError(
            f"工单 {ticket_id} 当前状态为“{TICKET_STATE_LABELS[state]}”，只有在办（已转办或重新办理）的工单才能上传附件"
            f" (files can be attached only while the unit has the ticket: {' or '.join(sorted(WITH_UNIT))})")

