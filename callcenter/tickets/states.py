"""A ticket's life as a pure machine: which state an action or a callback leads to, and
the words an operator may use for a category.

    open -forward-> forwarded -reply-> replied -close-> closed
    forwarded -forward-> forwarded          (to another unit)
    replied | closed -reopen-> reopened -forward | reply-> ...
    callback reached: satisfied / basically satisfied closes a replied ticket,
                      dissatisfied reopens a replied or closed one (the clock restarts)

    open -send back-> open                  (to the operator, with a note: returned_to operator)
    forwarded | reopened -unit return-> open   (not the unit's business: returned_to supervisor)
    forwarded | reopened -extend | urge-> the same state   (while the unit has it)
"""

from __future__ import annotations

from enum import StrEnum

from callcenter.errors import HotlineError
from callcenter.vocabulary import (
    CATEGORY_LABELS,
    COMPLETED,
    CallbackResult,
    Category,
    Satisfaction,
    TicketState,
)


class TicketError(HotlineError):
    """A ticket command that cannot be done: the message says why and what to do."""


class NotYourTicket(TicketError):
    """A unit acting on a ticket that is not with it (the console answers 403)."""


class Action(StrEnum):
    FORWARD = "forward"
    REPLY = "reply"
    CLOSE = "close"
    REOPEN = "reopen"
    SEND_BACK = "send_back"
    UNIT_RETURN = "unit_return"
    EXTEND = "extend"
    URGE = "urge"


# How a refusal names an action ("cannot urge a ticket that is open").
_VERBS: dict[Action, str] = {
    Action.SEND_BACK: "return to the operator",
    Action.UNIT_RETURN: "return to the supervisor",
    Action.EXTEND: "ask more time for",
}


class ReturnedTo(StrEnum):
    """Whom a returned ticket waits on (`tickets.returned_to`)."""

    OPERATOR = "operator"  # the supervisor sent it back to be completed or corrected
    SUPERVISOR = "supervisor"  # the unit says it is not its business


# The states in which the responsible unit has the ticket in hand.
WITH_UNIT: frozenset[TicketState] = frozenset({TicketState.FORWARDED, TicketState.REOPENED})
MAX_EXTENSION_DAYS = 30


_TRANSITIONS: dict[tuple[TicketState, Action], TicketState] = {
    (TicketState.OPEN, Action.FORWARD): TicketState.FORWARDED,
    (TicketState.FORWARDED, Action.FORWARD): TicketState.FORWARDED,
    (TicketState.REOPENED, Action.FORWARD): TicketState.FORWARDED,
    (TicketState.FORWARDED, Action.REPLY): TicketState.REPLIED,
    (TicketState.REOPENED, Action.REPLY): TicketState.REPLIED,
    (TicketState.REPLIED, Action.CLOSE): TicketState.CLOSED,
    (TicketState.REPLIED, Action.REOPEN): TicketState.REOPENED,
    (TicketState.CLOSED, Action.REOPEN): TicketState.REOPENED,
    (TicketState.OPEN, Action.SEND_BACK): TicketState.OPEN,
    **{(state, Action.UNIT_RETURN): TicketState.OPEN for state in WITH_UNIT},
    **{(state, Action.EXTEND): state for state in WITH_UNIT},
    **{(state, Action.URGE): state for state in WITH_UNIT},
}


def next_state(state: TicketState, action: Action) -> TicketState:
    """The state `action` leads to; TicketError naming the states it is allowed in."""
    try:
        return _TRANSITIONS[(state, action)]
    except KeyError:
        allowed = sorted(s for (s, a) in _TRANSITIONS if a is action)
        raise TicketError(
            f"cannot {_VERBS.get(action, action)} a ticket that is {state}: only one that is {' or '.join(allowed)}"
        ) from None


def check_unit(ticket_unit: str, unit: str, ticket_id: int) -> None:
    """A unit acts only on its own tickets."""
    if ticket_unit != unit:
        raise NotYourTicket(f"ticket {ticket_id} is not with unit {unit}: "
                          "a unit acts only on the tickets forwarded to it")


def check_extension_request(state: TicketState, days: int, pending_days: int | None) -> None:
    """Whether a unit may ask for `days` more working days: 1-30, while it has the
    ticket in hand, and one request at a time."""
    next_state(state, Action.EXTEND)
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise TicketError(f"an extension is 1 to {MAX_EXTENSION_DAYS} working days, not {days}")
    if pending_days is not None:
        raise TicketError(f"an extension of {pending_days} working days is already waiting for the supervisor's "
                          "decision: wait for it before asking again")


def granted_days(pending_days: int | None, days: int | None) -> int:
    """How many working days a grant adds: those asked for unless the supervisor gives
    another number (1-30); TicketError when nothing was asked."""
    if pending_days is None:
        raise TicketError("no extension is waiting for a decision on this ticket")
    chosen = pending_days if days is None else days
    if not 1 <= chosen <= MAX_EXTENSION_DAYS:
        raise TicketError(f"an extension is 1 to {MAX_EXTENSION_DAYS} working days, not {chosen}")
    return chosen


def after_callback(state: TicketState, result: CallbackResult, satisfaction: Satisfaction | None) -> TicketState:
    """The state after a callback to the citizen (回访). A callback follows the unit's
    reply; only a reached citizen gives a satisfaction, which closes a replied ticket,
    or, when dissatisfied, reopens it for the unit to handle again."""
    if state not in COMPLETED:
        raise TicketError(f"a callback follows the unit's reply, and this ticket is {state}")
    if result is not CallbackResult.REACHED:
        if satisfaction is not None:
            raise TicketError(f"a callback that was {result} has no satisfaction")
        return state
    if satisfaction is None:
        raise TicketError("a reached citizen's callback needs the satisfaction")
    if satisfaction is Satisfaction.DISSATISFIED:
        return TicketState.REOPENED
    return TicketState.CLOSED if state is TicketState.REPLIED else state


# What an operator may type for a category: the value, the seed's label, and the words
# the seed's briefing and operators use for them (投诉, 举报, 投诉类, ...).
_ALIASES: dict[str, Category] = {
    **{c.value: c for c in Category},
    **{label: c for c, label in CATEGORY_LABELS.items()},
    "投诉": Category.COMPLAINT, "举报": Category.COMPLAINT, "report": Category.COMPLAINT,
    "求助类": Category.HELP, "投诉类": Category.COMPLAINT, "咨询类": Category.CONSULTATION,
    "建议类": Category.SUGGESTION,
}


def parse_category(text: str) -> Category:
    found = _ALIASES.get(text.strip().lower())
    if found is None:
        known = ", ".join(f"{c.value} ({CATEGORY_LABELS[c]})" for c in Category)
        raise TicketError(f"unknown category {text!r}: use one of {known}")
    return found
