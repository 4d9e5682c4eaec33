"""Every SQL statement of the public site: the rate limit's hits (`public_form_hits`),
the few columns of a ticket its status page may show, and the published cases it
reads (written by the staff's side). It never writes a ticket: that is `TicketService`."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.store import Database, Row, Store

# The kinds of hit counted per address, kept apart in `public_form_hits.address`.
FORM = "form"
LOOKUP = "lookup"

# A published case is live: published and not withdrawn.
_LIVE = "published_epoch IS NOT NULL AND withdrawn_epoch IS NULL"
_CASE_COLUMNS = "case_id, title, body, unit_name, category, published, published_epoch, updated_epoch"


@dataclass(frozen=True)
class TicketStatus:
    """What a citizen holding the query code may read of a ticket; nothing else is selected."""

    ticket_id: int
    query_code_hash: str | None
    state: str
    received: str | None
    created: str
    reply: str | None
    replied: str | None
    unit_name: str
    responses: tuple[tuple[str, str], ...]  # (when, text) of the public messages to the citizen


class PublicRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- the rate limit --------------------------------------------------------------

    async def admit(self, kind: str, address: str, now: float, limit: int, window: float) -> float | None:
        """Count a hit of `kind` from `address` unless it has had `limit` in the last
        `window` seconds: None when counted, else the seconds until the oldest one leaves
        the window. One transaction: two requests at once cannot both take the last place."""
        key = f"{kind} {address}"

        def decide(db: Database) -> float | None:
            db.execute("DELETE FROM public_form_hits WHERE address = ? AND at_epoch <= ?", [key, now - window])
            times = [float(row[0]) for row in db.execute(
                "SELECT at_epoch FROM public_form_hits WHERE address = ? ORDER BY at_epoch", [key]).fetchall()]
            if len(times) >= limit:
                return max(1.0, times[len(times) - limit] + window - now)
            db.execute("INSERT INTO public_form_hits (address, at_epoch) VALUES (?, ?)", [key, now])
            return None

        return await self.store.transaction(decide)

    async def waiting(self, kind: str, address: str, now: float, limit: int, window: float) -> float | None:
        """Like `admit` without counting: the seconds to wait, or None when a hit would be admitted."""
        key = f"{kind} {address}"

        def read(db: Database) -> float | None:
            times = [float(row[0]) for row in db.execute(
                "SELECT at_epoch FROM public_form_hits WHERE address = ? AND at_epoch > ? ORDER BY at_epoch",
                [key, now - window]).fetchall()]
            return max(1.0, times[len(times) - limit] + window - now) if len(times) >= limit else None

        return await self.store.reading(read)

    async def hits(self, kind: str, address: str) -> int:
        return await self.store.reading(lambda db: int(db.execute(
            "SELECT count(*) FROM public_form_hits WHERE address = ?", [f"{kind} {address}"]).fetchone()[0]))

    async def prune(self, before: float) -> int:
        """Delete the hits older than `before` (past every window); how many."""
        return await self.store.transaction(
            lambda db: db.execute("DELETE FROM public_form_hits WHERE at_epoch < ?", [before]).rowcount)

    # --- a ticket's status -----------------------------------------------------------

    async def status(self, ticket_id: int) -> TicketStatus | None:
        def read(db: Database) -> TicketStatus | None:
            row = db.execute(
                "SELECT ticket_id, query_code_hash, state, received, created, reply, replied, unit_name"
                " FROM tickets WHERE ticket_id = ?", [ticket_id]).fetchone()
            if row is None:
                return None
            responses = tuple((str(at), str(body)) for at, body in db.execute(
                "SELECT at, body FROM ticket_messages WHERE ticket_id = ? AND direction = 'out' AND public = 1"
                " ORDER BY at_epoch, id", [ticket_id]).fetchall())
            return TicketStatus(int(row[0]), row[1], str(row[2]), row[3], str(row[4]), row[5], row[6],
                                str(row[7]), responses)

        return await self.store.snapshot(read)

    # --- published cases -------------------------------------------------------------

    async def cases(self, limit: int, offset: int = 0) -> tuple[list[Row], int]:
        """The live cases, newest first, and how many there are."""
        def read(db: Database) -> tuple[list[Row], int]:
            total = int(db.execute(f"SELECT count(*) FROM published_cases WHERE {_LIVE}").fetchone()[0])
            rows = list(db.query(f"SELECT {_CASE_COLUMNS} FROM published_cases WHERE {_LIVE}"
                                 " ORDER BY published_epoch DESC, case_id DESC LIMIT ? OFFSET ?", [limit, offset]))
            return rows, total

        return await self.store.snapshot(read)

    async def case(self, case_id: int) -> Row | None:
        rows = await self.store.reading(lambda db: list(db.query(
            f"SELECT {_CASE_COLUMNS} FROM published_cases WHERE case_id = ? AND {_LIVE}", [case_id])))
        return rows[0] if rows else None

    async def add_case_for_tests(self, row: Row) -> int:
        """A published case written directly (the staff's side publishes them; tests of
        this site need one without it)."""
        def write(db: Database) -> int:
            cursor = db.execute(
                f"INSERT INTO published_cases ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})"
                " RETURNING case_id", list(row.values()))
            return int(cursor.fetchone()[0])

        return await self.store.transaction(write)
