"""Tickets as text for a terminal: the list as a fixed-width table, one ticket in full,
and the directory of units. Every value from the store is escaped (`terminal`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from callcenter.terminal import escape_text, fit
from callcenter.tickets.deadlines import is_overdue
from callcenter.tickets.directory import Directory
from callcenter.tickets.repository import TicketDetail
from callcenter.vocabulary import (
    CATEGORY_LABELS,
    CONFIDENTIAL_LABEL,
    SATISFACTION_LABELS,
    TICKET_STATE_LABELS,
    Category,
    Satisfaction,
    TicketState,
)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _days(seconds: float) -> int:
    """Days begun: 1 from the first second on."""
    return max(1, int(seconds // 86400) + 1)


def overdue_text(row: Mapping[str, object], now: float) -> str:
    if is_overdue(row, now):
        return f"OVERDUE {_days(now - _number(row['deadline_epoch']))}d"
    replied, deadline = row.get("replied_epoch"), row.get("deadline_epoch")
    if isinstance(replied, int | float) and isinstance(deadline, int | float) and replied >= deadline:
        return "replied late"
    return ""


def _red(line: str, on: bool) -> str:
    return f"\x1b[1;31m{line}\x1b[0m" if on else line


_TABLE: tuple[tuple[str, int, Callable[[Mapping[str, object], float], object]], ...] = (
    ("ticket", 7, lambda r, now: r.get("ticket_id")),
    ("state", 10, lambda r, now: r.get("state")),
    ("deadline", 11, lambda r, now: str(r.get("deadline") or "-") + ("*" if r.get("deadline_estimated") else "")),
    ("flag", 12, overdue_text),
    ("category", 12, lambda r, now: r.get("category")),
    ("unit", 20, lambda r, now: r.get("unit_name")),
    ("calls", 5, lambda r, now: r.get("calls")),
    ("created", 16, lambda r, now: str(r.get("created") or "")[:16].replace("T", " ")),
    ("summary", 40, lambda r, now: r.get("summary")),
)


def format_tickets_table(rows: Sequence[Mapping[str, object]], now: float, colour: bool = False) -> str:
    """Tickets as a fixed-width table; overdue ones are flagged (and red on a terminal)."""

    def line(cells: Iterable[str]) -> str:
        return "  ".join(cells).rstrip()

    out = [line(fit(h, w) for h, w, _ in _TABLE), line("-" * w for _, w, _ in _TABLE)]
    for row in rows:
        out.append(_red(line(fit(cell(row, now), w) for _, w, cell in _TABLE), colour and is_overdue(row, now)))
    if not rows:
        out.append("(no tickets)")
    overdue = sum(1 for r in rows if is_overdue(r, now))
    if overdue:
        out.append(f"{overdue} overdue (past the {'deadline' if overdue == 1 else 'deadlines'}, still in progress)")
    if any(r.get("deadline_estimated") for r in rows):
        out.append("* deadline estimated: the holiday calendar does not cover that year yet")
    return "\n".join(out)


def format_ticket(detail: TicketDetail, now: float, colour: bool = False) -> str:
    ticket = detail.ticket
    state = TicketState(str(ticket["state"]))
    head = f"ticket {ticket['ticket_id']}  {state} ({TICKET_STATE_LABELS[state]})"
    flag = overdue_text(ticket, now)
    if ticket.get("merged_into") is not None:
        head += f"  merged into ticket {ticket['merged_into']}"
    elif flag:
        head += f"  {flag}"
    lines = [_red(head, colour and is_overdue(ticket, now))]

    def add(label: str, value: object) -> None:
        lines.append(f"{label:<13}{escape_text(value)}")

    category = Category(str(ticket["category"]))
    add("category", f"{category} ({CATEGORY_LABELS[category]})")
    add("unit", f"{ticket['unit_name']} ({ticket['unit']})")
    add("summary", ticket["summary"])
    add("created",
        f"{ticket['created']}  operator {ticket['operator'] or '-'}  caller {ticket['caller_number'] or '-'}")
    if ticket.get("confidential"):
        add("confidential", f"yes ({CONFIDENTIAL_LABEL}): the unit never sees the citizen's name, numbers or address")
    estimated = ("  (estimated: the holiday calendar does not cover that year yet)"
                 if ticket["deadline_estimated"] else "")
    add("deadline", f"{ticket['deadline']} (end of day){estimated}")
    if ticket["forwarded"]:
        add("forwarded", ticket["forwarded"])
    if ticket["reply"]:
        add("reply", f"{ticket['reply']}")
        add("replied", f"{ticket['replied']} by {ticket['reply_by']}")
    if ticket["closed"]:
        add("closed", ticket["closed"])
    if ticket["satisfaction"]:
        satisfaction = Satisfaction(str(ticket["satisfaction"]))
        add("satisfaction", f"{satisfaction} ({SATISFACTION_LABELS[satisfaction]})")
    add("callbacks", f"{ticket['callback_attempts']} attempt(s)")
    if ticket["reopen_count"]:
        add("reopened", f"{ticket['reopen_count']} time(s)")
    lines.append(f"calls ({len(detail.calls)}):")
    for call in detail.calls:
        lines.append("  " + "  ".join([fit(call.get("arrived") or "-", 25), fit(call.get("caller_number") or "-", 16),
                                       fit(call.get("seat") or "-", 6), escape_text(call.get("call_id"))]).rstrip())
    lines.append("history:")
    for event in detail.events:
        data = event.get("data")
        pairs = data.items() if isinstance(data, dict) else []
        extra = ", ".join(f"{k}={v}" for k, v in pairs if v not in (None, "", []))
        lines.append("  " + "  ".join([fit(event.get("at"), 25), fit(event.get("kind"), 10),
                                       fit(event.get("state"), 10), fit(event.get("actor") or "-", 8),
                                       escape_text(extra)]).rstrip())
    return "\n".join(lines)


def format_units(directory: Directory) -> str:
    lines = [f"{'code':<20}{'kind':<12}name (aliases)"]
    for unit in directory.units:
        aliases = f" ({', '.join(unit.aliases)})" if unit.aliases else ""
        retired = "  [retired]" if not unit.active else ""
        lines.append(f"{unit.code:<20}{unit.kind:<12}{unit.name}{aliases}{retired}")
    return "\n".join(lines)
