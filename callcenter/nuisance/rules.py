"""Nuisance numbers: detect repeat callers, flag them, keep them behind citizens.

The seed's case: one child dialed six times in five minutes; on one morning 9 of 12
calls were nuisance, and every one still had to be answered politely. So a flagged
number is never blocked silently: it hears a polite warning and waits behind citizens.

Rules (settings [nuisance]):
- `repeat_calls` or more calls within `repeat_window_minutes` that each ended within
  `short_call_seconds` of an operator answering, or before reaching an operator;
- `marks_to_flag` operator marks within `marks_window_hours`.
Flags expire after `flag_hours`; the history stays. Withheld numbers are never flagged.

The decisions here are pure functions of the number's recent calls and marks; the
service (`callcenter.nuisance.service`) reads and writes them through the repository.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.errors import HotlineError
from callcenter.settings import NuisanceSection
from callcenter.vocabulary import Outcome

RULE_REPEAT = "repeat-short-calls"
RULE_MARKS = "operator-marks"
RULE_MANUAL = "manual"
# What phones and trunks put in the caller number when it is withheld.
WITHHELD = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable", "withheld"})


class NuisanceError(HotlineError):
    """A nuisance command that cannot be done (withheld number, no such call...)."""


@dataclass(frozen=True)
class PastCall:
    arrived_epoch: float
    outcome: str
    talk_seconds: int | None


@dataclass(frozen=True)
class Flag:
    number: str
    rule: str
    reason: str
    by: str
    flagged_at: float
    expires_at: float


def is_withheld(number: str) -> bool:
    """A withheld or anonymous number: never flagged by number (it is not one caller)."""
    cleaned = number.strip().lower()
    return cleaned in WITHHELD or not any(ch.isdigit() for ch in cleaned)


def is_nuisance_like(call: PastCall, rules: NuisanceSection) -> bool:
    """Hung up before reaching an operator, or ended within the short-call limit of the answer."""
    if call.outcome != Outcome.ANSWERED:
        return True
    return (call.talk_seconds or 0) <= rules.short_call_seconds


def rule_hit(calls: Iterable[PastCall], marks: Iterable[float], now: float, rules: NuisanceSection) -> str | None:
    """The rule the number's recent history breaks, if any."""
    window_start = now - rules.repeat_window_minutes * 60
    recent = [c for c in calls if c.arrived_epoch >= window_start and is_nuisance_like(c, rules)]
    if len(recent) >= rules.repeat_calls:
        return RULE_REPEAT
    marks_start = now - rules.marks_window_hours * 3600
    if sum(1 for m in marks if m >= marks_start) >= rules.marks_to_flag:
        return RULE_MARKS
    return None


def over_hard_limit(arrivals: Iterable[float], now: float, rules: NuisanceSection) -> bool:
    """The optional hard limit (off when hard_limit_calls is 0): more calls than that in the window."""
    if rules.hard_limit_calls <= 0:
        return False
    start = now - rules.hard_limit_window_minutes * 60
    return sum(1 for at in arrivals if at >= start) > rules.hard_limit_calls


def active_flag(events: Sequence[dict[str, Any]], now: float) -> Flag | None:
    """The number's flag in force from its history (oldest first): the last flag not
    cleared since and not expired."""
    current: Flag | None = None
    for event in events:
        if event["action"] == "flag":
            current = Flag(str(event["number"]), str(event["rule"]), str(event["reason"] or ""),
                           str(event["by"] or ""), float(event["at_epoch"]), float(event["expires_epoch"] or 0))
        elif event["action"] == "clear":
            current = None
    if current is not None and current.expires_at <= now:
        return None
    return current
