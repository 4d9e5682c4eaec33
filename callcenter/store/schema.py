"""The schema: every table of the store, built by numbered migrations.

The version lives in `PRAGMA user_version`; migration i brings a database from version i
to i + 1, and the store runs the missing ones in one transaction when it opens a file.
A released migration is never edited: a change is a new one appended. CHECK constraints
are built from `callcenter.vocabulary`, so the database refuses a word the code does not
know.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlite_utils import Database

from callcenter.vocabulary import (
    CallbackResult,
    Category,
    Channel,
    Outcome,
    RecordingUse,
    Satisfaction,
    TicketState,
    sql_among,
)


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


def _v4_ticket_desk(db: Database) -> None:
    """The tickets desk: who the citizen is and how they reached the hotline, who a
    returned ticket waits on, a unit's pending request for more time, the urgings (督办),
    the indexes of the console's list, and the words of each summary for similar-ticket
    suggestions (`callcenter.tickets.search` says why they are cut by jieba in Python).
    Existing tickets get their words here, so suggestions cover them from the start."""
    # Imported here, not at the top: the tickets package imports the store.
    from callcenter.tickets.search import index_text

    for sql in (
        "ALTER TABLE tickets ADD COLUMN citizen_name TEXT",
        "ALTER TABLE tickets ADD COLUMN contact_number TEXT",
        "ALTER TABLE tickets ADD COLUMN address TEXT",
        f"ALTER TABLE tickets ADD COLUMN channel TEXT NOT NULL DEFAULT 'phone'"
        f" CHECK (channel IN ({sql_among(Channel)}))",
        # Who the ticket waits on after a return: the operator (sent back by the
        # supervisor) or the supervisor (returned by the unit as not its business).
        "ALTER TABLE tickets ADD COLUMN returned_to TEXT CHECK (returned_to IN ('operator', 'supervisor'))",
        "ALTER TABLE tickets ADD COLUMN pending_extension_days INTEGER",
        "ALTER TABLE tickets ADD COLUMN pending_extension_reason TEXT",
        "ALTER TABLE tickets ADD COLUMN urge_count INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE tickets ADD COLUMN last_urged_epoch REAL",
        "UPDATE tickets SET contact_number = caller_number",
        "CREATE INDEX tickets_state_unit ON tickets(state, unit, created_epoch)",
        "CREATE INDEX tickets_caller ON tickets(caller_number, created_epoch)",
        "CREATE INDEX tickets_contact ON tickets(contact_number, created_epoch)",
        "CREATE INDEX tickets_returned ON tickets(returned_to, created_epoch) WHERE returned_to IS NOT NULL",
        "CREATE VIRTUAL TABLE ticket_search USING fts5(ticket_id UNINDEXED, tokens)",
    ):
        db.execute(sql)
    summaries: dict[int, list[str]] = {}
    for ticket_id, into, summary in db.execute(
            "SELECT ticket_id, merged_into, summary FROM tickets ORDER BY ticket_id").fetchall():
        summaries.setdefault(into if into is not None else ticket_id, []).append(summary)
    db.conn.executemany("INSERT INTO ticket_search (ticket_id, tokens) VALUES (?, ?)",
                        ((ticket_id, index_text(texts)) for ticket_id, texts in summaries.items()))


def _v5_ticket_attachments(db: Database) -> None:
    """The files a unit attaches to its reply: stored under `<state_dir>/attachments/
    <ticket_id>/<stored_name>`, the clerk's name for the file kept only as text to show.
    The types are written out here, not taken from the code: a type added later is a
    migration of its own."""
    for sql in (
        """CREATE TABLE ticket_attachments (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(ticket_id),
            stored_name TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            content_type TEXT NOT NULL CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
            size INTEGER NOT NULL CHECK (size > 0),
            sha256 TEXT NOT NULL,
            uploaded_by TEXT,
            unit TEXT NOT NULL,
            uploaded TEXT NOT NULL,
            uploaded_epoch REAL NOT NULL
        )""",
        "CREATE INDEX ticket_attachments_ticket ON ticket_attachments(ticket_id, uploaded_epoch)",
    ):
        db.execute(sql)


def _v6_answer_seconds(db: Database) -> None:
    """Seconds from a call's arrival to an operator's answer: what GB/T 33358's "answered
    within 15 seconds" measures (the queue wait alone leaves out the greeting). Filled
    for the calls already stored from their local times with offset, which SQLite reads."""
    for sql in (
        "ALTER TABLE calls ADD COLUMN answer_seconds INTEGER",
        "UPDATE calls SET answer_seconds = max(0, CAST(strftime('%s', seat_answered) AS INTEGER)"
        " - CAST(strftime('%s', arrived) AS INTEGER)) WHERE seat_answered IS NOT NULL AND arrived IS NOT NULL",
        "CREATE INDEX call_events_kind ON call_events(kind, at_epoch)",
    ):
        db.execute(sql)


def _v7_confidential_tickets(db: Database) -> None:
    """Confidential tickets (工单保密, GB/T 33358): the citizen asked that their name,
    numbers and address stay with the hotline; the responsible unit sees only the matter."""
    db.execute("ALTER TABLE tickets ADD COLUMN confidential INTEGER NOT NULL DEFAULT 0 CHECK (confidential IN (0, 1))")


def _v8_line_full_outcome(db: Database) -> None:
    """The outcome `line_full` (overload: told the line is full, never queued). SQLite
    cannot change a CHECK in place, so `calls` is rebuilt with the vocabulary's outcomes:
    the same columns and rows, its indexes made again (SQLite's documented table rebuild).
    A database made since the word exists has it already (the CHECK comes from the
    vocabulary), and is rebuilt all the same: harmless."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'calls'").fetchone()
    indexes = [str(r[0]) for r in db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'calls' AND sql IS NOT NULL")]
    create, count = re.subn(r"CHECK \(outcome IN \([^)]*\)\)", f"CHECK (outcome IN ({sql_among(Outcome)}))",
                            str(row[0]))
    if count != 1:
        raise RuntimeError("the calls table has no outcome CHECK to widen")
    # After a rename SQLite keeps the name quoted ("calls"): either spelling is taken.
    db.execute(re.sub(r'^CREATE TABLE\s+"?calls"?', "CREATE TABLE calls_rebuilt", create, count=1))
    db.execute("INSERT INTO calls_rebuilt SELECT * FROM calls")
    db.execute("DROP TABLE calls")
    db.execute("ALTER TABLE calls_rebuilt RENAME TO calls")
    for index in indexes:
        db.execute(index)


def _v9_console_sessions(db: Database) -> None:
    """Console sessions, so that a restart keeps people logged in: the token's SHA-256
    only (a copy of the database opens no session), ended sessions marked, then pruned."""
    for sql in (
        """CREATE TABLE console_sessions (
            token_hash TEXT PRIMARY KEY,
            csrf TEXT NOT NULL,
            user TEXT NOT NULL,
            role TEXT NOT NULL,
            seat TEXT,
            unit TEXT,
            credential TEXT NOT NULL,
            created REAL NOT NULL,
            seen REAL NOT NULL,
            ended REAL
        )""",
    ):
        db.execute(sql)


def _v10_console_audit(db: Database) -> None:
    """What must outlive a restart of the hotline: the log-in throttle's failures (a
    restart must not reset a guesser's wait; one row per address, or per address and
    user name, which is kept only as a hash), every play and download of a recording
    (who, when, from where), and when a recording was deleted for being older than the
    retention period (`recordings.retention_days`): the row stays, the file is gone."""
    for sql in (
        """CREATE TABLE login_failures (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('address', 'user')),
            times TEXT NOT NULL,
            last REAL NOT NULL
        )""",
        "CREATE INDEX login_failures_last ON login_failures(last)",
        f"""CREATE TABLE recording_access (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            user TEXT NOT NULL,
            role TEXT NOT NULL,
            call_id TEXT NOT NULL,
            recording TEXT NOT NULL,
            address TEXT,
            kind TEXT NOT NULL CHECK (kind IN ({sql_among(RecordingUse)}))
        )""",
        "CREATE INDEX recording_access_at ON recording_access(at_epoch)",
        "CREATE INDEX recording_access_user ON recording_access(user, at_epoch)",
        "ALTER TABLE calls ADD COLUMN recording_pruned TEXT",
    ):
        db.execute(sql)


def _v11_recording_failed(db: Database) -> None:
    """Whether a call's recording was made: `ok`, or why not (`missing`: no file; `empty`:
    no audio; `truncated`: far shorter than the call, the disk filled up during it). The
    words are written out here: a word added later is a migration of its own. Calls
    stored before have it from their measured length; those never measured stay NULL
    (unknown: the engine of the time did not say why)."""
    for sql in (
        "ALTER TABLE calls ADD COLUMN recording_status TEXT"
        " CHECK (recording_status IN ('ok', 'missing', 'empty', 'truncated'))",
        "UPDATE calls SET recording_status = CASE WHEN recording_seconds > 0 THEN 'ok' ELSE 'empty' END"
        " WHERE recording_seconds IS NOT NULL",
    ):
        db.execute(sql)


def _v12_knowledge(db: Database) -> None:
    """The knowledge base (政务信息库) operators answer consultations from: each article as
    it is now, every version it had (who saved it, when), its words for the search
    (`callcenter.knowledge.search` says why three columns), and which articles answered
    which call; the call keeps when it was settled from the base. The kinds are written
    out here: a kind added later is a migration of its own."""
    kinds = "'organisation', 'functions', 'policy', 'procedure', 'regulated', 'faq'"
    article_columns = f"""title TEXT NOT NULL,
            unit TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ({kinds})),
            body TEXT NOT NULL,
            keywords TEXT NOT NULL DEFAULT '',
            valid_from TEXT,
            valid_until TEXT,
            owner TEXT NOT NULL DEFAULT '',
            version INTEGER NOT NULL"""
    for sql in (
        f"""CREATE TABLE knowledge_articles (
            article_id INTEGER PRIMARY KEY,
            {article_columns},
            updated_at TEXT NOT NULL,
            updated_epoch REAL NOT NULL,
            updated_by TEXT NOT NULL
        )""",
        "CREATE INDEX knowledge_articles_unit ON knowledge_articles(unit, kind)",
        f"""CREATE TABLE knowledge_versions (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES knowledge_articles(article_id),
            {article_columns},
            saved_at TEXT NOT NULL,
            saved_epoch REAL NOT NULL,
            saved_by TEXT NOT NULL,
            UNIQUE (article_id, version)
        )""",
        # rowid = article_id; title and words hold jieba's words, chars every character in
        # order, tags the unit, the kind and whether it has dates (filters inside the match).
        "CREATE VIRTUAL TABLE knowledge_search USING fts5(title, words, chars, tags)",
        """CREATE TABLE knowledge_uses (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL,
            article_id INTEGER NOT NULL REFERENCES knowledge_articles(article_id),
            user TEXT NOT NULL,
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            UNIQUE (call_id, article_id)
        )""",
        "CREATE INDEX knowledge_uses_at ON knowledge_uses(at_epoch, article_id)",
        "ALTER TABLE calls ADD COLUMN answered_from_base TEXT",
    ):
        db.execute(sql)


def _v13_operators(db: Database) -> None:
    """Operators are people, seats are phones: a call row names the operator (工号) who
    took it beside the seat, and how long they wrapped up after it; a seat row names the
    operator logged in there (NULL: the seat's default operator, as before operators
    existed; '': nobody, the seat is not offered calls). Older calls stay without an
    operator: who sat at the seat then is not known."""
    for sql in (
        "ALTER TABLE calls ADD COLUMN operator TEXT",
        "ALTER TABLE calls ADD COLUMN wrapup_seconds INTEGER",
        "CREATE INDEX calls_operator ON calls(operator, arrived_epoch)",
        "ALTER TABLE seats ADD COLUMN operator TEXT",
    ):
        db.execute(sql)


def _v14_listen_in(db: Database) -> None:
    """Live supervision's log: every listen, whisper and barge (监听 / 密语 / 强插), one line
    per stretch in one mode: who, which call and seat, when asked, from (the phone
    answered, or the switch) and to, and why it ended. The words are written out here: a
    word added later is a migration of its own. Only the key is NOT NULL: a line is
    written in steps (asked, answered, ended) by upserts, and SQLite checks NOT NULL on
    the insert an upsert tries before it sees the row already there."""
    for sql in (
        """CREATE TABLE listen_in_log (
            period_id TEXT PRIMARY KEY,
            session_id TEXT,
            supervisor TEXT,
            call_id TEXT,
            seat TEXT,
            mode TEXT CHECK (mode IN ('listen', 'whisper', 'barge')),
            requested TEXT,
            requested_epoch REAL,
            started TEXT,
            started_epoch REAL,
            ended TEXT,
            ended_epoch REAL,
            end_reason TEXT CHECK (end_reason IN ('stopped', 'switched', 'supervisor_hung_up', 'call_ended',
                                                  'no_answer', 'failed'))
        )""",
        "CREATE INDEX listen_in_log_requested ON listen_in_log(requested_epoch)",
        "CREATE INDEX listen_in_log_call ON listen_in_log(call_id)",
    ):
        db.execute(sql)


def _v15_written_channels(db: Database) -> None:
    """Problems that come in writing (mailbox, SMS, forum): when the citizen's message
    arrived, the response limit GB/T 33358 sets for its channel, the automatic
    acknowledgement and a person's first response; the hash of the query code a citizen
    reads the status with; the message's reference at its source (the gateway's id, the
    forum post) and its link. Every message to and from the citizen is a line of
    `ticket_messages`; a reply waiting for the SMS gateway is one with status queued.
    With them: the mailbox form's rate limit, the forum posts taken in, and the
    published typical cases with their log. The words are written out here: a word
    added later is a migration of its own."""
    for sql in (
        "ALTER TABLE tickets ADD COLUMN received TEXT",
        "ALTER TABLE tickets ADD COLUMN received_epoch REAL",
        "ALTER TABLE tickets ADD COLUMN response_due_epoch REAL",
        "ALTER TABLE tickets ADD COLUMN acknowledged_epoch REAL",
        "ALTER TABLE tickets ADD COLUMN responded TEXT",
        "ALTER TABLE tickets ADD COLUMN responded_epoch REAL",
        "ALTER TABLE tickets ADD COLUMN responded_by TEXT",
        "ALTER TABLE tickets ADD COLUMN query_code_hash TEXT",
        "ALTER TABLE tickets ADD COLUMN source_ref TEXT",
        "ALTER TABLE tickets ADD COLUMN source_link TEXT",
        "CREATE INDEX tickets_channel ON tickets(channel, created_epoch)",
        "CREATE INDEX tickets_awaiting_response ON tickets(response_due_epoch)"
        " WHERE responded_epoch IS NULL AND response_due_epoch IS NOT NULL",
        """CREATE TABLE ticket_messages (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(ticket_id),
            channel TEXT NOT NULL CHECK (channel IN ('phone', 'mailbox', 'sms', 'forum', 'manual')),
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            body TEXT NOT NULL,
            address TEXT,
            external_id TEXT,
            automatic INTEGER NOT NULL DEFAULT 0,
            public INTEGER NOT NULL DEFAULT 0,
            actor TEXT,
            status TEXT NOT NULL CHECK (status IN ('received', 'queued', 'sent', 'failed', 'kept')),
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT
        )""",
        "CREATE INDEX ticket_messages_ticket ON ticket_messages(ticket_id, id)",
        "CREATE UNIQUE INDEX ticket_messages_external ON ticket_messages(channel, direction, external_id)"
        " WHERE external_id IS NOT NULL",
        "CREATE INDEX ticket_messages_queued ON ticket_messages(id) WHERE status = 'queued'",
        # The public site's form submissions and wrong status lookups per address (the
        # address prefixed with the kind), for its rate limits across restarts.
        """CREATE TABLE public_form_hits (
            id INTEGER PRIMARY KEY,
            address TEXT NOT NULL,
            at_epoch REAL NOT NULL
        )""",
        "CREATE INDEX public_form_hits_address ON public_form_hits(address, at_epoch)",
        # Forum posts taken in (one ticket each, never twice: the post's key is its id in
        # the feed, else its link), and the result a supervisor marks to post back.
        """CREATE TABLE forum_posts (
            post_key TEXT PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(ticket_id),
            link TEXT,
            title TEXT,
            author TEXT,
            posted TEXT,
            posted_epoch REAL,
            feed TEXT,
            imported TEXT NOT NULL,
            imported_epoch REAL NOT NULL,
            result TEXT,
            result_marked TEXT,
            result_marked_epoch REAL,
            result_marked_by TEXT,
            result_exported_epoch REAL
        )""",
        "CREATE INDEX forum_posts_ticket ON forum_posts(ticket_id)",
        # Published typical cases (典型案例): the public text a supervisor confirmed, one row
        # per ticket (withdrawn and published again: the same row). Every publication,
        # edit and withdrawal is a line of case_log.
        """CREATE TABLE published_cases (
            case_id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL UNIQUE REFERENCES tickets(ticket_id),
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            unit_name TEXT NOT NULL,
            category TEXT NOT NULL,
            published TEXT,
            published_epoch REAL,
            published_by TEXT,
            withdrawn TEXT,
            withdrawn_epoch REAL,
            withdrawn_by TEXT,
            withdraw_reason TEXT,
            updated_epoch REAL NOT NULL
        )""",
        "CREATE INDEX published_cases_live ON published_cases(published_epoch) WHERE withdrawn_epoch IS NULL",
        """CREATE TABLE case_log (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES published_cases(case_id),
            ticket_id INTEGER NOT NULL,
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('published', 'edited', 'withdrawn')),
            actor TEXT,
            data TEXT
        )""",
        "CREATE INDEX case_log_case ON case_log(case_id, id)",
    ):
        db.execute(sql)


def _v16_recording_compression(db: Database) -> None:
    """Recordings compressed after the call: the WAV's bytes before, the file's bytes now,
    and why a recording could not be compressed (it is then left as it is, and not tried
    again)."""
    for sql in (
        "ALTER TABLE calls ADD COLUMN recording_wav_bytes INTEGER",
        "ALTER TABLE calls ADD COLUMN recording_bytes INTEGER",
        "ALTER TABLE calls ADD COLUMN recording_compress_failed TEXT",
        # The compressor's pass looks for finished calls whose file is still a WAV.
        "CREATE INDEX calls_uncompressed ON calls (arrived_epoch) WHERE recording_bytes IS NULL"
        " AND recording_compress_failed IS NULL AND state = 'done' AND recording_status = 'ok'",
    ):
        db.execute(sql)


def _v17_call_node(db: Database) -> None:
    """The Asterisk node a call was on (its system name; in a cluster one of several).
    Older calls were all on the one Asterisk, whose name the engine does not guess."""
    db.execute("ALTER TABLE calls ADD COLUMN node TEXT")


# Index i brings a database from version i to i + 1. Append; never edit a released one.
MIGRATIONS: tuple[Callable[[Database], None], ...] = (_v1, _v2_nuisance, _v3_tickets, _v4_ticket_desk,
                                                       _v5_ticket_attachments, _v6_answer_seconds,
                                                       _v7_confidential_tickets, _v8_line_full_outcome,
                                                       _v9_console_sessions, _v10_console_audit,
                                                       _v11_recording_failed, _v12_knowledge, _v13_operators,
                                                       _v14_listen_in, _v15_written_channels,
                                                       _v16_recording_compression, _v17_call_node)
SCHEMA_VERSION = len(MIGRATIONS)
