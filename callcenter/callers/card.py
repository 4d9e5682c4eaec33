"""The caller card: built once when a call rings a seat, from the store's reads
(`repository`) and the number's nuisance history, on the console's side so the call
flow never waits for it."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from callcenter.callers.repository import CallerRepository
from callcenter.nuisance.rules import Flag, active_flag, is_withheld
from callcenter.nuisance.service import NuisanceService
from callcenter.store import Row

EARLIER_CALLS = 10  # a screen's worth: the operator wants the pattern, not the archive
OPEN_TICKETS = 5


@dataclass(frozen=True)
class CallerCard:
    call_id: str
    number: str
    name: str  # the name the citizen gave on the number's latest ticket, else the caller id's
    withheld: bool  # a hidden number: no history can be told
    flag: Flag | None
    earlier_calls: list[Row]
    open_tickets: list[Row]
    built_at: float

    def to_json(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "number": self.number, "name": self.name, "withheld": self.withheld,
                "flagged": self.flag is not None, "flag": None if self.flag is None else asdict(self.flag),
                "earlier_calls": [dict(row) for row in self.earlier_calls],
                "open_tickets": [{**row, "confidential": bool(row.get("confidential"))} for row in self.open_tickets],
                "built_at": self.built_at}


class CallerCards:
    def __init__(self, repository: CallerRepository, nuisance: NuisanceService) -> None:
        self.repository = repository
        self.nuisance = nuisance

    async def card(self, call_id: str, number: str, name_on_call: str = "", now: float | None = None) -> CallerCard:
        moment = time.time() if now is None else now
        if not number or is_withheld(number):
            return CallerCard(call_id, number, name_on_call, True, None, [], [], moment)
        history = await self.repository.history(number, call_id, EARLIER_CALLS, OPEN_TICKETS)
        flag = active_flag(await self.nuisance.history(number), moment)
        return CallerCard(call_id, number, history.known_name or name_on_call, False, flag, history.earlier_calls,
                          history.open_tickets, moment)
