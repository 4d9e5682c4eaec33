"""The benchmark's reads of the controller's store, from outside its process: read-only
connections (the controller keeps writing, in WAL mode, meanwhile), one per query.
Calls are counted from a row id on, so each rate step reads only its own calls."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class BenchStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5.0)
        try:
            return list(conn.execute(sql, list(params)))
        finally:
            conn.close()

    def registered_seats(self) -> int:
        """Seats the controller has written as registered (0 before it made the table)."""
        try:
            return int(self._rows("SELECT count(*) FROM seats WHERE registered = 1")[0][0])
        except sqlite3.Error:
            return 0

    def last_call_rowid(self) -> int:
        return int(self._rows("SELECT coalesce(max(rowid), 0) FROM calls")[0][0])

    def calls_without_the_operator_key(self, after_rowid: int) -> int:
        """Calls whose caller did not press 0 (the IVR path the bench means to skip)."""
        return int(self._rows(
            "SELECT count(*) FROM calls c WHERE c.rowid > ? AND NOT EXISTS "
            "(SELECT 1 FROM call_events e WHERE e.call_id = c.call_id AND e.kind = 'OPERATOR')",
            [after_rowid],
        )[0][0])

    def step_calls(self, after_rowid: int) -> list[tuple[str, str, str, bool]]:
        """(call id, outcome, state, recording still to be measured) of every call after the row id."""
        rows = self._rows(
            "SELECT call_id, outcome, state, recording_path IS NOT NULL AND recording_path != '' "
            "AND recording_seconds IS NULL FROM calls WHERE rowid > ?",
            [after_rowid],
        )
        return [(str(r[0]), str(r[1]), str(r[2]), bool(r[3])) for r in rows]

    def arrived_and_answered(self, after_rowid: int) -> list[tuple[float, float]]:
        """Per call: the StasisStart time (ARRIVED) and the answer time (ANSWERED)."""
        return [(float(a), float(b)) for a, b in self._rows(
            "SELECT a.at_epoch, b.at_epoch FROM calls c "
            "JOIN call_events a ON a.call_id = c.call_id AND a.kind = 'ARRIVED' "
            "JOIN call_events b ON b.call_id = c.call_id AND b.kind = 'ANSWERED' WHERE c.rowid > ?",
            [after_rowid],
        )]

    def arrived_and_greeted(self, after_rowid: int) -> list[tuple[float, float]]:
        """Per call: the StasisStart time (ARRIVED) and the start of its first prompt (the
        first PLAYBACK, Asterisk's PlaybackStarted): the controller's reaction, now that the
        dialplan answers before Stasis."""
        return [(float(a), float(b)) for a, b in self._rows(
            "SELECT a.at_epoch, min(b.at_epoch) FROM calls c "
            "JOIN call_events a ON a.call_id = c.call_id AND a.kind = 'ARRIVED' "
            "JOIN call_events b ON b.call_id = c.call_id AND b.kind = 'PLAYBACK' WHERE c.rowid > ? "
            "GROUP BY c.call_id",
            [after_rowid],
        )]

    def answered_and_in_line(self, after_rowid: int) -> list[tuple[float, float]]:
        """Per call: the answer (ANSWERED) and the moment it joined the line (ENTERQUEUE)."""
        return [(float(a), float(b)) for a, b in self._rows(
            "SELECT a.at_epoch, b.at_epoch FROM calls c "
            "JOIN call_events a ON a.call_id = c.call_id AND a.kind = 'ANSWERED' "
            "JOIN call_events b ON b.call_id = c.call_id AND b.kind = 'ENTERQUEUE' WHERE c.rowid > ?",
            [after_rowid],
        )]

    def settled_calls(self, after_rowid: int) -> int:
        """Calls after the row id that are done."""
        return int(self._rows("SELECT count(*) FROM calls WHERE rowid > ? AND state = 'done'", [after_rowid])[0][0])

    def seat_rings(self, after_rowid: int) -> list[tuple[str, str, float]]:
        """Per seat ring of the calls after the row id: the call, the seat and when the
        controller rang it (RINGSEAT, the seat's move to ringing)."""
        return [(str(call_id), str(seat), float(at)) for call_id, seat, at in self._rows(
            "SELECT e.call_id, e.seat, e.at_epoch FROM calls c "
            "JOIN call_events e ON e.call_id = c.call_id AND e.kind = 'RINGSEAT' WHERE c.rowid > ?",
            [after_rowid],
        )]

    def causes_of_unanswered(self, after_rowid: int, top: int = 8) -> list[tuple[str, str, int]]:
        """(outcome, hang-up cause, calls) of the calls after the row id that were not
        answered, the most frequent first: what a failed run must explain."""
        return [(str(r[0]), str(r[1]), int(r[2])) for r in self._rows(
            "SELECT outcome, coalesce(hangup_cause, ''), count(*) FROM calls WHERE rowid > ? "
            "AND outcome != 'answered' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT ?",
            [after_rowid, top],
        )]


class ClusterBenchStore:
    """The cluster bench's reads of the controller's PostgreSQL store, one connection each."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url) as conn:
            return list(conn.execute(sql, list(params)).fetchall())

    def registered_seats(self) -> int:
        return int(self._rows("SELECT count(*) FROM seats WHERE registered = 1")[0][0])

    def calls_done(self, number_prefix: str) -> int:
        return int(self._rows("SELECT count(*) FROM calls WHERE caller_number LIKE %s AND state = 'done'",
                              [f"{number_prefix}%"])[0][0])

    def nodes_and_outcomes(self, number_prefix: str) -> list[tuple[str, str]]:
        return [(str(node), str(outcome)) for node, outcome in
                self._rows("SELECT node, outcome FROM calls WHERE caller_number LIKE %s", [f"{number_prefix}%"])]

    def commits_and_row_writes(self, database: str = "hotline") -> tuple[int, int]:
        """PostgreSQL's counters for the database: transactions committed, rows inserted or updated."""
        [(commits, writes)] = self._rows(
            "SELECT xact_commit, tup_inserted + tup_updated FROM pg_stat_database WHERE datname = %s", [database])
        return int(commits), int(writes)
