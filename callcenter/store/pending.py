"""The writes waiting for their commit, held by the store thread.

While commits succeed they wait a batch interval at most. While commits fail (the disk
is full, another process holds the write lock for long) every write queued meanwhile
waits here, so what is kept must stay bounded however long the fault lasts:

- an upsert to a row that already waits is merged into it, later fields winning, which
  is what committing them in order would have made of the row: a call's dozens of
  updates cost one entry, and the number of entries follows the rows, not the writes;
- past `limit` entries the oldest call event is dropped (the oldest row when no event
  waits): counted, so the loss is told (health, /metrics, the log), never silent.

Outside a fault nothing is merged: a write refused by a constraint is then dropped on
its own, not with the other writes to its row that came in the same batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

# About 50 MB of call events (some 400 bytes each in memory): a busy hotline's steps of a
# whole day, far longer than anyone leaves a full disk unattended, and small beside the
# machine's memory. Rows are merged, so they rarely come near it.
MAX_PENDING_WRITES = 100_000


@dataclass(frozen=True, slots=True)
class Upsert:
    """Create or update one row by its key; only the given columns change."""

    table: str
    key: str  # the primary key column
    fields: dict[str, object]  # holds the key's value too

    @property
    def target(self) -> tuple[str, str, object]:
        return self.table, self.key, self.fields[self.key]


@dataclass(frozen=True, slots=True)
class Insert:
    table: str
    row: dict[str, object]


Write = Upsert | Insert


class PendingWrites:
    """Rows to upsert (each with its writes in the order queued) and events to insert (in
    the order queued). Rows and events are independent tables without foreign keys, so
    committing the rows before the events keeps every order that matters."""

    def __init__(self, limit: int = MAX_PENDING_WRITES) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self._rows: dict[tuple[str, str, object], list[Upsert]] = {}
        self._inserts: deque[Insert] = deque()
        self._count = 0  # entries: the writes of every row plus the events
        self.merging = False
        self.dropped = 0  # writes dropped over the limit since this was made

    def __len__(self) -> int:
        return self._count

    def add(self, write: Write) -> bool:
        """Hold `write`; True when an older write had to be dropped to make room."""
        if isinstance(write, Insert):
            self._inserts.append(write)
            self._count += 1
        else:
            waiting = self._rows.setdefault(write.target, [])
            if self.merging and waiting:
                waiting[-1].fields.update(write.fields)
            else:
                waiting.append(write)
                self._count += 1
        if self._count <= self.limit:
            return False
        self._drop_oldest()
        return True

    def writes(self) -> Iterator[Write]:
        """Every write held, rows first."""
        for waiting in self._rows.values():
            yield from waiting
        yield from self._inserts

    def merge(self) -> None:
        """Commits are failing: merge what waits per row, and every upsert from now on."""
        self.merging = True
        for row, waiting in self._rows.items():
            if len(waiting) > 1:
                merged = waiting[0]
                for later in waiting[1:]:
                    merged.fields.update(later.fields)
                self._count -= len(waiting) - 1
                self._rows[row] = [merged]

    def clear(self) -> None:
        """Everything held was committed (or dropped as bad): the fault, if any, is over."""
        self._rows.clear()
        self._inserts.clear()
        self._count = 0
        self.merging = False

    def _drop_oldest(self) -> None:
        if self._inserts:
            self._inserts.popleft()
        else:
            row = next(iter(self._rows))
            waiting = self._rows[row]
            waiting.pop(0)
            if not waiting:
                del self._rows[row]
        self._count -= 1
        self.dropped += 1
