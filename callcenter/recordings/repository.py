"""The recordings' SQL: who fetched which recording (`recording_access`), and which calls'
recordings are past the retention period (`calls`, `ticket_calls`, `tickets`). Marking
a recording deleted goes through the calls' own repository."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.store import Database, Row, Store, clean_text, iso_second
from callcenter.store.filters import epoch_range
from callcenter.vocabulary import IN_PROGRESS, RecordingUse, sql_among

# A call on a ticket still being handled keeps its recording: the unit or a review may need it.
_ON_TICKET_IN_PROGRESS = (
    "EXISTS (SELECT 1 FROM ticket_calls tc JOIN tickets t ON t.ticket_id = tc.ticket_id"
    f" WHERE tc.call_id = c.call_id AND t.state IN ({sql_among(tuple(sorted(IN_PROGRESS)))}))")
_EXPIRED = ("c.arrived_epoch < ? AND coalesce(c.recording_path, '') != '' AND c.recording_pruned IS NULL")


@dataclass(frozen=True)
class Access:
    """One play or download of a recording by a member of staff."""

    at_epoch: float
    at: str  # local ISO-8601 with offset
    user: str
    role: str
    call_id: str
    recording: str  # the file's name
    address: str | None  # where the request came from
    kind: RecordingUse


@dataclass(frozen=True)
class AccessSearch:
    """The access log's filters: one user (exact name), a time range; newest first."""

    user: str = ""
    since_epoch: float | None = None
    until_epoch: float | None = None
    limit: int = 20
    offset: int = 0

    def where(self) -> tuple[str, list[object]]:
        clauses, params = epoch_range("at_epoch", self.since_epoch, self.until_epoch)
        if self.user:
            clauses.append("\"user\" = ?")  # quoted: PostgreSQL reserves the word
            params.append(self.user)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


@dataclass(frozen=True)
class Expired:
    """A call whose recording is past the retention period."""

    call_id: str
    recording_path: str
    arrived_epoch: float


@dataclass(frozen=True)
class Uncompressed:
    """A finished call whose recording is still the WAV Asterisk wrote."""

    call_id: str
    recording_path: str
    arrived_epoch: float = 0.0

    @property
    def place(self) -> tuple[float, str]:
        """Where it stands in the order candidates are read (`uncompressed(after=...)`)."""
        return (self.arrived_epoch, self.call_id)


_UNCOMPRESSED = ("c.recording_bytes IS NULL AND c.recording_compress_failed IS NULL AND c.state = 'done'"
                 " AND c.recording_status = 'ok' AND c.recording_pruned IS NULL AND c.recording_path LIKE '%.wav'")

_COMPRESS_FAILED = "recording_compress_failed IS NOT NULL AND recording_bytes IS NULL AND recording_pruned IS NULL"


def _rows(db: Database, sql: str, params: Sequence[object] = ()) -> list[Row]:
    return list(db.query(sql, list(params)))


class RecordingRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    def log_access(self, access: Access) -> None:
        """Append one line to the access log (committed with the next batch)."""
        self.store.queue_insert("recording_access", {
            "at": iso_second(access.at), "at_epoch": float(access.at_epoch), "user": clean_text(access.user),
            "role": clean_text(access.role), "call_id": clean_text(access.call_id),
            "recording": clean_text(access.recording),
            "address": None if access.address is None else clean_text(access.address), "kind": str(access.kind),
        })

    async def access_log(self, search: AccessSearch) -> tuple[list[Row], int]:
        """A page of the access log, newest first, and how many lines match."""
        where, params = search.where()

        def read(db: Database) -> tuple[list[Row], int]:
            total = db.execute(f"SELECT count(*) FROM recording_access{where}", params).fetchone()[0]
            rows = _rows(db, f"SELECT at, at_epoch, \"user\", role, call_id, recording, address, kind"
                             f" FROM recording_access{where} ORDER BY at_epoch DESC, id DESC LIMIT ? OFFSET ?",
                         [*params, search.limit, search.offset])
            return rows, int(total)

        return await self.store.snapshot(read)

    async def expired(self, before_epoch: float, after: tuple[float, str] = (float("-inf"), ""),
                      limit: int = 500) -> list[Expired]:
        """Calls that arrived before `before_epoch` with a recording not yet deleted, off
        any ticket in progress, oldest first, from just after `after` (arrival, call id)."""
        rows = await self.store.reading(lambda db: _rows(
            db, f"SELECT c.call_id, c.recording_path, c.arrived_epoch FROM calls c WHERE {_EXPIRED}"
                f" AND (c.arrived_epoch, c.call_id) > (?, ?) AND NOT {_ON_TICKET_IN_PROGRESS}"
                " ORDER BY c.arrived_epoch, c.call_id LIMIT ?", [before_epoch, *after, limit]))
        return [Expired(str(row["call_id"]), str(row["recording_path"]), float(str(row["arrived_epoch"])))
                for row in rows]

    async def uncompressed(self, limit: int, arrived_since: float = float("-inf"),
                           after: tuple[float, str] | None = None) -> list[Uncompressed]:
        """Finished calls whose recording (measured, ok) is still a WAV, oldest first: those
        since then, and older ones the prune keeps (on a ticket in progress); with `after`,
        only those past that place (arrival, call id) in this order."""
        # Two arms, so that the calls since then are a range of the arrival index and the
        # older ones are found from the tickets in progress, not by reading every call.
        past, past_args = "", []
        if after is not None:
            past = " AND (c.arrived_epoch > ? OR (c.arrived_epoch = ? AND c.call_id > ?))"
            past_args = [after[0], after[0], after[1]]
        rows = await self.store.reading(lambda db: _rows(
            db, f"SELECT c.call_id, c.recording_path, c.arrived_epoch FROM calls c WHERE {_UNCOMPRESSED}"
                f" AND c.arrived_epoch >= ?{past}"
                " UNION ALL SELECT c.call_id, c.recording_path, c.arrived_epoch FROM tickets t"
                " JOIN ticket_calls tc ON tc.ticket_id = t.ticket_id JOIN calls c ON c.call_id = tc.call_id"
                f" WHERE t.state IN ({sql_among(tuple(sorted(IN_PROGRESS)))}) AND {_UNCOMPRESSED}"
                f" AND c.arrived_epoch < ?{past} ORDER BY arrived_epoch, call_id LIMIT ?",
            [arrived_since, *past_args, arrived_since, *past_args, limit]))
        return [Uncompressed(str(row["call_id"]), str(row["recording_path"]), float(str(row["arrived_epoch"] or 0.0)))
                for row in rows]

    async def failed_compressions(self) -> int:
        """How many recordings ffmpeg could not compress (still there, as WAVs)."""
        return await self.store.reading(lambda db: int(db.execute(
            f"SELECT count(*) FROM calls WHERE {_COMPRESS_FAILED}").fetchone()[0]))

    async def retry_failed_compressions(self) -> int:
        """Forget why the recordings ffmpeg could not compress failed, so the next pass tries
        them again (after ffmpeg or the files were mended); how many."""
        return await self.store.transaction(lambda db: db.execute(
            f"UPDATE calls SET recording_compress_failed = NULL WHERE {_COMPRESS_FAILED}").rowcount)

    async def compressed_since(self, since_epoch: float) -> list[tuple[str, str]]:
        """(call id, recording path) of the calls since then whose recording was compressed."""
        rows = await self.store.reading(lambda db: _rows(
            db, "SELECT call_id, recording_path FROM calls WHERE arrived_epoch >= ? AND recording_bytes IS NOT NULL"
                " AND recording_pruned IS NULL", [since_epoch]))
        return [(str(row["call_id"]), str(row["recording_path"])) for row in rows]

    async def kept_for_tickets(self, before_epoch: float) -> int:
        """How many recordings past the retention period are kept because their call is
        on a ticket in progress."""
        return await self.store.reading(lambda db: int(db.execute(
            f"SELECT count(*) FROM calls c WHERE {_EXPIRED} AND {_ON_TICKET_IN_PROGRESS}",
            [before_epoch]).fetchone()[0]))
