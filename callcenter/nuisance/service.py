"""Nuisance numbers at work: the check at a call's arrival, the judgement after it ends,
and what supervisors and operators do (flag, clear, mark a call)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local
from callcenter.nuisance.repository import NuisanceRepository
from callcenter.nuisance.rules import (
    RULE_MANUAL,
    RULE_REPEAT,
    Flag,
    NuisanceError,
    active_flag,
    is_withheld,
    rule_hit,
)
from callcenter.settings import Settings


@dataclass(frozen=True)
class Verdict:
    """What the controller needs at a call's arrival."""

    flag: Flag | None
    over_limit: bool


class NuisanceService:
    def __init__(self, settings: Settings, repository: NuisanceRepository, calls: CallRepository) -> None:
        self.settings = settings
        self.repository = repository
        self.calls = calls

    async def check_arrival(self, number: str, now: float | None = None) -> Verdict:
        """Is this caller flagged now, and over the hard limit? (Indexed: fast at a million calls.)"""
        if is_withheld(number):
            return Verdict(None, False)
        now = time.time() if now is None else now
        rules = self.settings.nuisance
        limited = rules.hard_limit_calls > 0
        history, arrivals = await self.repository.at_arrival(
            number, now - rules.hard_limit_window_minutes * 60 if limited else None)
        return Verdict(active_flag(history, now), limited and arrivals > rules.hard_limit_calls)

    async def evaluate_after_call(self, number: str, now: float | None = None) -> Flag | None:
        """After a call ended: flag the number if its recent calls or marks break a rule."""
        if is_withheld(number):
            return None
        now = time.time() if now is None else now
        rules = self.settings.nuisance
        since = now - max(rules.repeat_window_minutes * 60, 60.0)
        history, calls = await self.repository.after_call(number, since)
        if active_flag(history, now) is not None:
            return None
        marks = [float(e["at_epoch"]) for e in history if e["action"] == "mark"]
        rule = rule_hit(calls, marks, now, rules)
        if rule is None:
            return None
        if rule == RULE_REPEAT:
            reason = f"{rules.repeat_calls}+ short or abandoned calls within {rules.repeat_window_minutes:g} min"
        else:
            reason = f"{rules.marks_to_flag}+ operator marks within {rules.marks_window_hours:g} h"
        return await self._record_flag(number, rule, reason, "system", now)

    async def _record_flag(self, number: str, rule: str, reason: str, by: str, now: float) -> Flag:
        expires = now + self.settings.nuisance.flag_hours * 3600
        await self.repository.record(number, "flag", rule=rule, reason=reason, by=by,
                                     at=iso_local(now, self.settings.zone), at_epoch=now, expires_epoch=expires)
        return Flag(number, rule, reason, by, now, expires)

    async def flag(self, number: str, reason: str, by: str, now: float | None = None) -> Flag:
        """A supervisor flags a number by hand."""
        number = number.strip()
        if is_withheld(number):
            raise NuisanceError(f"{number!r} is a withheld number: it cannot be flagged by number")
        if not reason.strip():
            raise NuisanceError("a flag needs a reason (--reason TEXT)")
        return await self._record_flag(number, RULE_MANUAL, reason.strip()[:500], by,
                                       time.time() if now is None else now)

    async def clear(self, number: str, by: str, reason: str = "", now: float | None = None) -> bool:
        """Clear the number's flag; False when it had none in force. The history stays."""
        now = time.time() if now is None else now
        number = number.strip()
        if active_flag(await self.repository.history(number), now) is None:
            return False
        await self.repository.record(number, "clear", reason=reason.strip()[:500] or "cleared", by=by,
                                     at=iso_local(now, self.settings.zone), at_epoch=now)
        return True

    async def mark_call(self, call_id: str, by: str, now: float | None = None) -> tuple[str, Flag | None]:
        """An operator marks a call as nuisance; two marks within the window flag the number.
        Returns the number and the flag, if this mark raised one."""
        call = await self.calls.get(call_id)
        if call is None:
            raise NuisanceError(f"no call {call_id!r}")
        number = str(call.get("caller_number") or "")
        if is_withheld(number):
            raise NuisanceError(f"call {call_id} came from a withheld number: it cannot be flagged by number")
        now = time.time() if now is None else now
        at = iso_local(now, self.settings.zone)
        await self.repository.record(number, "mark", reason="marked by an operator", by=by, call_id=call_id,
                                     at=at, at_epoch=now)
        self.calls.log(call_id, "MARKED_NUISANCE", now, at, data={"by": by})
        return number, await self.evaluate_after_call(number, now)

    async def active_flags(self, now: float | None = None) -> list[Flag]:
        """Every number flagged now, the newest flag first."""
        now = time.time() if now is None else now
        by_number: dict[str, list[dict[str, object]]] = {}
        for row in await self.repository.flagged_histories(now):
            by_number.setdefault(str(row["number"]), []).append(row)
        flags = [found for events in by_number.values() if (found := active_flag(events, now)) is not None]
        return sorted(flags, key=lambda f: -f.flagged_at)

    async def history(self, number: str) -> list[dict[str, object]]:
        """Every flag, clear and mark of the number, oldest first, with who, when and why."""
        return await self.repository.history(number.strip())
