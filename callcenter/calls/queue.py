"""The waiting line: first come, first served, flagged nuisance callers behind citizens.

Pure. The controller adds and removes calls and asks `assign` which waiting caller goes
to which available seat.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    call_id: str
    seq: int  # arrival order, kept across a controller restart (stored on the call row)
    behind: bool = False  # a flagged nuisance number waits behind every citizen

    @property
    def order(self) -> tuple[bool, int]:
        return (self.behind, self.seq)


class CallQueue:
    def __init__(self) -> None:
        self._waiting: dict[str, Waiting] = {}

    def add(self, entry: Waiting) -> None:
        self._waiting[entry.call_id] = entry

    def remove(self, call_id: str) -> None:
        self._waiting.pop(call_id, None)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._waiting

    def __len__(self) -> int:
        return len(self._waiting)

    def ordered(self) -> list[Waiting]:
        return sorted(self._waiting.values(), key=lambda w: w.order)

    def position(self, call_id: str) -> int:
        """1 for the caller at the head of the line; 0 when not waiting."""
        for index, entry in enumerate(self.ordered(), start=1):
            if entry.call_id == call_id:
                return index
        return 0


def assign(waiting: list[Waiting], free_seats: list[str]) -> list[tuple[str, str]]:
    """Pair the callers at the head of the line with the free seats, longest idle first."""
    return [(entry.call_id, seat) for entry, seat in zip(waiting, free_seats, strict=False)]
