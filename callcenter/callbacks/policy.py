"""What the callback runner decides, as pure functions: whether a ticket's citizen is due
a call now, never at night; what their key means; what an unanswered call counts as;
and when to give up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from datetime import time as clock_time
from typing import Any

from callcenter.settings import CallbacksSection
from callcenter.vocabulary import CallbackResult, Satisfaction, TicketState

# The question's keys: 1 satisfied, 2 basically satisfied, 3 dissatisfied.
ANSWERS = {"1": Satisfaction.SATISFIED, "2": Satisfaction.BASICALLY_SATISFIED, "3": Satisfaction.DISSATISFIED}
# Q.850 causes of an unanswered or refused call leg that mean the line was busy.
BUSY_CAUSES = frozenset({17})


def _minute(text: str) -> int:
    parsed = clock_time.fromisoformat(text)
    return parsed.hour * 60 + parsed.minute


def quiet(moment: datetime, rules: CallbacksSection) -> bool:
    """Night: no citizen is called back between quiet_start and quiet_end (local time)."""
    start, end, minute = _minute(rules.quiet_start), _minute(rules.quiet_end), moment.hour * 60 + moment.minute
    if start == end:
        return False
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def due(ticket: Mapping[str, Any], last_attempt: float | None, now: float, moment: datetime,
        rules: CallbacksSection) -> bool:
    """A replied ticket whose citizen has not answered yet, with attempts left, the retry
    interval passed since the last attempt, and not at night."""
    if str(ticket.get("state")) != TicketState.REPLIED or ticket.get("satisfaction"):
        return False
    if not str(ticket.get("caller_number") or "").strip():
        return False
    if int(ticket.get("callback_attempts") or 0) >= rules.max_attempts:
        return False
    if last_attempt is not None and now - last_attempt < rules.retry_minutes * 60:
        return False
    return not quiet(moment, rules)


def national_number(number: str) -> str:
    """The number as dialled at home: separators and a leading +86 / 0086 taken off."""
    digits = "".join(ch for ch in number.strip() if ch not in " -()")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return digits[len(prefix):]
    return digits


def refusal(number: str, rules: CallbacksSection) -> str | None:
    """Why `number` must never be dialled (withheld, international, not in the number
    plan), or None when it may be: a callback is a call the hotline pays for."""
    national = national_number(number)
    if not national or national.lower() in ("anonymous", "unknown", "restricted", "private"):
        return "refused: the number is withheld"
    if national.startswith(("+", "00")):
        return f"refused: international number {national[:24]}"
    if not national.isascii() or not national.isdigit():
        return f"refused: not a telephone number {national[:24]!r}"
    if not any(re.fullmatch(pattern, national) for pattern in rules.number_plan.split()):
        return f"refused: {national[:24]} is not in the number plan"
    return None


def unanswered_result(cause: int) -> CallbackResult:
    """A callback the citizen never picked up, by the Q.850 cause its leg ended with."""
    return CallbackResult.BUSY if cause in BUSY_CAUSES else CallbackResult.NO_ANSWER


def attempts_left(attempts_before: int, rules: CallbacksSection) -> bool:
    """Whether another attempt may follow the one now failing (`attempts_before` made before it)."""
    return attempts_before + 1 < rules.max_attempts
