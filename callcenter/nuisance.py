"""Nuisance numbers: detect repeat callers, flag them, keep them behind citizens.

The seed's case: one child dialed six times in five minutes; on one morning 9 of 12
calls were nuisance, and every one still had to be answered politely. So a flagged
number is never blocked silently: it hears a polite warning and waits behind citizens.

Rules (settings [nuisance]):
- `repeat_calls` or more calls within `repeat_window_minutes` that each ended within
  `short_call_seconds` of an operator answering, or before reaching an operator;
- `marks_to_flag` operator marks within `marks_window_hours`.
Flags expire after `flag_hours`; the history stays. Withheld numbers are never flagged.

The decisions are pure functions of the number's recent calls and marks; the I/O (the
store, on its own thread) is in the async functions at the bottom.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.clock import iso_local
from callcenter.errors import HotlineError
from callcenter.settings import NuisanceSection, Settings
from callcenter.store import Store

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
    if call.outcome != "answered":
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


# ----------------------------------------------------------------------------- I/O


@dataclass(frozen=True)
class Verdict:
    """What the controller needs at a call's arrival."""

    flag: Flag | None
    over_limit: bool


async def _history(store: Store, number: str) -> list[dict[str, Any]]:
    return await store.query(
        "SELECT * FROM nuisance_events WHERE number = ? ORDER BY at_epoch, id", (number,))


async def check_arrival(store: Store, settings: Settings, number: str, now: float | None = None) -> Verdict:
    """Is this caller flagged now, and over the hard limit? (Indexed: fast at a million calls.)"""
    if is_withheld(number):
        return Verdict(None, False)
    now = time.time() if now is None else now
    flag = active_flag(await _history(store, number), now)
    over = False
    rules = settings.nuisance
    if rules.hard_limit_calls > 0:
        rows = await store.query(
            "SELECT count(*) AS n FROM calls WHERE caller_number = ? AND arrived_epoch >= ?",
            (number, now - rules.hard_limit_window_minutes * 60))
        over = int(str(rows[0]["n"])) > rules.hard_limit_calls
    return Verdict(flag, over)


async def evaluate_after_call(store: Store, settings: Settings, number: str, now: float | None = None) -> Flag | None:
    """After a call ended: flag the number if its recent calls or marks break a rule."""
    if is_withheld(number):
        return None
    now = time.time() if now is None else now
    rules = settings.nuisance
    history = await _history(store, number)
    if active_flag(history, now) is not None:
        return None
    since = now - max(rules.repeat_window_minutes * 60, 60.0)
    rows = await store.query(
        "SELECT arrived_epoch, outcome, talk_seconds FROM calls WHERE caller_number = ? AND arrived_epoch >= ? "
        "AND state = 'done'", (number, since))
    calls = [PastCall(float(str(r["arrived_epoch"])), str(r["outcome"] or ""),
                      int(str(r["talk_seconds"])) if r["talk_seconds"] is not None else None) for r in rows]
    marks = [float(e["at_epoch"]) for e in history if e["action"] == "mark"]
    rule = rule_hit(calls, marks, now, rules)
    if rule is None:
        return None
    if rule == RULE_REPEAT:
        reason = f"{rules.repeat_calls}+ short or abandoned calls within {rules.repeat_window_minutes:g} min"
    else:
        reason = f"{rules.marks_to_flag}+ operator marks within {rules.marks_window_hours:g} h"
    return await _record_flag(store, settings, number, rule, reason, "system", now)


async def _record_flag(store: Store, settings: Settings, number: str, rule: str, reason: str, by: str,
                       now: float) -> Flag:
    expires = now + settings.nuisance.flag_hours * 3600
    await store.execute(
        "INSERT INTO nuisance_events (number, action, rule, reason, by, call_id, at, at_epoch, expires_epoch) "
        "VALUES (?, 'flag', ?, ?, ?, NULL, ?, ?, ?)",
        (number, rule, reason, by, iso_local(now, settings.zone), now, expires))
    return Flag(number, rule, reason, by, now, expires)


async def flag(store: Store, settings: Settings, number: str, reason: str, by: str,
               now: float | None = None) -> Flag:
    """A supervisor flags a number by hand."""
    number = number.strip()
    if is_withheld(number):
        raise NuisanceError(f"{number!r} is a withheld number: it cannot be flagged by number")
    if not reason.strip():
        raise NuisanceError("a flag needs a reason (--reason TEXT)")
    return await _record_flag(store, settings, number, RULE_MANUAL, reason.strip()[:500], by,
                              time.time() if now is None else now)


async def clear(store: Store, settings: Settings, number: str, by: str, reason: str = "",
                now: float | None = None) -> bool:
    """Clear the number's flag; False when it had none in force. The history stays."""
    now = time.time() if now is None else now
    if active_flag(await _history(store, number.strip()), now) is None:
        return False
    await store.execute(
        "INSERT INTO nuisance_events (number, action, rule, reason, by, call_id, at, at_epoch, expires_epoch) "
        "VALUES (?, 'clear', NULL, ?, ?, NULL, ?, ?, NULL)",
        (number.strip(), reason.strip()[:500] or "cleared", by, iso_local(now, settings.zone), now))
    return True


async def mark_call(store: Store, settings: Settings, call_id: str, by: str,
                    now: float | None = None) -> tuple[str, Flag | None]:
    """An operator marks a call as nuisance; two marks within the window flag the number.
    Returns the number and the flag, if this mark raised one."""
    call = await store.get_call(call_id)
    if call is None:
        raise NuisanceError(f"no call {call_id!r}")
    number = str(call.get("caller_number") or "")
    if is_withheld(number):
        raise NuisanceError(f"call {call_id} came from a withheld number: it cannot be flagged by number")
    now = time.time() if now is None else now
    await store.execute(
        "INSERT INTO nuisance_events (number, action, rule, reason, by, call_id, at, at_epoch, expires_epoch) "
        "VALUES (?, 'mark', NULL, 'marked by an operator', ?, ?, ?, ?, NULL)",
        (number, by, call_id, iso_local(now, settings.zone), now))
    store.put_event(call_id, "MARKED_NUISANCE", now, iso_local(now, settings.zone), data={"by": by})
    return number, await evaluate_after_call(store, settings, number, now)


async def active_flags(store: Store, now: float | None = None) -> list[Flag]:
    """Every number flagged now."""
    now = time.time() if now is None else now
    rows = await store.query(
        "SELECT * FROM nuisance_events WHERE number IN (SELECT DISTINCT number FROM nuisance_events "
        "WHERE action = 'flag' AND expires_epoch > ?) ORDER BY number, at_epoch, id", (now,))
    flags: list[Flag] = []
    by_number: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_number.setdefault(str(row["number"]), []).append(row)
    for events in by_number.values():
        found = active_flag(events, now)
        if found is not None:
            flags.append(found)
    return sorted(flags, key=lambda f: -f.flagged_at)


async def history(store: Store, number: str) -> list[dict[str, Any]]:
    """Every flag, clear and mark of the number, oldest first, with who, when and why."""
    return await _history(store, number.strip())


def flag_json(found: Flag) -> str:
    return json.dumps(found.__dict__, ensure_ascii=False)
