"""Confidential tickets (工单保密, GB/T 33358-2016): a citizen may ask that who they are
stays with the hotline. The responsible unit then gets the matter (category, summary,
deadline) but never the citizen's name, numbers or address: where it would contact the
citizen it is told to go through the hotline. Lists and exports withhold them too; only
the hotline staff's detail view shows them, and each such reading is a line of the
ticket's history (`revealed`).

Pure: rows in, rows out."""

from __future__ import annotations

from collections.abc import Mapping

from callcenter.store import Row

# Every column of a ticket that tells who the citizen is or how to reach them.
CITIZEN_FIELDS: tuple[str, ...] = ("citizen_name", "contact_number", "caller_number", "address")


def is_confidential(row: Mapping[str, object]) -> bool:
    return bool(row.get("confidential"))


def withheld(row: Row) -> Row:
    """The ticket's row with the citizen's fields emptied when it is confidential (a
    copy); any other ticket's row as it is."""
    if not is_confidential(row):
        return row
    return row | dict.fromkeys(CITIZEN_FIELDS)


def contact_note(hotline_number: str) -> str:
    """What a unit reads where a confidential ticket's contact would be."""
    return f"保密工单：如需联系市民，请通过{hotline_number}热线转达"
