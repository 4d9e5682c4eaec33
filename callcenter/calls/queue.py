"""The waiting line: first come, first served, flagged nuisance callers behind citizens.

Pure. The controller adds and removes calls and asks `assign` which waiting caller goes
to which available seat.
"""

from __future__ import annotations

from collections.abc import Callable
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


def assign(waiting: list[Waiting], free_seats: list[str],
           reaches: Callable[[str, str], bool] | None = None) -> list[tuple[str, str]]:
    """Pair the callers at the head of the line with the free seats, longest idle first.

    In a cluster a node can ring a seat only once it sees the seat's phone itself (its own
    qualify through the SIP proxy, which lags the phone's registration by up to one
    interval): `reaches(call_id, seat)`. Each caller, in the line's order, takes the
    longest-idle free seat the caller's node reaches; a caller whose node reaches none of
    them yet holds the callers behind it back, so the line keeps its order at the cost of
    that lag."""
    if reaches is None:
        return [(entry.call_id, seat) for entry, seat in zip(waiting, free_seats, strict=False)]
    pairs: list[tuple[str, str]] = []
    free = list(free_seats)
    for entry in waiting:
        seat = next((seat for seat in free if reaches(entry.call_id, seat)), None)
        if seat is None:
            break
        free.remove(seat)
        pairs.append((entry.call_id, seat))
    return pairs
