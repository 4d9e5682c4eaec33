"""A ticket's life as a pure machine: which state an action or a callback leads to, and
the words an operator may use for a category.

    open -forward-> forwarded -reply-> replied -close-> closed
    forwarded -forward-> forwarded          (to another unit)
    replied | closed -reopen-> reopened -forward | reply-> ...
    callback reached: satisfied / basically satisfied closes a replied ticket,
                      dissatisfied reopens a replied or closed one (the clock restarts)
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


class Action(StrEnum):
    FORWARD = "forward"
    REPLY = "reply"
    CLOSE = "close"
    REOPEN = "reopen"


_TRANSITIONS: dict[tuple[TicketState, Action], TicketState] = {
    (TicketState.OPEN, Action.FORWARD): TicketState.FORWARDED,
    (TicketState.FORWARDED, Action.FORWARD): TicketState.FORWARDED,
    (TicketState.REOPENED, Action.FORWARD): TicketState.FORWARDED,
    (TicketState.FORWARDED, Action.REPLY): TicketState.REPLIED,
    (TicketState.REOPENED, Action.REPLY): TicketState.REPLIED,
    (TicketState.REPLIED, Action.CLOSE): TicketState.CLOSED,
    (TicketState.REPLIED, Action.REOPEN): TicketState.REOPENED,
    (TicketState.CLOSED, Action.REOPEN): TicketState.REOPENED,
}


def next_state(state: TicketState, action: Action) -> TicketState:
    """The state `action` leads to; TicketError naming the states it is allowed in."""
    try:
        return _TRANSITIONS[(state, action)]
    except KeyError:
        allowed = sorted(s for (s, a) in _TRANSITIONS if a is action)
        raise TicketError(
            f"cannot {action} a ticket that is {state}: only one that is {' or '.join(allowed)}"
        ) from None


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
