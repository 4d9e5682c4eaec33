"""The schema: every table of the store, built by numbered migrations.

The version lives in `PRAGMA user_version`; migration i brings a database from version i
to i + 1, and the store runs the missing ones in one transaction when it opens a file.
A released migration is never edited: a change is a new one appended. CHECK constraints
are built from `callcenter.vocabulary`, so the database refuses a word the code does not
know.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

from callcenter.vocabulary import CallbackResult, Category, Outcome, Satisfaction, TicketState, sql_among


def _v1(db: Database) -> None:
    outcomes = sql_among(Outcome)
    for sql in (
        f"""CREATE TABLE calls (
            call_id TEXT PRIMARY KEY,
            caller_number TEXT,
            caller_name TEXT,
            arrived TEXT,
            answered TEXT,
            queued TEXT,
            seat_answered TEXT,
            ended TEXT,
            arrived_epoch REAL,
            wait_seconds INTEGER,
            talk_seconds INTEGER,
            total_seconds INTEGER,
            outcome TEXT CHECK (outcome IN ({outcomes})),
            hangup_cause TEXT,
            seat TEXT,
            shift TEXT,
            category TEXT,
            nuisance INTEGER,
            recording_path TEXT,
            recording_seconds REAL,
            queue_seq INTEGER,
            priority INTEGER DEFAULT 0,
            state TEXT
        )""",
        "CREATE INDEX calls_arrived ON calls(arrived_epoch)",
        # Composite indexes serve the filter and the newest-first order in one walk.
        "CREATE INDEX calls_number ON calls(caller_number, arrived_epoch)",
        "CREATE INDEX calls_seat ON calls(seat, arrived_epoch)",
        "CREATE INDEX calls_outcome ON calls(outcome, arrived_epoch)",
        "CREATE INDEX calls_ended ON calls(ended)",
        "CREATE INDEX calls_queue_seq ON calls(queue_seq)",
        "CREATE INDEX calls_open ON calls(queue_seq, arrived_epoch) WHERE state IS NOT 'done'",
        """CREATE TABLE call_events (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL,
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            kind TEXT NOT NULL,
            seat TEXT,
            data TEXT
        )""",
        "CREATE INDEX call_events_call ON call_events(call_id, id)",
        "CREATE INDEX call_events_at ON call_events(at_epoch)",
        """CREATE TABLE seats (
            seat TEXT PRIMARY KEY,
            logged_in INTEGER,
            paused INTEGER,
            pause_reason TEXT,
            state TEXT,
            state_since TEXT,
            state_since_epoch REAL,
            last_call_end_epoch REAL,
            registered INTEGER
        )""",
    ):
        db.execute(sql)


def _v2_nuisance(db: Database) -> None:
    """Nuisance numbers: every flag, clear and operator mark, with who, when, why."""
    for sql in (
        "ALTER TABLE calls ADD COLUMN nuisance_rule TEXT",
        """CREATE TABLE nuisance_events (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('flag', 'clear', 'mark')),
            rule TEXT,
            reason TEXT,
            by TEXT,
            call_id TEXT,
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            expires_epoch REAL
        )""",
        "CREATE INDEX nuisance_events_number ON nuisance_events(number, at_epoch)",
        "CREATE INDEX nuisance_events_flags ON nuisance_events(expires_epoch) WHERE action = 'flag'",
    ):
        db.execute(sql)


def _v3_tickets(db: Database) -> None:
    """Tickets (留单): the ticket, the calls merged into it, its history, and the
    callbacks to the citizen (回访) with their satisfaction."""

    for sql in (
        f"""CREATE TABLE tickets (
            ticket_id INTEGER PRIMARY KEY,
            created TEXT NOT NULL,
            created_epoch REAL NOT NULL,
            category TEXT NOT NULL CHECK (category IN ({sql_among(Category)})),
            summary TEXT NOT NULL,
            unit TEXT NOT NULL,
            unit_name TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ({sql_among(TicketState)})),
            state_since TEXT NOT NULL,
            state_since_epoch REAL NOT NULL,
            operator TEXT,
            caller_number TEXT,
            deadline TEXT NOT NULL,
            deadline_epoch REAL NOT NULL,
            deadline_estimated INTEGER NOT NULL DEFAULT 0,
            forwarded TEXT,
            forwarded_epoch REAL,
            reply TEXT,
            reply_by TEXT,
            replied TEXT,
            replied_epoch REAL,
            closed TEXT,
            closed_epoch REAL,
            reopen_count INTEGER NOT NULL DEFAULT 0,
            satisfaction TEXT CHECK (satisfaction IN ({sql_among(Satisfaction)})),
            callback_attempts INTEGER NOT NULL DEFAULT 0,
            merged_into INTEGER REFERENCES tickets(ticket_id)
        )""",
        "CREATE INDEX tickets_created ON tickets(created_epoch)",
        "CREATE INDEX tickets_state ON tickets(state, deadline_epoch)",
        "CREATE INDEX tickets_unit ON tickets(unit, created_epoch)",
        # A call belongs to at most one ticket: merging moves it, never copies it.
        """CREATE TABLE ticket_calls (
            call_id TEXT PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(ticket_id),
            linked TEXT NOT NULL,
            linked_epoch REAL NOT NULL
        )""",
        "CREATE INDEX ticket_calls_ticket ON ticket_calls(ticket_id)",
        """CREATE TABLE ticket_events (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(ticket_id),
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            actor TEXT,
            data TEXT
        )""",
        "CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id)",
        f"""CREATE TABLE ticket_callbacks (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(ticket_id),
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            result TEXT NOT NULL CHECK (result IN ({sql_among(CallbackResult)})),
            satisfaction TEXT CHECK (satisfaction IN ({sql_among(Satisfaction)})),
            call_id TEXT,
            actor TEXT,
            note TEXT
        )""",
        "CREATE INDEX ticket_callbacks_ticket ON ticket_callbacks(ticket_id, id)",
    ):
        db.execute(sql)


# Index i brings a database from version i to i + 1. Append; never edit a released one.
MIGRATIONS: tuple[Callable[[Database], None], ...] = (_v1, _v2_nuisance, _v3_tickets)
SCHEMA_VERSION = len(MIGRATIONS)
